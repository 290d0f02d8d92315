"""Run-time operations as a user writes them: ``DOMAIN balloon-out 16M``,
``DOMAIN populate 4K@0x40000000 order 0``, ``create NAME 256M`` …

Parsing refuses only what cannot be replayed at all (bad syntax, a domain no
one created, a size that is not whole pages or extents): everything Xen itself
would refuse is a result of the replay, not a parse error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

from xenplan.records import record

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
MAX_OP_ORDER = 18
"""Largest extent order an operation may name (``MAX_ORDER`` on Arm); Xen refuses anything above
the caller's ``max_order()`` itself."""

Kind = Literal["balloon-out", "populate", "increase-reservation", "set-target", "destroy", "create"]

_SIZE = re.compile(r"(0x[0-9a-fA-F]+|\d+)([kKmMgGtT])?(?:i?[bB])?")
_SHIFT = {"k": 10, "m": 20, "g": 30, "t": 40}


class OpSyntaxError(ValueError):
    """An operation that cannot be replayed: the CLI turns it into one line and exit 2."""


@record(frozen=True)
class Op:
    """One operation. ``size`` is bytes, ``gaddr`` a guest address, ``order`` the extent order."""

    text: str
    kind: Kind
    domain: str
    size: int = 0
    gaddr: int | None = None
    order: int = 0

    @property
    def extents(self) -> int:
        return self.size >> (PAGE_SHIFT + self.order)


def parse_size(text: str) -> int:
    """``4K``, ``16M``, ``1G``, ``0x1000`` or ``4096`` as bytes."""
    m = _SIZE.fullmatch(text.strip())
    if m is None:
        raise OpSyntaxError(f"not a size: {text!r} (expected e.g. 4K, 16M, 1G or 0x1000)")
    return int(m.group(1), 0) << _SHIFT.get((m.group(2) or "").lower(), 0)


def _address(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise OpSyntaxError(f"not a guest address: {text!r} (expected e.g. 0x40000000)") from None


def _pages(size: int, what: str, unit: int = PAGE_SIZE) -> int:
    if size <= 0 or size % unit:
        raise OpSyntaxError(f"{what} {size:#x} is not a positive multiple of {unit:#x} bytes")
    return size


USAGE = ("expected 'DOMAIN balloon-out SIZE[@GADDR]', 'DOMAIN populate SIZE@GADDR [order N]', "
         "'DOMAIN increase-reservation SIZE [order N]', 'DOMAIN set-target SIZE', 'DOMAIN destroy' "
         "or 'create NAME MEMORY'")


def parse_op(text: str, domains: Iterable[str]) -> Op:
    """One operation; ``domains`` are the names known at this point (booted or created before)."""
    words = text.split()
    known = set(domains)
    if len(words) == 3 and words[0] == "create":
        if words[1] in known:
            raise OpSyntaxError(f"{text!r}: a domain named {words[1]!r} already exists")
        return Op(text, "create", words[1], _pages(parse_size(words[2]), "memory"))
    if len(words) < 2:
        raise OpSyntaxError(f"{text!r}: {USAGE}")
    dom, verb, args = words[0], words[1], words[2:]
    if dom not in known:
        raise OpSyntaxError(f"{text!r}: no domain named {dom!r} (have: {', '.join(sorted(known)) or 'none'})")
    order = 0
    if len(args) == 3 and args[1] == "order" and verb in ("populate", "increase-reservation"):
        if not args[2].isdigit() or int(args[2]) > MAX_OP_ORDER:
            raise OpSyntaxError(f"{text!r}: order must be 0 to {MAX_OP_ORDER}")
        order = int(args[2])
        args = args[:1]
    if verb == "destroy" and not args:
        return Op(text, "destroy", dom)
    if len(args) != 1 or verb not in ("balloon-out", "populate", "increase-reservation", "set-target"):
        raise OpSyntaxError(f"{text!r}: {USAGE}")
    size_text, _, addr_text = args[0].partition("@")
    try:
        gaddr = _address(addr_text) if addr_text else None
        size = parse_size(size_text)
    except OpSyntaxError as exc:
        raise OpSyntaxError(f"{text!r}: {exc}") from None
    if gaddr is not None and gaddr % PAGE_SIZE:
        raise OpSyntaxError(f"{text!r}: guest address {gaddr:#x} is not page aligned")
    if verb == "populate" and gaddr is None:
        raise OpSyntaxError(f"{text!r}: populate needs SIZE@GADDR")
    if gaddr is not None and verb not in ("balloon-out", "populate"):
        raise OpSyntaxError(f"{text!r}: {verb} takes no @GADDR")
    unit = PAGE_SIZE << order
    try:
        _pages(size, "size", unit)
    except OpSyntaxError as exc:
        raise OpSyntaxError(f"{text!r}: {exc}") from None
    return Op(text, verb, dom, size, gaddr, order)  # type: ignore[arg-type]


def parse_ops(texts: Sequence[str], domains: Iterable[str]) -> list[Op]:
    """Every operation in order; names created by ``create`` are known to the ones after it."""
    known = set(domains)
    out = []
    for t in texts:
        op = parse_op(t, known)
        if op.kind == "create":
            known.add(op.domain)
        out.append(op)
    return out
