"""Cell-by-cell edits of DTS text: only the changed cells' tokens change, in their own style."""

from __future__ import annotations

import pytest

from xenplan.plan.dtsedit import EditError, edit_cells, find_cells

TEXT = """\
/ {
\tnode {
\t\tlbl: reg = <0x0 0x0006c000>, /* comment <0x1> ; */
\t\t\t<0 1234>;
\t\tupper = <0xABCD0000 0x1 c: 0x2>; // "quoted ; text"
\t\texpr = <(0x1 + 0x2) FOO BAR(3) &ref>;
\t\tstr = "a", <0x1>;
\t};
};
"""


def line_of(name: str) -> int:
    return next(i for i, line in enumerate(TEXT.splitlines(), 1) if f"{name} =" in line)


def test_only_changed_cells_change_in_their_style() -> None:
    out = edit_cells(TEXT, line_of("reg"), "reg", [0, 0x6C000, 0, 1234], [0, 0x44000, 0, 4096])
    assert out == TEXT.replace("<0x0 0x0006c000>", "<0x0 0x00044000>").replace("<0 1234>", "<0 4096>")


def test_upper_case_and_labels_inside_cells() -> None:
    out = edit_cells(TEXT, line_of("upper"), "upper", [0xABCD0000, 1, 2], [0x1BCD0000, 1, 3])
    assert "upper = <0x1BCD0000 0x1 c: 0x3>;" in out


def test_expressions_and_macros_are_cells() -> None:
    cells = find_cells(TEXT, line_of("expr"), "expr")
    assert [c.text for c in cells] == ["(0x1 + 0x2)", "FOO", "BAR(3)", "&ref"]
    out = edit_cells(TEXT, line_of("expr"), "expr", [3, 7, 9, 1], [3, 8, 9, 1])
    assert "expr = <(0x1 + 0x2) 0x8 BAR(3) &ref>;" in out


def test_a_wider_value_keeps_the_prefix() -> None:
    out = edit_cells(TEXT, line_of("reg"), "reg", [0, 0x6C000, 0, 1234], [0x1, 0x6C000, 0, 1234])
    assert "<0x1 0x0006c000>" in out


@pytest.mark.parametrize(("name", "old", "new", "words"), [
    ("str", [1], [2], "not a list of 32-bit cells"),
    ("reg", [0, 0x6C000, 0], [0, 0, 0], "3 cell"),
    ("reg", [0, 0x6C001, 0, 1234], [0, 0, 0, 0], "the compiled tree has"),
    ("missing", [1], [2], "not written on line"),
])
def test_what_cannot_be_edited_is_refused(name: str, old: list[int], new: list[int], words: str) -> None:
    line = line_of(name) if name != "missing" else 3
    with pytest.raises(EditError, match=words):
        edit_cells(TEXT, line, name, old, new)
