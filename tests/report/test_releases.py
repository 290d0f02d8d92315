"""Several releases in one run (``--xen-version 4.17,4.18`` or ``all``): one verdict per release, what
changes between them, the ``xenplan-releases/1`` document, and the CI formats."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from referencing import Registry, Resource

from xenplan.cli import main
from xenplan.errors import UsageError
from xenplan.targets import parse_versions

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "examples" / "broken" / "kernel-in-static-bank.dts"
QEMU_VIRT = ROOT / "examples" / "qemu-virt.dts"
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
SCHEMAS = resources.files("xenplan") / "data" / "schema"


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def schema(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return doc


def releases_validator() -> jsonschema.Draft202012Validator:
    one, many = schema("xenplan-1.schema.json"), schema("xenplan-releases-1.schema.json")
    registry = Registry().with_resources([(one["$id"], Resource.from_contents(one)),
                                          (many["$id"], Resource.from_contents(many))])
    jsonschema.Draft202012Validator.check_schema(many)
    return jsonschema.Draft202012Validator(many, registry=registry)


def test_versions_are_sorted_once_each() -> None:
    assert parse_versions("4.22") == ["4.22"]
    assert parse_versions("4.22,4.18,4.22.0") == ["4.18", "4.22"]
    assert parse_versions("all") == ["4.16", "4.17", "4.18", "4.19", "4.20", "4.21", "4.22"]
    assert parse_versions("4.23-dev,all")[-1] == "4.23-dev"
    with pytest.raises(UsageError):
        parse_versions("4.18,4.99")
    with pytest.raises(UsageError):
        parse_versions("4.18,")


def test_json_satisfies_the_shipped_schema_and_keeps_each_xenplan_1_document() -> None:
    doc = json.loads(invoke("check", KERNEL, QEMU_VIRT, *QEMU, "--format", "json", "--xen-version", "all").stdout)
    assert list(releases_validator().iter_errors(doc)) == []
    assert [d["input"] for d in doc] == [str(KERNEL), str(QEMU_VIRT)]
    first = doc[0]
    assert first["schema"] == "xenplan-releases/1"
    assert [r["target"]["xen_version"] for r in first["releases"]] == [
        "4.16.7", "4.17.7", "4.18.6", "4.19.6", "4.20.4", "4.21.2", "4.22.0"]
    alone = json.loads(invoke("check", KERNEL, *QEMU, "--format", "json", "--xen-version", "4.18").stdout)
    assert first["releases"][2] == alone
    assert [(c["from"], c["to"]) for c in first["changes"]] == [
        ("4.16.7", "4.17.7"), ("4.17.7", "4.18.6"), ("4.18.6", "4.19.6"), ("4.19.6", "4.20.4"),
        ("4.20.4", "4.21.2"), ("4.21.2", "4.22.0")]


def test_one_input_is_one_object_and_a_single_release_stays_xenplan_1() -> None:
    doc = json.loads(invoke("check", KERNEL, *QEMU, "--format", "json", "--xen-version", "4.17,4.18").stdout)
    assert isinstance(doc, dict) and list(releases_validator().iter_errors(doc)) == []
    one = json.loads(invoke("check", KERNEL, *QEMU, "--format", "json", "--xen-version", "4.18").stdout)
    assert one["schema"] == "xenplan/1"


def test_the_upgrade_that_breaks_the_board() -> None:
    """4.17 lets a kernel module inside a static bank through; 4.18 drops it and domU2 fails."""
    doc = json.loads(invoke("check", KERNEL, *QEMU, "--format", "json", "--xen-version", "4.17,4.18").stdout)
    (change,) = doc["changes"]
    assert change["verdict"] == {"from": "boots", "to": "panic at domain domU2 [DOM-020]"}
    assert {f["rule"] for f in change["findings"]["added"]} >= {"DOM-020", "MOD-004"}
    assert "RSV-013" in {f["rule"] for f in change["findings"]["removed"]}
    (dom,) = change["domains"]
    assert dom["name"] == "domU2" and dom["status"] == {"from": "constructed", "to": "failed"}
    assert dom["banks"]["from"] and dom["banks"]["to"] is None


def test_text_has_a_verdict_per_release_and_the_changes() -> None:
    res = invoke("check", KERNEL, *QEMU, "--xen-version", "4.17,4.18")
    out = res.stdout
    assert "(Xen 4.17.7, arm64)" in out and "(Xen 4.18.6, arm64)" in out
    table = out[out.index(f"{KERNEL} on 2 releases"):]
    assert "│ 4.17.7  │ boots " in table and "│ 4.18.6  │ panic at domain domU2 [DOM-020] " in table
    assert "what changes on upgrade" in table
    assert "boots → panic at domain domU2 [DOM-020]" in table and "constructed → failed" in table


def test_exit_status_is_the_worst_over_releases() -> None:
    assert invoke("check", KERNEL, *QEMU, "--xen-version", "4.17").exit_code == 0
    assert invoke("check", KERNEL, *QEMU, "--xen-version", "4.18").exit_code == 1
    assert invoke("check", KERNEL, *QEMU, "--xen-version", "4.17,4.18").exit_code == 1


def test_ci_formats_name_the_release_or_refuse() -> None:
    gh = invoke("check", KERNEL, *QEMU, "--format", "github", "--xen-version", "4.17,4.18").stdout
    assert "(Xen 4.17.7)" in gh and "(Xen 4.18.6)" in gh
    junit = ET.fromstring(invoke("check", KERNEL, *QEMU, "--format", "junit", "--xen-version", "4.17,4.18").stdout)
    names = [s.get("name") for s in junit.iter("testsuite")]
    assert names == [f"{KERNEL} (Xen 4.17.7)", f"{KERNEL} (Xen 4.18.6)"]
    res = CliRunner().invoke(main, ["check", str(KERNEL), *QEMU, "--format", "sarif", "--xen-version", "4.17,4.18"])
    assert res.exit_code == 2 and "one release per run" in res.stderr
    res = CliRunner().invoke(main, ["map", str(KERNEL), *QEMU, "--xen-version", "all"])
    assert res.exit_code == 2 and "--xen-version" in res.stderr


def test_docs_link_the_shipped_releases_schema() -> None:
    text = (ROOT / "docs" / "json-contract.md").read_text(encoding="utf-8")
    assert "../xenplan/data/schema/xenplan-releases-1.schema.json" in text
    assert schema("xenplan-releases-1.schema.json")["$defs"]["document"]["properties"]["schema"]["const"] == \
        "xenplan-releases/1"


def test_inputs_on_different_releases_are_not_a_release_comparison() -> None:
    """Each input may run on its own release (per-file settings): only one input on several releases compares."""
    from xenplan.analysis import analyse
    from xenplan.report import releases
    from xenplan.targets import build_target

    def on(path: Path, version: str) -> Any:
        return analyse(str(path), build_target(xen_version=version, xen_image=QEMU[1], fdt_address=QEMU[3]))

    a18, b22 = on(KERNEL, "4.18"), on(QEMU_VIRT, "4.22")
    assert not releases.several([a18, b22])
    assert releases.several([a18, on(KERNEL, "4.22"), b22])
