"""Boot-time cpupools (``CONFIG_BOOT_TIME_CPUPOOLS``, 4.17+): ``cpupool_init()`` reads the
``xen,cpupool`` nodes of ``/chosen`` (``btcpupools_dtb_parse()``) after the heap is set up
and before any domain is built, and panics on a pool it cannot make (DOM-022).
"""

from __future__ import annotations

from xenplan.boot.state import BootState

SCHEDULERS = ("credit", "credit2", "null", "rtds", "arinc653")
"""``opt_name`` of each scheduler ``sched_get_id_by_name()`` can find when it is built in."""


def _panic(state: BootState, path: str, prop: str, why: str, message: str) -> None:
    state.event("DOM-022", "PANIC", why, path=path, prop=prop, xen_message=message)
    state.stop("panic", "other", "DOM-022", message)


def run(state: BootState) -> BootState:
    """``btcpupools_dtb_parse()``, pool by pool in ``/chosen`` order: the scheduler
    (``check_and_get_sched_id()``), then each CPU of ``cpupool-cpus``."""
    sysm = state.system
    t = sysm.target
    if not (state.rel.cpupool_binding and t.has("BOOT_TIME_CPUPOOLS")):
        return state
    taken: set[int] = set()
    for pool in sysm.boot_cpupools:
        if pool.sched is not None and not (pool.sched in SCHEDULERS and t.has(f"SCHED_{pool.sched.upper()}")):
            _panic(state, pool.path, "cpupool-sched", f"cpupool-sched = \"{pool.sched}\" names no scheduler "
                   "this Xen is built with", f"Scheduler {pool.sched} does not exists!")
            return state
        if not pool.cpus:
            _panic(state, pool.path, "cpupool-cpus", "cpupool-cpus is missing, empty or names no node",
                   "Missing or empty cpupool-cpus property!")
            return state
        for cpu in pool.cpus:
            if cpu < 0:
                what = "a node without reg" if cpu == -1 else "a node whose reg is no CPU's"
                _panic(state, pool.path, "cpupool-cpus", f"cpupool-cpus names {what}",
                       f"Error retrieving logical cpu from node {pool.name} ({cpu})")
                return state
            if cpu in taken:
                _panic(state, pool.path, "cpupool-cpus", f"CPU {cpu} is in two cpupools",
                       f"Logical cpu {cpu} already added to a cpupool!")
                return state
            taken.add(cpu)
    return state
