"""The rule ID -> module table (``xenplan/checks/index.py``) and the lazy loading it allows.

A ``check`` narrowed by ``--select``/``--ignore`` imports only the area modules of the rules it
keeps, which the table names; if the table were wrong a selected rule would silently not run. So
the table is compared with what importing every module of the package really registers, and a
narrowed run's output with the same run made from the whole catalogue.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import xenplan.checks
from tests.test_golden import BOARD_OPTIONS, EXAMPLES, FIXTURES, fixture_args, run
from xenplan.checks.index import MODULE, SLUG
from xenplan.checks.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_index_is_the_real_registration() -> None:
    for mod in pkgutil.iter_modules(xenplan.checks.__path__):
        importlib.import_module(f"xenplan.checks.{mod.name}")
    real = {i: (REGISTRY.module_of[i], r.slug) for i, r in REGISTRY.loaded.items()}
    table = {i: (MODULE[i], SLUG[i]) for i in MODULE}
    assert table == real, "xenplan/checks/index.py is stale: run `python tools/rule_index.py`"


def whole(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> str:
    """The output with the selection applied only after every rule ran, as ``filter_findings`` does."""
    real = xenplan.checks.wanted
    monkeypatch.setattr(xenplan.checks, "wanted", lambda selection: real(None))
    try:
        return run(args)
    finally:
        monkeypatch.setattr(xenplan.checks, "wanted", real)


@pytest.mark.parametrize("fixture", FIXTURES)
def test_a_fixture_checked_for_its_own_rule_says_what_the_whole_catalogue_says(
        fixture: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rule_id = "-".join(Path(fixture).name.split("-")[:2])
    args = ["check", fixture, *fixture_args(fixture), "--format", "json", "--select", rule_id]
    assert run(args) == whole(monkeypatch, args)


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("keys", [["--select", "SMEM"], ["--select", "RT,DOM-001", "--ignore", "RT-003"],
                                  ["--ignore", "RAM"], ["--select", "static-bank-not-page-aligned,HEAP-"]])
def test_a_narrowed_example_says_what_the_whole_catalogue_says(
        example: str, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    args = ["check", example, *BOARD_OPTIONS.get(example, []), "--format", "json", *keys]
    assert run(args) == whole(monkeypatch, args)
