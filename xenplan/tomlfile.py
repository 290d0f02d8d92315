"""TOML inputs (configuration, planner specs, simulation scenarios) with line-numbered errors.

``tomllib`` reports the line of a *syntax* error but knows nothing of a key
once the text is parsed, so a semantic error (an unknown key, a wrong type, a
size that is not a size) would otherwise name no line. ``key_lines()`` walks
the text once more, on tokens, and records the line where every key, table
header, array-of-tables entry and array element is written; ``TomlDocument``
turns any error about a key path into one ``InputError`` line naming the file,
the line and the key, and ``TomlDocument.validate()`` does the same for the
errors of a pydantic model (unknown keys are refused by ``extra="forbid"``).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from xenplan.errors import InputError
from xenplan.files import read_input

if TYPE_CHECKING:
    from pydantic import BaseModel

    M = TypeVar("M", bound=BaseModel)

MAX_TOML_BYTES = 4 << 20
"""Largest TOML input read: a configuration or a spec of thousands of domains is far below it."""

KeyPath = tuple[str | int, ...]
"""Where a value sits: table keys and array indices, e.g. ``("domain", 2, "memory")``."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    """``str`` (any string), ``bare`` (a bare key, number, boolean or date), ``nl`` or a punctuation mark."""
    text: str
    line: int
    col: int


_BARE = re.compile(r"[A-Za-z0-9_+\-:.]+")
_STRING_ENDS = (('"""', '"""'), ("'''", "'''"), ('"', '"'), ("'", "'"))


def _tokens(text: str) -> Iterator[_Token]:
    """The tokens of a TOML text that parsed, with their lines (1-based); comments dropped."""
    i, line, line_start, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        col = i - line_start
        if c == "\n":
            yield _Token("nl", c, line, col)
            line += 1
            line_start = i + 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            opener = next(o for o, _ in _STRING_ENDS if text.startswith(o, i))
            j = i + len(opener)
            while j < n and not text.startswith(opener, j):
                if text[j] == "\\" and opener[0] == '"':
                    j += 1
                j += 1
            body = text[i + len(opener):j]
            if len(opener) == 3:
                while text.startswith(opener[0], j + 3):
                    j += 1
            yield _Token("str", _unquote(body, opener), line, col)
            newlines = text.count("\n", i, j)
            if newlines:
                line += newlines
                line_start = text.rfind("\n", i, j) + 1
            i = j + len(opener)
        elif c in "[]{},=":
            yield _Token(c, c, line, col)
            i += 1
        else:
            m = _BARE.match(text, i)
            if m is None:
                i += 1
                continue
            yield _Token("bare", m.group(), line, col)
            i = m.end()


def _unquote(body: str, opener: str) -> str:
    """A key's text as tomllib gives it (the escapes of basic strings resolved)."""
    if opener.startswith("'") or "\\" not in body:
        return body
    try:
        parsed = tomllib.loads(f"k = {opener}{body}{opener}")["k"]
    except tomllib.TOMLDecodeError:
        return body
    return parsed if isinstance(parsed, str) else body


