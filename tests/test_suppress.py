"""Suppressions (docs/configuration.md): ``// xenplan: ignore`` above a node or on its opening line, in the
input or an included .dtsi, scoped to the node and its properties but not its subnodes; ``ignore-nodes``
for DTBs; SUP-001 for a suppression that hides nothing (fires and stays silent); the reason in JSON and
SARIF."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ciboard import RT_A, ZCU, above, board, document, invoke

from xenplan.checks.registry import DOC_HEADINGS, REGISTRY
from xenplan.checks.suppress import parse_comment

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "xenplan" / "data" / "schema" / "xenplan-1.schema.json").read_text())
SARIF = jsonschema.Draft7Validator(json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text()))
RT_A_ALL = {("RT-001", "/chosen/rt-a"), ("RT-002", "/chosen/rt-a"), ("RT-003", "/chosen/rt-a"),
            ("RT-005", "/chosen/rt-a")}


def check(path: Path, *extra: str) -> Any:
    res = invoke("check", path, *ZCU, "--no-config", "--format", "json", *extra)
    assert res.exit_code in (0, 1), res.stderr
    doc = document(res)
    jsonschema.validate(doc, SCHEMA)
    return doc


def pairs(doc: Any) -> set[tuple[str, str | None]]:
    return {(f["rule"], f["path"]) for f in doc["findings"]}


def test_parse_comment() -> None:
    assert parse_comment("  // xenplan: ignore RT-003, rt-001 -- a reason  here") == (("RT-003", "RT-001"),
                                                                                      "a reason here")
    assert parse_comment("domU1 { /* xenplan: ignore RT */") == (("RT",), None)
    assert parse_comment("// xenplan: --xen-version 4.16") is None
    assert parse_comment("// xenplan: ignore") == ((), None)


def test_without_suppressions_there_is_no_suppressed_key(tmp_path: Path) -> None:
    doc = check(board(tmp_path))
    assert "suppressed" not in doc
    assert pairs(doc) >= RT_A_ALL


def test_comment_above_a_node_hides_its_findings_and_says_why(tmp_path: Path) -> None:
    doc = check(board(tmp_path, above(RT_A, "// xenplan: ignore RT-003 -- rt-a runs no balloon driver")))
    assert ("RT-003", "/chosen/rt-a") not in pairs(doc)
    assert ("RT-003", "/chosen/rt-b") in pairs(doc), "only that node"
    assert ("RT-001", "/chosen/rt-a") in pairs(doc), "only that rule"
    [s] = doc["suppressed"]
    assert (s["rule"], s["path"], s["property"]) == ("RT-003", "/chosen/rt-a", "xen,static-mem")
    line = next(i for i, t in enumerate((tmp_path / "zcu102.dts").read_text().splitlines(), 1) if "xenplan:" in t)
    assert s["suppression"] == {"kind": "inSource", "justification": "rt-a runs no balloon driver",
                                "source": {"file": str(tmp_path / "zcu102.dts"), "line": line}}


def test_comment_on_the_opening_line_with_an_area_and_a_comment_between(tmp_path: Path) -> None:
    doc = check(board(tmp_path, lambda t: t.replace(RT_A, RT_A + " // xenplan: ignore RT")))
    assert not RT_A_ALL & pairs(doc)
    assert {s["suppression"]["justification"] for s in doc["suppressed"]} == {None}
    doc = check(board(tmp_path, above(RT_A, "/* xenplan: ignore RT-001,RT-002 */\n\t\t// the real-time domain")))
    assert not {("RT-001", "/chosen/rt-a"), ("RT-002", "/chosen/rt-a")} & pairs(doc)
    assert ("RT-003", "/chosen/rt-a") in pairs(doc)


def test_scope_is_the_node_not_its_subnodes(tmp_path: Path) -> None:
    doc = check(board(tmp_path, above("\tchosen {", "\t// xenplan: ignore RT -- not for the domains")))
    assert pairs(doc) >= RT_A_ALL, "a comment on /chosen does not reach the domains under it"
    [unused] = [f for f in doc["findings"] if f["rule"] == "SUP-001"]
    assert unused["path"] == "/chosen" and "no RT finding at /chosen" in unused["message"]


def test_a_node_written_in_an_included_dtsi(tmp_path: Path) -> None:
    def move_rt_a(text: str) -> str:
        start = text.index(RT_A)
        end = text.index("\t\t};\n", text.index("module@5600000", start)) + len("\t\t};\n")
        (tmp_path / "rt-a.dtsi").write_text("\t\t// xenplan: ignore RT-003, RT-005 -- reviewed\n" + text[start:end])
        return text[:start] + '/include/ "rt-a.dtsi"\n' + text[end:]

    doc = check(board(tmp_path, move_rt_a))
    assert {("RT-001", "/chosen/rt-a"), ("RT-002", "/chosen/rt-a")} <= pairs(doc)
    assert not {("RT-003", "/chosen/rt-a"), ("RT-005", "/chosen/rt-a")} & pairs(doc)
    assert {s["suppression"]["source"]["file"] for s in doc["suppressed"]} == {str(tmp_path / "rt-a.dtsi")}


@pytest.mark.parametrize(("comment", "words"), [
    ("// xenplan: ignore HEAP-001", "no HEAP-001 finding at /chosen/rt-a"),
    ("// xenplan: ignore RT-999, RT-003", "RT-999 is not a rule ID or area"),
    ("// xenplan: ignore -- no rule named", "names no rule"),
])
def test_sup_001_fires_for_a_suppression_that_hides_nothing(tmp_path: Path, comment: str, words: str) -> None:
    doc = check(board(tmp_path, above(RT_A, comment)))
    [f] = [f for f in doc["findings"] if f["rule"] == "SUP-001"]
    assert words in f["message"]
    assert f["severity"] == "warning" and f["path"] == "/chosen/rt-a"
    assert f["source"]["file"] == str(tmp_path / "zcu102.dts")


def test_sup_001_fires_for_a_comment_on_no_node(tmp_path: Path) -> None:
    doc = check(board(tmp_path, lambda t: t.replace("\t\t\tcpus = <1>;\n", "\t\t\tcpus = <1>; // xenplan: ignore RT\n",
                                                    1)))
    [f] = [f for f in doc["findings"] if f["rule"] == "SUP-001"]
    assert "not on a node's opening line" in f["message"] and f["path"] is None


def test_sup_001_silent_when_every_suppression_is_used(tmp_path: Path) -> None:
    doc = check(board(tmp_path, above(RT_A, "// xenplan: ignore RT-001, RT-002 -- reviewed")))
    assert "SUP-001" not in {f["rule"] for f in doc["findings"]}
    assert len(doc["suppressed"]) == 2


def test_sup_001_follows_select_and_ignore(tmp_path: Path) -> None:
    b = board(tmp_path, above(RT_A, "// xenplan: ignore RT-003, HEAP-001"))
    assert "SUP-001" not in {r for r, _ in pairs(check(b, "--ignore", "SUP"))}
    doc = check(b, "--select", "RT-001")
    assert {r for r, _ in pairs(doc)} == {"RT-001"}, "select applies after suppression: RT-003 still counts as used"


def test_sup_001_is_documented() -> None:
    r = REGISTRY["SUP-001"]
    assert tuple(r.doc_sections()) == DOC_HEADINGS and r.slug == "unused-suppression"
    res = invoke("rule", "SUP-001")
    assert res.exit_code == 0 and "unused-suppression" in res.stdout


def test_ignore_nodes_for_a_dtb(tmp_path: Path, dtc_compile: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    dts = board(tmp_path)
    dtb = tmp_path / "zcu102.dtb"
    dtb.write_bytes(dtc_compile(dts))
    (tmp_path / "xenplan.toml").write_text('[ignore-nodes]\n"/chosen/rt-a" = ["RT-003"]\n'
                                           '"/chosen/nothing" = ["RT-001"]\n')
    res = invoke("check", dtb.name, *ZCU, "--format", "json")
    doc = document(res)
    jsonschema.validate(doc, SCHEMA)
    assert ("RT-003", "/chosen/rt-a") not in pairs(doc)
    [s] = doc["suppressed"]
    assert s["suppression"]["kind"] == "external"
    assert s["suppression"]["source"]["file"] == "xenplan.toml"
    [f] = [f for f in doc["findings"] if f["rule"] == "SUP-001"]
    assert "names a node the tree does not have" in f["message"]


def test_sarif_carries_the_suppression_and_both_fingerprints(tmp_path: Path) -> None:
    b = board(tmp_path, above(RT_A, "// xenplan: ignore RT-003 -- reviewed"))
    res = invoke("check", b, *ZCU, "--no-config", "--format", "sarif")
    doc = json.loads(res.stdout)
    errors = list(SARIF.iter_errors(doc))
    assert not errors, errors[0].message
    results = doc["runs"][0]["results"]
    assert all({"xenplanFinding/v1", "xenplanFindingStable/v1"} <= set(r["partialFingerprints"]) for r in results)
    [hidden] = [r for r in results if "suppressions" in r]
    assert hidden["ruleId"] == "RT-003"
    assert hidden["suppressions"] == [{"kind": "inSource", "justification": "reviewed"}]
    assert hidden["partialFingerprints"]["xenplanFindingStable/v1"] == "RT-003|/chosen/rt-a|xen,static-mem|0"
