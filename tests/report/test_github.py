"""GitHub Actions annotations: one workflow command per finding, escaped as
GitHub's runner unescapes (``%``, CR, LF in the message; also ``:`` and
``,`` in property values)."""

from __future__ import annotations

import dataclasses
import re

from xenplan.analysis import Analysis
from xenplan.report import github

COMMAND = re.compile(r"^::(error|warning|notice) ((?:[a-z]+=[^,:]*)(?:,[a-z]+=[^,:]*)*)::(.*)$")


def unescape_property(v: str) -> str:
    return v.replace("%3A", ":").replace("%2C", ",").replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def unescape_data(v: str) -> str:
    return v.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def parse(line: str) -> tuple[str, dict[str, str], str]:
    m = COMMAND.match(line)
    assert m, line
    props = dict(p.split("=", 1) for p in m.group(2).split(","))
    return m.group(1), {k: unescape_property(v) for k, v in props.items()}, unescape_data(m.group(3))


def test_exact_lines(board: Analysis) -> None:
    assert github.render([board]).splitlines() == [
        "::error file=tests/report/data/board.dts,line=29,title=PAGE-003 static-over-allocation::"
        "/chosen/domU2: domU2 asks for 256 MiB but its banks hold 512 MiB",
        "::warning file=board%2Cv2%3Afinal.dtb,title=MOD-004 module-dropped::"
        '/chosen/domU2/module@4b000000: 100%25 of "a,b": 0x1 < 0x2 & done%0D%0Asecond line',
        "::notice file=tests/report/data/board.dts,title=RT-001 static-page-freed-to-reserved-list::"
        "pages go to the reserved list (not reached: Xen stops earlier)",
    ]


def test_round_trip(board: Analysis) -> None:
    lines = github.render([board]).splitlines()
    assert len(lines) == len(board.findings)
    for line, f in zip(lines, board.findings, strict=False):
        cmd, props, message = parse(line)
        assert cmd == {"error": "error", "warning": "warning", "info": "notice"}[f.severity]
        assert props["title"] == f"{f.rule} {f.slug}"
        assert props["file"] == (f.source.file if f.source else board.input)
        assert message.endswith(f.message) or f.message in message
        assert "\n" not in line and "\r" not in line


def test_escape_property_rules() -> None:
    assert github.escape_property("a%b:c,d\r\ne") == "a%25b%3Ac%2Cd%0D%0Ae"
    assert github.escape_data("a%b:c,d\r\ne") == "a%25b:c,d%0D%0Ae"


def test_no_findings_no_output(board: Analysis) -> None:
    assert github.render([dataclasses.replace(board, findings=[])]) == ""


def test_several_inputs(board: Analysis) -> None:
    other = dataclasses.replace(board, input="other.dts", findings=board.findings[2:])
    lines = github.render([board, other]).splitlines()
    assert len(lines) == 4
    assert lines[-1].startswith("::notice file=other.dts,title=RT-001 ")


def test_examples(examples: list[Analysis]) -> None:
    for a in examples:
        lines = github.render([a]).splitlines()
        assert len(lines) == len(a.findings)
        for line in lines:
            parse(line)
