"""``--select`` / ``--ignore``: by rule ID, ID prefix (area) or slug."""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.checks.finding import Finding


def _matches(f: Finding, keys: Sequence[str]) -> bool:
    return _names(f.rule, f.slug, keys)


def _names(rule: str, slug: str, keys: Sequence[str]) -> bool:
    for raw in keys:
        for key in filter(None, (k.strip() for k in raw.split(","))):
            k = key.upper()
            if rule == k or rule.startswith(k.rstrip("-") + "-") or slug == key:
                return True
    return False


def selected(rule: str, slug: str, select: Sequence[str], ignore: Sequence[str]) -> bool:
    """Whether ``filter_findings`` keeps a finding of this rule and slug."""
    return (not select or _names(rule, slug, select)) and not _names(rule, slug, ignore)


def filter_findings(findings: Sequence[Finding], select: Sequence[str], ignore: Sequence[str]) -> list[Finding]:
    out = [f for f in findings if not select or _matches(f, select)]
    return [f for f in out if not _matches(f, ignore)]
