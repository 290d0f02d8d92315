"""Baselines: adopt xenplan on a repository with findings, and fail only on new ones.

``--write-baseline FILE`` records today's findings by input, rule, node path
and property, with a count for each: no addresses and no line numbers, so a
bank that moves or a comment added above a node does not make an accepted
finding look new. ``--baseline FILE`` then drops as many findings of each
key as the baseline holds: with 2 recorded and 3 found, one is new and is
reported. Inputs are recorded relative to the baseline's folder, so the run
may start anywhere.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from xenplan.analysis import Analysis
from xenplan.checks.finding import stable_key
from xenplan.errors import InputError
from xenplan.files import read_input, write_output

SCHEMA = "xenplan-baseline/1"
MAX_BASELINE_BYTES = 64 << 20

Key = tuple[str, str, str, str]


def _input_key(input_path: str, baseline: str) -> str:
    if input_path == "-":
        return "-"
    rel = os.path.relpath(os.path.abspath(input_path), os.path.dirname(os.path.abspath(baseline)))
    return rel.replace(os.sep, "/")


def counts(analyses: Iterable[Analysis], baseline: str) -> Counter[Key]:
    """Today's findings by (input, rule, node path, property)."""
    out: Counter[Key] = Counter()
    for a in analyses:
        name = _input_key(a.input, baseline)
        for f in a.findings:
            out[(name, *stable_key(f))] += 1
    return out


def write(path: str, analyses: Sequence[Analysis], inputs: Iterable[str]) -> int:
    """Record the findings of ``analyses`` in ``path`` (atomically, never over an input); their number."""
    import json  # loaded for a baseline only: a check without one never needs it

    c = counts(analyses, path)
    doc = {"schema": SCHEMA, "findings": [
        {"input": i, "rule": r, "path": p or None, "property": prop or None, "count": n}
        for (i, r, p, prop), n in sorted(c.items())]}
    write_output(path, json.dumps(doc, indent=1) + "\n", inputs, "--write-baseline")
    return sum(c.values())


def read(path: str) -> Counter[Key]:
    """A baseline file's counts; anything else is an ``InputError`` naming the file."""
    import json

    try:
        doc: Any = json.loads(read_input(path, MAX_BASELINE_BYTES))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(path, f"not a baseline: not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or not isinstance(doc.get("findings"), list):
        raise InputError(path, f'not a baseline: expected {{"schema": "{SCHEMA}", "findings": [...]}} '
                         "(write one with --write-baseline)")
    out: Counter[Key] = Counter()
    for n, item in enumerate(doc["findings"]):
        ok = (isinstance(item, dict) and all(isinstance(item.get(k), str) for k in ("input", "rule"))
              and all(item.get(k) is None or isinstance(item.get(k), str) for k in ("path", "property"))
              and isinstance(item.get("count"), int) and not isinstance(item.get("count"), bool)
              and item["count"] > 0)
        if not ok:
            raise InputError(path, f"findings[{n}]: expected input, rule, path, property and a positive count")
        out[(item["input"], item["rule"], item["path"] or "", item["property"] or "")] += item["count"]
    return out


def apply(path: str, analyses: Sequence[Analysis]) -> None:
    """Drop from each analysis the findings the baseline at ``path`` holds (as many of each key as it counts)."""
    left = read(path)
    for a in analyses:
        name = _input_key(a.input, path)
        kept = []
        for f in a.findings:
            key = (name, *stable_key(f))
            if left[key] > 0:
                left[key] -= 1
            else:
                kept.append(f)
        a.findings = kept
