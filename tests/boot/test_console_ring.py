"""The console ring's default size per release against 8-CPU boots without ``loglvl=``.

``tests/data/console-ring/<tree>@<version>.json.gz`` are heap traces (the format of
``tests/data/heaptrace``) of release builds whose console ring depends on the release's
default lower log threshold (2 up to 4.17, 3 from 4.18): the replay must make every
allocation, the console ring's order included.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from heaplog import record_allocations

from xenplan import boot, dt, model
from xenplan.model.base import Range
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

DATA = Path(__file__).resolve().parent.parent / "data"
TRACES = sorted((DATA / "console-ring").glob("*.json.gz"))


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.removesuffix(".json.gz") for t in TRACES])
def test_replay_makes_the_console_ring_xen_asked_for(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc: dict[str, Any] = json.loads(gzip.decompress(trace.read_bytes()))
    log = record_allocations(monkeypatch)
    target = Target(version=XenVersion.parse(doc["version"]),
                    xen_image=Range(start=doc["xen_image"][0], size=doc["xen_image"][1]),
                    fdt_address=doc["fdt"][0], fdt_size=doc["fdt"][1], kconfig=dict(KCONFIG_DEFAULTS))
    result = boot.simulate(model.build(dt.load(str(DATA / doc["dts"])), target))
    assert result.outcome == "boots"
    assert log == [tuple(a) for a in doc["allocations"]]


def test_the_traces_cover_both_thresholds() -> None:
    versions = {json.loads(gzip.decompress(t.read_bytes()))["version"] for t in TRACES}
    assert {"4.17.7", "4.18.6"} <= versions
