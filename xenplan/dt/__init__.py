"""Loading device trees (DTB, DTS, overlays) into ``xenplan.dt.tree.Tree``."""

from xenplan.dt.load import load

__all__ = ["load"]
