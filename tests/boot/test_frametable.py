"""``FrameTable``: sorted, disjoint, gap-free extents, checked against a per-page dict.

The unit tests pin the merge and clip behaviour; the state machine applies
random ``set`` calls on a small pfn space and compares every page, every
``extents()`` window and every ``first_not()`` answer with a naive model.
"""

from __future__ import annotations

import itertools

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from xenplan.boot.frametable import STATES, Extent, FrameTable

N = 48  # pfns the random operations touch; everything above stays "none"
LIMIT = FrameTable.LIMIT

Page = tuple[str, bool, "str | None"]
NONE: Page = ("none", False, None)


def key(e: Extent) -> Page:
    return (e.state, e.static, e.owner)


def assert_well_formed(ft: FrameTable) -> None:
    ext = ft.all()
    assert ext, "the table always covers [0, LIMIT)"
    assert ext[0].start == 0
    assert ext[-1].end == LIMIT
    for e in ext:
        assert e.start < e.end, f"empty extent {e}"
        assert e.state in STATES
    for a, b in itertools.pairwise(ext):
        assert a.end == b.start, f"gap or overlap between {a} and {b}"
        assert key(a) != key(b), f"unmerged neighbours {a} and {b}"


def pages(ft: FrameTable, n: int = N) -> list[Page]:
    out: list[Page] = []
    for e in ft.extents(0, n):
        out.extend([key(e)] * e.pages)
    return out


# ------------------------------------------------------------------ units


def test_new_table_is_one_none_extent() -> None:
    ft = FrameTable()
    assert ft.all() == [Extent(0, LIMIT, "none")]
    assert ft.first_not(0, 10, "none", False) is None
    assert ft.first_not(0, 10, "heap", False) == 0


def test_set_splits_and_clips() -> None:
    ft = FrameTable()
    ft.set(10, 20, "heap")
    assert ft.all() == [Extent(0, 10, "none"), Extent(10, 20, "heap"), Extent(20, LIMIT, "none")]
    assert list(ft.extents(15, 25)) == [Extent(15, 20, "heap"), Extent(20, 25, "none")]
    assert ft.first_not(10, 20, "heap", False) is None
    assert ft.first_not(10, 21, "heap", False) == 20
    assert_well_formed(ft)


def test_empty_or_reversed_ranges_change_nothing() -> None:
    ft = FrameTable()
    ft.set(5, 5, "heap")
    ft.set(7, 3, "heap")
    assert ft.all() == [Extent(0, LIMIT, "none")]
    assert list(ft.extents(4, 4)) == []


def test_equal_neighbours_merge_on_both_sides() -> None:
    ft = FrameTable()
    ft.set(0, 4, "heap")
    ft.set(8, 12, "heap")
    ft.set(4, 8, "heap")
    assert ft.all()[0] == Extent(0, 12, "heap")
    assert_well_formed(ft)


def test_static_flag_and_owner_keep_extents_apart() -> None:
    ft = FrameTable()
    ft.set(0, 4, "inuse", owner="/chosen/domU1")
    ft.set(4, 8, "inuse", owner="/chosen/domU2")
    ft.set(8, 12, "inuse", static=True, owner="/chosen/domU2")
    assert [key(e) for e in ft.extents(0, 12)] == [
        ("inuse", False, "/chosen/domU1"), ("inuse", False, "/chosen/domU2"), ("inuse", True, "/chosen/domU2")]
    assert ft.first_not(4, 12, "inuse", False, "/chosen/domU2") == 8
    assert_well_formed(ft)


def test_overwrite_inside_one_extent_splits_it_in_three_and_back() -> None:
    ft = FrameTable()
    ft.set(0, 30, "heap")
    ft.set(10, 20, "inuse", owner="d")
    assert [(e.start, e.end, e.state) for e in ft.extents(0, 30)] == [(0, 10, "heap"), (10, 20, "inuse"),
                                                                       (20, 30, "heap")]
    ft.set(10, 20, "heap")
    assert ft.all()[0] == Extent(0, 30, "heap")
    assert_well_formed(ft)


def test_set_up_to_the_limit() -> None:
    ft = FrameTable()
    ft.set(LIMIT - 4, LIMIT, "heap")
    assert ft.all()[-1] == Extent(LIMIT - 4, LIMIT, "heap")
    ft.set(0, LIMIT, "boot")
    assert ft.all() == [Extent(0, LIMIT, "boot")]


def test_huge_ranges_cost_one_extent() -> None:
    ft = FrameTable()
    ft.set(0x40000, 0x40000 + (16 << 28), "heap")  # 16 TiB of 4 KiB pages
    assert len(ft.all()) == 3


# ------------------------------------------------------- against a naive model

pfn = st.integers(min_value=0, max_value=N)
state = st.sampled_from(STATES)
owner = st.sampled_from([None, "/chosen/domU1", "/chosen/domU2"])


class FrameTableVsDict(RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.ft = FrameTable()
        self.model: dict[int, Page] = {p: NONE for p in range(N)}

    @rule(a=pfn, b=pfn, state=state, static=st.booleans(), owner=owner)
    def set(self, a: int, b: int, state: str, static: bool, owner: str | None) -> None:
        self.ft.set(a, b, state, static=static, owner=owner)
        for p in range(a, b):
            self.model[p] = (state, static, owner)

    @rule(a=pfn, b=pfn)
    def extents_window(self, a: int, b: int) -> None:
        got = list(self.ft.extents(a, b))
        if b <= a:
            assert got == []
            return
        assert got[0].start == a and got[-1].end == b
        flat: list[Page] = []
        for x, y in itertools.pairwise(got):
            assert x.end == y.start and key(x) != key(y)
        for e in got:
            flat.extend([key(e)] * e.pages)
        assert flat == [self.model[p] for p in range(a, b)]

    @rule(a=pfn, b=pfn, state=state, static=st.booleans(), owner=owner)
    def first_not(self, a: int, b: int, state: str, static: bool, owner: str | None) -> None:
        want = next((p for p in range(a, b) if self.model[p] != (state, static, owner)), None)
        assert self.ft.first_not(a, b, state, static, owner) == want

    @invariant()
    def well_formed(self) -> None:
        assert_well_formed(self.ft)

    @invariant()
    def every_page_matches(self) -> None:
        assert pages(self.ft) == [self.model[p] for p in range(N)]
        assert list(self.ft.extents(N, LIMIT)) == [Extent(N, LIMIT, "none")]


FrameTableVsDict.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
test_frametable_matches_a_per_page_dict = FrameTableVsDict.TestCase
