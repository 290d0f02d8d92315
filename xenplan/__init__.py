"""xenplan: a boot planner and validator for Xen dom0less systems on Arm.

Data flows one way: ``dt.load`` -> ``model.build`` -> ``boot.simulate`` ->
``checks.run`` -> ``report``.

The public API is re-exported here and imported on first use, so ``import
xenplan`` stays cheap::

    import xenplan

    target = xenplan.build_target(xen_version="4.22", board="qemu-virt")
    a = xenplan.analyse("board.dts", target, board=xenplan.board_path("qemu-virt"))
    print(a.result.outcome, [f.rule for f in a.findings])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "analyse": "xenplan.analysis",
    "Analysis": "xenplan.analysis",
    "BootResult": "xenplan.boot.result",
    "Finding": "xenplan.checks.finding",
    "Target": "xenplan.model.target",
    "XenVersion": "xenplan.model.target",
    "build_target": "xenplan.targets",
    "board_path": "xenplan.targets",
    "kconfig_keys": "xenplan.targets",
    "InputError": "xenplan.errors",
    "UsageError": "xenplan.errors",
}

__all__ = ["Analysis", "BootResult", "Finding", "InputError", "Target", "UsageError", "XenVersion", "__version__",
           "analyse", "board_path", "build_target", "kconfig_keys"]

if TYPE_CHECKING:
    from xenplan.analysis import Analysis, analyse
    from xenplan.boot.result import BootResult
    from xenplan.checks.finding import Finding
    from xenplan.errors import InputError, UsageError
    from xenplan.model.target import Target, XenVersion
    from xenplan.targets import board_path, build_target, kconfig_keys


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'xenplan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
