"""What a DTS source says before a compiler sees it: cpp use, includes, ``/plugin/``.

Both DTS routes (``dtc`` and the dtlib fallback) need the same few facts
from the raw text, and need them with a place to blame:

* whether the C preprocessor must run first (a ``#include`` or ``#define``
  line; ``dtc``'s own ``/include/`` is not cpp, and ``#address-cells`` is a
  property, not a directive);
* the ``/include/`` chain, checked here because ``dtc`` reports a missing
  file or a cycle without a line ("Couldn't open", "Includes nested too
  deeply") and dtlib can hang on a cycle (docs/device-tree-input.md, dtlib-1);
* where ``/plugin/`` and each ``/memreserve/`` are written, which neither
  compiler tells us.

The scan skips comments, strings and character literals, and follows cpp's
line markers (``# 12 "board.dts"``) so that places in preprocessed text name
the original files.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from xenplan.errors import InputError
from xenplan.files import MAX_TREE_BYTES, read_input

CPP_TIMEOUT = 3.0
"""Seconds cpp may run; real trees preprocess in milliseconds, and a macro
expansion bomb is an input error, not a hang."""
CPP_OUTPUT_LIMIT = 4 * MAX_TREE_BYTES
"""Largest preprocessed text accepted; past it cpp is stopped (an expansion bomb)."""
MAX_INCLUDE_DEPTH = 64
"""Deepest ``/include/`` nesting followed (real trees use two or three levels)."""

_DIRECTIVES = "include|define|undef|ifdef|ifndef|if|elif|else|endif|error|warning|pragma"
_TOKENS = re.compile(
    r"""
      (?P<comment>/\*.*?\*/|//[^\n]*)
    | (?P<string>"(?:[^"\\\n]|\\.)*")
    | (?P<char>'(?:[^'\\\n]|\\.)*')
    | (?P<marker>^[ \t]*\#[ \t]*(?:line[ \t]+)?(?P<mline>\d+)[ \t]+"(?P<mfile>(?:[^"\\\n]|\\.)*)"[^\n]*)
    | (?P<directive>^[ \t]*\#[ \t]*(?:"""
    + _DIRECTIVES
    + r""")(?![A-Za-z0-9_,.+?\#-]))
    | (?P<keyword>/(?:include|plugin|memreserve)/)
    """,
    re.M | re.S | re.X,
)


@dataclass(frozen=True)
class Mark:
    """A place in a source file (1-based line)."""

    file: str
    line: int


@dataclass
class Scan:
    """What one source text says, in document order."""

    cpp: Mark | None = None
    """The first preprocessor directive, if any."""
    plugin: Mark | None = None
    includes: list[tuple[str, Mark]] = field(default_factory=list)
    events: list[tuple[str, str, Mark]] = field(default_factory=list)
    """``("include", name, mark)`` and ``("memreserve", "", mark)`` in order."""


def scan(text: str, file: str) -> Scan:
    """Scan ``text`` (named ``file`` until a line marker says otherwise)."""
    out = Scan()
    cur_file = file
    # Line of position ``at``, counted forward from the last place asked (linear overall).
    at, line = 0, 1
    want_include: Mark | None = None
    for m in _TOKENS.finditer(text):
        kind = m.lastgroup
        if kind == "comment" or kind == "char":
            continue
        if kind == "marker":
            cur_file = _unescape(m.group("mfile"))
            at, line = m.end() + 1, int(m.group("mline"))
            continue
        if kind == "string":
            if want_include is not None:
                name = _unescape(m.group()[1:-1])
                out.includes.append((name, want_include))
                out.events.append(("include", name, want_include))
                want_include = None
            continue
        line += text.count("\n", at, m.start())
        at = m.start()
        mark = Mark(cur_file, line)
        want_include = None
        if kind == "directive":
            out.cpp = out.cpp or mark
        elif m.group() == "/include/":
            want_include = mark
        elif m.group() == "/plugin/":
            out.plugin = out.plugin or mark
        else:
            out.events.append(("memreserve", "", mark))
    return out


def _unescape(s: str) -> str:
    return re.sub(r"\\(.)", r"\1", s)


def read_text(path: str) -> str:
    """The file as text for scanning (Latin-1: every byte is kept, nothing fails).

    Read through ``read_input``: a regular file of bounded size, so an
    ``/include/`` of ``/dev/zero`` is refused rather than read.
    """
    return read_input(path).decode("latin-1")


def follow_includes(
    top: Scan, first_dir: str | None, search: Sequence[str], chain: tuple[str, ...] = (),
    found_files: list[str] | None = None,
) -> list[Mark]:
    """Check the ``/include/`` tree the way ``dtc`` resolves it; return every
    ``/memreserve/`` place in expansion order.

    ``dtc`` (``srcpos.c: srcfile_relative_open()``) looks next to the including
    file first, then in each ``-i`` directory. A file that cannot be found, or
    one that includes itself through any chain, is an ``InputError`` at the
    ``/include/`` line that breaks. Each file included is appended to
    ``found_files`` when given.
    """
    places: list[Mark] = []
    for kind, name, mark in top.events:
        if kind == "memreserve":
            places.append(mark)
            continue
        found = _resolve(name, first_dir, search)
        if found is None:
            raise InputError(mark.file, f'/include/ "{name}": file not found', line=mark.line)
        key = os.path.realpath(found)
        if key in chain or len(chain) >= MAX_INCLUDE_DEPTH:
            cycle = " -> ".join(os.path.basename(c) for c in (*chain, key))
            what = "include cycle" if key in chain else "includes nested too deeply"
            raise InputError(mark.file, f'/include/ "{name}": {what} ({cycle})', line=mark.line)
        if found_files is not None:
            found_files.append(found)
        sub = scan(read_text(found), found)
        places += follow_includes(sub, os.path.dirname(found), search, (*chain, key), found_files)
    return places


def _resolve(name: str, first_dir: str | None, search: Sequence[str]) -> str | None:
    if os.path.isabs(name):
        return name if os.path.isfile(name) else None
    dirs = ([first_dir] if first_dir is not None else []) + list(search)
    for d in dirs:
        candidate = os.path.join(d, name)
        if os.path.isfile(candidate):
            return candidate
    return None


_CPP_ERROR = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:\d+:)? (?:fatal )?error: (?P<msg>.*)$")


