"""xenplan's reading of an ImageBuilder config against the script the real tool wrote for it.

Each folder of ``tests/data/imagebuilder`` (see its README.md and ibread-cases.md) holds a config,
the ``boot.source`` real ``uboot-script-gen`` produced from it, and
``files.json`` with the size and kind of every file the config names. The
binaries are not committed: stand-ins of those sizes are made here (arm64
Images with a valid header whose ``image_size`` is the size, newc cpio
archives for ramdisks, zeros otherwise), the DTBs are. ``--imagebuilder
config`` and ``--uboot-script boot.source`` must then give the same tree,
the same load addresses, and Xen and the DTB at the same places.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from xenplan.dt import load
from xenplan.dt.imagebuilder import BootInput, load_imagebuilder, load_uboot_script
from xenplan.dt.tree import Node

CASES = Path(__file__).resolve().parent / "data" / "imagebuilder"
SCRIPTED = sorted(p.name for p in CASES.iterdir() if (p / "boot.source").is_file()) if CASES.is_dir() else []


def _standins() -> ModuleType:
    """The recordings' own stand-in generator (tools/imagebuilder-boot/make_standins.py)."""
    path = Path(__file__).resolve().parent.parent / "tools" / "imagebuilder-boot" / "make_standins.py"
    spec = importlib.util.spec_from_file_location("make_standins", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


STANDINS = _standins()
kernel = STANDINS.kernel
ramdisk = STANDINS.ramdisk


def stage(case: str, tmp: Path) -> Path:
    """The case's committed files and stand-ins for the others, in ``tmp``."""
    src = CASES / case
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, tmp / f.name)
    for name, info in json.loads((src / "files.json").read_text()).items():
        path = tmp / name
        if path.exists():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        size, kind = info["size"], info["kind"]
        path.write_bytes(kernel(size) if kind in ("kernel", "xen") else ramdisk(size) if kind == "ramdisk"
                         else bytes(size))
    return tmp


def shape(node: Node) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """Every node in document order with its properties in order."""
    return [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in node.walk()]


def summary(bi: BootInput) -> dict[str, object]:
    return {"loads": [(ld.addr, ld.size) for ld in bi.replay.loads], "xen": (bi.xen_addr, bi.xen_size),
            "fdt": (bi.fdt_addr, bi.dtb_size), "tree": shape(bi.tree.root)}


def dialect(case: str) -> str:
    """Which ImageBuilder wrote the script, as ``command.txt`` says."""
    return "upstream" if "upstream ImageBuilder" in (CASES / case / "command.txt").read_text() else "xilinx"


def from_config(d: Path, case: str) -> BootInput:
    return load_imagebuilder(str(d / "config"), load_cmd="load virtio 0:1", dialect=dialect(case))


@pytest.mark.parametrize("case", SCRIPTED)
def test_config_and_generated_script_give_the_same_boot(case: str, tmp_path: Path) -> None:
    d = stage(case, tmp_path)
    assert summary(from_config(d, case)) == summary(load_uboot_script(str(d / "boot.source")))


@pytest.mark.parametrize("case", SCRIPTED)
def test_the_script_xenplan_writes_is_the_real_one(case: str, tmp_path: Path) -> None:
    """Stronger than the tree: the lines themselves, so a difference shows where it starts."""
    d = stage(case, tmp_path)
    bi = from_config(d, case)
    assert bi.generated is not None
    assert [t for t, _ in bi.generated.lines] == (d / "boot.source").read_text().splitlines()


DUMPED = [c for c in SCRIPTED if (CASES / c / "chosen.txt").is_file()]
SEEDS = {"rng-seed", "kaslr-seed"}
"""QEMU draws new seeds at every boot: the dump's differ from the DTB's."""


