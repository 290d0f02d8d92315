"""SARIF: valid against the official 2.1.0 schema, rules from the registry,
each finding placed by file and line or byte offset and by node path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from xenplan import __version__
from xenplan.analysis import Analysis
from xenplan.checks.registry import rules
from xenplan.report import sarif

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json").read_text())
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_NAMES = [str(p.relative_to(ROOT / "examples")) for p in
                 sorted((ROOT / "examples").glob("*.dts")) + sorted((ROOT / "examples" / "broken").glob("*.dts"))]
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def validate(doc: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message[:300]}" for e in errors[:10])


def run_of(analyses: list[Analysis]) -> dict[str, Any]:
    doc = json.loads(sarif.render(analyses))
    validate(doc)
    assert doc["version"] == "2.1.0"
    assert len(doc["runs"]) == 1
    run: dict[str, Any] = doc["runs"][0]
    return run


def test_schema_itself_is_draft7() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_board_validates_and_places_findings(board: Analysis) -> None:
    run = run_of([board])
    results = run["results"]
    assert [r["ruleId"] for r in results] == ["PAGE-003", "MOD-004", "RT-001"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]

    page = results[0]
    phys = page["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "tests/report/data/board.dts"
    assert phys["region"] == {"startLine": 29}
    assert page["locations"][0]["logicalLocations"] == [
        {"name": "domU2", "fullyQualifiedName": "/chosen/domU2", "kind": "element"}]
    assert page["message"]["text"] == "/chosen/domU2: domU2 asks for 256 MiB but its banks hold 512 MiB"
    assert page["relatedLocations"] == [{
        "id": 0, "message": {"text": "/chosen/domU1 [0x70000000, 0x78000000)"},
        "logicalLocations": [{"name": "domU1", "fullyQualifiedName": "/chosen/domU1", "kind": "element"}]}]
    props = page["properties"]
    assert props["reached"] is True
    assert props["xen_message"] == "Failed to allocate requested static memory for domain d2."
    assert props["ranges"] == [{"start": "0x60000000", "size": "0x10000000"}]
    assert props["related"] == [{"path": "/chosen/domU1", "ranges": [{"start": "0x70000000", "size": "0x8000000"}]}]
    assert props["slug"] == "static-over-allocation"
    assert props["property"] == "memory"

    mod = results[1]
    phys = mod["locations"][0]["physicalLocation"]
    assert phys["region"] == {"byteOffset": 0x2C8}
    assert phys["artifactLocation"]["uri"] == "board%2Cv2%3Afinal.dtb"  # a ':' would read as a URI scheme
    assert mod["message"]["text"].endswith('100% of "a,b": 0x1 < 0x2 & done\r\nsecond line')

    rt = results[2]
    phys = rt["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "tests/report/data/board.dts"
    assert "region" not in phys
    assert "logicalLocations" not in rt["locations"][0]
    assert rt["properties"]["reached"] is False
    assert "not reached" in rt["message"]["text"]


def test_artifacts_and_indices(board: Analysis) -> None:
    run = run_of([board])
    arts = run["artifacts"]
    assert arts[0] == {"location": {"uri": "tests/report/data/board.dts"}, "roles": ["analysisTarget"]}
    assert {"location": {"uri": "board%2Cv2%3Afinal.dtb"}} in arts
    for r in run["results"]:
        loc = r["locations"][0]["physicalLocation"]["artifactLocation"]
        assert arts[loc["index"]]["location"]["uri"] == loc["uri"]
        assert run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_rules_come_from_the_registry(board: Analysis) -> None:
    driver = run_of([board])["tool"]["driver"]
    assert driver["name"] == "xenplan"
    assert driver["version"] == __version__
    reg = list(rules())
    assert [d["id"] for d in driver["rules"]] == [r.id for r in reg]
    level = {"error": "error", "warning": "warning", "info": "note"}
    for d, r in zip(driver["rules"], reg, strict=False):
        assert d["name"] == r.slug
        assert d["defaultConfiguration"]["level"] == level[r.severity()]
        assert d["properties"]["since"] == r.since
        assert d["properties"]["until"] == r.until
        assert d["properties"]["xen_src"] == r.xen_src
        assert d["shortDescription"]["text"]
        assert d["fullDescription"]["text"]
        assert d["help"]["text"] == r.docs
        if r.xen_message:
            assert r.xen_message in d["help"]["markdown"]


def test_verdict_in_run_properties(board: Analysis) -> None:
    (v,) = run_of([board])["properties"]["verdicts"]
    assert v["input"] == "tests/report/data/board.dts"
    assert v["outcome"] == "panic"
    assert v["failed_at"] == {"stage": "domain", "domain": "domU2", "rule": "PAGE-003",
                              "message": "Failed to allocate requested static memory for domain d2."}


def test_absolute_path_is_a_file_uri(board: Analysis) -> None:
    import dataclasses

    a = dataclasses.replace(board, input="/tmp/my board.dts", findings=board.findings[2:])
    run = run_of([a])
    assert run["artifacts"][0]["location"]["uri"] == "file:///tmp/my%20board.dts"


def test_no_findings_is_still_valid(board: Analysis) -> None:
    import dataclasses

    run = run_of([dataclasses.replace(board, findings=[])])
    assert run["results"] == []


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_every_example_validates(examples: list[Analysis], name: str) -> None:
    (a,) = [a for a in examples if a.input.endswith("/" + name)]
    run = run_of([a])
    assert len(run["results"]) == len(a.findings)


def test_all_examples_in_one_run(examples: list[Analysis]) -> None:
    run = run_of(examples)
    assert [a["location"]["uri"] for a in run["artifacts"] if "analysisTarget" in a.get("roles", [])] == [
        a.input for a in examples]
    assert len(run["properties"]["verdicts"]) == len(examples)
