"""A finding: a rule, how serious, where, and whether Xen would get there."""

from __future__ import annotations

from typing import Literal

from xenplan.checks.registry import Severity
from xenplan.model.base import Range, SourceRef, value


@value
class RelatedRegion:
    path: str
    ranges: tuple[Range, ...] = ()


@value
class Finding:
    rule: str
    slug: str
    severity: Severity
    reached: bool
    message: str
    path: str | None = None
    property: str | None = None
    source: SourceRef | None = None
    ranges: tuple[Range, ...] = ()
    related: tuple[RelatedRegion, ...] = ()
    since: str | None = None
    xen_message: str | None = None


@value
class Suppressed:
    """A finding a suppression hid: in the source (a ``// xenplan: ignore`` comment) or in the
    configuration (``ignore-nodes``), with the reason given and where the suppression is written."""

    finding: Finding
    kind: Literal["inSource", "external"]
    justification: str | None = None
    source: SourceRef | None = None


def stable_key(f: Finding) -> tuple[str, str, str]:
    """What identifies a finding from one run to the next: rule, node path and property.

    No addresses and no line numbers, so moving a bank or editing the lines
    above a node does not make an old finding look new (baselines, SARIF's
    ``xenplanFindingStable/v1``)."""
    return f.rule, f.path or "", f.property or ""
