"""Any bytes end in a ``Tree`` or an ``InputError``, never another exception.

1000 seeded mutations of a real DTB (an oracle case with a ``/memreserve/``
entry) of the kinds the research fuzzing found to break other readers, plus
hypothesis on arbitrary bytes. Whenever the reader accepts a mutant, fdt must
read the same tree from it, and the writer must reproduce it.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.dt.dtb import read_dtb
from xenplan.dt.fdtlib import fdt_cross_check, tree_to_dtb
from xenplan.dt.tree import Tree
from xenplan.errors import InputError

BASE = Path(__file__).parent.parent / "data" / "oracle" / "overlap_memreserve_heap_132" / "merged.dts"
SEEDS = range(1000)
NOP = struct.pack(">I", 4)
(MAGIC, TOTALSIZE, OFF_STRUCT, OFF_STRINGS, OFF_RSV, VERSION, LAST_COMP, BOOT_CPUID, SIZE_STRINGS,
 SIZE_STRUCT) = range(10)


def field(data: bytes, index: int) -> int:
    return int(struct.unpack_from(">I", data, 4 * index)[0])


def with_field(data: bytes, index: int, value: int) -> bytes:
    return data[: 4 * index] + struct.pack(">I", value & 0xFFFFFFFF) + data[4 * index + 4 :]


def read(data: bytes) -> Tree | InputError:
    """The reader's verdict; any exception other than InputError fails the test."""
    try:
        return read_dtb(data, "fuzz.dtb")
    except InputError as err:
        assert err.file == "fuzz.dtb" and err.message and err.offset is not None
        return err


def shape(tree: Tree) -> tuple[object, ...]:
    return (
        [(r.address, r.size) for r in tree.memreserve],
        [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in tree.walk()],
    )


@pytest.fixture(scope="module")
def base(dtc_compile: Callable[[Path | str], bytes]) -> tuple[bytes, list[int]]:
    """The base blob and the offsets of its node and property tags."""
    data = dtc_compile(BASE)
    tree = read_dtb(data, "base.dtb")
    assert tree.memreserve
    tags = [n.source.offset for n in tree.walk() if n.source and n.source.offset is not None]
    tags += [p.source.offset for n in tree.walk() for p in n.properties.values()
             if p.source and p.source.offset is not None]
    return data, sorted(tags)


def insert_nops(data: bytes, tags: list[int], rng: random.Random) -> bytes:
    """NOP words at tag boundaries, the header updated to match: still a valid blob."""
    for at in sorted(rng.sample(tags, rng.randint(1, 4)), reverse=True):
        data = data[:at] + NOP + data[at:]
        data = with_field(data, TOTALSIZE, field(data, TOTALSIZE) + 4)
        data = with_field(data, SIZE_STRUCT, field(data, SIZE_STRUCT) + 4)
        for block in (OFF_STRINGS, OFF_RSV):
            if field(data, block) >= at:
                data = with_field(data, block, field(data, block) + 4)
    return data


def mutate(data: bytes, tags: list[int], rng: random.Random) -> tuple[str, bytes]:
    kind = rng.choice(["bits", "bytes", "truncate", "header", "tag", "length", "nameoff", "strings",
                       "insert", "delete", "nop"])
    buf = bytearray(data)
    tag = rng.choice(tags)
    prop = rng.choice([t for t in tags if data[t : t + 4] == b"\0\0\0\3"])
    if kind == "bits":
        for _ in range(rng.randint(1, 4)):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    elif kind == "truncate":
        del buf[rng.randrange(len(buf)) :]
    elif kind == "header":
        index = rng.randrange(10)
        old = field(data, index)
        value = rng.choice([0, 1, 4, 15, 16, 17, 18, 0x28, len(data) - 1, len(data), len(data) + 1,
                            old - 4, old + 4, old + 8, 0xFFFFFFFF, rng.getrandbits(32)])
        return kind, with_field(data, index, value)
    elif kind == "tag":
        buf[tag : tag + 4] = struct.pack(">I", rng.choice([0, 1, 2, 3, 4, 9, rng.getrandbits(32)]))
    elif kind == "length":
        length = int.from_bytes(data[prop + 4 : prop + 8], "big")
        value = rng.choice([0, length + 1, length - 1, length + 4, 0x7FFFFFFF, 0xFFFFFFFF])
        buf[prop + 4 : prop + 8] = struct.pack(">I", value & 0xFFFFFFFF)
    elif kind == "nameoff":
        value = rng.choice([0, field(data, SIZE_STRINGS) - 1, field(data, SIZE_STRINGS),
                            rng.randrange(field(data, SIZE_STRINGS)), 0xFFFFFFFF])
        buf[prop + 8 : prop + 12] = struct.pack(">I", value)
    elif kind == "strings":
        start = field(data, OFF_STRINGS)
        buf[start + rng.randrange(field(data, SIZE_STRINGS))] = rng.choice([0, 0x20, 0x2F, 0xFF, 0x41])
    elif kind == "insert":
        at = rng.randrange(len(buf))
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif kind == "delete":
        at = rng.randrange(len(buf))
        del buf[at : at + rng.randint(1, 8)]
    elif kind == "nop":
        return kind, insert_nops(data, tags, rng)
    return kind, bytes(buf)


@pytest.mark.parametrize("seed", SEEDS)
def test_mutated_dtb_gives_tree_or_input_error(seed: int, base: tuple[bytes, list[int]]) -> None:
    data, tags = base
    kind, mutant = mutate(data, tags, random.Random(seed))
    verdict = read(mutant)
    if kind == "nop":
        assert isinstance(verdict, Tree), verdict
        assert shape(verdict) == shape(read_dtb(data, "base.dtb"))
    if isinstance(verdict, Tree):
        assert fdt_cross_check(mutant) == []
        assert shape(read_dtb(tree_to_dtb(verdict), "again.dtb")) == shape(verdict)


def test_mutations_reach_both_verdicts(base: tuple[bytes, list[int]]) -> None:
    """The mutations are neither all harmless nor all fatal."""
    data, tags = base
    verdicts = [read(mutate(data, tags, random.Random(seed))[1]) for seed in SEEDS]
    accepted = sum(isinstance(v, Tree) for v in verdicts)
    assert 100 < accepted < 900


HEADER_LIKE = st.builds(
    lambda fields, body: struct.pack(">10I", 0xD00DFEED, *fields) + body,
    st.tuples(
        st.integers(0, 600), st.integers(0, 600), st.integers(0, 600), st.integers(0, 600),
        st.sampled_from([15, 16, 17, 18]), st.sampled_from([16, 17, 18]), st.integers(0, 2**32 - 1),
        st.integers(0, 600), st.integers(0, 600),
    ),
    st.binary(max_size=512),
)


@settings(max_examples=500)
@given(st.one_of(st.binary(max_size=256), HEADER_LIKE))
def test_arbitrary_bytes_give_tree_or_input_error(data: bytes) -> None:
    read(data)


@settings(max_examples=300, deadline=None)
@given(edits=st.lists(st.tuples(st.integers(0, 2**20), st.integers(0, 255)), min_size=1, max_size=6))
def test_overwritten_real_dtb_gives_tree_or_input_error(
    edits: list[tuple[int, int]], base: tuple[bytes, list[int]]
) -> None:
    buf = bytearray(base[0])
    for at, value in edits:
        buf[at % len(buf)] = value
    if isinstance(read(bytes(buf)), Tree):
        assert fdt_cross_check(bytes(buf)) == []
