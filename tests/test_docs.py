"""The repository documents itself: no file points at notes outside the
repository, every relative Markdown link resolves, and the README lists
every page of ``docs/``.

The forbidden names are assembled from pieces so that this file does not
match its own search.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

OUTSIDE = ("../" + "shared", "DESIGN" + ".md", "STYLE" + ".md")
FOLDERS = re.compile(r"(?<![\w.-])(" + "|".join(("spec", "shared", "research")) + ")/")
"""A path into one of the external notes' folders (not ``inspec/`` or ``x.spec/``)."""

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def tracked() -> list[str]:
    """Files git tracks, or every file when this is not a git checkout."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        files = [f for f in out.decode().split("\0") if f]
    except (OSError, subprocess.CalledProcessError):
        files = []
    if not files:
        files = [p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*")
                 if p.is_file() and not {".git", ".venv"} & set(p.relative_to(ROOT).parts)]
    return sorted(f for f in files if not f.startswith("tests/data/") and (ROOT / f).is_file())


def mentions_outside(rel: str) -> list[str]:
    text = (ROOT / rel).read_bytes().decode("utf-8", errors="replace")
    found = [name for name in OUTSIDE if name in text]
    found += sorted({f"{m.group(1)}/" for m in FOLDERS.finditer(text)})
    return found


def offenders(select: bool) -> dict[str, list[str]]:
    """Files that name notes outside the repository; ``select`` picks code and
    tests (True) or everything else (False). Markdown files count as everything else."""
    out: dict[str, list[str]] = {}
    for rel in tracked():
        code = rel.startswith(("xenplan/", "tests/")) and not rel.endswith(".md")
        if code != select or rel == "tests/test_docs.py":
            continue
        hits = mentions_outside(rel)
        if hits:
            out[rel] = hits
    return out


def test_tracked_files_are_found() -> None:
    files = tracked()
    assert "README.md" in files
    assert "xenplan/cli.py" in files


def test_docs_and_tools_point_inside_the_repository() -> None:
    assert offenders(select=False) == {}


def test_code_and_tests_point_inside_the_repository() -> None:
    assert offenders(select=True) == {}


def markdown_files() -> list[Path]:
    return sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "examples" / "README.md",
                   ROOT / "tools" / "xen-trace" / "README.md"])


def links(path: Path) -> list[str]:
    """Link targets outside fenced code blocks and inline code."""
    out: list[str] = []
    fenced = False
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            out += LINK.findall(re.sub(r"`[^`]*`", "", line))
    return out


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        if not (path.parent / target.split("#", 1)[0]).exists():
            broken.append(target)
    assert broken == []


def test_readme_lists_every_docs_page() -> None:
    listed = set(links(ROOT / "README.md"))
    pages = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert pages, "docs/ has no pages"
    assert sorted(pages - listed) == []


def test_readme_rule_count_is_the_registry() -> None:
    """The README's "N rules are registered" follows the catalogue."""
    from xenplan.checks import REGISTRY

    m = re.search(r"^(\d+) rules are registered", (ROOT / "README.md").read_text(), re.M)
    assert m is not None and int(m.group(1)) == len(REGISTRY)
