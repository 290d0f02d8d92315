"""S11: static event channels, bound after every domain exists (EVT-*).

Mirrors ``alloc_static_evtchn()`` / ``alloc_domain_evtchn()``
(``xen/arch/arm/domain_build.c`` 4.17/4.18,
``xen/common/device-tree/static-evtchn.c`` 4.22). Any failure panics
"Could not set up domains evtchn"; the recordings attribute it to the last
``xen,domain`` node, whose "LOADING" line it follows.
"""

from __future__ import annotations

from xenplan.boot import messages as msg
from xenplan.boot.result import Related
from xenplan.boot.state import BootState
from xenplan.model.system import EventChannel

MAX_DOMU_PORT = 1023


def _fail(state: BootState, ev: EventChannel, rule: str, text: str,
          related: tuple[Related, ...] = ()) -> None:
    state.event(rule, "PANIC", text, path=ev.path, prop="xen,evtchn", source=ev.source, related=related,
                xen_message=msg.EVTCHN_FAILED)
    doms = state.system.domains
    if doms and state.stop("panic", "domain", rule, msg.EVTCHN_FAILED, domain=doms[-1].name):
        state.statuses[doms[-1].path] = "failed"


def run(state: BootState) -> BootState:
    sysm = state.system
    v = state.v
    nodes = [e for d in sysm.domains for e in d.evtchns]
    if not nodes:
        return state
    if not state.rel.static_evtchn_binding:
        for e in nodes:
            state.event("EVT-001", "DROP", f"static event channels do not exist in Xen {v}: the node is ignored "
                        "and the channel never bound", path=e.path, source=e.source)
        return state
    if state.rel.static_evtchn_kconfig_gate and not sysm.target.has("STATIC_EVTCHN"):
        for e in nodes:
            state.event("EVT-001", "DROP", "static event channel ignored: CONFIG_STATIC_EVTCHN is off",
                        path=e.path, source=e.source)
        return state
    by_phandle = {e.phandle: e for e in nodes + list(sysm.xen.dom0_evtchns) if e.phandle is not None}
    domain_paths = {d.path for d in sysm.domains}
    done: set[str] = set()
    xs_ports = state.xs_ports
    ports: dict[str, set[int]] = {}
    for ev in nodes:
        if ev.path in done:
            continue
        if ev.cells < 2 or ev.port is None or ev.peer is None:
            _fail(state, ev, "EVT-003", f"{ev.path}: xen,evtchn needs <local-port &peer>")
            continue
        peer = by_phandle.get(ev.peer)
        if peer is None:
            _fail(state, ev, "EVT-003", f"{ev.path}: the peer phandle {ev.peer:#x} names no event-channel node")
            continue
        rel = (Related(path=peer.path),)
        if peer.cells < 2 or peer.port is None:
            _fail(state, ev, "EVT-003", f"{peer.path}: xen,evtchn property should not be empty.", rel)
            continue
        if peer.peer != ev.phandle:
            _fail(state, ev, "EVT-003", f"{peer.path}: xen,evtchn does not point back to {ev.path}: "
                  "is not setup correctly.", rel)
            continue
        if peer.parent not in domain_paths:
            _fail(state, ev, "EVT-004", f"{peer.path}: its parent {peer.parent} is not a built domain: "
                  "could not find domains", rel)
            continue
        for e in (ev, peer):
            assert e.port is not None
            if e.port == 0 or e.port > MAX_DOMU_PORT:
                _fail(state, e, "EVT-005", f"{e.path}: port {e.port} is outside 1..{MAX_DOMU_PORT}")
                break
            used = ports.setdefault(e.parent, set())
            if xs_ports.get(e.parent) == e.port:
                _fail(state, e, "EVT-007", f"{e.path}: port {e.port} is already the xenstore event channel of "
                      f"{e.parent} (xen,enhanced): evtchn_alloc_unbound() fails with -EBUSY")
                break
            if e.port in used:
                _fail(state, e, "EVT-006", f"{e.path}: port {e.port} is already bound in {e.parent}")
                break
            used.add(e.port)
        done.update((ev.path, peer.path))
    return state
