"""The memory-map picture: a hand-written SVG (and an HTML page around it) that draws the host
address space to scale, each domain's guest RAM beside it, and hover titles with addresses."""

from __future__ import annotations

import dataclasses
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from xenplan.analysis import Analysis
from xenplan.report import svg

SVG_NS = "{http://www.w3.org/2000/svg}"


def parse(doc: str) -> ET.Element:
    root = ET.fromstring(doc)
    assert root.tag == SVG_NS + "svg"
    return root


def titles(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(SVG_NS + "title")]


def shown(root: ET.Element) -> str:
    return "\n".join(t.text or "" for t in root.iter(SVG_NS + "text"))


def test_is_well_formed_svg(board: Analysis, examples: list[Analysis]) -> None:
    for analyses in ([board], examples):
        root = parse(svg.render(analyses, None))
        assert float(root.get("width", "0")) > 0 and float(root.get("height", "0")) > 0


def test_every_region_and_bank_has_its_addresses_in_a_title(board: Analysis, examples: list[Analysis]) -> None:
    for a in [board, *examples]:
        hover = "\n".join(titles(parse(svg.render([a], None))))
        for h in a.result.host_map:
            if h.kind != "none":
                assert f"[{h.start:#x}, {h.start + h.size:#x})" in hover, (a.input, h)
        for d in a.result.domains:
            assert d.path in hover, (a.input, d.name)
            for b in d.banks or ():
                assert f"guest [{b.guest:#x}, {b.guest + b.size:#x})" in hover, (a.input, d.name, b)
                if b.host is not None:
                    assert f"host [{b.host:#x}, {b.host + b.size:#x})" in hover, (a.input, d.name, b)


def test_domains_and_the_verdict_are_drawn(board: Analysis) -> None:
    text = shown(parse(svg.render([board], None)))
    assert "tests/report/data/board.dts" in text and "verdict: panic at domain domU2 [PAGE-003]" in text
    assert "domU1" in text and "domU2" in text
    assert "no guest RAM: failed" in text
    assert "0x40000000 128 MiB → host 0x70000000" in text


def test_a_domain_keeps_its_colour_from_host_to_guest(board: Analysis) -> None:
    doc = svg.render([board], None)
    domu1 = svg.DOMAIN_COLOURS[0]
    host = re.search(r"<title>inuse /chosen/domU1: [^<]*</title>\s*<rect [^>]*fill=\"([^\"]+)\"", doc)
    assert host is not None and host.group(1) == domu1
    assert f'class="band" d="M{svg.HOST_X + svg.HOST_W},' in doc and f'fill="{domu1}" fill-opacity="0.28"' in doc


def test_holes_without_ram_are_shortened_and_marked(examples: list[Analysis]) -> None:
    zcu = next(a for a in examples if a.input.endswith("examples/zcu102.dts"))
    root = parse(svg.render([zcu], None))
    assert any(t.startswith("no RAM: [0x7ff00000, 0x800000000)") for t in titles(root))
    assert "30.00 GiB without RAM" in shown(root)
    boxes = svg.host_boxes(zcu, 0)
    hole = next(b for b in boxes if b.hole)
    assert hole.h == svg.GAP_H < max(b.h for b in boxes)


def test_heights_follow_sizes_with_a_floor() -> None:
    hs, cut = svg.heights([1 << 12, 1 << 30, 1 << 31], total=600)
    assert sum(hs) == pytest.approx(max(600, 3 * svg.MIN_H + svg.COLUMN_H / 2))
    assert hs[0] == svg.MIN_H and hs[2] == pytest.approx(2 * hs[1]) and cut == set()
    big, cut = svg.heights([1 << 20, 1 << 36, 1 << 30, 1 << 30], total=800, cappable=[False, True, False, False])
    assert cut == {1} and big[1] == pytest.approx(800 / 5) and big[2] == pytest.approx(big[3])


def test_one_domain(board: Analysis) -> None:
    text = shown(parse(svg.render([board], "domU1")))
    assert "0x40000000 128 MiB → host 0x70000000" in text
    assert "no guest RAM: failed" not in text


def test_empty_maps(board: Analysis) -> None:
    empty = dataclasses.replace(board, result=dataclasses.replace(board.result, host_map=(), domains=()))
    assert "nothing mapped" in shown(parse(svg.render([empty], None)))


def test_deterministic_and_blind_to_the_terminal(board: Analysis, examples: list[Analysis],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    before = svg.render([board, *examples], None), svg.render_html(examples, None)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("TERM", "dumb")
    assert (svg.render([board, *examples], None), svg.render_html(examples, None)) == before


def test_html_is_self_contained(examples: list[Analysis]) -> None:
    page = svg.render_html(examples, None)
    assert page.startswith("<!DOCTYPE html>")
    assert set(re.findall(r"https?://[^\s\"'<>)]+", page)) == {"http://www.w3.org/2000/svg"}, "only the namespace"
    assert not re.search(r"\b(?:src|href)\s*=|@import|url\(", page)
    svg_part = page[page.index("<svg"):page.index("</svg>") + len("</svg>")]
    parse(svg_part)
    for a in examples:
        assert f"<h2>{a.input}: host physical map</h2>" in page


def test_chromium_draws_it(tmp_path: Path, examples: list[Analysis]) -> None:
    """What a person sees: headless Chromium renders the SVG to a PNG of the SVG's size."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed")
    qemu = next(a for a in examples if a.input.endswith("examples/qemu-virt.dts"))
    doc = svg.render([qemu], None)
    src, png = tmp_path / "map.svg", tmp_path / "map.png"
    src.write_text(doc, encoding="utf-8")
    root = parse(doc)
    w, h = int(root.get("width", "0")), int(root.get("height", "0"))
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=1", f"--screenshot={png}", f"--window-size={w},{h}",
                    src.as_uri()], check=True, capture_output=True, timeout=120)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (w, h)
    assert len(data) > 10_000, "more than a blank page"
