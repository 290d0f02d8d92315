"""The published JSON Schema of the ``xenplan/1`` document (docs/json-contract.md).

The schema ships inside the package, so a CI job can validate what the
installed xenplan prints. Every pinned golden document must satisfy it, and
a document that breaks the contract must not: otherwise the schema would
promise nothing.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from xenplan.cli import main
from xenplan.report.json_out import SCHEMA as SCHEMA_NAME

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "data" / "golden"
SCHEMA_FILE = resources.files("xenplan") / "data" / "schema" / "xenplan-1.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]


def golden_documents() -> list[Path]:
    """Golden files holding a document; those holding a refused input's error line are not JSON."""
    return sorted(p for sub in ("check", "map", "fixtures") for p in (GOLDEN / sub).glob("*.json")
                  if p.read_text(encoding="utf-8").startswith("{"))


def errors(doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
            for e in sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((GOLDEN / name).read_text(encoding="utf-8"))
    return doc


def test_schema_is_valid_draft_2020_12() -> None:
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$defs"]["document"]["properties"]["schema"]["const"] == SCHEMA_NAME


def test_docs_link_the_shipped_schema() -> None:
    text = (ROOT / "docs" / "json-contract.md").read_text(encoding="utf-8")
    assert "../xenplan/data/schema/xenplan-1.schema.json" in text


def test_golden_corpus_is_large() -> None:
    docs = golden_documents()
    assert len(docs) > 300
    assert {p.parent.name for p in docs} == {"check", "map", "fixtures"}


@pytest.mark.parametrize("path", golden_documents(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden_document_satisfies_schema(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert errors(doc) == []


def test_several_inputs_make_an_array_that_satisfies_schema() -> None:
    inputs = [str(ROOT / "examples" / "qemu-virt.dts"), str(ROOT / "examples" / "broken" / "kernel-in-static-bank.dts")]
    res = CliRunner().invoke(main, ["check", "--format", "json", *inputs, *QEMU],
                             standalone_mode=False, catch_exceptions=False)
    doc = json.loads(res.output)
    assert isinstance(doc, list) and len(doc) == 2
    assert errors(doc) == []
    assert errors([]) != [], "an empty array is no output xenplan makes"


def sample() -> dict[str, Any]:
    """A failed boot with a finding, a dropped module and domains in every status."""
    doc = load("check/examples__broken__kernel-in-static-bank@4.18.json")
    assert doc["outcome"] == "panic" and doc["findings"] and doc["dropped_modules"]
    assert errors(doc) == []
    return doc


def broken(edit: str) -> dict[str, Any]:
    doc = copy.deepcopy(sample())
    constructed = next(d for d in doc["domains"] if d["status"] == "constructed")
    failed = next(d for d in doc["domains"] if d["status"] == "failed")
    finding = doc["findings"][0]
    if edit == "missing schema":
        del doc["schema"]
    elif edit == "missing findings":
        del doc["findings"]
    elif edit == "missing finding severity":
        del finding["severity"]
    elif edit == "missing domain status":
        del constructed["status"]
    elif edit == "unknown top-level key":
        doc["verdict"] = "panic"
    elif edit == "unknown finding key":
        finding["level"] = "error"
    elif edit == "schema version 2":
        doc["schema"] = "xenplan/2"
    elif edit == "outcome not in enum":
        doc["outcome"] = "reboots"
    elif edit == "severity not in enum":
        finding["severity"] = "fatal"
    elif edit == "status not in enum":
        constructed["status"] = "built"
    elif edit == "stage not in enum":
        doc["failed_at"]["stage"] = "late"
    elif edit == "p2m kind not in enum":
        constructed["p2m"][0]["kind"] = "pci"
    elif edit == "upper-case hex":
        doc["dropped_modules"][0]["size"] = "0x6C000"
    elif edit == "decimal number":
        doc["dropped_modules"][0]["size"] = int(doc["dropped_modules"][0]["size"], 16)
    elif edit == "hex without prefix":
        constructed["banks"][0]["size"] = constructed["banks"][0]["size"][2:]
    elif edit == "panic without failed_at":
        doc["failed_at"] = None
    elif edit == "boots with failed_at":
        doc["outcome"] = "boots"
    elif edit == "panic without message":
        doc["failed_at"]["message"] = None
    elif edit == "domain stage without domain":
        doc["failed_at"]["domain"] = None
    elif edit == "failed domain with banks":
        failed["banks"] = constructed["banks"]
    elif edit == "source without file":
        finding["source"] = {"line": 3}
    else:
        raise AssertionError(edit)
    return doc


BREACHES = {
    "missing schema": "", "missing findings": "", "missing finding severity": "findings/0",
    "missing domain status": "domains/0", "unknown top-level key": "", "unknown finding key": "findings/0",
    "schema version 2": "schema", "outcome not in enum": "outcome", "severity not in enum": "findings/0/severity",
    "status not in enum": "domains/0/status", "stage not in enum": "failed_at",
    "p2m kind not in enum": "domains/0/p2m/0/kind", "upper-case hex": "dropped_modules/0/size",
    "decimal number": "dropped_modules/0/size", "hex without prefix": "domains/0/banks",
    "panic without failed_at": "failed_at", "boots with failed_at": "failed_at",
    "panic without message": "failed_at/message", "domain stage without domain": "failed_at",
    "failed domain with banks": "domains/1/banks", "source without file": "findings/0/source",
}
"""Each breach of the contract and where the document schema reports it."""

DOCUMENT = jsonschema.Draft202012Validator({"$defs": SCHEMA["$defs"], "$ref": "#/$defs/document"})
"""The single-document branch, whose errors point at the offending key (the top level's
``oneOf`` reports only that neither branch matched)."""


@pytest.mark.parametrize("edit", sorted(BREACHES))
def test_contract_breach_fails_validation(edit: str) -> None:
    doc = broken(edit)
    assert errors(doc) != []
    assert errors([doc]) != []
    where = {"/".join(map(str, e.absolute_path)) for e in DOCUMENT.iter_errors(doc)}
    assert BREACHES[edit] in where, where


def test_open_sets_stay_open() -> None:
    """``host_map[].kind`` and ``p2m[].note`` may grow within xenplan/1 (docs/json-contract.md, Versioning)."""
    doc = copy.deepcopy(sample())
    doc["host_map"][0]["kind"] = "xen-percpu"
    constructed = next(d for d in doc["domains"] if d["status"] == "constructed")
    constructed["p2m"][0]["note"] = "a note a later release adds"
    assert errors(doc) == []


def test_simulate_document_satisfies_schema_and_a_broken_operation_does_not() -> None:
    tree = ROOT / "tests" / "data" / "runtime" / "static-pages-reuse" / "tree.dts"
    res = CliRunner().invoke(main, ["simulate", "--format", "json", str(tree), *QEMU, "--op",
                                    "domU1 balloon-out 64K@0x40200000", "--op", "domU2 destroy",
                                    "--op", "create late 16M"], standalone_mode=False, catch_exceptions=False)
    doc = json.loads(res.output)
    assert [o["result"] for o in doc["operations"]] == ["ok", "ok", "ok"]
    assert {d["status"] for d in doc["domains"]} == {"constructed", "destroyed"}
    assert errors(doc) == []
    bad = copy.deepcopy(doc)
    del bad["operations"][0]["rc"]
    assert errors(bad) != []
    bad = copy.deepcopy(doc)
    bad["operations"][0]["pages"][0]["mfn_start"] = 4096
    assert errors(bad) != []
