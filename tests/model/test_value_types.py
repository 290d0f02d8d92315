"""Every model holds the types its fields declare, on every example and rule fixture.

The models (``xenplan.model.base.value``) are plain dataclasses: nothing
converts a list given for a tuple, a bool given for an int or a str given for
a number, as a validating model would. ``mypy --strict`` checks the typed call
sites; this walks what ``check`` builds from real inputs, so a value that
reaches a model through ``Any`` (a decoded property, a parsed option) is
caught too.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from tests.test_golden import BOARD_OPTIONS, EXAMPLES, FIXTURES, QEMU, ROOT, fixture_args
from xenplan.analysis import Analysis
from xenplan.boot.result import BootResult
from xenplan.checks.finding import Finding
from xenplan.cli import main
from xenplan.model.system import System
from xenplan.model.target import Target


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _mismatches(value: Any, tp: Any, where: str) -> Iterator[str]:
    """Where ``value`` is not a ``tp``, recursing into containers and nested models."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return
    if origin in (typing.Union, types.UnionType):
        arms = [list(_mismatches(value, arm, where)) for arm in args]
        if all(arms):
            yield f"{where}: {value!r} is none of {tp}"
        return
    if origin is typing.Literal:
        if not any(type(value) is type(a) and value == a for a in args):
            yield f"{where}: {value!r} is not one of {args}"
        return
    if origin is tuple:
        if type(value) is not tuple:
            yield f"{where}: a {type(value).__name__}, not a tuple"
            return
        if len(args) == 2 and args[1] is Ellipsis:
            for i, v in enumerate(value):
                yield from _mismatches(v, args[0], f"{where}[{i}]")
        elif len(args) != len(value):
            yield f"{where}: {len(value)} items, not {len(args)}"
        else:
            for i, (v, a) in enumerate(zip(value, args, strict=True)):
                yield from _mismatches(v, a, f"{where}[{i}]")
        return
    if origin is dict:
        if type(value) is not dict:
            yield f"{where}: a {type(value).__name__}, not a dict"
            return
        for k, v in value.items():
            yield from _mismatches(k, args[0], f"{where} key {k!r}")
            yield from _mismatches(v, args[1], f"{where}[{k!r}]")
        return
    if origin is list:
        if type(value) is not list:
            yield f"{where}: a {type(value).__name__}, not a list"
            return
        for i, v in enumerate(value):
            yield from _mismatches(v, args[0], f"{where}[{i}]")
        return
    if tp in (int, bool):
        if type(value) is not tp:
            yield f"{where}: {value!r} is a {type(value).__name__}, not a {tp.__name__}"
        return
    if not isinstance(value, tp):
        yield f"{where}: a {type(value).__name__}, not a {tp.__name__}"
        return
    if dataclasses.is_dataclass(value):
        hints = _hints(type(value))
        for f in dataclasses.fields(value):
            yield from _mismatches(getattr(value, f.name), hints[f.name], f"{where}.{f.name}")


def mismatches(a: Analysis) -> list[str]:
    out = [*_mismatches(a.system, System, "system"), *_mismatches(a.result, BootResult, "result")]
    for i, f in enumerate(a.findings):
        out += _mismatches(f, Finding, f"findings[{i}]")
    return out


def _analyses(args: list[str], monkeypatch: pytest.MonkeyPatch) -> list[Analysis]:
    """What ``xenplan check ARGS`` analyses, caught on its way to the report."""
    from xenplan.report import render

    caught: list[Analysis] = []
    real = render.check_parts

    def spy(fmt: str, analyses: list[Analysis], *rest: Any, **kw: Any) -> Any:
        caught.extend(analyses)
        return real(fmt, analyses, *rest, **kw)

    monkeypatch.setattr(render, "check_parts", spy)
    monkeypatch.chdir(ROOT)
    CliRunner().invoke(main, ["check", *args, "--format", "json"], catch_exceptions=False)
    return caught


def test_the_walk_finds_a_wrong_type() -> None:
    t = Target(notes=["a list"], gic_spis=True)  # type: ignore[arg-type]
    found = list(_mismatches(t, Target, "target"))
    assert any("target.notes: a list, not a tuple" in m for m in found)
    assert any("target.gic_spis: True is a bool, not a int" in m for m in found)


@pytest.mark.parametrize("rel", EXAMPLES)
def test_examples_on_every_release_hold_their_types(rel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    analyses = _analyses([rel, "--xen-version", "all", *BOARD_OPTIONS.get(rel, QEMU)], monkeypatch)
    assert analyses
    for a in analyses:
        assert mismatches(a) == [], f"{rel} ({a.system.target.version})"


def test_fixtures_hold_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = []
    for rel in FIXTURES:
        for a in _analyses([rel, *fixture_args(rel)], monkeypatch):
            bad += [f"{rel}: {m}" for m in mismatches(a)]
    assert bad == []
