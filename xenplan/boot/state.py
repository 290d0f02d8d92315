"""The simulation's working state, handed from stage to stage in Xen's order.

Xen stops at its first fatal error; the simulation records that point and
goes on, so every later event is marked ``reached=False``. The lists here
mirror Xen's ``bootinfo``: ``reserved_mem`` (typed banks in insertion
order), the separate shared-memory list of 4.19+, and the boot module table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Literal

from xenplan.boot.construction import Construction
from xenplan.boot.frametable import FrameTable
from xenplan.boot.replay.results import DomainPlacement, PlacementResult
from xenplan.boot.result import (
    Behaviour,
    DroppedModule,
    Event,
    FailedAt,
    Outcome,
    Related,
    Status,
)
from xenplan.model.base import Range, SourceRef
from xenplan.model.release import XenRelease, XenVersion
from xenplan.model.system import Module, System
from xenplan.records import record

BankType = Literal["memreserve", "default", "static-heap", "static-domain"]


@record
class ResvBank:
    """One ``reserved_mem`` entry (``struct membank`` with its ``type``)."""

    range: Range
    type: BankType
    path: str
    live: bool = True


@record
class ShmBank:
    """One region of ``bootinfo.shmem`` (4.19+) or, on 4.17/4.18, the region's identity."""

    shm_id: str
    range: Range | None
    size: int
    path: str
    live: bool = True


@record
class BootModule:
    """One boot module table entry (``struct boot_module``)."""

    range: Range
    kind: str
    path: str
    domain: str | None = None
    module: Module | None = None
    live: bool = True


class EventsByPath:
    """The events of one boot that ``keep`` accepts, by path, caught up as the list grows.

    Stages ask per domain or per bank whether an earlier stage refused a
    node; events are only ever appended, so each is read once however many
    times they ask.
    """

    def __init__(self, events: list[Event], keep: Callable[[Event], bool]) -> None:
        self.events = events
        self.keep = keep
        self.seen = 0
        self.by_path: dict[str, list[Event]] = {}

    def at(self, path: str) -> list[Event]:
        for ev in self.events[self.seen:]:
            if ev.path is not None and self.keep(ev):
                self.by_path.setdefault(ev.path, []).append(ev)
        self.seen = len(self.events)
        return self.by_path.get(path, [])


@record
class BootState:
    system: System
    ram: list[Range] = field(default_factory=list)
    reserved_mem: list[ResvBank] = field(default_factory=list)
    shmem: list[ShmBank] = field(default_factory=list)
    modules: list[BootModule] = field(default_factory=list)
    dropped: list[DroppedModule] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    truncated_at: str | None = None
    outcome: Outcome = "boots"
    failed_at: FailedAt | None = None
    statuses: dict[str, Status] = field(default_factory=dict)
    domids: dict[str, int] = field(default_factory=dict)
    ft: FrameTable = field(default_factory=FrameTable)
    heap_free: int | None = None
    static_owner: dict[tuple[int, int], str] = field(default_factory=dict)
    placement: PlacementResult | None = None
    """The allocator replay's answer (``replay_bridge.replay()``), once it ran."""
    replayed: bool = False
    placement_by_name: dict[str, DomainPlacement] | None = None
    """The replay's domain placements by domain name (built on first use)."""
    xenheap: Range | None = None
    """arm32: the contiguous xenheap ``setup_mm()`` carved (HEAP-006)."""
    dom0_status: str | None = None
    """"constructed" or "failed" when Xen builds a classic dom0 and its RAM was replayed."""
    dom0_banks: tuple[tuple[int, int], ...] = ()
    """dom0's 1:1 RAM (start, size), ascending."""
    constructions: dict[str, Construction] = field(default_factory=dict)
    xs_ports: dict[str, int] = field(default_factory=dict)
    indexes: dict[str, EventsByPath] = field(default_factory=dict)
    """``events_at()``'s indexes by name."""

    @property
    def v(self) -> XenVersion:
        """The release's name, for messages."""
        return self.system.target.version

    @property
    def rel(self) -> XenRelease:
        """What the target release does differently: every stage reads its fields."""
        return self.system.target.release

    @property
    def stopped(self) -> bool:
        return self.failed_at is not None

    def event(
        self,
        rule: str,
        behaviour: Behaviour,
        message: str,
        *,
        path: str | None = None,
        prop: str | None = None,
        source: SourceRef | None = None,
        ranges: tuple[Range, ...] | list[Range] = (),
        related: tuple[Related, ...] | list[Related] = (),
        reached: bool | None = None,
        xen_message: str | None = None,
    ) -> Event:
        ev = Event(rule=rule, behaviour=behaviour, message=message, path=path, property=prop, source=source,
                   ranges=tuple(ranges), related=tuple(related),
                   reached=(not self.stopped) if reached is None else reached, xen_message=xen_message)
        self.events.append(ev)
        return ev

    def events_at(self, path: str, index: str, keep: Callable[[Event], bool]) -> list[Event]:
        """The events at ``path`` that ``keep`` accepts, from the index ``index`` (made on first use)."""
        idx = self.indexes.get(index)
        if idx is None:
            idx = self.indexes[index] = EventsByPath(self.events, keep)
        return idx.at(path)

    def stop(self, outcome: Outcome, stage: Literal["early-fdt", "domain", "other"], rule: str,
             message: str | None, domain: str | None = None) -> bool:
        """Record where Xen stops; only the first stop counts. True if this one did."""
        if self.failed_at is not None:
            return False
        self.outcome = outcome
        self.failed_at = FailedAt(stage=stage, domain=domain, rule=rule, message=message)
        return True

    def live_reserved(self) -> list[ResvBank]:
        return [b for b in self.reserved_mem if b.live]

    def live_modules(self) -> list[BootModule]:
        return [m for m in self.modules if m.live]
