"""A finding: a rule, how serious, where, and whether Xen would get there."""

from __future__ import annotations

from xenplan.checks.registry import Severity
from xenplan.model.base import Range, SourceRef, XBase


class RelatedRegion(XBase):
    path: str
    ranges: tuple[Range, ...] = ()


class Finding(XBase):
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
