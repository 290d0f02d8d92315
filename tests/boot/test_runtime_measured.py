"""``xenplan simulate`` against memory hypercalls measured on the real Xen.

``tests/data/runtime/<case>/`` holds the tree a guest booted with
(``tree.dts``), the operations it ran on itself (``ops.txt``, one a line, in
``xenplan simulate``'s syntax) and per release the console (``<xen>.log``)
and what each hypercall returned (``<xen>.json``): ``rc`` and, per extent
done, the guest frame, the host frame and the order. The console's module
table gives the Xen image and DTB placement, so the boot replay starts from
the heap the real boot had. Every ``rc`` and every (gfn, mfn) must agree.

Cases named ``model-*`` were derived by hand from Xen's code
(``decrease_reservation()``, ``populate_physmap()``,
``acquire_reserved_page()``, ``free_domstatic_page()``), not measured; their
JSON says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xenplan.simulate import Simulation, simulate
from xenplan.targets import build_target

RUNTIME = Path(__file__).resolve().parent.parent / "data" / "runtime"
RECORDINGS = sorted(RUNTIME.glob("*/*.json"))

NOT_MODELLED: dict[str, str] = {
    "static-pages-reuse@4.16.7": "the last populate: at the end of boot the order-4 chunk at 0x13bb80 is "
    "dirty (its top page, domU2's xmalloc'ed construct_domU buffer, was freed with need_scrub) and sits at the "
    "tail of zone 21's order-4 list, behind the clean chunk domU2 balloons out (0x104200). The recorded guests "
    "busy-wait between operations, so no pCPU idles until domU2 has run its list; then idle_loop()'s "
    "scrub_free_pages() cleans the chunk and moves it to the head of its list, and Xen's order-0 requests take "
    "0x13bb8f downwards. Moving that chunk to the head before the op reproduces every frame; the replay has no "
    "notion of when pCPUs idle, so it does not scrub",
}


def _params() -> list[object]:
    out: list[object] = []
    for p in RECORDINGS:
        name = f"{p.parent.name}@{p.stem}"
        marks = [pytest.mark.xfail(strict=True, reason=NOT_MODELLED[name])] if name in NOT_MODELLED else []
        out.append(pytest.param(p, id=name, marks=marks))
    return out


def _module(text: str, index: int, kind: str, inclusive: bool) -> str:
    """``START:SIZE`` of one row of ``early_print_info()``'s module table (end inclusive from 4.20)."""
    m = re.search(rf"MODULE\[{index}\]: (\w+) - (\w+) {kind}", text)
    assert m is not None, f"no MODULE[{index}] ({kind}) line"
    start, end = int(m.group(1), 16), int(m.group(2), 16)
    return f"{start:#x}:{end - start + (1 if inclusive else 0):#x}"


def run_case(recording: Path, ops: list[str] | None = None,
             kconfig: tuple[str, ...] = ()) -> tuple[Simulation, dict[str, object]]:
    """Simulate one recording's tree and operations (or ``ops``) on its release, placed as the console shows."""
    case = recording.parent
    measured = json.loads(recording.read_text())
    version = str(measured["xen"])
    major, minor = (int(x) for x in version.split(".")[:2])
    log = recording.with_suffix(".log")
    xen_image = fdt = None
    if log.exists():
        text = log.read_text()
        xen_image = _module(text, 0, "Xen", (major, minor) >= (4, 20))
        fdt = _module(text, 1, "Device Tree", (major, minor) >= (4, 20))
    target = build_target(xen_version=version, arch="arm64", kconfig=kconfig, xen_image=xen_image, fdt_address=fdt,
                          pa_bits=None, gic_spis=224, board=None, kernel_images=(), kconfig_file=None)
    if ops is None:
        ops = [line.strip() for line in (case / "ops.txt").read_text().splitlines() if line.strip()]
    return simulate(str(case / "tree.dts"), target, ops), measured


def mfn_of(sim: Simulation, index: int, gfn: int) -> int | None:
    """The host frame operation ``index`` reports for guest frame ``gfn`` (None: not reported)."""
    for p in sim.operations[index].pages:
        if p.gfn_start is None:
            continue
        n = p.mfn_end - p.mfn_start
        if "gfn-descending" in p.flags:
            if p.gfn_start - n < gfn <= p.gfn_start:
                return p.mfn_start + (p.gfn_start - gfn)
        elif p.gfn_start <= gfn < p.gfn_start + n:
            return p.mfn_start + (gfn - p.gfn_start)
    return None


@pytest.mark.parametrize("recording", _params())
def test_simulate_predicts_every_return_value_and_frame(recording: Path) -> None:
    sim, measured = run_case(recording)
    operations = measured["operations"]
    assert isinstance(operations, list)
    assert [r.op for r in sim.operations] == [o["op"] for o in operations]
    for i, o in enumerate(operations):
        got = sim.operations[i]
        assert got.rc == o["rc"], f"{o['op']}: rc {got.rc}, Xen returned {o['rc']} ({got.xen_message})"
        unmapped: list[int] = []
        for ext in o.get("extents", []):
            if ext.get("mfn") is None:
                continue
            mfn, order = int(ext["mfn"], 16), int(ext.get("order", 0))
            if ext.get("gfn") is None:
                unmapped += range(mfn, mfn + (1 << order))
                continue
            gfn = int(ext["gfn"], 16)
            for k in range(1 << order):
                assert mfn_of(sim, i, gfn + k) == mfn + k, (
                    f"{o['op']}: gfn {gfn + k:#x} -> {mfn_of(sim, i, gfn + k)}, Xen {mfn + k:#x}")
        if unmapped:
            mine = sorted(m for p in got.pages if p.gfn_start is None for m in range(p.mfn_start, p.mfn_end))
            assert mine == sorted(unmapped), f"{o['op']}: frames {[hex(m) for m in mine]}"


def test_recordings_exist() -> None:
    assert len({p.parent for p in RECORDINGS}) >= 2
