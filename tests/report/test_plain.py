"""The plain text renderer prints what rich prints, character for character.

Rich is the reference: every example and the hand-made board go through both
renderers at several widths, and seeded random lines (long words, runs of
spaces, lines that end exactly at the margin) go through both word wraps.
"""

from __future__ import annotations

import dataclasses
import io
import random
from collections.abc import Sequence

import pytest
from rich.console import Console
from rich.text import Text

from xenplan.analysis import Analysis
from xenplan.report import plain, render, text


def rich_console(width: int) -> Console:
    return Console(file=io.StringIO(), record=True, width=width, height=50, force_terminal=False, color_system=None)


class Counting(render._RichFallback):
    """The rich fallback, counting how often the plain renderer needed it."""

    def __init__(self, width: int) -> None:
        super().__init__(render.Screen("unused"))
        self.screen._console = rich_console(width)
        self.calls = 0

    def line(self, line: str) -> str:
        self.calls += 1
        return super().line(line)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        self.calls += 1
        return super().table(title, columns, rows)


def through_rich(a: Analysis, width: int, explain: bool = False) -> str:
    c = rich_console(width)
    text.check(c, a, a.findings, explain)
    return c.export_text(styles=False)


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize("width", [120, 80, 47])
def test_examples_print_the_same(examples: list[Analysis], board: Analysis, width: int, explain: bool) -> None:
    for a in [board, *examples]:
        assert plain.check(a, a.findings, width, Counting(width), explain) == through_rich(a, width, explain), a.input


def test_ascii_examples_never_need_rich(examples: list[Analysis]) -> None:
    for a in examples:
        fallback = Counting(120)
        plain.check(a, a.findings, 120, fallback)
        assert fallback.calls == 0, a.input


def test_the_tricky_finding_stays_one_line(board: Analysis) -> None:
    """A message with a line break and quotes prints as one line, its second line in the explanation."""
    out = plain.check(board, board.findings, 100, Counting(100), explain=True).splitlines()
    line = next(x for x in out if " MOD-004 " in x)
    assert line.endswith('/chosen/domU2/module@4b000000: 100% of "a,b": 0x1 < 0x2 & done')
    assert "    second line" in out
    assert not any("\r" in x for x in out)


def test_the_tricky_verdict_goes_to_rich(board: Analysis) -> None:
    fallback = Counting(100)
    assert board.result.failed_at is not None
    tricky = dataclasses.replace(board.result, failed_at=dataclasses.replace(
        board.result.failed_at, message="caf\u00e9\u4e2d"))
    plain.check(dataclasses.replace(board, result=tricky), board.findings, 100, fallback)
    assert fallback.calls > 0


def test_wrap_matches_rich_on_random_lines() -> None:
    rng = random.Random(9)
    alphabet = "ab cd  ef-/:[]()0x→—"
    for _ in range(3000):
        width = rng.randint(1, 30)
        line = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        if rng.random() < 0.2:
            line += " " * rng.randint(1, 5)
        c = rich_console(width)
        c.print(Text(line))
        assert "".join(f"{p}\n" for p in plain.wrap(line, width)) == c.export_text(styles=False), (line, width)


def test_a_table_wider_than_the_page_goes_to_rich() -> None:
    fallback = Counting(20)
    rows = [("a" * 30, "b")]
    assert plain.table("t", ("x", "y"), rows, 20, fallback) == Counting(20).table("t", ("x", "y"), rows)
    assert fallback.calls == 1
