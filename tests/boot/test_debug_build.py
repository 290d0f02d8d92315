"""A debug build's heap against what xenplan says under ``--kconfig DEBUG=y``.

``tests/data/debug/<tree>@<version>.json.gz`` are heap traces (the format of
``tests/data/heaptrace``) of a ``debug=y`` build booting a heap-trace tree
(``tests/data/debug/README.md``). A debug build makes other small requests
(lock-debugging buffers, larger structures, more grant-table pages). Where
the release replays them (``XenRelease.debug_replay``) the replay must make
Xen's allocations one by one, as for a release build: up to a panic where
Xen's boot ended in one (``outcome``), and the first ``replayed`` where the
trace ends in allocations that follow the last domain; where it does not, every chunk of
16 MiB or more xenplan places must be where the debug build put it, and
smaller chunks get no host address. The recorded small chunks did move
from where the release build puts them.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from heaplog import record_allocations

from xenplan import boot, dt, model
from xenplan.boot.result import BootResult
from xenplan.model import release
from xenplan.model.base import Range
from xenplan.model.release import release_of
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

DATA = Path(__file__).resolve().parent.parent / "data"
TRACES = sorted((DATA / "debug").glob("*.json.gz"))


def _load(trace: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gzip.decompress(trace.read_bytes()))
    return doc


def _simulate(doc: dict[str, Any]) -> BootResult:
    target = Target(version=XenVersion.parse(doc["version"]),
                    xen_image=Range(start=doc["xen_image"][0], size=doc["xen_image"][1]),
                    fdt_address=doc["fdt"][0], fdt_size=doc["fdt"][1],
                    kconfig={**KCONFIG_DEFAULTS, "DEBUG": True})
    return boot.simulate(model.build(dt.load(str(DATA / doc["dts"])), target))


def _replayed(doc: dict[str, Any]) -> bool:
    return release_of(XenVersion.parse(doc["version"])).debug_replay


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.removesuffix(".json.gz") for t in TRACES])
def test_placed_chunks_are_where_the_debug_build_put_them(trace: Path) -> None:
    doc = _load(trace)
    assert doc["kconfig"] == {"DEBUG": True}
    starts = {pfn for _order, pfn in doc["allocations"]}
    result = _simulate(doc)
    assert result.outcome == doc.get("outcome", "boots")
    placed = small = 0
    for dom in result.domains:
        for bank in dom.banks or ():
            if dom.static:
                continue
            if bank.size < 16 << 20 and not _replayed(doc):
                assert bank.host is None, (dom.name, bank)
                small += 1
            else:
                assert bank.host is not None and bank.host >> 12 in starts, (dom.name, bank)
                placed += 1
    assert result.outcome != "boots" or (placed and (small or _replayed(doc)))


@pytest.mark.parametrize("trace", [t for t in TRACES if _replayed(_load(t))],
                         ids=[t.name.removesuffix(".json.gz") for t in TRACES if _replayed(_load(t))])
def test_replay_makes_the_debug_builds_allocations(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _load(trace)
    log = record_allocations(monkeypatch)
    _simulate(doc)
    real = [tuple(a) for a in doc["allocations"]]
    want = doc.get("replayed", len(real))
    assert log[:want] == real[:want]
    assert doc.get("outcome") == "panic" or want < len(real) or len(log) == len(real)


PAIRED = [t for t in TRACES if (DATA / "heaptrace" / t.name).exists()]


@pytest.mark.parametrize("trace", PAIRED, ids=[t.name.removesuffix(".json.gz") for t in PAIRED])
def test_the_release_replay_would_misplace_a_small_chunk(trace: Path) -> None:
    doc = _load(trace)
    release = _load(DATA / "heaptrace" / trace.name)
    assert release["dts"] == doc["dts"] and release["version"] == doc["version"]
    small = [tuple(a) for a in doc["allocations"] if a[0] < 9]
    assert small != [tuple(a) for a in release["allocations"] if a[0] < 9]



@pytest.mark.parametrize("trace", [t for t in TRACES if "features" in t.name],
                         ids=[t.name.removesuffix(".json.gz") for t in TRACES if "features" in t.name])
def test_a_release_not_measured_gives_small_chunks_no_host(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the release's debug sizes (a release whose debug build was not traced) the
    chunks of 16 MiB and more are still where the debug build put them, the smaller ones
    get no host address and a note says why."""
    monkeypatch.setattr(release, "_DEBUG_MEASURED", frozenset())
    release.release_of.cache_clear()
    try:
        doc = _load(trace)
        assert not _replayed(doc)
        starts = {pfn for _order, pfn in doc["allocations"]}
        result = _simulate(doc)
    finally:
        monkeypatch.undo()
        release.release_of.cache_clear()
    banks = [b for d in result.domains if not d.static for b in d.banks or ()]
    assert any(b.size < 16 << 20 for b in banks)
    for bank in banks:
        assert (bank.host is None) if bank.size < 16 << 20 else (bank.host is not None and bank.host >> 12 in starts)
    assert any("debug build" in note for note in result.notes)
