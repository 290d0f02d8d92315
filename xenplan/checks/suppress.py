"""Suppressions: ``// xenplan: ignore RT-003 -- reason`` in a DTS, ``ignore-nodes`` in the configuration.

A team that has looked at a finding and accepted it says so where the node is
written, as ruff users write ``# noqa``. The comment goes on a node's opening
line or on its own line right above it (comment-only lines in between are
skipped), in the file where the node is first written, an included
``.dtsi`` as well. It names rule IDs or areas (``RT``, ``RT-003``;
several separated by commas), and an optional reason after ``--``.

Scope: the node and its properties, not its subnodes. A comment above
``/chosen`` must not silence every domain under it; the comment sits on one
node's line and reaches as far as that node's own lines, the way a ruff
``noqa`` covers one line and yamllint's ``disable-line`` one line. A
comment with no rule named suppresses nothing (a blanket ignore would hide
tomorrow's finding too).

Binary trees have no comments: ``ignore-nodes = {"/chosen/domU1" = ["RT-003"]}``
in the configuration does the same, with the same scope.

A suppression that hides nothing is reported as SUP-001, as ruff reports an
unused ``noqa`` (RUF100): it would otherwise hide the next finding of that
rule at that node without anyone having looked at it. Suppressions are
matched against every finding, before ``--select``/``--ignore``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Protocol

from xenplan.checks.finding import Finding, Suppressed
from xenplan.checks.registry import REGISTRY, rule
from xenplan.dt.tree import Tree
from xenplan.errors import InputError
from xenplan.files import read_input
from xenplan.model.base import SourceRef
from xenplan.model.system import System
from xenplan.records import record

RULE_ID = "SUP-001"

_COMMENT = re.compile(r"(//|/\*)\s*xenplan:\s*ignore\b(?P<rest>.*)$")


@rule(id=RULE_ID, slug="unused-suppression", behaviour="WARN", since="4.16",
      xen_src="xen/common/device-tree/: comments never reach Xen (dtc drops them)")
def sup_001() -> None:
    """What Xen does: nothing. ``dtc`` drops comments, so Xen never sees a
    ``// xenplan: ignore`` comment or the configuration's ``ignore-nodes``;
    they only tell xenplan which findings a team has accepted. This rule
    reports a suppression that hides nothing: the rule it names does not fire
    at that node (any more), it names no rule or area xenplan knows, it
    names no rule at all, or the comment is not on a node's opening line or
    the line above it.

    Why it matters: a stale suppression is a trap. The finding it was
    written for is gone, and the next finding of that rule at that node
    would be hidden without anyone having looked at it.

    Example: ``// xenplan: ignore RT-003 -- balloon driver loaded``
    above ``domU1 {``, after the domain's memory was made a multiple of
    the bank size so RT-003 no longer fires.

    Fix: delete the comment (or the ``ignore-nodes`` entry), or correct
    the rule ID or the line it is on.
    """


class NodeIgnore(Protocol):
    """One ``ignore-nodes`` entry of a configuration."""

    @property
    def path(self) -> str: ...
    @property
    def codes(self) -> tuple[str, ...]: ...
    @property
    def origin(self) -> str: ...
    @property
    def file(self) -> str | None: ...
    @property
    def line(self) -> int | None: ...


@record
class Suppression:
    """One suppression, written in a source file or a configuration."""

    codes: tuple[str, ...]
    kind: str
    source: SourceRef | None
    nodes: tuple[str, ...]
    """The nodes it covers (none: it is not on a node's line)."""
    reason: str | None = None
    used: set[str] = field(default_factory=set)
    """The codes that hid at least one finding."""

    def covers(self, f: Finding) -> str | None:
        """The code of this suppression that hides ``f``, if any."""
        if f.path is None or f.path not in self.nodes:
            return None
        for code in self.codes:
            if f.rule == code or f.rule.startswith(code + "-"):
                return code
        return None


def known_code(code: str) -> bool:
    """A rule ID or an area xenplan has."""
    return code in REGISTRY or any(r.startswith(code + "-") for r in REGISTRY)


def parse_comment(text: str) -> tuple[tuple[str, ...], str | None] | None:
    """The codes and reason of a ``xenplan: ignore`` comment in one line, or None when it has none."""
    m = _COMMENT.search(text)
    if m is None:
        return None
    rest = m.group("rest")
    if m.group(1) == "/*":
        rest = rest.split("*/", 1)[0]
    codes_text, sep, reason = rest.partition("--")
    codes = tuple(c.upper() for c in re.split(r"[\s,]+", codes_text.strip()) if c)
    return codes, (" ".join(reason.split()) or None) if sep else None


def _norm(file: str) -> str:
    return os.path.normpath(file)


def in_source(tree: Tree, files: Iterable[str]) -> list[Suppression]:
    """Every ``xenplan: ignore`` comment in the DTS files of ``files``, with the nodes it covers.

    A node opens on a line where it is written (its first block, or a later
    ``&label { … }`` one) in that file; ``dtc`` may name the including file for
    a node written in an included one, so a line also counts when the node's
    own name opens a block there."""
    texts: dict[str, list[str]] = {}
    for file in dict.fromkeys(files):
        try:
            raw = read_input(file)
        except InputError:
            continue
        if b"xenplan:" in raw and not raw.startswith(b"\xd0\x0d\xfe\xed"):
            texts[file] = raw.decode("utf-8", "replace").splitlines()
    if not texts:
        return []
    opening: dict[int, list[tuple[str, str, str]]] = {}
    for node in tree.walk():
        src = node.source
        if src is None or src.line is None:
            continue
        for file, line in ((src.file, src.line), *src.blocks):
            opening.setdefault(line, []).append((node.path, _norm(file), node.name))
    out: list[Suppression] = []
    for file, lines in texts.items():
        for i, text in enumerate(lines):
            m = _COMMENT.search(text)
            parsed = parse_comment(text)
            if m is None or parsed is None:
                continue
            codes, reason = parsed
            target = i
            if not text[:m.start()].strip():
                target = i + 1
                while target < len(lines) and (not lines[target].strip()
                                               or lines[target].lstrip().startswith(("//", "/*", "*"))):
                    target += 1
            code_text = lines[target].split("//", 1)[0] if target < len(lines) else ""
            nodes = tuple(dict.fromkeys(
                path for path, f, name in opening.get(target + 1, ())
                if f == _norm(file) or re.search(rf"(?:^|[\s:]){re.escape(name)}\s*{{", code_text)))
            out.append(Suppression(codes, "inSource", SourceRef(file=file, line=i + 1), nodes, reason))
    return out


def from_config(system: System, entries: Iterable[NodeIgnore]) -> list[Suppression]:
    known = set(system.sources)
    return [Suppression(tuple(c.upper() for c in e.codes), "external",
                        SourceRef(file=e.file, line=e.line) if e.file else None,
                        (e.path,) if e.path in known or not known else (), f"ignore-nodes ({e.origin})")
            for e in entries]


def collect(system: System, tree: Tree, files: Iterable[str], ignores: Iterable[NodeIgnore] = ()) -> list[Suppression]:
    """Every suppression of this tree: comments in ``files`` (those read for ``tree``) and ``ignores``.
    Where there is one, every rule must run, whatever ``--select`` says: it is matched against every
    finding, and SUP-001 says when it hides nothing."""
    return [*in_source(tree, files), *from_config(system, ignores)]


def apply(system: System, sups: Sequence[Suppression],
          findings: Sequence[Finding]) -> tuple[list[Finding], list[Suppressed]]:
    """The findings no suppression (of ``collect``) hides, with a SUP-001 finding for each unused
    suppression, and the hidden ones with their justification."""
    if not sups:
        return list(findings), []
    kept: list[Finding] = []
    hidden: list[Suppressed] = []
    for f in findings:
        for s in sups:
            code = s.covers(f)
            if code is not None:
                s.used.add(code)
                hidden.append(Suppressed(finding=f, kind="inSource" if s.kind == "inSource" else "external",
                                         justification=s.reason, source=s.source))
                break
        else:
            kept.append(f)
    kept.extend(unused(s, system) for s in sups if _unused_codes(s) or not s.codes or not s.nodes)
    return kept, hidden


def _unused_codes(s: Suppression) -> list[str]:
    return [c for c in s.codes if c not in s.used]


def unused(s: Suppression, system: System) -> Finding:
    """The SUP-001 finding for a suppression that hides nothing (or not all it names)."""
    r = REGISTRY[RULE_ID]
    what = "an ignore-nodes entry" if s.kind == "external" else "this xenplan: ignore comment"
    node = s.nodes[0] if s.nodes else None
    if not s.nodes:
        if s.kind == "external":
            msg = f"{what} names a node the tree does not have; it suppresses nothing"
        else:
            msg = f"{what} is not on a node's opening line or the line above it; it suppresses nothing"
    elif not s.codes:
        msg = f"{what} names no rule; name the rule IDs or areas it suppresses (e.g. RT-003)"
    else:
        parts = []
        for c in _unused_codes(s):
            parts.append(f"{c} is not a rule ID or area" if not known_code(c)
                         else f"no {c} finding at {', '.join(s.nodes)}")
        msg = f"{what} suppresses nothing for {', '.join(_unused_codes(s))}: {'; '.join(parts)}; remove it"
    return Finding(rule=RULE_ID, slug=r.slug, severity=r.severity(), reached=True, message=msg, path=node,
                   source=s.source, since=r.since)
