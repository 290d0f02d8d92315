"""Xen's command-line value parsers, as the boot stages need them."""

from __future__ import annotations

import re


def parse_size(text: str) -> int | None:
    """``parse_size_and_unit()``: a number (C base prefixes) with an optional
    T/G/M/K/B suffix; no suffix means KiB. None when Xen would refuse it."""
    m = re.fullmatch(r"(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)([TtGgMmKkBb]?)", text)
    if m is None:
        return None
    value = int(m.group(1), 0)
    shift = {"t": 40, "g": 30, "m": 20, "k": 10, "b": 0, "": 10}[m.group(2).lower()]
    return value << shift
