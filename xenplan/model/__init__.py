"""Frozen models (dataclasses) of what Xen reads from a device tree, and ``build``."""

from xenplan.model.build import build
from xenplan.model.system import System
from xenplan.model.target import Target, XenVersion

__all__ = ["System", "Target", "XenVersion", "build"]
