"""FreeSpace against a byte-per-unit model on small address spaces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.plan.space import FreeSpace

TOP = 64

_ranges = st.lists(st.tuples(st.integers(0, TOP), st.integers(0, TOP)).map(lambda t: (min(t), max(t))), max_size=6)


def _units(space: FreeSpace) -> set[int]:
    return {u for s, e in space for u in range(s, e)}


def test_of_merges_and_sorts() -> None:
    space = FreeSpace.of([(10, 20), (0, 5), (5, 8), (15, 30), (40, 40)])
    assert list(space) == [(0, 8), (10, 30)]


def test_remove_splits() -> None:
    space = FreeSpace.of([(0, 100)])
    space.remove(10, 20)
    space.remove(50, 200)
    assert list(space) == [(0, 10), (20, 50)]
    assert space.find(10, 8) == 0 and space.find(11, 8) == 24 and space.find(11, 8, prefer="high") == 32
    assert space.find(31) is None
    assert space.largest(4) == (20, 28)


@settings(max_examples=300, deadline=None)
@given(_ranges, _ranges, st.integers(1, 20), st.sampled_from([1, 2, 4, 8]), st.integers(0, TOP),
       st.integers(0, TOP), st.sampled_from(["low", "high"]))
def test_matches_unit_model(free: list[tuple[int, int]], used: list[tuple[int, int]], size: int, align: int,
                            lo: int, hi: int, prefer: str) -> None:
    space = FreeSpace.of(free)
    units = {u for s, e in free for u in range(s, e)}
    for s, e in used:
        space.remove(s, e)
        units -= set(range(s, e))
    assert _units(space) == units
    assert all(a[1] < b[0] for a, b in zip(space, list(space)[1:], strict=False))
    assert space.total(lo, hi) == len({u for u in units if lo <= u < hi})
    fits = [a for a in range(0, TOP, align) if lo <= a and a + size <= hi and set(range(a, a + size)) <= units]
    want = (min(fits) if prefer == "low" else max(fits)) if fits else None
    assert space.find(size, align, lo=lo, hi=hi, prefer=prefer) == want  # type: ignore[arg-type]
    if want is not None:
        assert space.contains(want, want + size)
        taken = space.take(size, align, lo=lo, hi=hi, prefer=prefer)  # type: ignore[arg-type]
        assert taken == want and _units(space) == units - set(range(want, want + size))
