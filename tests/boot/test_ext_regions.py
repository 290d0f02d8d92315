"""Extended regions (GMAP-008/009) against the ones the real Xen printed.

``tests/data/measured/ext-ranges@<version>.log`` is Xen's console booting
``ext-ranges.dts`` (``tests/data/measured/README.md``): a 1:1 domain with
``xen,enhanced`` (``find_unallocated_memory()``: host RAM less its banks, a
reserved-memory region and a shared-memory region) and a guest-layout one
mapping that shared region inside its first RAM window's free tail
(``find_domU_holes()``). ``make_hypervisor_node()`` prints each region it
advertises; xenplan's guest map must list the same ones, release by release:
4.18-4.20 drop the last 2 MiB of a range ending on a 2 MiB boundary, and
4.17 and 4.18 do not take the shared window out of a guest-layout domain's
regions. ``passthrough-hole@<version>.log`` maps a passthrough device inside
a guest's free RAM window, which 4.21 and later take out of its regions
(the partial DTB is ``tests/data/heaptrace/passthrough-hole-partial.dts``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import xenplan
from tests.boot.test_measured import read_console

MEASURED = Path(__file__).resolve().parent.parent / "data" / "measured"
LOGS = sorted([*MEASURED.glob("ext-ranges@*.log"), *MEASURED.glob("passthrough-hole@*.log")])
PARTIAL = {"passthrough-hole": {"domU1": str(MEASURED.parent / "heaptrace" / "passthrough-hole-partial.dts")}}


def _printed(text: str) -> dict[int, list[tuple[int, int]]]:
    """``dN: extended region i: start->end`` lines, by domain id."""
    out: dict[int, list[tuple[int, int]]] = {}
    for m in re.finditer(r"d(\d+): extended region \d+: (0x[0-9a-f]+)->(0x[0-9a-f]+)", text):
        start, end = int(m.group(2), 16), int(m.group(3), 16)
        out.setdefault(int(m.group(1)), []).append((start, end - start))
    return out


@pytest.mark.parametrize("log", LOGS, ids=[p.name.removesuffix(".log") for p in LOGS])
def test_extended_regions_are_the_ones_xen_advertised(log: Path) -> None:
    seen = read_console(log)
    target = xenplan.build_target(xen_version=seen.version,
                                  xen_image=f"{seen.xen_image[0]:#x}:{seen.xen_image[1]:#x}",
                                  fdt_address=f"{seen.fdt[0]:#x}:{seen.fdt[1]:#x}")
    case = log.name.partition("@")[0]
    got = xenplan.analyse(str(MEASURED / f"{case}.dts"), target, partial_dtbs=PARTIAL.get(case)).result
    printed = _printed(log.read_text())
    assert printed
    for dom in got.domains:
        if dom.domid in printed:
            assert [(p.guest, p.size) for p in dom.p2m if p.kind == "ext"] == printed[dom.domid], dom.name


def test_417_advertises_the_shared_window() -> None:
    regions = _printed((MEASURED / "ext-ranges@4.17.7.log").read_text())[2]
    assert (0x48000000, 0x100000000 - 0x48000000) in regions
