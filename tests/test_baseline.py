"""Baselines and exit control: ``--write-baseline`` then ``--baseline`` reports only new findings (a moved
line or bank is not new; duplicates are counted), the file is written atomically and never over an input,
SARIF carries the address-free fingerprint, and ``--exit-zero`` keeps 2 for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from ciboard import RT_A_BANK, ZCU, board, findings, invoke

from xenplan import baseline
from xenplan.baseline import SCHEMA as BASELINE_SCHEMA
from xenplan.checks.finding import Finding

ROOT = Path(__file__).resolve().parent.parent
SARIF = jsonschema.Draft7Validator(json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text()))


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def check(*args: str | Path) -> tuple[int, list[tuple[str, str | None]]]:
    res = invoke("check", *args, *ZCU, "--no-config", "--format", "json")
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, findings(res)


def write_baseline(b: Path, out: Path) -> dict[str, object]:
    res = invoke("check", b, *ZCU, "--no-config", "--write-baseline", out, "--fail-on", "info")
    assert res.exit_code == 0, res.stderr
    assert "recorded 11 finding(s)" in res.stderr
    doc: dict[str, object] = json.loads(out.read_text())
    return doc


def test_round_trip_reports_only_what_is_new(tmp_path: Path) -> None:
    b = board(tmp_path / "boards")
    base = tmp_path / "xenplan-baseline.json"
    doc = write_baseline(b, base)
    assert doc["schema"] == BASELINE_SCHEMA
    entry = doc["findings"][0]  # type: ignore[index]
    assert set(entry) == {"input", "rule", "path", "property", "count"}
    assert entry["input"] == "boards/zcu102.dts"
    assert "0x" not in base.read_text(), "no addresses in a baseline"
    assert check(b, "--baseline", base, "--fail-on", "info") == (0, [])

    board(tmp_path / "boards", lambda t: "// a new first line\n\n" + t.replace(RT_A_BANK, RT_A_BANK.replace(
        "<0x8 0x00000000", "<0x8 0x02000000")))
    assert check(b, "--baseline", base, "--fail-on", "info") == (0, []), "a moved line and a moved bank are not new"

    board(tmp_path / "boards", lambda t: t.replace("memory = <0x0 0x20000>;", "memory = <0x0 0x10000>;"))
    code, new = check(b, "--baseline", base)
    assert code == 1
    assert new == [("PAGE-003", "/chosen/rt-a")]


def test_the_run_may_start_in_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = board(tmp_path / "boards")
    base = tmp_path / "ci" / "baseline.json"
    base.parent.mkdir()
    write_baseline(b, base)
    monkeypatch.chdir(tmp_path / "boards")
    assert check("zcu102.dts", "--baseline", base, "--fail-on", "info") == (0, [])


def test_duplicates_are_counted(tmp_path: Path) -> None:
    def finding(prop: str) -> Finding:
        return Finding(rule="RT-003", slug="x", severity="warning", reached=True, message="m",
                       path="/chosen/domU1", property=prop)

    base = tmp_path / "baseline.json"
    today = SimpleNamespace(input="board.dts", findings=[finding("memory")] * 2)
    baseline.write(str(base), [today], [])  # type: ignore[list-item]
    again = SimpleNamespace(input="board.dts", findings=[finding("memory")] * 3 + [finding("xen,static-mem")])
    baseline.apply(str(base), [again])  # type: ignore[list-item]
    assert [f.property for f in again.findings] == ["memory", "xen,static-mem"], "2 recorded, 3 found: one is new"


def test_baseline_is_never_written_over_an_input_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    b = board(tmp_path)
    before = b.read_text()
    res = invoke("check", b, *ZCU, "--no-config", "--write-baseline", b)
    assert res.exit_code == 2 and "also an input" in res.stderr
    assert b.read_text() == before
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    res = invoke("check", b, *ZCU, "--no-config", "--baseline", tmp_path / "bad.json")
    assert res.exit_code == 2 and res.stderr.count("\n") == 1 and "not a baseline" in res.stderr
    res = invoke("check", b, *ZCU, "--no-config", "--baseline", tmp_path / "missing.json")
    assert res.exit_code == 2 and "cannot read" in res.stderr


def test_sarif_stable_fingerprint_survives_a_moved_bank(tmp_path: Path) -> None:
    def prints(path: Path) -> tuple[set[str], set[str]]:
        doc = json.loads(invoke("check", path, *ZCU, "--no-config", "--format", "sarif").stdout)
        errors = list(SARIF.iter_errors(doc))
        assert not errors, errors[0].message
        fps = [r["partialFingerprints"] for r in doc["runs"][0]["results"]]
        return {f["xenplanFinding/v1"] for f in fps}, {f["xenplanFindingStable/v1"] for f in fps}

    before = prints(board(tmp_path / "a"))
    after = prints(board(tmp_path / "b", lambda t: t.replace(RT_A_BANK, RT_A_BANK.replace(
        "<0x8 0x00000000", "<0x8 0x02000000"))))
    assert before[0] != after[0], "today's fingerprint has the addresses"
    assert before[1] == after[1], "the stable one does not"
    assert "RT-003|/chosen/rt-a|xen,static-mem|0" in before[1]


def test_exit_zero(tmp_path: Path) -> None:
    b = board(tmp_path)
    assert invoke("check", b, *ZCU, "--no-config", "--fail-on", "warning").exit_code == 1
    res = invoke("check", b, *ZCU, "--no-config", "--fail-on", "warning", "--exit-zero", "--format", "json")
    assert res.exit_code == 0 and findings(res)
    res = invoke("check", tmp_path / "missing.dts", "--exit-zero")
    assert res.exit_code == 2
    (tmp_path / "xenplan.toml").write_text("fail-on = 'warning'\nunknown = 1\n")
    assert invoke("check", b, *ZCU, "--exit-zero").exit_code == 2
