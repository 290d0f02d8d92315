"""Pick the renderer for a format; every renderer returns text."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import field
from typing import TYPE_CHECKING

from xenplan.analysis import Analysis
from xenplan.checks import Rule
from xenplan.checks import rules as all_rules
from xenplan.errors import UsageError
from xenplan.records import record
from xenplan.report import json_out, plain, releases

if TYPE_CHECKING:
    from rich.console import Console


@record
class Screen:
    """Where the report goes; the rich ``Console`` is made only when something is drawn with rich.

    To a terminal: its width. To a file or a pipe: 120 columns. Colour
    (``--color``): ``auto`` colours a terminal unless ``NO_COLOR`` is set
    (https://no-color.org), ``always`` and ``never`` decide alone. Height is
    given too, or ``TERM=dumb`` would make rich fall back to 80 columns.
    Rich costs a tenth of a second to import, which JSON, SARIF and
    unstyled text do without.
    """

    output: str | None
    color: str = "auto"
    _console: Console | None = field(default=None, repr=False)

    @property
    def terminal(self) -> bool:
        return self.output is None and sys.stdout.isatty()

    @property
    def styled(self) -> bool:
        if self.color != "auto":
            return self.color == "always"
        return self.terminal and not os.environ.get("NO_COLOR")

    @property
    def width(self) -> int:
        return _terminal_size().columns if self.terminal else 120

    def rich(self) -> Console:
        """The recording console the text renderers print into; it writes nowhere."""
        if self._console is None:
            from rich.console import Console

            if self.styled:
                height = _terminal_size().lines if self.terminal else 50
                self._console = Console(file=io.StringIO(), record=True, force_terminal=True, width=self.width,
                                        height=height, no_color=False,
                                        color_system="auto" if self.terminal else "standard")
            else:
                self._console = Console(file=io.StringIO(), record=True, width=self.width, height=50,
                                        force_terminal=False, color_system=None)
        return self._console


@record
class _RichFallback:
    """Lines and tables the plain renderer hands back, printed by rich on the screen's console."""

    screen: Screen

    def line(self, text: str) -> str:
        from rich.text import Text

        console = self.screen.rich()
        console.print(Text(text))
        return console.export_text(styles=False)

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        from rich.table import Table

        t = Table(title=title, title_justify="left", expand=False)
        for col in columns:
            t.add_column(col)
        for row in rows:
            t.add_row(*row)
        console = self.screen.rich()
        console.print(t)
        return console.export_text(styles=False)


def _terminal_size() -> os.terminal_size:
    """The terminal's size, honouring ``COLUMNS`` and ``LINES``; ``shutil`` (and the compression
    modules it loads) is imported only for output to a terminal."""
    import shutil

    return shutil.get_terminal_size()


def console(output: str | None, color: str = "auto") -> Screen:
    """The screen the CLI hands back to every renderer below (``-o FILE`` or standard output)."""
    return Screen(output, color)


def check(fmt: str, analyses: Sequence[Analysis], screen: Screen, *, explain: bool = False,
          statistics: bool = False) -> str:
    """The report in ``fmt``; ``statistics`` (text and GitHub only) appends the counts by rule.

    With several releases (``releases.several``): JSON becomes one
    ``xenplan-releases/1`` document per input, GitHub annotations and JUnit
    suites name their release, text closes each input with the verdict of
    every release and what changes between them, and SARIF is refused
    (code scanning keys a finding by its fingerprint, which the same
    finding shares on every release: one upload per release).
    """
    multi = releases.several(analyses)
    if fmt == "json":
        return releases.render_json(analyses) if multi else json_out.render(analyses, many=len(analyses) > 1)
    if fmt == "sarif":
        if multi:
            raise UsageError("--format", "SARIF takes one release per run (code scanning would merge the same "
                             "finding of every release); run once per --xen-version, with a category each")
        from xenplan.report import sarif

        return sarif.render(analyses)
    if fmt == "junit":
        from xenplan.report import junit

        return junit.render(analyses, by_release=multi)
    fallback = _RichFallback(screen)
    if fmt == "github":
        from xenplan.report import github

        out = github.render(analyses, by_release=multi)
    elif not screen.styled:
        out = "".join(_plain_check(analyses, screen, fallback, explain, multi))
    else:
        from xenplan.report import text

        out = ""
        for group in releases.grouped(analyses):
            console = screen.rich()
            for a in group:
                text.check(console, a, a.findings, explain)
            out += console.export_text(styles=True)
            if multi:
                out += releases.digest(group, screen.width, fallback)
    if statistics:
        out += plain.statistics([f for a in analyses for f in a.findings])
    return out


def check_parts(fmt: str, analyses: Sequence[Analysis], screen: Screen, *, explain: bool = False,
                statistics: bool = False) -> Iterator[str]:
    """``check`` in pieces to write one after another: unstyled text is made finding by finding as
    it is written, so a report of tens of thousands of findings is never held whole; every other
    output is one piece."""
    if fmt != "text" or screen.styled:
        yield check(fmt, analyses, screen, explain=explain, statistics=statistics)
        return
    yield from _plain_check(analyses, screen, _RichFallback(screen), explain, releases.several(analyses))
    if statistics:
        yield plain.statistics([f for a in analyses for f in a.findings])


def _plain_check(analyses: Sequence[Analysis], screen: Screen, fallback: _RichFallback, explain: bool,
                 multi: bool) -> Iterator[str]:
    """Unstyled text (``plain``): each input's report, each release group closed by its digest."""
    for group in releases.grouped(analyses):
        for a in group:
            yield from plain.check_parts(a, a.findings, screen.width, fallback, explain)
        if multi:
            yield releases.digest(group, screen.width, fallback)


def memory_map(fmt: str, analyses: Sequence[Analysis], screen: Screen, domain: str | None) -> str:
    if fmt == "json":
        return json_out.render(analyses, many=len(analyses) > 1)
    if fmt in ("svg", "html"):
        from xenplan.report import svg

        return svg.render(analyses, domain) if fmt == "svg" else svg.render_html(analyses, domain)
    from xenplan.report import text

    console = screen.rich()
    for a in analyses:
        text.memory_map(console, a, domain)
    return console.export_text(styles=console.is_terminal)


def simulation(fmt: str, analyses: Sequence[Analysis], screen: Screen) -> str:
    """``xenplan simulate``: JSON (the check document plus ``operations``) or text."""
    if fmt == "json":
        return json_out.render(analyses, many=len(analyses) > 1)
    from xenplan.report import text

    console = screen.rich()
    for a in analyses:
        text.simulation(console, a)
    return console.export_text(styles=console.is_terminal)


def rules(fmt: str, screen: Screen) -> str:
    rs = list(all_rules())
    if fmt == "json":
        import json

        return json.dumps([rule_json(r) for r in rs], indent=1) + "\n"
    from rich.table import Table

    console = screen.rich()
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


def rule(r: Rule, screen: Screen) -> str:
    from rich.markdown import Markdown

    console = screen.rich()
    head = f"# {r.id} {r.slug}\n\n**severity** {r.severity()} ({r.behaviour}) · **since** Xen {r.since}"
    if r.until:
        head += f" · **until** {r.until}"
    head += f"\n\n**Xen source** `{r.xen_src}`\n"
    if r.xen_message:
        head += f"\n**Xen prints** `{r.xen_message}`\n"
    body = "\n".join(f"\n## {k}\n\n{v}\n" for k, v in r.doc_sections().items()) or r.docs
    console.print(Markdown(head + body))
    return console.export_text(styles=console.is_terminal)
