"""The shared TOML reader: every semantic error names its key's line."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from xenplan.errors import InputError
from xenplan.tomlfile import dotted, key_lines, load_toml, parse_toml, size_value

SPEC = '''\
# a comment with [brackets] and = signs
[xen]
version = "4.22"
bootargs = """
console=dtuart
dom0_mem=1G"""

[[domain]]
name = "rtos"   # trailing comment
memory = "512M"
banks = [
  "0x50000000:0x10000000",
  "0x60000000:0x10000000",
]

[[domain]]
name = 'linux'
memory = 1073741824
extra.sub = { a = 1, "quoted key" = [1, 2] }

[domain.cfg]
x = 1979-05-27 07:32:00

[[shared-memory]]
id = "ring"
'''


def test_every_key_has_its_line() -> None:
    lines = key_lines(SPEC)
    assert lines[("xen",)] == 2
    assert lines[("xen", "version")] == 3
    assert lines[("xen", "bootargs")] == 4
    assert lines[("domain", 0)] == 8
    assert lines[("domain", 0, "name")] == 9
    assert lines[("domain", 0, "memory")] == 10
    assert lines[("domain", 0, "banks", 1)] == 13
    assert lines[("domain", 1, "name")] == 17
    assert lines[("domain", 1, "extra", "sub", "quoted key")] == 19
    assert lines[("domain", 1, "extra", "sub", "quoted key", 1)] == 19
    assert lines[("domain", 1, "cfg", "x")] == 22
    assert lines[("shared-memory", 0, "id")] == 25


def test_the_walk_agrees_with_tomllib_on_keys() -> None:
    data = tomllib.loads(SPEC)
    lines = key_lines(SPEC)

    def paths(value: object, path: tuple[str | int, ...]) -> list[tuple[str | int, ...]]:
        out = [path] if path else []
        if isinstance(value, dict):
            for k, v in value.items():
                out += paths(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                out += paths(v, (*path, i))
        return out

    assert set(paths(data, ())) <= set(lines)


class Dom(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    memory: Annotated[int, BeforeValidator(size_value)]
    banks: list[str] = Field(default_factory=list)


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    domain: list[Dom]


def test_unknown_key_names_key_and_line_and_choices() -> None:
    doc = parse_toml('[[domain]]\nname = "a"\nmemory = "1M"\n\n[[domain]]\nname = "b"\nmemroy = "1M"\n', "s.toml")
    with pytest.raises(InputError) as exc:
        doc.validate(Spec)
    assert str(exc.value) == "s.toml: line 7: domain[1].memroy: unknown key; expected one of name, memory, banks"


def test_bad_size_and_missing_key() -> None:
    doc = parse_toml('[[domain]]\nname = "a"\nmemory = "12Q"\n', "s.toml")
    with pytest.raises(InputError, match=r"^s.toml: line 3: domain\[0\].memory: not a size: '12Q'"):
        doc.validate(Spec)
    doc = parse_toml('[[domain]]\nname = "a"\n', "s.toml")
    with pytest.raises(InputError, match=r"^s.toml: line 1: domain\[0\]: missing key 'memory'"):
        doc.validate(Spec)


def test_wrong_type_names_line() -> None:
    doc = parse_toml('[[domain]]\nname = 3\nmemory = 1\n', "s.toml")
    with pytest.raises(InputError, match=r"^s.toml: line 2: domain\[0\].name: Input should be a valid string"):
        doc.validate(Spec)


def test_syntax_error_keeps_tomllib_line(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('a = 1\n\nb = "unterminated\n')
    with pytest.raises(InputError, match=r"bad.toml: line 3: TOML syntax: "):
        load_toml(str(p))
    p.write_bytes(b'a = "\xff"\n')
    with pytest.raises(InputError, match=r"line 1: not UTF-8"):
        load_toml(str(p))


def test_sizes() -> None:
    assert size_value("256M") == 256 << 20
    assert size_value("0x1000") == 0x1000
    assert size_value(4096) == 4096
    for bad in (True, -1, "1.5G", "", [1]):
        with pytest.raises(ValueError):
            size_value(bad)


def test_dotted() -> None:
    assert dotted(("domain", 2, "memory")) == "domain[2].memory"
    assert dotted(("ignore-nodes", "/chosen/domU1")) == 'ignore-nodes."/chosen/domU1"'


_keys = st.from_regex(r"[a-z][a-z0-9_-]{0,6}", fullmatch=True)
_scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.text("ab \"'\\#[]=\n", max_size=6))


def _emit(data: dict[str, object]) -> str:
    import json

    def val(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[\n  " + ",\n  ".join(val(x) for x in v) + "\n]"
        return str(v)

    out = []
    for table, rows in data.items():
        assert isinstance(rows, list)
        for row in rows:
            out.append(f"[[{table}]]")
            out += [f"{k} = {val(v)}" for k, v in row.items()]
    return "\n".join(out) + "\n"


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, st.lists(st.dictionaries(_keys, st.one_of(_scalars, st.lists(_scalars, max_size=3)),
                                                         max_size=4), min_size=1, max_size=3), max_size=3))
def test_every_line_found_holds_its_key(data: dict[str, object]) -> None:
    text = _emit(data)
    assert tomllib.loads(text) == data
    lines = text.splitlines()
    for path, line in key_lines(text).items():
        last = path[-1]
        if isinstance(last, str) and len(path) == 3:
            assert lines[line - 1].startswith(f"{last} = ")
        elif isinstance(last, int) and len(path) == 2:
            assert lines[line - 1] == f"[[{path[0]}]]"
