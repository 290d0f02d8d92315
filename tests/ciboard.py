"""A copy of the ZCU102 example in a temporary folder, edited per test, and the CLI run there.

The example has run-time findings at three domains (RT-001 … RT-005), which
the configuration, suppression and baseline tests select, hide and record.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from xenplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
ZCU = ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"]
RT_A = "\t\trt-a {"
RT_A_BANK = "xen,static-mem = <0x8 0x00000000  0x0 0x08000000>;"


def board(folder: Path, edit: Callable[[str], str] | None = None, name: str = "zcu102.dts") -> Path:
    """The example (and its .dtsi) copied into ``folder`` as ``name``, with ``edit`` applied to its text."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zcu102-base.dtsi").write_text((ROOT / "examples" / "zcu102-base.dtsi").read_text())
    text = (ROOT / "examples" / "zcu102.dts").read_text()
    assert RT_A in text and RT_A_BANK in text
    path = folder / name
    path.write_text(edit(text) if edit else text)
    return path


def above(line: str, comment: str) -> Callable[[str], str]:
    """An edit putting ``comment`` on its own line above ``line`` (kept at its indentation)."""
    indent = line[: len(line) - len(line.lstrip())]
    return lambda text: text.replace(line, f"{indent}{comment}\n{line}", 1)


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def findings(res: Result) -> list[tuple[str, str | None]]:
    doc = json.loads(res.stdout)
    docs = doc if isinstance(doc, list) else [doc]
    return [(f["rule"], f["path"]) for d in docs for f in d["findings"]]


def document(res: Result) -> Any:
    return json.loads(res.stdout)