@dataclass(slots=True)
class _Walker:
    """Records ``KeyPath -> line`` over the tokens of a document tomllib accepted."""

    toks: list[_Token]
    lines: dict[KeyPath, int] = field(default_factory=dict)
    aot: dict[KeyPath, int] = field(default_factory=dict)
    """Array-of-tables paths (without indices) and the index of their last entry."""
    pos: int = 0

    def peek(self) -> _Token | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> _Token:
        tok = self.toks[self.pos]
        self.pos += 1
        return tok

    def note(self, path: KeyPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def key(self, stop: str) -> list[str]:
        """The parts of a (dotted) key, up to the token ``stop``."""
        parts: list[str] = []
        while (tok := self.peek()) is not None and tok.kind != stop:
            self.take()
            if tok.kind == "str":
                parts.append(tok.text)
            else:
                parts.extend(p for p in tok.text.split(".") if p)
        return parts

    def resolve(self, parts: Sequence[str]) -> KeyPath:
        """A header's keys with the current index of every array of tables it goes through."""
        out: list[str | int] = []
        plain: list[str] = []
        for p in parts:
            out.append(p)
            plain.append(p)
            idx = self.aot.get(tuple(plain))
            if idx is not None:
                out.append(idx)
        return tuple(out)

    def walk(self) -> dict[KeyPath, int]:
        table: KeyPath = ()
        while (tok := self.peek()) is not None:
            if tok.kind == "nl":
                self.take()
            elif tok.kind == "[":
                self.take()
                nxt = self.peek()
                double = nxt is not None and nxt.kind == "[" and nxt.line == tok.line and nxt.col == tok.col + 1
                if double:
                    self.take()
                parts = self.key("]")
                self.take()
                if double:
                    self.take()
                    plain = tuple(parts)
                    self.aot[plain] = self.aot.get(plain, -1) + 1
                    for k in [k for k in self.aot if len(k) > len(plain) and k[:len(plain)] == plain]:
                        del self.aot[k]
                table = self.resolve(parts)
                for i in range(1, len(table) + 1):
                    self.note(table[:i], tok.line)
            else:
                self.pair(table)
        return self.lines

    def pair(self, base: KeyPath) -> None:
        """``key = value``: the key's line for it and each of its dotted prefixes, then the value's."""
        first = self.peek()
        parts = self.key("=")
        self.take()
        path = base + tuple(parts)
        line = first.line if first is not None else 0
        for i in range(len(base) + 1, len(path) + 1):
            self.note(path[:i], line)
        self.value(path)

    def value(self, path: KeyPath) -> None:
        tok = self.take()
        if tok.kind == "[":
            index = 0
            while (nxt := self.peek()) is not None and nxt.kind != "]":
                if nxt.kind in ("nl", ","):
                    self.take()
                    continue
                self.note((*path, index), nxt.line)
                self.value((*path, index))
                index += 1
            self.take()
        elif tok.kind == "{":
            while (nxt := self.peek()) is not None and nxt.kind != "}":
                if nxt.kind == ",":
                    self.take()
                    continue
                self.pair(path)
            self.take()
        elif tok.kind == "bare":
            nxt = self.peek()
            if nxt is not None and nxt.kind == "bare" and nxt.line == tok.line and re.fullmatch(r"\d{4}-\d\d-\d\d",
                                                                                               tok.text):
                self.take()


def key_lines(text: str) -> dict[KeyPath, int]:
    """The line where each key path of ``text`` (a document ``tomllib`` accepts) is written.

    Keys of tables and inline tables give their name; arrays give each element's
    index; ``[[x]]`` entries give their index under ``x``."""
    return _Walker(list(_tokens(text))).walk()


def dotted(path: KeyPath) -> str:
    """``("domain", 2, "memory")`` as a reader writes it: ``domain[2].memory``."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            name = p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"'
            out += f".{name}" if out else name
    return out


@dataclass(slots=True)
class TomlDocument:
    """A parsed TOML file with the lines of its keys, for errors that name them."""

    file: str
    text: str
    data: dict[str, Any]
    _lines: dict[KeyPath, int] | None = None

    def line(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest written ancestor; None for the document itself."""
        if self._lines is None:
            self._lines = key_lines(self.text)
        for end in range(len(path), 0, -1):
            found = self._lines.get(path[:end])
            if found is not None:
                return found
        return None

    def error(self, path: KeyPath, message: str) -> InputError:
        """One line: file, line of ``path``, the key, what is wrong."""
        where = dotted(path)
        return InputError(self.file, f"{where}: {message}" if where else message, line=self.line(path))

    def fail(self, path: KeyPath, message: str) -> NoReturn:
        raise self.error(path, message)

    def check_keys(self, table: Mapping[str, Any], path: KeyPath, allowed: Sequence[str]) -> None:
        """Refuse a key of ``table`` (at ``path``) that is not ``allowed``, naming the keys that are."""
        for key in table:
            if key not in allowed:
                self.fail((*path, key), f"unknown key; expected one of {', '.join(allowed)}")

    def validate(self, model: type[M], path: KeyPath = ()) -> M:
        """The table at ``path`` as ``model``; one validation error becomes one line with its key's line.

        The model should forbid extra keys (``extra="forbid"``) so a typo is an
        error, not a silently ignored setting; an unknown key is reported before
        the missing key it was probably meant to be."""
        from pydantic import ValidationError

        table: Any = self.data
        for p in path:
            table = table[p]
        try:
            return model.model_validate(table)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
            loc = (*path, *err["loc"])
            if err["type"] == "extra_forbidden":
                allowed = _fields_at(model, tuple(err["loc"][:-1]))
                hint = f"; expected one of {', '.join(allowed)}" if allowed else ""
                raise self.error(loc, f"unknown key{hint}") from None
            if err["type"] == "missing":
                raise self.error(loc[:-1], f"missing key {loc[-1]!r}") from None
            msg = str(err["msg"])
            msg = msg.removeprefix("Value error, ")
            raise self.error(loc, msg) from None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys a (nested) model accepts at ``loc``, by their aliases, for the "expected one of" hint."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        info = getattr(current, "model_fields", {}).get(_field_name(current, str(part)))
        if info is None:
            return []
        current = _model_in(info.annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [info.alias or name for name, info in fields.items()]


def _field_name(model: Any, key: str) -> str:
    for name, info in getattr(model, "model_fields", {}).items():
        if (info.alias or name) == key:
            return str(name)
    return key


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside ``X``, ``list[X]``, ``X | None`` or ``dict[str, X]``."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def size_value(value: object) -> int:
    """A size or address as TOML gives it: an integer, or a string such as ``"0x40000000"``, ``"256M"``, ``"1G"``.

    Raises ``ValueError`` (so a pydantic ``BeforeValidator`` reports it at the key's line)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 256M or 0x10000000, not {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{value} is negative")
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*([kKmMgGtT])?(?:i?[bB])?\s*", value)
        if m:
            shift = {"k": 10, "m": 20, "g": 30, "t": 40}.get((m.group(2) or "").lower(), 0)
            return int(m.group(1), 0) << shift
    raise ValueError(f"not a size: {value!r} (expected e.g. 0x40000000, 1024, 2M or 1G)")


def load_toml(path: str, limit: int = MAX_TOML_BYTES) -> TomlDocument:
    """Read and parse a TOML file; a syntax error is one ``InputError`` line with tomllib's line."""
    raw = read_input(path, limit)
    name = "<stdin>" if path == "-" else path
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(name, "not UTF-8 text (TOML is UTF-8)", line=line) from None
    return parse_toml(text, name)


def parse_toml(text: str, name: str) -> TomlDocument:
    """``load_toml`` for text already in hand."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)$", msg)
        line = int(m.group(1)) if m else None
        if m:
            msg = msg[:m.start()].rstrip()
        elif "(at end of document)" in msg:
            msg = msg.replace("(at end of document)", "").rstrip()
            line = text.count("\n") + 1
        raise InputError(name, f"TOML syntax: {msg}", line=line) from None
    return TomlDocument(name, text, data)