def run_tool(cmd: list[str], path: str, tool: str, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` on ``path``'s behalf; a hang or a missing tool is the input's ``InputError``."""
    try:
        return subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise InputError(path, f"{tool} did not finish within {timeout:g} s") from exc
    except OSError as exc:
        raise InputError(path, f"cannot run {tool}: {exc}") from exc


def preprocess(path: str, search: Sequence[str], directive: Mark, out: str) -> list[str]:
    """Run cpp on ``path`` into ``out``, keeping line markers (the kernel's flags).

    Returns the files cpp read (its ``-MD`` dependency list), ``path`` first.
    """
    cpp = shutil.which("cpp")
    if cpp is None:
        raise InputError(
            path,
            "uses the C preprocessor (#include/#define) but cpp is not installed",
            line=directive.line,
        )
    cmd = [cpp, "-nostdinc", "-undef", "-x", "assembler-with-cpp", "-D__DTS__"]
    for d in search:
        cmd += ["-I", d]
    deps = out + ".d"
    cmd += ["-MD", "-MF", deps, "-MT", "out", path, "-o", out]
    done = _run_bounded(cmd, path, out)
    if done.returncode == 0:
        return _dependencies(deps) or [path]
    err = done.stderr.decode("utf-8", "replace")
    for raw in err.splitlines():
        m = _CPP_ERROR.match(raw)
        if m:
            raise InputError(m.group("file"), f"cpp: {m.group('msg')}", line=int(m.group("line")))
    first = next((s for s in err.splitlines() if s.strip()), f"exit status {done.returncode}")
    raise InputError(path, f"cpp failed: {first}")


def _run_bounded(cmd: list[str], path: str, out: str) -> subprocess.CompletedProcess[bytes]:
    """Run cpp writing ``out``, stopped when it passes ``CPP_TIMEOUT`` or ``CPP_OUTPUT_LIMIT``."""
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)
        except OSError as exc:
            raise InputError(path, f"cannot run cpp: {exc}") from exc
        deadline = time.monotonic() + CPP_TIMEOUT
        why = None
        while proc.poll() is None:
            if time.monotonic() > deadline:
                why = f"cpp did not finish within {CPP_TIMEOUT:g} s (a macro that expands without end?)"
            elif _size(out) > CPP_OUTPUT_LIMIT:
                why = (f"cpp output passed {CPP_OUTPUT_LIMIT >> 20} MiB (a macro that expands "
                       "exponentially?)")
            if why is not None:
                # The cpp driver runs cc1 as a child: stop the whole group, or cc1 goes on
                # expanding (and growing) after the driver is gone.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                _wait_group_gone(proc.pid)
                raise InputError(path, why)
            time.sleep(0.01)
        err.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, b"", err.read(1 << 20))


def _wait_group_gone(pgid: int, timeout: float = 2.0) -> None:
    """Wait (bounded) until no running process is left in group ``pgid``.

    ``SIGKILL`` is delivered asynchronously: on a loaded machine ``cc1`` can
    still be running an instant after ``killpg`` returns. Linux's ``/proc``
    shows each process's group and state; a zombie (``Z``) no longer runs."""
    if not os.path.isdir("/proc/self"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = False
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if len(fields) > 3 and int(fields[3]) == pgid and fields[0] not in (b"Z", b"X"):
                alive = True
                break
        if not alive:
            return
        time.sleep(0.01)


def _size(path: str) -> int:
    """Size of a file another process may be creating or removing (0 when absent)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _dependencies(depfile: str) -> list[str]:
    """The prerequisites of a make rule cpp wrote (``out: a.dts b.h \\``), unescaped."""
    try:
        with open(depfile, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    body = text.partition(":")[2].replace("\\\n", " ")
    return [t.replace("\\ ", " ") for t in re.findall(r"(?:\\ |[^\s])+", body)]


_CURLY = ("\u201c", "\u201d", "\u2018", "\u2019")
_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_ENDS_STATEMENT = re.compile(r"(?:[;{,]|\*/|^\s*#.*|^\s*/dts-v1/;?|^\s*)\s*$")


def syntax_hint(file: str, line: int, column: int) -> str | None:
    """A likely cause of a ``dtc`` syntax error at ``file:line.column``, when the text shows a common one.

    Text pasted from documents brings curly quotes and ellipses, and a
    forgotten ``;`` shows up as an error at the start of the next statement.
    """
    try:
        with open(file, "rb") as fh:
            lines = fh.read(8 << 20).decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    if any(q in text for q in _CURLY):
        return "curly quotes (\u201c \u201d \u2018 \u2019) where DTS needs straight ones (\")"
    if _ELLIPSIS.search(text):
        return "an ellipsis ('...' or '\u2026') left from documentation; DTS needs the values written out"
    if text[: max(column - 1, 0)].strip() == "":
        for before in range(line - 2, -1, -1):
            prev = re.sub(r"//.*$", "", lines[before]).rstrip()
            if not prev.strip():
                continue
            if not _ENDS_STATEMENT.search(prev):
                return f"is a ';' missing at the end of line {before + 1}?"
            break
    return None
