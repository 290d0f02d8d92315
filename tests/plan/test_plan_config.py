"""A planner run's settings: the command line, then the spec's [xen], then a configuration file
(found from the spec's folder), then the defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from xenplan.cli import main

SPEC = """
{xen}
[[domain]]
name = "vm"
memory = "128M"
kernel = "8M"
"""


def _version(tmp_path: Path, xen_table: str, config: str | None, *args: str) -> str:
    (tmp_path / "spec.toml").write_text(SPEC.format(xen=xen_table))
    if config is not None:
        (tmp_path / "xenplan.toml").write_text(config)
    r = CliRunner().invoke(main, ["plan", "--spec", str(tmp_path / "spec.toml"), "--board", "qemu-virt",
                                  "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["check"]["target"]["xen_version"])


@pytest.mark.parametrize(("xen_table", "config", "args", "want"), [
    ("", None, (), "4.22"),
    ("", 'xen-version = "4.18"\n', (), "4.18"),
    ('[xen]\nversion = "4.20"\n', 'xen-version = "4.18"\n', (), "4.20"),
    ('[xen]\nversion = "4.20"\n', 'xen-version = "4.18"\n', ("--xen-version", "4.19"), "4.19"),
    ("", 'xen-version = "4.18"\n', ("--no-config",), "4.22"),
])
def test_precedence(tmp_path: Path, xen_table: str, config: str | None, args: tuple[str, ...], want: str) -> None:
    assert _version(tmp_path, xen_table, config, *args).startswith(want)


def test_a_bad_configuration_key_names_its_line(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(SPEC.format(xen=""))
    (tmp_path / "xenplan.toml").write_text('xen-version = "4.18"\nxen-verison = "4.19"\n')
    r = CliRunner().invoke(main, ["plan", "--spec", str(tmp_path / "spec.toml"), "--board", "qemu-virt"])
    assert r.exit_code == 2
    assert "xenplan.toml: line 2: xen-verison: unknown key" in r.output
