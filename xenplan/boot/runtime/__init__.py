"""The run-time replay: what Xen does with the memory hypercalls a guest makes
after boot, the toolstack's target, destruction and late creation, on the
booted frame table, P2Ms and heap (``docs/runtime.md``).

``replay_ops(system, result, ops)`` parses nothing: the operations come
parsed (``ops.parse_ops``); it answers one ``OpResult`` per operation, the
events (rule IDs, as the boot's) and the state after the last one.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.boot.result import BootResult, Event
from xenplan.boot.runtime.machine import OpResult, PageReport, Runtime
from xenplan.boot.runtime.ops import Op, OpSyntaxError, parse_op, parse_ops, parse_size
from xenplan.records import record

__all__ = [
    "Op",
    "OpResult",
    "OpSyntaxError",
    "PageReport",
    "Runtime",
    "RuntimeRun",
    "parse_op",
    "parse_ops",
    "parse_size",
    "replay_ops",
]


@record(frozen=True)
class RuntimeRun:
    """Every operation's answer, the rule events they raised, and the replay after the last one."""

    results: tuple[OpResult, ...]
    events: tuple[Event, ...]
    runtime: Runtime


def replay_ops(system: object, result: BootResult, ops: Sequence[Op], check_invariants: bool = True) -> RuntimeRun:
    """Replay ``ops`` in order on the system ``result`` booted; Xen's refusals are results, the run goes on."""
    from xenplan.model.system import System

    assert isinstance(system, System)
    rt = Runtime(system, result, check_invariants)
    results = tuple(rt.apply(op) for op in ops)
    return RuntimeRun(results, tuple(rt.events), rt)
