"""An ImageBuilder config, read as data and never run.

ImageBuilder's ``uboot-script-gen`` ``source``s its config with bash, so a
config can do anything bash can. The configs people write use a small part
of it: ``NAME=value`` and ``NAME[i]=value`` assignments, single and double
quotes, backslash escapes, comments, ``$NAME``/``${NAME}``/``${NAME[i]}``
references to earlier assignments and the odd ``NAME=(a b c)`` array. That
subset is all this reader accepts. Everything else (a command, ``$(…)``,
backticks, ``$((…))``, a function, a pipe, a redirection, ``if``/``for``) is
an ``InputError`` naming the file and line: it is refused, never executed,
so reading a config cannot have a side effect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xenplan.errors import InputError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = set(";&|<>()")
_REFUSED_WORDS = {"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                  "function", "select", "{", "}", "[[", "]]", "!"}


@dataclass(frozen=True)
class Assignment:
    """One assignment as written: the name, the index (None for a scalar), the expanded value, the line."""

    name: str
    index: int | None
    value: str
    line: int

    @property
    def key(self) -> str:
        """The variable as ``--assume-size`` and the findings name it: ``XEN`` or ``DOMU_KERNEL[0]``."""
        return self.name if self.index is None else f"{self.name}[{self.index}]"


@dataclass
class Config:
    """The variables a config sets, bash's way: a scalar is element 0 of an array of the same name."""

    file: str
    values: dict[str, dict[int, Assignment]] = field(default_factory=dict)
    history: list[Assignment] = field(default_factory=list)
    """Every assignment in file order (a later one overrides an earlier one in ``values``)."""
    unset_refs: list[tuple[str, int]] = field(default_factory=list)
    """References to names no earlier line assigns (bash expands them to the empty string)."""

    def get(self, name: str, index: int = 0) -> str | None:
        a = self.values.get(name, {}).get(index)
        return a.value if a is not None else None

    def entry(self, name: str, index: int = 0) -> Assignment | None:
        return self.values.get(name, {}).get(index)

    def line(self, name: str, index: int = 0) -> int | None:
        a = self.entry(name, index)
        return a.line if a is not None else None

    def indices(self, name: str) -> list[int]:
        return sorted(self.values.get(name, {}))

    def names(self) -> list[str]:
        return list(self.values)

    def assign(self, name: str, index: int | None, value: str, line: int) -> None:
        a = Assignment(name, index, value, line)
        self.values.setdefault(name, {})[0 if index is None else index] = a
        self.history.append(a)


