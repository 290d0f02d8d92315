"""What a simulated boot produces: Xen's verdict, every domain's memory,
the host map, and the events Xen met on the way (by rule ID).

Events are not findings yet: ``xenplan.checks`` stamps them with the rule's
slug and severity from the registry, and adds the hazards Xen never checks.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any, Literal

from xenplan.model.base import Range, SourceRef, value

Outcome = Literal["boots", "panic", "crash", "hang"]
Behaviour = Literal["PANIC", "PANIC-DBG", "CRASH", "HANG", "UB", "DROP", "WARN", "TRUNC", "HAZARD", "INFO"]
Status = Literal["constructed", "failed", "not-reached", "destroyed"]
"""``destroyed``: only after a run-time replay (``xenplan simulate``) destroyed it."""
P2MKind = Literal["ram", "gicd", "gicr", "gicc", "vpl011", "gnttab", "magic", "shm", "mmio", "ext"]


@value
class Related:
    """The other party of an overlap or conflict."""

    path: str
    ranges: tuple[Range, ...] = ()


@value
class Event:
    """Something Xen does or would do, attributed to a rule of the catalogue.

    ``behaviour`` is what this release does (the rule's behaviour on it);
    ``reached`` is False when Xen stops before getting there.
    """

    rule: str
    behaviour: Behaviour
    message: str
    path: str | None = None
    property: str | None = None
    source: SourceRef | None = None
    ranges: tuple[Range, ...] = ()
    related: tuple[Related, ...] = ()
    reached: bool = True
    xen_message: str | None = None


@value
class FailedAt:
    stage: Literal["early-fdt", "domain", "other"]
    domain: str | None = None
    rule: str | None = None
    message: str | None = None


@value
class Bank:
    """A run of guest RAM backed by host RAM (``host`` None: not predicted)."""

    guest: int
    host: int | None
    size: int


@value
class P2MRegion:
    kind: P2MKind
    guest: int
    size: int
    host: int | None = None
    note: str | None = None


@value
class DomainResult:
    name: str
    path: str
    status: Status
    static: bool
    direct_map: bool
    domid: int | None = None
    banks: tuple[Bank, ...] | None = None
    xen_banks: tuple[Bank, ...] | None = None
    p2m: tuple[P2MRegion, ...] = ()
    kernel: Range | None = None
    dtb: Range | None = None
    initrd: Range | None = None


@value
class HostRegion:
    kind: str
    start: int
    size: int
    owner: str | None = None


@value
class DroppedModule:
    path: str
    start: int
    size: int


@value
class BootResult:
    outcome: Outcome
    failed_at: FailedAt | None
    dropped_modules: tuple[DroppedModule, ...] = ()
    domains: tuple[DomainResult, ...] = ()
    host_map: tuple[HostRegion, ...] = ()
    events: tuple[Event, ...] = ()
    notes: tuple[str, ...] = ()
    heap_free: int | None = None
    """Bytes left in Xen's heap after the last domain."""
    placement: Any = field(default=None, compare=False, repr=False)
    """The allocator replay's answer (``PlacementResult``, with the heap's free lists), or None where the
    heap was not replayed: the run-time replay (``xenplan/boot/runtime``) continues from it. Not part of
    the result's value (equality, ``repr``) and never serialised."""
