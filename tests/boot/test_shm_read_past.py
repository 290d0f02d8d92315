"""4.17/4.18 ``process_shm()`` on a short-form ``xen,shared-mem``: the numbers Xen read past the
property, as its console printed them, are the ones xenplan's finding names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import xenplan

MEASURED = Path(__file__).resolve().parent.parent / "data" / "measured"
CASES = sorted(p for p in MEASURED.glob("shm-short-modules-first*@4.1[78].*.log"))


@pytest.mark.parametrize("log", CASES, ids=lambda p: p.name)
def test_the_number_xen_printed_is_in_the_finding(log: Path) -> None:
    text = log.read_text()
    m = re.search(r"d1: (?:size 0x([0-9a-f]+) is not suitably aligned|invalid physical address 0x([0-9a-f]+))",
                  text)
    assert m is not None
    case, version = log.stem.split("@")
    xen_image = re.search(r"MODULE\[0\]: (\w+) - (\w+) Xen", text)
    assert xen_image is not None
    start, end = (int(x, 16) for x in xen_image.groups())
    target = xenplan.build_target(xen_version=version, kconfig=["STATIC_SHM=y"],
                                  xen_image=f"{start:#x}:{end - start:#x}", fdt_address="0x48000000")
    analysis = xenplan.analyse(str(MEASURED / f"{case}.dts"), target)
    shm = [f for f in analysis.findings if f.rule == "SHM-006" and f.path == "/chosen/domU1"]
    assert shm, [f.rule for f in analysis.findings]
    if m.group(1):
        assert f"size {int(m.group(1), 16):#x} is not suitably aligned" in shm[-1].message
    else:
        assert f"invalid physical address {int(m.group(2), 16):#x}" in shm[-1].message
    assert len(CASES) == 6
