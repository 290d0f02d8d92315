"""Write ``xenplan/checks/index.py``, the rule ID -> area module table: ``python tools/rule_index.py``.

Every module of ``xenplan.checks`` is imported, as the package did before the table existed, and the
rules each registered are written out; ``tests/checks/test_index.py`` fails when the table and the
real registration differ, and names this script.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import xenplan.checks
from xenplan.checks.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "xenplan" / "checks" / "index.py"


def registered() -> dict[str, tuple[str, str]]:
    """Rule ID -> (module, slug), from importing every module of the package."""
    for mod in pkgutil.iter_modules(xenplan.checks.__path__):
        importlib.import_module(f"xenplan.checks.{mod.name}")
    return {i: (REGISTRY.module_of[i], r.slug) for i, r in sorted(REGISTRY.loaded.items())}


def render(table: dict[str, tuple[str, str]]) -> str:
    lines = ['"""Which module registers each rule, and its slug: written by ``tools/rule_index.py``.',
             "",
             "``xenplan.checks.registry`` imports an area module only when one of its rules is wanted; this",
             "table says which. ``tests/checks/test_index.py`` checks it against the real registration.",
             '"""', "", "MODULE: dict[str, str] = {"]
    lines += [f"    \"{i}\": \"{m}\"," for i, (m, _) in table.items()]
    lines += ["}", "", "SLUG: dict[str, str] = {"]
    lines += [f"    \"{i}\": \"{s}\"," for i, (_, s) in table.items()]
    lines += ["}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(registered()))
    print(f"wrote {OUT}")
