"""``xenplan simulate``: one input booted as ``check`` boots it, then run-time
operations replayed on it (``xenplan.boot.runtime``, ``docs/runtime.md``).

The answer is an ``Analysis`` whose result is the state after the last
operation, with every operation's answer beside it; the findings are
``check``'s plus what the operations raised, each once: for a domain the
operations touch, what they raised replaces the findings of ``check``'s
canned run-time scenario (``xenplan.checks.rt.REPLAYED``). Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import field, replace
from typing import TYPE_CHECKING, Any

from xenplan.analysis import Analysis, analyse
from xenplan.boot.result import Bank, BootResult, DomainResult, HostRegion, P2MRegion
from xenplan.boot.runtime import OpResult, OpSyntaxError, Runtime, parse_op, replay_ops
from xenplan.boot.runtime.ops import PAGE_SHIFT, Op
from xenplan.checks import event_findings
from xenplan.checks.rt import REPLAYED
from xenplan.errors import InputError
from xenplan.model.target import Target
from xenplan.records import record

if TYPE_CHECKING:
    from xenplan.tomlfile import TomlDocument


@record
class Simulation(Analysis):
    """``result`` is the state after the last operation; ``booted`` the state right after boot."""

    operations: tuple[OpResult, ...] = ()
    booted: BootResult | None = None
    changed: tuple[str, ...] = field(default_factory=tuple)
    """Names of the domains an operation touched, in order: the maps the text report shows."""


def parse_all(texts: Sequence[str], result: BootResult, system_domains: Sequence[str],
              doc: TomlDocument | None = None, from_doc: int = 0) -> list[Op]:
    """Every operation; the first ``from_doc`` come from ``doc``'s ``ops`` (errors name its line).

    A domain of the input that was not built at boot is named as such, not as unknown."""
    known = {d.name for d in result.domains if d.status == "constructed"}
    out = []
    for i, text in enumerate(texts):
        try:
            word = text.split()[0] if text.split() else ""
            if word not in known and word in system_domains:
                status = next((d.status for d in result.domains if d.name == word), "not-reached")
                raise OpSyntaxError(f"{text!r}: domain {word!r} was not built at boot ({status})")
            op = parse_op(text, known)
        except OpSyntaxError as exc:
            if doc is not None and i < from_doc:
                raise doc.error(("ops", i), str(exc)) from None
            raise InputError("--op", str(exc)) from None
        if op.kind == "create":
            known.add(op.domain)
        out.append(op)
    return out


def simulate(path: str, target: Target, op_texts: Sequence[str], overlays: Sequence[str] = (),
             include_dirs: Sequence[str] = (), board: str | None = None, partial_dtbs: dict[str, str] | None = None,
             doc: TomlDocument | None = None, from_doc: int = 0) -> Simulation:
    """Boot ``path`` as ``check`` does and replay ``op_texts`` on it."""
    a = analyse(path, target, overlays, include_dirs, board, partial_dtbs)
    ops = parse_all(op_texts, a.result, [d.name for d in a.system.domains], doc, from_doc)
    run = replay_ops(a.system, a.result, ops)
    changed = tuple(dict.fromkeys(op.domain for op in ops))
    touched = {d.path for d in a.result.domains if d.name in changed}
    kept = [f for f in a.findings if not (f.rule in REPLAYED and f.path in touched)]
    seen = {(f.rule, f.path, f.message) for f in kept}
    extra = [f for f in event_findings(a.system, run.events) if (f.rule, f.path, f.message) not in seen]
    return Simulation(input=a.input, system=a.system, result=after_result(a.result, run.runtime, changed),
                      findings=[*kept, *extra], notes=[*a.notes, *run.runtime.notes], files=a.files,
                      operations=run.results, booted=a.result, changed=changed)


def after_result(booted: BootResult, rt: Runtime, changed: Sequence[str]) -> BootResult:
    """The boot result with the host map and the touched domains as the replay leaves them.

    Host frames of dynamic domains whose placement the boot did not report stay "heap", as
    ``check`` shows them; every other frame shows its run-time owner."""
    paths = {d.name: d.path for d in booted.domains}
    hidden = {d.name for d in booted.domains if not d.static and any(b.host is None for b in d.banks or ())}
    hidden -= set(changed)
    regions: list[HostRegion] = []
    for s, e, p in rt.pm.runs():
        if p.state == "none":
            continue
        owner = paths.get(p.owner or "", p.owner) if p.owner else None
        if p.state == "inuse":
            kind = "static-domain" if p.static else "heap" if p.owner in hidden else "domain"
            if p.owner == "DOMID_IO":
                kind, owner = "shm", "DOMID_IO"
            elif kind == "heap":
                owner = None
        elif p.state in ("heap", "xen", "p2m-pool"):
            kind, owner = "heap", None
        elif p.state == "static-free":
            kind = "static-free"
        else:
            kind, owner = p.state, None
        start, size = s << PAGE_SHIFT, (e - s) << PAGE_SHIFT
        last = regions[-1] if regions else None
        if last is not None and (last.kind, last.owner) == (kind, owner) and last.start + last.size == start:
            regions[-1] = HostRegion(kind=kind, start=last.start, size=last.size + size, owner=owner)
        else:
            regions.append(HostRegion(kind=kind, start=start, size=size, owner=owner))
    domains: list[DomainResult] = []
    for d in booted.domains:
        dom = rt.doms.get(d.name)
        if dom is None or d.name not in changed:
            domains.append(d)
        elif not dom.alive:
            domains.append(replace(d, status="destroyed", banks=None, xen_banks=None, p2m=()))
        else:
            banks = _banks(rt, d.name)
            p2m = tuple(p for p in d.p2m if p.kind != "ram") + tuple(
                P2MRegion(kind="ram", guest=b.guest, size=b.size, host=b.host) for b in banks)
            domains.append(replace(d, banks=banks, p2m=tuple(sorted(p2m, key=lambda p: p.guest))))
    for name, dom in rt.doms.items():
        if name not in paths:
            banks = _banks(rt, name)
            domains.append(DomainResult(
                name=name, path=f"runtime:{name}", status="constructed" if dom.alive else "destroyed",
                static=False, direct_map=False, domid=dom.domid, banks=banks if dom.alive else None,
                p2m=tuple(P2MRegion(kind="ram", guest=b.guest, size=b.size, host=b.host) for b in banks)))
    return replace(booted, host_map=tuple(regions), domains=tuple(domains))


def _banks(rt: Runtime, name: str) -> tuple[Bank, ...]:
    """The domain's RAM mappings as banks; a run handed out downwards has no single host start (None)."""
    out: list[Bank] = []
    for r in rt.doms[name].p2m.all():
        host: int | None = r.mfn << PAGE_SHIFT if r.step > 0 or r.count == 1 else None
        out.append(Bank(guest=r.gfn << PAGE_SHIFT, host=host, size=r.count << PAGE_SHIFT))
    return tuple(out)


def operation_json(r: OpResult) -> dict[str, Any]:
    """One operation as the ``operations`` array of the JSON document carries it (hex strings)."""
    return {"op": r.op, "result": r.result, "rc": r.rc, "xen_message": r.xen_message,
            "pages": [{"mfn_start": hex(p.mfn_start), "mfn_end": hex(p.mfn_end),
                       "gfn_start": None if p.gfn_start is None else hex(p.gfn_start), "owner": p.owner,
                       "state": p.state, "flags": list(p.flags)} for p in r.pages]}