class _Reader:
    """A cursor over the text with the line it is on."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        self.pos = 0
        self.line = 1

    def peek(self, n: int = 0) -> str:
        i = self.pos + n
        return self.text[i] if i < len(self.text) else ""

    def take(self) -> str:
        c = self.text[self.pos]
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def fail(self, message: str, line: int | None = None) -> InputError:
        return InputError(self.file, f"{message} (an ImageBuilder config is read, never run: only NAME=value, "
                          "NAME[i]=value, quotes, comments and $NAME references are accepted)",
                          line=line or self.line)


def read_config(text: str, file: str) -> Config:
    """Parse ``text`` (the config at ``file``) into a ``Config``; ``InputError`` for anything not an assignment."""
    cfg = Config(file=file)
    r = _Reader(text, file)
    while r.pos < len(r.text):
        c = r.peek()
        if c in " \t\r\n;":
            r.take()
            continue
        if c == "#":
            while r.pos < len(r.text) and r.peek() != "\n":
                r.take()
            continue
        _statement(r, cfg)
    return cfg


def _statement(r: _Reader, cfg: Config) -> None:
    start = r.line
    m = _NAME.match(r.text, r.pos)
    word = re.match(r"[^\s;&|<>()]*", r.text[r.pos:])
    head = word.group(0) if word else ""
    if head == "export" and r.text[r.pos + 6 : r.pos + 7] in (" ", "\t"):
        r.pos += 6
        while r.peek() in (" ", "\t"):
            r.take()
        m = _NAME.match(r.text, r.pos)
    if m is None:
        raise r.fail(f"not an assignment: {_snippet(r)!r}")
    name = m.group(0)
    after = m.end()
    index: int | None = None
    if r.text[after : after + 1] == "[":
        close = r.text.find("]", after)
        raw = r.text[after + 1 : close] if close > 0 else ""
        if close < 0 or not re.fullmatch(r"\s*\d+\s*", raw):
            raise r.fail(f"{name}[{raw}…]: an array index must be a plain number")
        index = int(raw)
        after = close + 1
    append = r.text[after : after + 2] == "+="
    if not append and r.text[after : after + 1] != "=":
        if name in _REFUSED_WORDS or head in _REFUSED_WORDS or r.text[after : after + 2] in ("()", " ("):
            raise r.fail(f"{head!r}: control flow and functions are refused")
        raise r.fail(f"not an assignment: {_snippet(r)!r} (a command)")
    r.pos = after + (2 if append else 1)
    if r.peek() == "(" and index is None:
        r.take()
        values = _array(r, cfg)
        if not append:
            cfg.values.pop(name, None)
        base = len(cfg.values.get(name, {})) if append else 0
        for i, v in enumerate(values):
            cfg.assign(name, base + i, v, start)
    else:
        value = _word(r, cfg)
        if append:
            value = (cfg.get(name, index or 0) or "") + value
        cfg.assign(name, index, value, start)
    _end_of_statement(r)


def _end_of_statement(r: _Reader) -> None:
    while r.peek() in (" ", "\t", "\r"):
        r.take()
    c = r.peek()
    if c in ("", "\n", "#"):
        return
    if c == ";" and r.peek(1) != ";":
        r.take()
        return
    if c in _OPERATORS:
        raise r.fail(f"{c!r} after an assignment: pipes, lists and redirections are refused")
    raise r.fail(f"a command after an assignment: {_snippet(r)!r}")


def _array(r: _Reader, cfg: Config) -> list[str]:
    out: list[str] = []
    while True:
        while r.peek() in (" ", "\t", "\n", "\r"):
            r.take()
        c = r.peek()
        if c == "":
            raise r.fail("unterminated array: no ')'")
        if c == ")":
            r.take()
            return out
        if c == "#":
            while r.peek() not in ("", "\n"):
                r.take()
            continue
        if c == "[":
            raise r.fail("an array with [index]=value items is refused; write NAME[i]=value lines")
        out.append(_word(r, cfg, in_array=True))


def _word(r: _Reader, cfg: Config, in_array: bool = False) -> str:
    """One shell word up to unquoted whitespace, with quotes removed and references expanded."""
    out: list[str] = []
    while True:
        c = r.peek()
        if c == "" or c in " \t\r\n" or (in_array and c == ")"):
            return "".join(out)
        if c == "'":
            r.take()
            start = r.line
            end = r.text.find("'", r.pos)
            if end < 0:
                raise r.fail("unterminated single quote", start)
            while r.pos < end:
                out.append(r.take())
            r.take()
        elif c == '"':
            out.append(_double(r, cfg))
        elif c == "\\":
            r.take()
            nxt = r.take() if r.peek() else ""
            if nxt != "\n":
                out.append(nxt)
        elif c == "$":
            out.append(_dollar(r, cfg))
        elif c == "`":
            raise r.fail("a command substitution (`…`) is refused and not run")
        elif c in _OPERATORS:
            if c == ";" or in_array:
                return "".join(out)
            raise r.fail(f"{c!r} in a value: pipes, subshells and redirections are refused")
        else:
            out.append(r.take())


def _double(r: _Reader, cfg: Config) -> str:
    start = r.line
    r.take()
    out: list[str] = []
    while True:
        c = r.peek()
        if c == "":
            raise r.fail("unterminated double quote", start)
        if c == '"':
            r.take()
            return "".join(out)
        if c == "\\":
            r.take()
            nxt = r.peek()
            if nxt in ('"', "\\", "$", "`"):
                out.append(r.take())
            elif nxt == "\n":
                r.take()
            else:
                out.append("\\")
        elif c == "$":
            out.append(_dollar(r, cfg))
        elif c == "`":
            raise r.fail("a command substitution (`…`) is refused and not run")
        else:
            out.append(r.take())


def _dollar(r: _Reader, cfg: Config) -> str:
    line = r.line
    r.take()
    c = r.peek()
    if c == "(":
        if r.peek(1) == "(":
            raise r.fail("arithmetic ($((…))) is refused and not evaluated")
        raise r.fail("a command substitution ($(…)) is refused and not run")
    if c == "{":
        close = r.text.find("}", r.pos)
        inner = r.text[r.pos + 1 : close] if close > 0 else ""
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?", inner)
        if close < 0 or m is None:
            raise r.fail(f"${{{inner}}}: only ${{NAME}} and ${{NAME[i]}} references are accepted")
        while r.pos <= close:
            r.take()
        return _lookup(cfg, m.group(1), int(m.group(2) or 0), line)
    m = _NAME.match(r.text, r.pos)
    if m is None:
        if c and c in "0123456789#?@*!$-":
            raise r.fail(f"${c}: positional and special parameters are refused")
        return "$"
    while r.pos < m.end():
        r.take()
    return _lookup(cfg, m.group(0), 0, line)


def _lookup(cfg: Config, name: str, index: int, line: int) -> str:
    v = cfg.get(name, index)
    if v is None:
        cfg.unset_refs.append((name if not index else f"{name}[{index}]", line))
        return ""
    return v


def _snippet(r: _Reader) -> str:
    end = r.text.find("\n", r.pos)
    s = r.text[r.pos : end if end >= 0 else len(r.text)].strip()
    return s if len(s) <= 60 else s[:57] + "..."


def shell_int(text: str, file: str, line: int | None, what: str) -> int:
    """A number as bash arithmetic reads it (``0x`` hex, a leading ``0`` octal, else decimal)."""
    s = text.strip()
    neg = s.startswith("-")
    body = s[1:] if neg else s
    try:
        if body.lower().startswith("0x"):
            v = int(body[2:], 16)
        elif len(body) > 1 and body.startswith("0"):
            v = int(body[1:], 8)
        else:
            v = int(body, 10)
    except ValueError:
        raise InputError(file, f"{what}={text!r}: not a number bash arithmetic reads (ImageBuilder's "
                         "uboot-script-gen fails on it)", line=line) from None
    return -v if neg else v
