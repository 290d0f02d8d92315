"""The recorded hypercall runs in ``tests/data/runtime/`` are complete and self-consistent.

Each case directory holds the tree booted (``tree.dts``), the operations its
guests ran (``ops.txt``), and per Xen release the trimmed console
(``<version>.log``) and what was read from it (``<version>.json``). The JSON
must be exactly what ``tools/xen-trace/hypercall.py`` extracts from the log
today, so a change to the extraction or a hand edit of either file shows.
No QEMU runs here; only ``dtc`` (to read the tree).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "tests" / "data" / "runtime"
CASES = sorted(p for p in RUNTIME.iterdir() if p.is_dir())
REQUIRED = ("4.16.7", "4.18.6", "4.22.0")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("xentrace_hypercall", ROOT / "tools" / "xen-trace" / "hypercall.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _runs(case: Path) -> list[str]:
    return sorted(p.stem for p in case.glob("*.json"))


def test_there_are_cases() -> None:
    assert {c.name for c in CASES} >= {"dynamic-balloon", "static-balloon", "static-increase",
                                      "directmap-populate", "static-pages-reuse", "populate-over-mapped"}
    assert (RUNTIME / "README.md").is_file()


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_case_is_complete(case: Path) -> None:
    names = {p.name for p in case.iterdir()}
    assert {"tree.dts", "ops.txt"} <= names
    runs = _runs(case)
    assert set(REQUIRED) <= set(runs)
    assert names == {"tree.dts", "ops.txt"} | {f"{v}.{ext}" for v in runs for ext in ("json", "log")}


@pytest.mark.skipif(shutil.which("dtc") is None, reason="needs dtc")
@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_json_is_what_the_log_shows(case: Path) -> None:
    tool = _tool()
    ops = tool.parse_ops(case / "ops.txt")
    domains = tool.read_tree(case / "tree.dts")
    assert {op.domain for op in ops} <= set(domains)
    for version in _runs(case):
        recorded: dict[str, Any] = json.loads((case / f"{version}.json").read_text())
        log = (case / f"{version}.log").read_text()
        assert recorded == tool.extract(log, domains, ops), f"{case.name}/{version}"
        assert recorded["xen"] == version
        assert [o["op"] for o in recorded["operations"]] == [op.text for op in ops]
        for op, done in zip(ops, recorded["operations"], strict=True):
            assert len(done["extents"]) == max(done["rc"], 0)
            assert all(e["order"] == op.order for e in done["extents"])
        assert (case / f"{version}.json").read_text() == tool.dumps(recorded)


def test_a_direct_map_domain_s_balloon_out_names_its_address() -> None:
    """The guest tool computes "the top of RAM" from the tree, and a ``direct-map`` domain's top
    depends on the release (4.16 ignores the property): its operations must carry ``@GADDR``."""
    tool = _tool()
    domains = tool.read_tree(RUNTIME / "directmap-populate" / "tree.dts")
    with pytest.raises(tool.CaseError, match="@GADDR"):
        domains["domU1"].ram_top()
    ops = (RUNTIME / "directmap-populate" / "ops.txt").read_text().splitlines()
    assert all("@" in line for line in ops if " balloon-out " in line)
