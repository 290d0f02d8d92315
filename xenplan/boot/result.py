"""What a simulated boot produces: Xen's verdict, every domain's memory,
the host map, and the events Xen met on the way (by rule ID).

Events are not findings yet: ``xenplan.checks`` stamps them with the rule's
slug and severity from the registry, and adds the hazards Xen never checks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr

from xenplan.model.base import Range, SourceRef, XBase

Outcome = Literal["boots", "panic", "crash", "hang"]
Behaviour = Literal["PANIC", "PANIC-DBG", "CRASH", "HANG", "UB", "DROP", "WARN", "TRUNC", "HAZARD", "INFO"]
Status = Literal["constructed", "failed", "not-reached", "destroyed"]
"""``destroyed``: only after a run-time replay (``xenplan simulate``) destroyed it."""
P2MKind = Literal["ram", "gicd", "gicr", "gicc", "vpl011", "gnttab", "magic", "shm", "mmio", "ext"]


class Related(XBase):
    """The other party of an overlap or conflict."""

    path: str
    ranges: tuple[Range, ...] = ()


class Event(XBase):
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


class FailedAt(XBase):
    stage: Literal["early-fdt", "domain", "other"]
    domain: str | None = None
    rule: str | None = None
    message: str | None = None


class Bank(XBase):
    """A run of guest RAM backed by host RAM (``host`` None: not predicted)."""

    guest: int
    host: int | None
    size: int


class P2MRegion(XBase):
    kind: P2MKind
    guest: int
    size: int
    host: int | None = None
    note: str | None = None


class DomainResult(XBase):
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


class HostRegion(XBase):
    kind: str
    start: int
    size: int
    owner: str | None = None


class DroppedModule(XBase):
    path: str
    start: int
    size: int


class BootResult(XBase):
    outcome: Outcome
    failed_at: FailedAt | None
    dropped_modules: tuple[DroppedModule, ...] = ()
    domains: tuple[DomainResult, ...] = ()
    host_map: tuple[HostRegion, ...] = ()
    events: tuple[Event, ...] = ()
    notes: tuple[str, ...] = ()
    heap_free: int | None = Field(default=None, description="bytes left in Xen's heap after the last domain")
    _placement: Any = PrivateAttr(default=None)
    """The allocator replay's answer (``PlacementResult``, with the heap's free lists), never
    serialised: the run-time replay (``xenplan/boot/runtime``) continues from it."""

    @property
    def placement(self) -> Any:
        """The allocator replay's ``PlacementResult``, or None where the heap was not replayed."""
        return self._placement
