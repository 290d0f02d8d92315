"""Pick the renderer for a format; every renderer returns text."""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Sequence

from rich.console import Console

from xenplan.analysis import Analysis
from xenplan.checks import Rule
from xenplan.checks import rules as all_rules
from xenplan.report import json_out, text


def console(output: str | None) -> Console:
    """The recording console the text renderers print into; it writes nowhere.

    Here rather than in ``cli.py`` so that only ``report/`` imports rich
    To a file: 120 columns, no colour. To a
    terminal: its width and colours. Height is given too, or ``TERM=dumb``
    would make rich fall back to 80 columns.
    """
    if output is not None:
        return Console(file=io.StringIO(), record=True, width=120, height=50, force_terminal=False,
                       color_system=None)
    tty = sys.stdout.isatty()
    size = shutil.get_terminal_size()
    return Console(file=io.StringIO(), record=True, force_terminal=tty, width=size.columns if tty else 120,
                   height=size.lines, color_system="auto" if tty else None)


def check(fmt: str, analyses: Sequence[Analysis], console: Console) -> str:
    if fmt == "json":
        return json_out.render(analyses, many=len(analyses) > 1)
    if fmt == "sarif":
        from xenplan.report import sarif

        return sarif.render(analyses)
    if fmt == "github":
        from xenplan.report import github

        return github.render(analyses)
    if fmt == "junit":
        from xenplan.report import junit

        return junit.render(analyses)
    for a in analyses:
        text.check(console, a, a.findings)
    return console.export_text(styles=console.is_terminal)


def memory_map(fmt: str, analyses: Sequence[Analysis], console: Console, domain: str | None) -> str:
    if fmt == "json":
        return json_out.render(analyses, many=len(analyses) > 1)
    if fmt == "svg":
        from xenplan.report import svg

        return svg.render(analyses, domain)
    for a in analyses:
        text.memory_map(console, a, domain)
    return console.export_text(styles=console.is_terminal)


def rules(fmt: str, console: Console) -> str:
    rs = list(all_rules())
    if fmt == "json":
        return json.dumps([rule_json(r) for r in rs], indent=1) + "\n"
    from rich.table import Table

    t = Table(title=f"{len(rs)} rules", title_justify="left")
    for col in ("id", "slug", "severity", "since", "until"):
        t.add_column(col)
    for r in rs:
        t.add_row(r.id, r.slug, r.severity(), r.since, r.until or "")
    console.print(t)
    return console.export_text(styles=console.is_terminal)


def rule_json(r: Rule) -> dict[str, object]:
    return {"id": r.id, "slug": r.slug, "severity": r.severity(), "behaviour": r.behaviour, "since": r.since,
            "until": r.until, "xen_src": r.xen_src, "xen_message": r.xen_message, "docs": r.docs}


def rule(r: Rule, console: Console) -> str:
    from rich.markdown import Markdown

    head = f"# {r.id} {r.slug}\n\n**severity** {r.severity()} ({r.behaviour}) · **since** Xen {r.since}"
    if r.until:
        head += f" · **until** {r.until}"
    head += f"\n\n**Xen source** `{r.xen_src}`\n"
    if r.xen_message:
        head += f"\n**Xen prints** `{r.xen_message}`\n"
    body = "\n".join(f"\n## {k}\n\n{v}\n" for k, v in r.doc_sections().items()) or r.docs
    console.print(Markdown(head + body))
    return console.export_text(styles=console.is_terminal)
