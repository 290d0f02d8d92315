"""The simulated boot: Xen's stages, in Xen's order.

``simulate(system)`` runs each stage on one ``BootState`` and assembles the
``BootResult``. The order below is the only place it is written:

1. ``bootinfo``   S1–S3  Xen image, DTB, /memreserve/
2. ``early_scan`` S4     every region recorded, overlap-checked, in DT order
3. ``setup_mm``   S6     boot allocator, frame table, static pages, heap
4. ``cpupools``   S7     boot-time cpupools (``cpupool_init()``)
5. ``domains``    S8–S9  dom0less mode, every xen,domain built in DT order
6. ``evtchn``     S11    static event channels
7. ``finish``     S12    modules discarded; the final host and guest maps
"""

from __future__ import annotations

from collections.abc import Callable

from xenplan.boot import bootinfo, cpupools, domains, early_scan, evtchn, finish, setup_mm
from xenplan.boot.result import BootResult
from xenplan.boot.state import BootState
from xenplan.model.system import System

STAGES: tuple[tuple[str, Callable[[BootState], BootState]], ...] = (
    ("bootinfo", bootinfo.run),
    ("early-scan", early_scan.run),
    ("setup-mm", setup_mm.run),
    ("cpupools", cpupools.run),
    ("domains", domains.run),
    ("evtchn", evtchn.run),
    ("finish", finish.run),
)


def simulate(system: System) -> BootResult:
    """Boot ``system`` the way its target Xen release would, and keep analysing past a failure."""
    state = BootState(system=system)
    for _name, stage in STAGES:
        state = stage(state)
    return finish.result(state)


__all__ = ["BootResult", "simulate"]
