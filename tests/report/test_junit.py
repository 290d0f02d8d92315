"""JUnit XML: a suite per input, the verdict as a test case, one case per rule
that fired; error findings and a failed boot are failures."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from xenplan.analysis import Analysis
from xenplan.report import junit


def parse(text: str) -> ET.Element:
    assert text.startswith("<?xml version='1.0' encoding='utf-8'?>\n")
    return ET.fromstring(text.encode("utf-8"))


def test_structure(board: Analysis) -> None:
    root = parse(junit.render([board]))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("4", "2", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "tests/report/data/board.dts"
    assert (suite.get("tests"), suite.get("failures")) == ("4", "2")
    assert [c.get("name") for c in suite.findall("testcase")] == [
        "boot (Xen 4.22.0, arm64)", "PAGE-003 static-over-allocation", "MOD-004 module-dropped",
        "RT-001 static-page-freed-to-reserved-list"]
    assert [p.get("value") for p in suite.findall("properties/property")] == ["no --kernel-image: kernels assumed"]


def test_verdict_case(board: Analysis) -> None:
    boot = parse(junit.render([board])).find("testsuite/testcase")
    assert boot is not None
    fail = boot.find("failure")
    assert fail is not None
    assert fail.get("type") == "panic"
    assert fail.get("message") == ("Xen would panic at domain domU2: "
                                   "Failed to allocate requested static memory for domain d2.")
    assert fail.text is not None
    assert "rule: PAGE-003" in fail.text
    assert "dropped module /chosen/domU2/module@4b000000 [0x4b000000, 0x4b010000)" in fail.text
    assert "domain domU2: failed" in fail.text


def test_boots_passes(board: Analysis) -> None:
    ok = dataclasses.replace(board, result=dataclasses.replace(board.result, outcome="boots", failed_at=None),
                             findings=[])
    root = parse(junit.render([ok]))
    (case,) = root.findall("testsuite/testcase")
    assert case.find("failure") is None
    assert root.get("failures") == "0"


def test_rule_cases(board: Analysis) -> None:
    cases = parse(junit.render([board])).findall("testsuite/testcase")
    page, mod, rt = cases[1:]
    assert page.get("file") == "tests/report/data/board.dts"
    assert page.get("line") == "29"
    fail = page.find("failure")
    assert fail is not None and fail.get("type") == "error"
    assert fail.get("message") == "domU2 asks for 256 MiB but its banks hold 512 MiB"
    # warnings and notes do not fail; their text goes to system-out, escaped by the XML library
    assert mod.find("failure") is None
    out = mod.findtext("system-out")
    assert out is not None
    assert '100% of "a,b": 0x1 < 0x2 & done' in out
    assert mod.get("file") == "board,v2:final.dtb"
    assert "(offset 0x2c8)" in out
    assert rt.find("failure") is None
    assert "[not reached: Xen stops earlier]" in (rt.findtext("system-out") or "")


def test_one_case_per_rule(board: Analysis) -> None:
    twice = dataclasses.replace(board, findings=[board.findings[0], board.findings[0]])
    cases = parse(junit.render([twice])).findall("testsuite/testcase")
    assert len(cases) == 2
    fail = cases[1].find("failure")
    assert fail is not None and fail.text is not None
    assert fail.get("message", "").endswith("(and 1 more)")
    assert len(fail.text.splitlines()) == 2


def test_control_characters_are_dropped(board: Analysis) -> None:
    f = dataclasses.replace(board.findings[0], message="bad \x00\x1b byte")
    root = parse(junit.render([dataclasses.replace(board, findings=[f])]))
    assert root.find("testsuite/testcase/failure[@type='error']") is not None


def test_suite_per_input(board: Analysis) -> None:
    other = dataclasses.replace(board, input="other.dts", findings=[])
    root = parse(junit.render([board, other]))
    assert [s.get("name") for s in root.findall("testsuite")] == ["tests/report/data/board.dts", "other.dts"]
    assert root.get("tests") == "5"


def test_examples(examples: list[Analysis]) -> None:
    for a in examples:
        root = parse(junit.render([a]))
        suite = root.find("testsuite")
        assert suite is not None
        boot = suite.find("testcase")
        assert boot is not None
        assert (boot.find("failure") is None) == (a.result.outcome == "boots")
        errors = {f.rule for f in a.findings if f.severity == "error"}
        assert int(suite.get("failures", "-1")) == len(errors) + (a.result.outcome != "boots")
