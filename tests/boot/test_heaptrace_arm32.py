"""arm32's domain-heap replay against traced boots of the real arm32 Xen.

``tests/data/heaptrace-arm32/*.json.gz`` hold, per boot, every successful
``alloc_heap_pages()`` of the domain heap (zones above ``MEMZONE_XEN``:
order and first page, in order) and, apart, those of the xenheap zone.
The replay must make the same domain-heap requests in the same order and
get the same pages; the xenheap is not replayed, and no xenheap page may
lie in the domain heap.
"""

from __future__ import annotations

import gzip
import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from heaplog import record_allocations
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan import boot, dt, model
from xenplan.boot.replay import arm32
from xenplan.boot.replay.inputs import HeapBoard, HeapDomain
from xenplan.model.base import Range
from xenplan.model.release import release_of
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

DATA = Path(__file__).resolve().parent.parent / "data"
TRACES = sorted((DATA / "heaptrace-arm32").glob("*.json.gz"))


def _load(trace: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(gzip.decompress(trace.read_bytes()))
    return doc


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.removesuffix(".json.gz") for t in TRACES])
def test_replay_makes_xens_domain_heap_allocations(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _load(trace)
    real = [tuple(a) for a in doc["allocations"]]
    log = record_allocations(monkeypatch)
    target = Target(version=XenVersion.parse(doc["version"]), arch="arm32",
                    xen_image=Range(start=doc["xen_image"][0], size=doc["xen_image"][1]),
                    fdt_address=doc["fdt"][0], fdt_size=doc["fdt"][1], gic_spis=doc["gic_spis"],
                    kconfig={**KCONFIG_DEFAULTS, **doc.get("kconfig", {})})
    result = boot.simulate(model.build(dt.load(str(DATA / doc["dts"])), target))
    assert result.outcome == doc["outcome"]
    same = 0
    while same < min(len(log), len(real)) and log[same] == real[same]:
        same += 1
    # After a panic the replay may go on with domains Xen never built.
    assert same == len(real) and (len(log) == len(real) or doc["outcome"] != "boots"), \
        f"allocation {same}: Xen {real[same] if same < len(real) else None}, " \
        f"replay {log[same] if same < len(log) else None}"


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.removesuffix(".json.gz") for t in TRACES])
def test_xenheap_allocations_stay_in_the_carve(trace: Path) -> None:
    """What the replay leaves out never touches the domain heap: every xenheap page
    Xen handed out lies inside the carve, one guard page in from each end."""
    doc = _load(trace)
    start, end = (int(x, 16) >> 12 for x in doc["xenheap"])
    assert doc["xenheap_allocations"]
    assert all(start + 1 <= pfn and pfn + (1 << order) <= end - 1 for order, pfn in doc["xenheap_allocations"])


def _board(ram_mib: int, version: str) -> HeapBoard:
    return HeapBoard(ram=((0x40000000, ram_mib << 20),), modules=((0x40010000, 0x12F000), (0x48000000, 0x9200)),
                     reserved=(), static_heap=None, fdt_size=0x9200, unflat_size=0,
                     release=release_of(XenVersion.parse(version), "arm32"), gic_version=2)


@settings(max_examples=40, deadline=None)
@given(ram_mib=st.sampled_from([512, 1024, 2048, 3072]), version=st.sampled_from(["4.16.7", "4.19.6", "4.22.0"]),
       sizes=st.lists(st.integers(min_value=1, max_value=1 << 14).map(lambda n: n * 16), min_size=1, max_size=5))
def test_domains_get_disjoint_domain_heap_pages_outside_the_xenheap(ram_mib: int, version: str,
                                                                     sizes: list[int]) -> None:
    """Whatever the domains ask, a domain that is built gets exactly its memory, and every
    RAM chunk is its own, lies in RAM and misses the xenheap and the boot modules."""
    board = _board(ram_mib, version)
    top = 0x40000000 + (ram_mib << 20)
    xenheap = (top - (32 << 20), 32 << 20)
    doms = [HeapDomain(name=f"d{i}", cpus=1, memory_kib=kib) for i, kib in enumerate(sizes)]
    result = arm32.place_domains(board, doms, xenheap)
    taken: list[tuple[int, int]] = []
    for dom, placed in zip(doms, result.domains, strict=True):
        if placed.outcome != "ok":
            assert placed.outcome in ("out-of-memory", "p2m-pool-exhausted", "heap-exhausted", "not-reached")
            continue
        assert placed.banks is not None
        assert sum(n for _g, _h, n in placed.banks) == dom.memory_kib << 10
        taken += [(h, h + n) for _g, h, n in placed.banks]
    avoid = [(xenheap[0], xenheap[0] + xenheap[1]), *((s, s + n) for s, n in board.modules)]
    for s, e in taken:
        assert 0x40000000 <= s < e <= top
        assert all(e <= a or s >= b for a, b in avoid)
    taken.sort()
    assert all(a[1] <= b[0] for a, b in pairwise(taken))
