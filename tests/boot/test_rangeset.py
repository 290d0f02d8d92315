"""The range set mirror: the ranges it keeps, and the nodes it allocates and frees."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.boot.replay.rangeset import RANGE_SIZE, RANGESET_SIZE, RangeSet


def _set() -> tuple[RangeSet[int], list[int], list[int]]:
    allocated: list[int] = []
    freed: list[int] = []

    def alloc(size: int) -> int:
        allocated.append(size)
        return len(allocated)

    return RangeSet(alloc, freed.append), allocated, freed


def test_split_takes_a_node_and_whole_removal_frees_one() -> None:
    rs, allocated, freed = _set()
    rs.add(0x40000, 0x13ffff)
    rs.remove(0x60000, 0x6ffff)
    assert rs.ranges == [[0x40000, 0x5ffff], [0x70000, 0x13ffff]]
    assert allocated == [RANGESET_SIZE, RANGE_SIZE, RANGE_SIZE]
    rs.remove(0x40000, 0x5ffff)
    assert rs.ranges == [[0x70000, 0x13ffff]] and freed == [2]
    rs.destroy()
    assert freed == [2, 3, 1]


def test_adjacent_ranges_merge_without_a_node() -> None:
    rs, allocated, _freed = _set()
    rs.add(10, 19)
    rs.add(20, 29)
    assert rs.ranges == [[10, 29]] and allocated.count(RANGE_SIZE) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 60), st.integers(0, 8)), max_size=40))
def test_ranges_match_the_set_of_frames_and_nodes_balance(ops: list[tuple[bool, int, int]]) -> None:
    rs, allocated, freed = _set()
    frames: set[int] = set()
    for add, start, length in ops:
        end = start + length
        (rs.add if add else rs.remove)(start, end)
        (frames.update if add else frames.difference_update)(range(start, end + 1))
        kept = {f for s, e in rs.ranges for f in range(s, e + 1)}
        assert kept == frames
        assert all(a[1] + 1 < b[0] for a, b in zip(rs.ranges, rs.ranges[1:], strict=False)), "ranges sorted, apart"
        assert allocated.count(RANGE_SIZE) - (len(freed)) == len(rs.ranges) == len(rs.nodes)
    rs.destroy()
    assert len(freed) == len(allocated)
