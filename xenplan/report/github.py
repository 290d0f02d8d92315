"""GitHub Actions workflow commands: one annotation line per finding.

``::error file=F,line=L,title=T::message`` (``warning``, ``notice`` for the
other severities). GitHub decodes ``%25``, ``%0D``, ``%0A`` in the message,
and additionally ``%3A`` and ``%2C`` in property values, where a raw ``:``
or ``,`` would end the value; anything else passes through. A finding
without a source line is annotated on its file (or the input) alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from xenplan.analysis import Analysis
from xenplan.checks.finding import Finding

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def line(f: Finding, a: Analysis, by_release: bool = False) -> str:
    props = [("file", f.source.file if f.source is not None else a.input)]
    if f.source is not None and f.source.line is not None:
        props.append(("line", str(f.source.line)))
    props.append(("title", f"{f.rule} {f.slug}" + (f" (Xen {a.system.target.version})" if by_release else "")))
    message = f"{f.path}: {f.message}" if f.path else f.message
    if not f.reached:
        message += " (not reached: Xen stops earlier)"
    head = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{COMMAND[f.severity]} {head}::{escape_data(message)}"


def render(analyses: Sequence[Analysis], by_release: bool = False) -> str:
    """``by_release``: several releases in one run; each title names the release its finding is from."""
    return "".join(line(f, a, by_release) + "\n" for a in analyses for f in a.findings)
