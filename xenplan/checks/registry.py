"""The rule registry: one entry per rule ID, registered where it is defined.

A rule is metadata plus docs, and optionally a check function that reads the
model and the boot result (hazards Xen never checks). Rules that a boot
stage meets have no function: the stage reports them by ID, so the check
lives in one place. Severity follows one mapping: what the
release does (PANIC, DROP, HAZARD…) maps to error / warning / info.

Each area module registers its rules when it is imported. A ``check``
narrowed by ``--select``/``--ignore`` needs only a few areas, and importing
the others is most of what such a run would spend on rules, so the area
modules load on demand: ``xenplan.checks.index`` says which module defines
each rule ID (a test keeps it equal to the real registration), ``load()``
imports the modules of some rules, and every read of ``REGISTRY`` as a whole
(iteration, membership, a missing key), ``rules()`` and a ``lookup()`` of an
unknown key import all of them first, so a reader of the catalogue still
sees every rule.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import field
from typing import Literal

from xenplan.boot.result import Behaviour, BootResult
from xenplan.model.system import System
from xenplan.records import record

Severity = Literal["error", "warning", "info"]
DOC_HEADINGS = ("What Xen does", "Why it matters", "Example", "Fix")

#: One mapping from Xen's behaviour to a finding's severity.
SEVERITY: dict[str, Severity] = {
    "PANIC": "error", "CRASH": "error", "HANG": "error", "UB": "error",
    "PANIC-DBG": "warning", "DROP": "warning", "WARN": "warning", "TRUNC": "warning",
    "HAZARD": "warning", "INFO": "info",
}

CheckFn = Callable[[System, BootResult], Iterable["Hit"]]


@record(frozen=True)
class Hit:
    """What a rule's check yields; the runner turns it into a finding."""

    message: str
    path: str | None = None
    property: str | None = None
    ranges: tuple[tuple[int, int], ...] = ()
    related: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = ()
    behaviour: Behaviour | None = None
    isolation: bool | None = None
    """None: the rule's own ``isolation``; True/False overrides it for this hit."""


@record(frozen=True)
class Rule:
    id: str
    slug: str
    behaviour: Behaviour
    since: str
    xen_src: str
    xen_message: str | None
    doc: str = field(repr=False)
    """The rule function's docstring as written; ``docs`` is it cleaned."""
    until: str | None = None
    isolation: bool = False
    kconfig: tuple[str, ...] = ()
    arch: tuple[str, ...] = ()
    check: CheckFn | None = field(default=None, compare=False)

    @property
    def docs(self) -> str:
        """The documentation, indentation removed: cleaned when read (``rule``, ``--explain``, SARIF),
        not when each of the 147 rules is registered at start-up, where it cost a ``check`` more than
        all of its rules' checks."""
        return inspect.cleandoc(self.doc)

    @property
    def area(self) -> str:
        return self.id.split("-", 1)[0]

    def severity(self, behaviour: Behaviour | None = None, *, debug: bool = False,
                 isolation: bool | None = None) -> Severity:
        b = behaviour or self.behaviour
        if b == "PANIC-DBG" and debug:
            return "error"
        if b == "HAZARD" and (self.isolation if isolation is None else isolation):
            return "error"
        return SEVERITY[b]

    def doc_sections(self) -> dict[str, str]:
        """The docstring split by its four headings."""
        out: dict[str, str] = {}
        parts = re.split(r"^(" + "|".join(DOC_HEADINGS) + r")(?: \([^)\n]*\))?:[ \t]*", self.docs, flags=re.M)
        for i in range(1, len(parts) - 1, 2):
            out[parts[i]] = parts[i + 1].strip()
        return out


class Registry(Mapping[str, Rule]):
    """Rule ID -> rule; any read of the whole catalogue imports every area module first."""

    def __init__(self) -> None:
        self.loaded: dict[str, Rule] = {}
        """The rules of the area modules imported so far (``load`` and ``load_all`` fill it)."""
        self.module_of: dict[str, str] = {}
        """The module that registered each rule: what ``xenplan.checks.index`` must say."""
        self._complete = False

    def __getitem__(self, key: str) -> Rule:
        r = self.loaded.get(key)
        if r is None:
            self.load_all()
            r = self.loaded[key]
        return r

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(self.loaded)

    def __len__(self) -> int:
        self.load_all()
        return len(self.loaded)

    def __contains__(self, key: object) -> bool:
        if key in self.loaded:
            return True
        self.load_all()
        return key in self.loaded

    def load(self, ids: Iterable[str]) -> None:
        """Import the area modules that define these rule IDs (IDs the index does not know: none)."""
        from xenplan.checks.index import MODULE

        for name in sorted({MODULE[i] for i in ids if i in MODULE and i not in self.loaded}):
            importlib.import_module(name)

    def load_all(self) -> None:
        """Import every area module, each registering its rules (``xenplan.checks.index`` names them)."""
        if not self._complete:
            from xenplan.checks.index import MODULE

            for name in sorted(set(MODULE.values())):
                importlib.import_module(name)
            self._complete = True


REGISTRY = Registry()


def rule(*, id: str, slug: str, behaviour: Behaviour, since: str, xen_src: str,
         xen_message: str | None = None, until: str | None = None, isolation: bool = False,
         kconfig: tuple[str, ...] = (), arch: tuple[str, ...] = ()) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """Register a rule; the decorated function's docstring is its documentation.

    A function that takes ``(system, result)`` is the rule's check; one that
    takes nothing is metadata only (a boot stage reports the rule).
    """

    def deco(fn: Callable[..., object]) -> Callable[..., object]:
        if id in REGISTRY.loaded:
            raise ValueError(f"rule {id} registered twice")
        takes_args = fn.__code__.co_argcount == 2
        REGISTRY.module_of[id] = fn.__module__
        REGISTRY.loaded[id] = Rule(id=id, slug=slug, behaviour=behaviour, since=since, xen_src=xen_src,
                            xen_message=xen_message, doc=fn.__doc__ or "", until=until,
                            isolation=isolation, kconfig=kconfig, arch=arch,
                            check=fn if takes_args else None)  # type: ignore[arg-type]
        return fn

    return deco


def rules() -> Iterator[Rule]:
    """Every rule, by area then ID."""
    yield from sorted(REGISTRY.values(), key=lambda r: (r.area, r.id))


def lookup(key: str) -> Rule | None:
    """The rule with this ID (any case) or slug; importing only its area module when the index knows it."""
    from xenplan.checks.index import MODULE, SLUG

    key_u = key.upper()
    if key_u not in MODULE:
        key_u = next((i for i, s in SLUG.items() if s == key), key_u)
    REGISTRY.load((key_u,))
    if key_u in REGISTRY.loaded:
        return REGISTRY.loaded[key_u]
    if key_u in REGISTRY:
        return REGISTRY[key_u]
    for r in REGISTRY.values():
        if r.slug == key:
            return r
    return None
