"""The memory-map picture: one SVG document, recorded from rich, that shows
the host map and each guest map in proportion, with the domain colours."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from xenplan.analysis import Analysis
from xenplan.report import svg
from xenplan.report.svg import Run

SVG_NS = "{http://www.w3.org/2000/svg}"


def svg_text(doc: str) -> str:
    """The characters the picture shows, in document order (rich writes
    ``&#160;`` for spaces)."""
    root = ET.fromstring(doc)
    assert root.tag == SVG_NS + "svg"
    return "".join(t.text or "" for t in root.iter(SVG_NS + "text")).replace("\xa0", " ")


def recorded(board: Analysis, domain: str | None = None) -> str:
    c = svg.console()
    c.print(svg.picture(board, domain))
    return c.export_text()


def test_is_one_svg_document(board: Analysis) -> None:
    doc = svg.render([board], None)
    assert doc.lstrip().startswith("<svg")
    shown = svg_text(doc)
    for want in ("host physical map", "domU1: guest physical map (dynamic, constructed)",
                 "domU2: guest physical map (static, failed): no guest map", "0x70000000", "(Xen image)"):
        assert want in shown


def test_domain_colours_follow_the_domain(board: Analysis) -> None:
    doc = svg.render([board], None)
    domu1, domu2 = svg.DOMAIN_COLOURS[:2]
    # domU1's host RAM and its guest RAM share a colour; domU2's static pages have the next one
    assert doc.count(domu1) >= 1 and doc.count(domu2) >= 1
    assert svg.KIND_COLOUR["xen"] in doc
    assert svg.KIND_COLOUR["gnttab"] in doc


def test_same_input_same_picture(board: Analysis) -> None:
    assert svg.render([board], None) == svg.render([board], None)


def test_one_domain(board: Analysis) -> None:
    out = recorded(board, "domU1")
    assert "domU1: guest physical map" in out
    assert "domU2" in out  # the host map still names its owner
    assert "domU2: guest physical map" not in out


def test_bar_fills_its_width_and_marks_holes() -> None:
    runs = [Run(0x40000000, 0x1000, "#000000", "dtb"), Run(0x40001000, 1 << 30, "#111111", "heap"),
            Run(0x100000000, 1 << 20, "#222222", "far")]
    bar = svg.bar(runs, 50)
    assert bar.cell_len == 50
    assert bar.plain.count("┆") == 1
    assert "heap" in bar.plain
    widths = svg._widths(runs, 49)
    assert sum(widths) == 49
    assert widths[0] >= 1 and widths[1] > widths[2] > widths[0]


def test_many_regions_still_one_cell_each() -> None:
    runs = [Run(i * 0x1000, 0x1000, "#000000", "x") for i in range(200)]
    assert svg._widths(runs, 100) == [1] * 200


def test_axis_shows_the_ends() -> None:
    runs = [Run(0x40000000, 0x1000, "#000000", "a"), Run(0x140000000 - 0x1000, 0x1000, "#000000", "b")]
    axis = svg.axis(runs, 40).plain
    assert axis.startswith("0x40000000 ") and axis.endswith(" 0x140000000") and len(axis) == 40


def test_empty_maps(board: Analysis) -> None:
    empty = dataclasses.replace(board, result=board.result.model_copy(update={"host_map": (), "domains": ()}))
    assert "host physical map: nothing mapped" in recorded(empty)
    assert svg_text(svg.render([empty], None))


def test_examples(examples: list[Analysis]) -> None:
    doc = svg.render(examples, None)
    shown = svg_text(doc)
    for a in examples:
        assert a.input in shown
        for d in a.result.domains:
            assert f"{d.name}: guest physical map" in shown


def test_ignores_the_terminal_environment(board: Analysis, monkeypatch: pytest.MonkeyPatch) -> None:
    before = svg.render([board], None)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "dumb")
    assert svg.render([board], None) == before
