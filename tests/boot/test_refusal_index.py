"""The what-if pass asks, for every static bank, whether a refusal already stopped Xen on it.

It must read each event once however many banks ask (an index, not a scan
per bank), and answer what a scan would.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

from xenplan.boot import domain_ram
from xenplan.boot.result import Event
from xenplan.boot.state import BootState
from xenplan.model.base import Range

MIB = 1 << 20


class CountingList(list[Event]):
    """Counts the events handed out by slicing, the only way the index reads the list."""

    read = 0

    def __getitem__(self, i: Any) -> Any:
        out = super().__getitem__(i)
        if isinstance(i, slice):
            self.read += len(out)
        return out

    def __iter__(self) -> Any:
        self.read += len(self)
        return super().__iter__()


def events(domains: int) -> CountingList:
    out = CountingList()
    for d in range(domains):
        out.append(Event(rule="RSV-003" if d % 2 else "SMEM-001", behaviour="PANIC" if d % 3 else "WARN",
                         message="m", path=f"/chosen/d{d}", ranges=(Range(start=d * 16 * MIB, size=MIB),)))
    return out


def brute(evs: list[Event], path: str, bank: Range) -> bool:
    return any(ev.rule in domain_ram.REFUSALS and ev.behaviour in ("PANIC", "CRASH") and ev.path == path
               and any(r.overlaps(bank) for r in ev.ranges) for ev in evs)


def asked(domains: int, banks: int) -> tuple[int, list[bool], list[bool]]:
    evs = events(domains)
    scan = list.copy(evs)
    state: Any = SimpleNamespace(events=evs, indexes={})
    state.events_at = functools.partial(BootState.events_at, state)
    build: Any = SimpleNamespace(state=state)
    got, want = [], []
    for d in range(domains):
        for b in range(banks):
            bank = Range(start=d * 16 * MIB + b * MIB // 2, size=MIB // 2)
            got.append(domain_ram._refused_earlier(build, f"/chosen/d{d}", bank))
            want.append(brute(scan, f"/chosen/d{d}", bank))
    return evs.read, got, want


def test_answers_what_a_scan_answers() -> None:
    _, got, want = asked(64, 4)
    assert got == want
    assert any(got) and not all(got)


def test_reads_each_event_once_however_many_banks_ask() -> None:
    for domains, banks in ((32, 1), (256, 8)):
        read, _, _ = asked(domains, banks)
        assert read == domains
