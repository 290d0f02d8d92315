"""Malformed and hostile inputs (tests/data/hostile) through the command line:
each ends in a verdict (exit 0/1) or one error line (exit 2), never exit 3,
and in bounded time; and a seeded mutation fuzz of the DTB and DTS readers.

The ``docs-*.dts`` files are Xen's documented dom0less setups (booting.txt,
cpupools.txt), written from the bindings as ``/chosen`` fragments for the
QEMU board. The rest is made by tools/make_hostile.py.
"""

from __future__ import annotations

import importlib.util
import shlex
import time
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from xenplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "tests" / "data" / "hostile"
SECONDS = 20.0
"""Per file; the slowest takes about 3 s here (300 domains), the limit leaves room for a loaded machine."""

VERDICT = {"docs-cpupools.dts", "docs-dom0less-two-domus.dts", "docs-static-evtchn.dts",
           "docs-static-memory-direct-map.dts", "docs-static-shm.dts", "cells-huge.dts", "cells-zero.dts",
           "chosen-only.dts", "deep-nesting-15.dts", "empty-root.dts", "many-domains.dts", "nul-in-source.dts",
           "phandle-loop.dts", "reg-overflow.dts"}
"""Files Xen reads (boots or fails on): a verdict. Every other file is an input error."""
ERROR_SAYS = {
    "bad-magic.dtb": "magic is 0xd00dfeee", "empty.dtb": "is empty", "huge-totalsize.dtb": "totalsize",
    "truncated-half.dtb": "truncated", "truncated-header.dtb": "too short", "magic-only.dtb": "too short",
    "version-1.dtb": "version 1", "unknown-tag.dtb": "unknown structure block tag",
    "struct-offset-past-end.dtb": "off_dt_struct", "strings-size-huge.dtb": "size_dt_strings",
    "deep-nesting-70.dtb": "nested deeper", "deep-nesting-70.dts": "nested deeper",
    "curly-quotes.dts": "curly quotes", "ellipsis.dts": "ellipsis", "missing-semicolon.dts": "';' missing",
    "include-self.dts": "include cycle", "include-dev-zero.dts": "/dev/zero", "cpp-include-missing.dts": "nowhere.h",
    "overlay-as-base.dts": "is an overlay", "label-undefined.dts": "nowhere", "unbalanced-braces.dts": "line",
    "unterminated-string.dts": "line", "no-version-tag.dts": "line 1", "binary-garbage.dts": "line",
}
FILES = sorted(p.name for p in HOSTILE.iterdir())


def options(path: Path) -> list[str]:
    head = path.read_bytes()[:200]
    if head.startswith(b"// xenplan:"):
        return shlex.split(head.split(b"\n", 1)[0].decode().split("xenplan:", 1)[1])
    return ["--board", "qemu-virt"]


def test_every_file_is_classified() -> None:
    assert set(FILES) == VERDICT | set(ERROR_SAYS)


@pytest.mark.parametrize("name", FILES)
def test_hostile_input(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HOSTILE)
    start = time.monotonic()
    res = CliRunner().invoke(main, ["check", name, *options(HOSTILE / name)])
    assert time.monotonic() - start < SECONDS
    assert "Traceback" not in res.stderr + res.stdout
    if name in VERDICT:
        assert res.exit_code in (0, 1), res.stderr
        assert "verdict: " in res.stdout
    else:
        assert res.exit_code == 2, (res.exit_code, res.stderr)
        lines = res.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"xenplan: error: {name}: "), res.stderr
        assert ERROR_SAYS[name] in lines[0]


def _fuzz_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xenplan_fuzz", ROOT / "benchmarks" / "fuzz.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("seed", [1, 2])
def test_fuzz_dtb_and_dts_readers(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """150 seeded mutants per seed, DTB and DTS alike: only verdicts and one-line input errors."""
    pytest.importorskip("click")
    monkeypatch.chdir(ROOT)
    fuzz = _fuzz_module()
    seen: dict[str, int] = {}
    for i, suffix, outcome, _mutant, message in fuzz.fuzz(150, seed=seed, timeout=30.0):
        seen[suffix] = seen.get(suffix, 0) + 1
        assert outcome in ("exit 0", "exit 1", "exit 2"), (i, suffix, outcome, message)
    assert seen.get(".dtb", 0) > 30 and seen.get(".dts", 0) > 30
