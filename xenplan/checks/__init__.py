"""The rule catalogue: every rule ID, one module per area.

Area modules load on demand (``xenplan.checks.registry``): ``rules()`` and
``lookup()`` read the full catalogue. ``run(system, result)`` turns the events the boot stages met into findings
(slug and severity from the registry) and runs the rules that read the model
and the result: hazards Xen never checks. Given a ``Selection`` it makes only
the findings ``--select``/``--ignore`` would keep, and imports only the areas
those rules are in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from xenplan.boot.result import BootResult, Event
from xenplan.checks.finding import Finding, RelatedRegion
from xenplan.checks.registry import REGISTRY, Rule, lookup, rules
from xenplan.checks.select import selected
from xenplan.model.base import Range
from xenplan.model.system import System

Selection = tuple[Sequence[str], Sequence[str]]
"""``(select, ignore)``: the keys of ``--select`` and ``--ignore`` (IDs, prefixes, slugs)."""


def wanted(selection: Selection | None) -> Callable[[str], bool]:
    """Whether a rule ID's findings survive the selection; the area modules of those that do are
    imported (an ID the index does not know is judged by its lower-cased ID as slug, as its
    finding would be)."""
    if selection is None:
        REGISTRY.load_all()
        return lambda _: True
    from xenplan.checks.index import SLUG

    select, ignore = selection
    keep = {i for i, s in SLUG.items() if selected(i, s, select, ignore)}
    REGISTRY.load(keep)
    return lambda i: i in keep if i in SLUG else selected(i, i.lower(), select, ignore)


def applies(rule: Rule, system: System) -> bool:
    """Version, architecture and Kconfig gating, from the rule's metadata."""
    if not system.target.release.within(rule.since, rule.until):
        return False
    if rule.arch and system.target.arch not in rule.arch:
        return False
    return all(system.target.has(k) for k in rule.kconfig)


def event_findings(system: System, events: Iterable[Event], keep: Callable[[str], bool] | None = None) -> list[Finding]:
    """Events of the boot (or of the run-time replay) as findings: slug, severity and release from the registry
    (only those of the rules ``keep`` accepts, whose modules ``wanted`` imported)."""
    debug = system.target.debug
    out: list[Finding] = []
    for ev in events:
        if keep is not None and not keep(ev.rule):
            continue
        r = REGISTRY.loaded.get(ev.rule) if keep is not None else REGISTRY.get(ev.rule)
        out.append(Finding(
            rule=ev.rule, slug=r.slug if r else ev.rule.lower(),
            severity=r.severity(ev.behaviour, debug=debug) if r else (
                "error" if ev.behaviour in ("PANIC", "CRASH", "HANG") else "warning"),
            reached=ev.reached, message=ev.message, path=ev.path, property=ev.property,
            source=ev.source or system.sources.get(ev.path or ""),
            ranges=ev.ranges, related=tuple(RelatedRegion(path=x.path, ranges=x.ranges) for x in ev.related),
            since=r.since if r else None, xen_message=ev.xen_message))
    return out


def run(system: System, result: BootResult, selection: Selection | None = None) -> list[Finding]:
    debug = system.target.debug
    keep = wanted(selection)
    out = event_findings(system, result.events, keep)
    reached_all = result.outcome == "boots"
    by_path = {d.path: d for d in system.domains}
    ranges: dict[tuple[int, int], Range] = {}

    def as_range(start: int, size: int) -> Range:
        """One frozen ``Range`` per distinct pair: rules report the same banks many times over."""
        r = ranges.get((start, size))
        if r is None:
            r = ranges[(start, size)] = Range(start=start, size=size)
        return r

    for r in sorted(REGISTRY.loaded.values(), key=lambda x: x.id):
        if r.check is None or not keep(r.id) or not applies(r, system):
            continue
        for hit in r.check(system, result):
            dom = by_path.get(hit.path or "")
            src = system.sources.get(hit.path or "")
            if dom is not None:
                src = dom.prop_sources.get(hit.property or "") or dom.source
            out.append(Finding(
                rule=r.id, slug=r.slug, severity=r.severity(hit.behaviour, debug=debug, isolation=hit.isolation),
                reached=reached_all, message=hit.message, path=hit.path, property=hit.property, source=src,
                ranges=tuple(as_range(s, z) for s, z in hit.ranges),
                related=tuple(RelatedRegion(path=p, ranges=tuple(as_range(s, z) for s, z in rr))
                              for p, rr in hit.related),
                since=r.since, xen_message=r.xen_message))
    return out


__all__ = ["Finding", "Rule", "Selection", "lookup", "rules", "run"]