@pytest.mark.parametrize("case", DUMPED)
def test_chosen_is_the_one_real_u_boot_handed_xen(case: str, tmp_path: Path) -> None:
    """``chosen.txt`` is real U-Boot's ``fdt print /chosen`` just before it booted Xen (QEMU, Debian's
    u-boot-qemu): node order, property order and values must be xenplan's."""
    d = stage(case, tmp_path)
    real_dts = tmp_path / "real-chosen.dts"
    real_dts.write_text("/dts-v1/;\n/ {\n" + (d / "chosen.txt").read_text().split("\n};\n")[0] + "\n};\n};\n")
    real = load(str(real_dts)).find("/chosen")
    mine = from_config(d, case).tree.find("/chosen")
    assert real is not None and mine is not None

    def strip(node: Node) -> list[tuple[str, list[tuple[str, bytes]]]]:
        return [(p, [(k, v) for k, v in props if k not in SEEDS]) for p, props in shape(node)]

    assert strip(mine) == strip(real)


BOOTED = [c for c in SCRIPTED if (CASES / c / "verdict.json").is_file()]


def merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Adjacent ranges as one, as Xen prints a domain's banks."""
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        if out and out[-1][1] == start:
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


@pytest.mark.parametrize("case", BOOTED)
def test_verdict_domain_order_and_banks_match_real_xen(case: str, tmp_path: Path) -> None:
    """``verdict.json`` is what the real Xen printed when U-Boot booted the real script on QEMU: whether it
    booted, and each domain's banks in the order Xen built them (a static domain's as host addresses)."""
    from xenplan.ibrun import analyse_ib
    from xenplan.targets import build_target

    d = stage(case, tmp_path)
    real = json.loads((d / "verdict.json").read_text())
    a = analyse_ib(str(d / "config"), None, [], None, [], lambda xi, fa, ki: build_target(
        xen_version=real["xen"], xen_image=xi, fdt_address=fa, kernel_images=list(ki)), None, dialect(case))
    assert a.result.outcome == real["outcome"]
    mine = [(dm.name, merged([((b.host if dm.static and b.host is not None else b.guest),
                               (b.host if dm.static and b.host is not None else b.guest) + b.size)
                              for b in dm.banks])) for dm in a.result.domains if dm.banks]
    theirs = [(dm["name"], merged([(int(s, 16), int(e, 16)) for s, e in dm["banks"]])) for dm in real["domains"]]
    if real["outcome"] == "boots":
        assert mine == theirs
    else:
        assert mine == theirs[: len(mine)] and len(theirs) - len(mine) <= 1


def test_there_are_cases() -> None:
    assert len(SCRIPTED) >= 3


def test_domains_reach_xen_in_reverse_creation_order(tmp_path: Path) -> None:
    """libfdt puts a new node first among its siblings: domU2 is made last, so Xen meets it first."""
    d = stage("ibread-dom0-three-domus", tmp_path)
    chosen = load_imagebuilder(str(d / "config")).tree.find("/chosen")
    assert chosen is not None
    assert [c.name for c in chosen.children if c.name.startswith(("dom", "cpupool"))] == [
        "domU2", "domU1", "domU0", "dom0-ramdisk", "dom0"]


def test_a_forced_rtc_without_dma_is_a_warning_not_an_isolation_error(tmp_path: Path) -> None:
    """``own-passthrough-rtc``: real Xen boots a dynamic domU given virt's PL031 with
    ``xen,force-assign-without-iommu``; the RTC masters no bus, so DMAP-008 only warns."""
    from xenplan.ibrun import analyse_ib
    from xenplan.targets import build_target

    d = stage("own-passthrough-rtc", tmp_path)
    real = json.loads((d / "verdict.json").read_text())
    a = analyse_ib(str(d / "config"), None, [], None, [], lambda xi, fa, ki: build_target(
        xen_version=real["xen"], xen_image=xi, fdt_address=fa, kernel_images=list(ki)), None,
        dialect("own-passthrough-rtc"))
    assert a.result.outcome == real["outcome"] == "boots"
    assert [(f.rule, f.severity) for f in a.findings if f.severity == "error"] == []
    assert [f.severity for f in a.findings if f.rule == "DMAP-008"] == ["warning"]
