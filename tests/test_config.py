"""Configuration files (docs/configuration.md): discovery, precedence, per-file settings, paths relative
to the configuration, one configuration per input, ``xenplan config``, and errors with their line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from ciboard import ZCU, board, document, findings, invoke

from xenplan.config import find_config, glob_regex

ZCU_TOML = 'xen-image = "0x5a00000:0x160000"\nfdt-address = "0x5c00000"\n'


def target_of(res: object) -> dict[str, object]:
    doc = document(res)  # type: ignore[arg-type]
    return doc["target"]  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_no_configuration_keeps_the_defaults(tmp_path: Path) -> None:
    b = board(tmp_path / "boards")
    res = invoke("check", b, *ZCU, "--format", "json")
    assert res.exit_code == 0
    assert target_of(res)["xen_version"] == "4.22.0"


def test_xenplan_toml_found_walking_up(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text(ZCU_TOML + 'xen-version = "4.18"\nignore = ["RT-005"]\n')
    b = board(tmp_path / "boards" / "zcu102")
    assert find_config(str(b.parent)) == "xenplan.toml"
    res = invoke("check", b, "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert target_of(res)["xen_version"] == "4.18.6"
    assert target_of(res)["xen_image"] == {"start": "0x5a00000", "size": "0x160000"}
    assert ("RT-003", "/chosen/rt-a") in findings(res)
    assert all(rule != "RT-005" for rule, _ in findings(res))


def test_the_nearest_configuration_wins_and_xenplan_toml_before_pyproject(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text('xen-version = "4.17"\n')
    sub = tmp_path / "boards"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.xenplan]\nxen-version = "4.19"\n')
    assert find_config(str(sub)) == os.path.join("boards", "pyproject.toml")
    (sub / "xenplan.toml").write_text('xen-version = "4.20"\n')
    assert find_config(str(sub)) == os.path.join("boards", "xenplan.toml")


def test_a_pyproject_without_the_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(f'[tool.xenplan]\n{ZCU_TOML}xen-version = "4.19"\n')
    sub = tmp_path / "pkg"
    (sub / "pyproject.toml").parent.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "xenplan-boards"\n[tool.ruff]\nline-length = 99\n')
    b = board(sub)
    res = invoke("check", b, "--format", "json")
    assert target_of(res)["xen_version"] == "4.19.6"


def test_command_line_beats_configuration_but_a_click_default_does_not(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text(ZCU_TOML + 'xen-version = "4.18"\narch = "arm64"\ngic-spis = 100\n'
                                           'fail-on = "warning"\n')
    b = board(tmp_path)
    res = invoke("check", b, "--format", "json")
    assert target_of(res)["xen_version"] == "4.18.6"
    assert res.exit_code == 1, "fail-on = warning from the configuration: the RT warnings fail the run"
    res = invoke("check", b, "--format", "json", "--xen-version", "4.20", "--fail-on", "error")
    assert target_of(res)["xen_version"] == "4.20.4"
    assert res.exit_code == 0
    res = invoke("check", b, "--format", "json", "--xen-version", "4.22")
    assert target_of(res)["xen_version"] == "4.22.0", "a value equal to the default, given, still wins"


def test_config_option_and_no_config(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text('xen-version = "4.18"\n')
    other = tmp_path / "ci" / "strict.toml"
    other.parent.mkdir()
    other.write_text(ZCU_TOML + 'xen-version = "4.21"\n')
    b = board(tmp_path / "boards")
    res = invoke("check", b, "--config", other, "--format", "json")
    assert target_of(res)["xen_version"] == "4.21.2"
    res = invoke("check", b, "--no-config", *ZCU, "--format", "json")
    assert target_of(res)["xen_version"] == "4.22.0"


def test_per_file_settings_override_the_top_level(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text(ZCU_TOML + 'xen-version = "4.18"\n\n[[per-file]]\n'
                                           'glob = "boards/zcu102/*.dts"\nxen-version = "4.20"\n'
                                           'ignore = ["RT"]\n')
    inside = board(tmp_path / "boards" / "zcu102")
    outside = board(tmp_path / "boards" / "other")
    deeper = board(tmp_path / "boards" / "zcu102" / "old")
    res = invoke("check", inside, "--format", "json")
    assert target_of(res)["xen_version"] == "4.20.4"
    assert findings(res) == []
    for path in (outside, deeper):
        res = invoke("check", path, "--format", "json")
        assert target_of(res)["xen_version"] == "4.18.6", "* stays inside one folder"
        assert findings(res)


def test_a_multi_input_run_gives_each_input_its_own_settings(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text(ZCU_TOML + '[[per-file]]\nglob = "a/*.dts"\nxen-version = "4.17"\n'
                                           'select = ["RT-003"]\n\n[[per-file]]\nglob = "b/*.dts"\n'
                                           'xen-version = "4.21"\nignore = ["RT"]\n')
    sub = tmp_path / "c"
    sub.mkdir()
    (sub / "xenplan.toml").write_text(ZCU_TOML + 'xen-version = "4.19"\nselect = ["RT-001"]\n')
    a, b, c = board(tmp_path / "a"), board(tmp_path / "b"), board(sub)
    res = invoke("check", a, b, c, "--format", "json")
    docs = document(res)
    assert [d["target"]["xen_version"] for d in docs] == ["4.17.7", "4.21.2", "4.19.6"]
    assert {f["rule"] for f in docs[0]["findings"]} == {"RT-003"}
    assert docs[1]["findings"] == []
    assert {f["rule"] for f in docs[2]["findings"]} == {"RT-001"}


def test_paths_resolve_against_the_configuration_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "xen.config").write_text("CONFIG_STATIC_MEMORY=y\n# CONFIG_DEBUG is not set\n")
    (tmp_path / "xenplan.toml").write_text(ZCU_TOML + 'kconfig-file = "configs/xen.config"\n'
                                           'kconfig = {DEBUG = true}\n')
    b = board(tmp_path / "boards")
    monkeypatch.chdir(tmp_path / "boards")
    res = invoke("check", b.name, "--format", "json")
    assert res.exit_code == 0, res.stderr
    kconfig = target_of(res)["kconfig"]
    assert kconfig["STATIC_MEMORY"] is True and kconfig["DEBUG"] is True  # type: ignore[index]


def test_config_command_names_where_each_setting_came_from(tmp_path: Path) -> None:
    (tmp_path / "xenplan.toml").write_text('xen-version = "4.18"\n\n[[per-file]]\nglob = "boards/*.dts"\n'
                                           'gic-spis = 96\n')
    b = board(tmp_path / "boards")
    res = invoke("config", b, "--arch", "arm64")
    assert res.exit_code == 0, res.stderr
    lines = {ln.split()[0]: ln for ln in res.stdout.splitlines()[1:]}
    assert re.search(r"4\.18\s+config xenplan\.toml:1$", lines["xen-version"])
    assert re.search(r'96\s+per-file "boards/\*\.dts" xenplan\.toml:5$', lines["gic-spis"])
    assert lines["arch"].endswith("command line")
    assert lines["fail-on"].endswith("default")
    doc = json.loads(invoke("config", b, "--format", "json").stdout)
    assert doc["config"] == "xenplan.toml"
    assert doc["settings"]["xen-version"] == {"value": "4.18", "origin": "config", "file": "xenplan.toml", "line": 1}
    assert doc["settings"]["gic-spis"]["glob"] == "boards/*.dts"
    assert doc["settings"]["pa-bits"] == {"value": None, "origin": "default"}
    here = json.loads(invoke("config", "--format", "json").stdout)
    assert here["settings"]["gic-spis"]["origin"] == "default", "no input: the folder's configuration, no per-file"


@pytest.mark.parametrize(("text", "line", "key"), [
    ('xen-version = "4.18"\nxen-versoin = "4.19"\n', 2, "xen-versoin"),
    ('arch = "arm64"\n\n[[per-file]]\nglob = "*.dts"\nboard = "zcu102"\ncolour = 1\n', 6, "per-file[0].colour"),
    ('gic-spis = "many"\n', 1, "gic-spis"),
    ('ignore-nodes = {"chosen/domU1" = ["RT-003"]}\n', 1, "ignore-nodes"),
    ('[tool.xenplan]\nxen-version = "4.18"\n', 1, "tool"),
])
def test_a_bad_key_is_one_line_with_its_line(tmp_path: Path, text: str, line: int, key: str) -> None:
    (tmp_path / "xenplan.toml").write_text(text)
    b = board(tmp_path)
    res = invoke("check", b)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1, res.stderr
    assert f"xenplan.toml: line {line}: {key}" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr


def test_a_bad_key_in_pyproject_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.xenplan]\nfail-on = "panic"\n')
    res = invoke("check", board(tmp_path))
    assert res.exit_code == 2
    assert "pyproject.toml: line 5: tool.xenplan.fail-on" in res.stderr


def test_glob_semantics() -> None:
    assert glob_regex("boards/*.dts").fullmatch("boards/a.dts")
    assert not glob_regex("boards/*.dts").fullmatch("boards/x/a.dts")
    assert glob_regex("boards/**/*.dts").fullmatch("boards/x/y/a.dts")
    assert glob_regex("boards/**/*.dts").fullmatch("boards/a.dts")
    assert glob_regex("b[0-9]?.dts").fullmatch("b1x.dts")
    assert not glob_regex("b[!0-9].dts").fullmatch("b1.dts")
