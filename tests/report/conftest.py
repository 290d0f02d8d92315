"""Shared by the renderer tests: one analysis with a fixed result, and the examples.

``board`` takes its model from ``data/board.dts`` and replaces the boot
result and the findings by hand-written ones, so the renderers are tested
against a result that does not move when a boot stage or a rule changes.
``examples`` runs the real boards, for the schema checks.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xenplan.analysis import Analysis, analyse
from xenplan.boot.result import Bank, BootResult, DomainResult, DroppedModule, FailedAt, HostRegion, P2MRegion
from xenplan.checks.finding import Finding, RelatedRegion
from xenplan.model.base import Range, SourceRef
from xenplan.targets import build_target

DATA = Path(__file__).resolve().parent / "data"
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

QEMU = ("0x40200000:0x154000", "0x48000000")
BOARD_OPTS = {"zcu102.dts": ("0x5a00000:0x160000", "0x5c00000"),
              "directmap-grant-window.dts": ("0x5a00000:0x160000", "0x5c00000"),
              "multibank.dts": ("0x48200000:0x160000", "0x48000000")}

MIB = 1 << 20
TRICKY = '100% of "a,b": 0x1 < 0x2 & done\r\nsecond line'
"""Characters every format must escape its own way."""


def example_paths() -> list[Path]:
    return sorted(EXAMPLES.glob("*.dts")) + sorted((EXAMPLES / "broken").glob("*.dts"))


def analyse_example(path: Path, version: str = "4.22") -> Analysis:
    image, fdt = BOARD_OPTS.get(path.name, QEMU)
    return analyse(str(path.relative_to(ROOT)), build_target(xen_version=version, xen_image=image, fdt_address=fdt))


def fixed_result() -> BootResult:
    return BootResult(
        outcome="panic",
        failed_at=FailedAt(stage="domain", domain="domU2", rule="PAGE-003",
                           message="Failed to allocate requested static memory for domain d2."),
        dropped_modules=(DroppedModule(path="/chosen/domU2/module@4b000000", start=0x4B000000, size=0x10000),),
        domains=(
            DomainResult(name="domU1", path="/chosen/domU1", status="constructed", static=False, direct_map=False,
                         domid=1, banks=(Bank(guest=0x40000000, host=0x70000000, size=128 * MIB),),
                         p2m=(P2MRegion(kind="gicd", guest=0x3001000, size=0x10000, note="emulated"),
                              P2MRegion(kind="gnttab", guest=0x38000000, size=16 * MIB),
                              P2MRegion(kind="ram", guest=0x40000000, size=128 * MIB, host=0x70000000))),
            DomainResult(name="domU2", path="/chosen/domU2", status="failed", static=True, direct_map=False,
                         domid=2),
        ),
        host_map=(
            HostRegion(kind="heap", start=0x40000000, size=0x200000),
            HostRegion(kind="xen", start=0x40200000, size=0x154000, owner="(Xen image)"),
            HostRegion(kind="module", start=0x48000000, size=0x1000, owner="(device tree)"),
            HostRegion(kind="inuse", start=0x70000000, size=128 * MIB, owner="/chosen/domU1"),
            HostRegion(kind="static-free", start=0x60000000, size=256 * MIB, owner="/chosen/domU2"),
        ),
        notes=("a note from the boot",),
    )


def fixed_findings() -> list[Finding]:
    return [
        Finding(rule="PAGE-003", slug="static-over-allocation", severity="error", reached=True,
                message="domU2 asks for 256 MiB but its banks hold 512 MiB", path="/chosen/domU2",
                property="memory", source=SourceRef(file="tests/report/data/board.dts", line=29),
                ranges=(Range(start=0x60000000, size=256 * MIB),),
                related=(RelatedRegion(path="/chosen/domU1", ranges=(Range(start=0x70000000, size=128 * MIB),)),),
                since="4.16", xen_message="Failed to allocate requested static memory for domain d2."),
        Finding(rule="MOD-004", slug="module-dropped", severity="warning", reached=True, message=TRICKY,
                path="/chosen/domU2/module@4b000000", property="reg",
                source=SourceRef(file="board,v2:final.dtb", offset=0x2C8)),
        Finding(rule="RT-001", slug="static-page-freed-to-reserved-list", severity="info", reached=False,
                message="pages go to the reserved list"),
    ]


@pytest.fixture
def board() -> Analysis:
    a = analyse(str(DATA.relative_to(ROOT) / "board.dts"),
                build_target(xen_image=QEMU[0], fdt_address=QEMU[1]))
    return dataclasses.replace(a, result=fixed_result(), findings=fixed_findings(),
                               notes=["no --kernel-image: kernels assumed"])


@pytest.fixture(scope="session")
def examples() -> list[Analysis]:
    return [analyse_example(p) for p in example_paths()]
