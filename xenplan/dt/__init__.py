"""Loading device trees (DTB, DTS, overlays) into ``xenplan.dt.tree.Tree``."""
