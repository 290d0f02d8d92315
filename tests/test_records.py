"""``xenplan.records.record`` behaves as ``dataclasses.dataclass`` does, before and after it
compiles a class's ``__init__`` (``COMPILE_AFTER`` objects)."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

import xenplan.records as records
from xenplan.model.base import value
from xenplan.records import record


@record(frozen=True, slots=True)
class Pair:
    start: int
    size: int = 0
    tags: tuple[str, ...] = ()
    note: Any = dataclasses.field(default=None, compare=False)


@dataclasses.dataclass(frozen=True, slots=True)
class StdPair:
    start: int
    size: int = 0
    tags: tuple[str, ...] = ()
    note: Any = dataclasses.field(default=None, compare=False)


@record
class Box:
    name: str
    items: list[int] = dataclasses.field(default_factory=list)


@value
class Base:
    path: str
    source: str | None = None


@value
class Child(Base):
    kind: str
    extra: dict[str, int] = dataclasses.field(default_factory=dict)


def both_phases(make: Callable[[], Any]) -> list[Any]:
    """``make()`` run through the generic ``__init__`` and again after the class compiled its own."""
    first = [make() for _ in range(3)]
    for _ in range(records.COMPILE_AFTER):
        make()
    return [*first, make()]


def test_equality_hash_and_repr_match_dataclass() -> None:
    for p in both_phases(lambda: Pair(1, 2, ("a",), note="x")):
        s = StdPair(1, 2, ("a",), note="y")
        assert p == Pair(1, 2, ("a",), note="other")
        assert p != Pair(1, 3, ("a",))
        assert hash(p) == hash(s)
        assert repr(p) == repr(s).replace("StdPair", "Pair").replace("'y'", "'x'")
        assert p.__eq__(s) is NotImplemented


def test_frozen_and_slotted() -> None:
    p = Pair(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.start = 2  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del p.start  # type: ignore[misc]
    assert not hasattr(p, "__dict__")
    assert copy.deepcopy(p) == p and pickle.loads(pickle.dumps(p)) == p


def test_mutable_record_is_unhashable_and_factories_are_per_object() -> None:
    a, b = Box("a"), Box("a")
    a.items.append(1)
    assert b.items == [] and a != b
    a.name = "c"
    assert a.name == "c"
    with pytest.raises(TypeError):
        hash(a)


def test_inheritance_keyword_only_and_dataclass_helpers() -> None:
    for c in both_phases(lambda: Child(path="/a", kind="k")):
        assert [f.name for f in dataclasses.fields(c)] == ["path", "source", "kind", "extra"]
        r = dataclasses.replace(c, kind="j")
        assert (r.path, r.kind, c.kind) == ("/a", "j", "k")
        assert dataclasses.asdict(c) == {"path": "/a", "source": None, "kind": "k", "extra": {}}
        assert "Child(path='/a'" in repr(c)


@pytest.mark.parametrize("call", [
    Pair,
    lambda: Pair(1, 2, (), None, 5),  # type: ignore[call-arg]
    lambda: Pair(1, start=2),  # type: ignore[misc]
    lambda: Pair(1, colour=2),  # type: ignore[call-arg]
    lambda: Child("/a", kind="k"),  # type: ignore[misc]
    lambda: Child(path="/a"),  # type: ignore[call-arg]
])
def test_bad_arguments_raise_type_error_in_both_phases(call: Callable[[], object]) -> None:
    for _ in range(records.COMPILE_AFTER + 2):
        with pytest.raises(TypeError):
            call()


def test_init_is_compiled_after_enough_objects() -> None:
    @record
    class Fresh:
        x: int

    generic = Fresh.__init__
    for i in range(records.COMPILE_AFTER - 1):
        Fresh(i)
    assert Fresh.__init__ is generic
    Fresh(0)
    assert Fresh.__init__ is not generic and Fresh.__init__.__qualname__.endswith("Fresh.__init__")
    assert Fresh(5).x == 5


def test_what_record_refuses() -> None:
    with pytest.raises(TypeError, match="ClassVar"):
        @record
        class WithClassVar:
            limit: ClassVar[int] = 3

    with pytest.raises(ValueError, match="mutable default"):
        @record
        class WithList:
            items: list[int] = []  # noqa: RUF012
