"""The context every step of a domain's construction (S9) works in: the boot
state, the release, and ``fail()``, which records where Xen stops building
the domain (``construct_domU()`` returning an error, then ``panic()`` in
``create_domUs()``) and leaves the construction.

``domains`` drives the steps; ``domain_ram``, ``shm``, ``passthrough`` and
``kernel`` take a ``DomainBuild`` and the domain's ``Construction``.
"""

from __future__ import annotations

from typing import NoReturn

from xenplan.boot import messages as msg
from xenplan.boot.construction import Construction
from xenplan.boot.result import Behaviour, Outcome, Related
from xenplan.boot.state import BootState
from xenplan.model.base import Range
from xenplan.model.system import Domain, System


class DomainFailed(Exception):
    """Raised inside one domain's construction when Xen would stop there."""


def nr_spis(state: BootState, dom: Domain) -> int:
    """DOM-009: the property, else the host's SPI count, raised to cover the vUART SPI."""
    if dom.nr_spis is not None:
        return dom.nr_spis
    n = state.system.target.gic_spis
    if dom.vpl011:
        uart = state.system.board.uart
        direct = dom.direct_map and state.rel.direct_map
        virq = (uart.irq if uart is not None and uart.irq is not None else 32) if direct else 32
        n = max(n, virq - 32 + 1)
    return n


GUEST_VPL011_SPI = 32
"""``public/arch-arm.h``: the emulated UART's interrupt in a domain that is not direct-mapped."""


def vpl011_spi_unreserved(system: System, dom: Domain) -> int | None:
    """DOM-018: the vUART interrupt ``domain_vpl011_init()`` cannot reserve, or None.

    ``vgic_reserve_virq()`` refuses an IRQ at or above ``vgic_num_irqs()``, 32 plus
    ``nr_spis`` rounded up to 32 by ``domain_vgic_init()``. Without ``nr_spis`` the
    vGIC is sized to cover the vUART, so only an explicit value can leave it out. A
    direct-mapped domain's vUART takes the host console's interrupt (4.17+); when that
    is missing DMAP-006 reports it instead."""
    if not dom.vpl011 or dom.nr_spis is None:
        return None
    virq = GUEST_VPL011_SPI
    if dom.direct_map and system.target.release.direct_map:
        uart = system.board.uart
        if uart is None or uart.irq is None:
            return None
        virq = uart.irq
    return virq if virq >= 32 + (dom.nr_spis + 31) // 32 * 32 else None


class DomainBuild:
    """The boot state and release one domain is built in, and how it fails."""

    def __init__(self, state: BootState) -> None:
        self.state = state
        self.v = state.v
        self.rel = state.rel

    def fail(self, construction: Construction, rule: str, text: str, xen_message: str | None, *,
             outcome: Outcome = "panic", behaviour: Behaviour = "PANIC", prop: str | None = None,
             ranges: tuple[Range, ...] | list[Range] = (),
             related: tuple[Related, ...] | list[Related] = ()) -> NoReturn:
        """Record the event and Xen's stop (the first stop marks the domain failed), and leave the build."""
        dom = construction.dom
        src = dom.prop_sources.get(prop) if prop else dom.source
        self.state.event(rule, behaviour, text, path=dom.path, prop=prop, source=src or dom.source, ranges=ranges,
                         related=related, xen_message=xen_message)
        if self.state.stop(outcome, "domain", rule, xen_message, domain=dom.name):
            self.state.statuses[dom.path] = "failed"
        raise DomainFailed(rule)

    def static_failed(self, construction: Construction) -> str:
        """Xen's message when a static bank cannot be acquired (1:1 or not)."""
        if construction.dom.direct_map:
            return msg.static_assign_failed(construction.domid)
        return msg.static_alloc_failed(construction.domid)

    def nr_spis(self, dom: Domain) -> int:
        """DOM-009, as ``nr_spis()`` for this build's state."""
        return nr_spis(self.state, dom)
