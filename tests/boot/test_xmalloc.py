"""The xmalloc pool replay against Xen's own pool, and its invariants.

``tests/data/xmalloc/pool-*.json`` are the pool events an instrumented
release build of Xen printed while booting an oracle case: every small
``xmalloc`` (size, alignment, the address it returned), every ``xfree``,
every page the pool took (``xmalloc_pool_get()``). Replaying the same
requests through ``TlsfPool`` must give the same addresses and take the
pages at the same moments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.boot.replay.xmalloc import (
    BHDR_OVERHEAD,
    PAGE_SIZE,
    REGION_BLOCK,
    Block,
    TlsfPool,
    mapping_insert,
    mapping_search,
)

TRACES = sorted((Path(__file__).resolve().parent.parent / "data" / "xmalloc").glob("pool-*.json"))


def _address(block: Block, align: int) -> int:
    base = block.region + block.offset + BHDR_OVERHEAD
    return base + (-base & (align - 1))


@pytest.mark.parametrize("trace", TRACES, ids=[t.stem for t in TRACES])
def test_replays_xens_pool(trace: Path) -> None:
    events: list[list[Any]] = json.loads(trace.read_text())["events"]
    pending: list[int] = []
    returned: list[int] = []
    pool = TlsfPool(lambda: pending.pop(0), returned.append)
    live: dict[int, Block] = {}
    allocations = 0
    for event in events:
        kind = event[0]
        if kind == "g":
            pending.append(event[1])
        elif kind == "p":
            assert returned.pop(0) == event[1]
        elif kind == "m":
            _, size, align, address = event
            align = max(align, 16)
            block = pool.alloc(size + align - 16)
            assert block is not None
            assert not pending, "the pool took its page later than Xen"
            assert _address(block, align) == address, f"allocation {allocations}: size {size}"
            live[address] = block
            allocations += 1
        else:
            pool.free(live.pop(event[1]))
    assert allocations > 100
    assert not returned


def test_mapping_rounds_up_to_the_list_granule() -> None:
    assert mapping_search(48) == (48, 0, 12)
    assert mapping_search(144) == (144, 1, 4)
    assert mapping_search(4000) == (4032, 5, 31)
    assert mapping_search(4048)[0] == 4096
    assert mapping_insert(REGION_BLOCK) == (5, 31)


def test_requests_above_4032_bytes_never_fit_a_region() -> None:
    pages: list[int] = []
    pool = TlsfPool(lambda: (pages.append(len(pages) * PAGE_SIZE) or pages[-1]), lambda pfn: None)
    assert pool.alloc(4032) is not None
    assert pool.alloc(4033) is None
    assert len(pages) == 1


def test_split_then_merge_gives_the_region_back() -> None:
    taken: list[int] = []
    given_back: list[int] = []
    pool = TlsfPool(lambda: (taken.append(0x1000 * (len(taken) + 1)) or taken[-1]), given_back.append)
    a = pool.alloc(100)
    b = pool.alloc(200)
    assert a is not None and b is not None
    assert (a.offset, b.offset) == (0, BHDR_OVERHEAD + 112)
    pool.free(a)
    assert pool.regions == 1 and not given_back
    pool.free(b)
    assert given_back == taken and pool.regions == 0


def test_a_remainder_smaller_than_a_header_is_not_split_off() -> None:
    pool = TlsfPool(lambda: 0, lambda pfn: None)
    first = pool.alloc(32)
    assert first is not None and pool.alloc(16) is not None
    pool.free(first)
    again = pool.alloc(16)
    assert again is first and again.size == 32
    assert [b.size for chain in pool.free_lists().values() for b in chain] == [REGION_BLOCK - 32 - 16 - 2 * 16]


def _check(pool: TlsfPool, held: set[int]) -> None:
    layout = pool.layout()
    assert set(layout) == held
    listed = {id(b) for chain in pool.free_lists().values() for b in chain}
    free_blocks = set()
    for region, chain in layout.items():
        offset = 0
        for prev, block in zip([None, *chain[:-1]], chain, strict=False):
            assert block.region == region and block.offset == offset and block.prev is prev
            if prev is not None:
                assert not (prev.free and block.free), "two free neighbours were not merged"
            if block.free:
                free_blocks.add(id(block))
                assert mapping_insert(block.size) in pool.free_lists()
            offset += BHDR_OVERHEAD + block.size
        assert chain[-1].size == 0 and chain[-1].offset == PAGE_SIZE - BHDR_OVERHEAD
    assert listed == free_blocks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 4200), st.integers(0, 1000)), max_size=120))
def test_pool_invariants(ops: list[tuple[bool, int, int]]) -> None:
    """Regions stay tiled by their blocks, free neighbours are merged, the free lists hold
    exactly the free blocks, and the pool holds exactly the pages it took and did not give back."""
    counter = [0]
    held: set[int] = set()

    def get() -> int:
        counter[0] += 1
        held.add(counter[0] * PAGE_SIZE)
        return counter[0] * PAGE_SIZE

    pool = TlsfPool(get, held.remove)
    live: list[Block] = []
    for is_alloc, size, pick in ops:
        if is_alloc or not live:
            block = pool.alloc(size)
            if block is None:
                assert mapping_search(-(-size // 16) * 16)[0] > REGION_BLOCK
            else:
                assert block.size >= size and not block.free
                live.append(block)
        else:
            pool.free(live.pop(pick % len(live)))
        _check(pool, held)
    for block in live:
        pool.free(block)
    assert pool.regions == 0 and not held
