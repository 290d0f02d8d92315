"""The strict DTB reader: one hand-built blob per error class, valid edge cases, round trips
through fdt and dtc, and a cross-check against fdt on every real device tree we have."""

from __future__ import annotations

import contextlib
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.dt.dtb import MAX_DEPTH, read_dtb
from xenplan.dt.fdtlib import fdt_cross_check, tree_to_dtb, tree_to_dts
from xenplan.dt.tree import MemReserve, Node, Property, Tree
from xenplan.errors import InputError

DATA = Path(__file__).parent.parent / "data"
ORACLE = sorted((DATA / "oracle").glob("*/merged.dts"))
CORPUS = sorted(p for p in (DATA / "corpus").iterdir() if p.suffix in (".dts", ".dtso"))

Compile = Callable[[Path | str], bytes]

# ---------------------------------------------------------------- a tiny DTB assembler

END_NODE = struct.pack(">I", 2)
NOP = struct.pack(">I", 4)
END = struct.pack(">I", 9)
STRINGS = b"compatible\0reg\0status\0"
COMPATIBLE, REG, STATUS = 0, 11, 15
STRUCT = 0x38
"""Where the structure block starts when the reserve map is empty (header 0x28 + terminator)."""


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def pad4(raw: bytes) -> bytes:
    return raw + bytes(-len(raw) % 4)


def begin(name: bytes = b"") -> bytes:
    return u32(1) + pad4(name + b"\0")


def prop(nameoff: int, value: bytes = b"") -> bytes:
    return u32(3) + u32(len(value)) + u32(nameoff) + pad4(value)


HEADER_FIELDS = ["magic", "totalsize", "off_dt_struct", "off_dt_strings", "off_mem_rsvmap", "version",
                 "last_comp_version", "boot_cpuid_phys", "size_dt_strings", "size_dt_struct"]


def blob(
    *parts: bytes,
    strings: bytes = STRINGS,
    rsv: tuple[tuple[int, int], ...] = (),
    tail: bytes = b"",
    **header: int,
) -> bytes:
    """Header (40 bytes), reserve map, structure block, strings block, then ``tail``.

    ``header`` overrides any field after the layout is computed.
    """
    rsvmap = b"".join(struct.pack(">QQ", a, s) for a, s in rsv) + bytes(16)
    structure = b"".join(parts)
    off_struct = 40 + len(rsvmap)
    fields = {
        "magic": 0xD00DFEED,
        "totalsize": off_struct + len(structure) + len(strings),
        "off_dt_struct": off_struct,
        "off_dt_strings": off_struct + len(structure),
        "off_mem_rsvmap": 40,
        "version": 17,
        "last_comp_version": 16,
        "boot_cpuid_phys": 0,
        "size_dt_strings": len(strings),
        "size_dt_struct": len(structure),
    }
    assert set(header) <= set(fields)
    fields.update(header)
    return struct.pack(">10I", *(fields[f] for f in HEADER_FIELDS)) + rsvmap + structure + strings + tail


def at(parts: list[bytes], index: int) -> int:
    """File offset of ``parts[index]`` when the reserve map is empty."""
    return STRUCT + len(b"".join(parts[:index]))


MINIMAL = [begin(), prop(COMPATIBLE, b"a\0"), begin(b"cpu@0"), prop(REG, u32(1)), END_NODE, END_NODE, END]


def read_error(data: bytes) -> InputError:
    with pytest.raises(InputError) as info:
        read_dtb(data, "t.dtb")
    return info.value


def shape(tree: Tree) -> tuple[object, ...]:
    """Everything but source locations and the blob size: what a writer must preserve."""
    return (
        [(r.address, r.size) for r in tree.memreserve],
        tree.boot_cpuid,
        [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in tree.walk()],
    )


# ---------------------------------------------------------------- header errors

HEADER_CASES = {
    "empty file": (b"", 0, "magic is missing"),
    "bad magic": (b"\xd0\x0d\xfe\xee" + bytes(60), 0, "magic is 0xd00dfeee"),
    "short header": (blob(*MINIMAL)[:20], 20, "too short for a DTB header"),
    "truncated": (blob(*MINIMAL)[:-1], 0x4, "the DTB is truncated"),
    "totalsize below header": (blob(*MINIMAL, totalsize=20), 0x4, "smaller than the 40-byte header"),
    "version 15": (blob(*MINIMAL, version=15), 0x14, "version 15 is older than 16"),
    "last_comp 18": (blob(*MINIMAL, version=18, last_comp_version=18), 0x18,
                     "last_comp_version 18 is newer than 17"),
    "last_comp above version": (blob(*MINIMAL, version=16, last_comp_version=17), 0x18,
                                "greater than version 16"),
    "rsvmap inside header": (blob(*MINIMAL, off_mem_rsvmap=8), 0x10, "off_mem_rsvmap 0x8 is outside"),
    "rsvmap past end": (blob(*MINIMAL, off_mem_rsvmap=0x1000), 0x10, "off_mem_rsvmap 0x1000 is outside"),
    "rsvmap misaligned": (blob(*MINIMAL, off_mem_rsvmap=0x2C), 0x10, "0x2c is not 8-byte aligned"),
    "struct misaligned": (blob(*MINIMAL, off_dt_struct=0x3A), 0x8, "0x3a is not 4-byte aligned"),
    "struct past end": (blob(*MINIMAL, size_dt_struct=0x1000), 0x24,
                        "size_dt_struct 0x1000 at off_dt_struct 0x38 runs past totalsize"),
    "strings past end": (blob(*MINIMAL, size_dt_strings=0x1000), 0x20,
                         "size_dt_strings 0x1000 at off_dt_strings 0x78 runs past totalsize"),
    "strings outside": (blob(*MINIMAL, off_dt_strings=0x1000), 0xC, "off_dt_strings 0x1000 is outside"),
    "no rsvmap terminator": (
        blob(strings=b"", totalsize=72, off_dt_struct=40, off_dt_strings=40)[:40] + b"\xff" * 32,
        0x28,
        "no (0, 0) terminator",
    ),
    "strings overlap struct": (
        blob(begin(), END_NODE, END, strings=b"", off_dt_strings=STRUCT, size_dt_strings=4),
        STRUCT,
        "overlaps the strings block [0x38, 0x3c)",
    ),
    "rsvmap overlaps strings": (
        blob(begin(), END_NODE, END, strings=bytes(16), off_dt_strings=0x28),
        0x28,
        "overlaps",
    ),
}


@pytest.mark.parametrize("data, offset, what", HEADER_CASES.values(), ids=HEADER_CASES.keys())
def test_header_errors(data: bytes, offset: int, what: str) -> None:
    err = read_error(data)
    assert err.offset == offset
    assert err.file == "t.dtb"
    assert err.node is None
    assert what in err.message
    assert str(err).startswith(f"t.dtb: offset {offset:#x}: ")


# ---------------------------------------------------------------- structure block errors

DEEP = [begin()] + [begin(b"n")] * MAX_DEPTH
STRUCTURE_CASES: dict[str, tuple[list[bytes], int, str | None, str, bytes]] = {
    # name: (parts, index of the bad part, node path, what, strings)
    "unterminated node name": ([begin(), u32(1) + b"abcd"], 1, "/", "node name is not NUL-terminated", STRINGS),
    "property header cut": ([begin(), u32(3) + u32(4)], 1, "/", "property header runs past", STRINGS),
    "property value cut": ([begin(), u32(3) + u32(0x100) + u32(0) + b"abcd"], 1, "/",
                           "value of 0x100 bytes runs past the end of the structure block", STRINGS),
    "nameoff outside strings": ([begin(), prop(0x1000), END_NODE, END], 1, "/",
                                "name offset 0x1000 is outside the strings block (size 0x16)", STRINGS),
    "name not terminated": ([begin(), prop(0), END_NODE, END], 1, "/",
                            "not NUL-terminated inside the strings block", b"abc"),
    "empty property name": ([begin(), prop(0), END_NODE, END], 1, "/", "empty property name", b"\0"),
    "bad property char": ([begin(), prop(0), END_NODE, END], 1, "/",
                          "bad character ' ' in property name 'bad name'", b"bad name\0"),
    "bad node char": ([begin(), begin(b"a b"), END_NODE, END_NODE, END], 1, "/",
                      "bad character ' ' in node name 'a b'", STRINGS),
    "two @ in node name": ([begin(), begin(b"a@1@2"), END_NODE, END_NODE, END], 1, "/",
                           "more than one '@' in node name", STRINGS),
    "empty node name": ([begin(), begin(), END_NODE, END_NODE, END], 1, "/", "empty node name", STRINGS),
    "named root": ([begin(b"root"), END_NODE, END], 0, None, "root node has a name", STRINGS),
    "duplicate property": ([begin(), prop(STATUS, b"a\0"), prop(STATUS, b"b\0"), END_NODE, END], 2, "/",
                           "duplicate property 'status'", STRINGS),
    "duplicate node": ([begin(), begin(b"n"), END_NODE, begin(b"n"), END_NODE, END_NODE, END], 3, "/",
                       "duplicate node 'n'", STRINGS),
    "property after subnode": ([begin(), begin(b"n"), END_NODE, prop(REG), END_NODE, END], 3, "/",
                               "property 'reg' after a subnode", STRINGS),
    "extra END_NODE": ([begin(), END_NODE, END_NODE, END], 2, None,
                       "FDT_END_NODE without a matching FDT_BEGIN_NODE", STRINGS),
    "END inside a node": ([begin(), begin(b"n@1"), END], 2, "/n@1", "FDT_END with 2 node(s) still open",
                          STRINGS),
    "no root": ([NOP, END], 1, None, "no root node", STRINGS),
    "second root": ([begin(), END_NODE, begin(), END_NODE, END], 2, None,
                    "a second root node after the root node closed", STRINGS),
    "property after root": ([begin(), END_NODE, prop(REG), END], 2, None,
                            "property after the root node closed", STRINGS),
    "property before root": ([prop(REG), begin(), END_NODE, END], 0, None, "property before the root node",
                             STRINGS),
    "unknown tag": ([begin(), u32(7), END_NODE, END], 1, "/", "unknown structure block tag 0x7", STRINGS),
    "missing END": ([begin(), END_NODE], 2, None, "structure block ends at 0x44 without FDT_END", STRINGS),
    "too deep": (DEEP, MAX_DEPTH, "/n" * (MAX_DEPTH - 1), f"nested deeper than {MAX_DEPTH} levels",
                 STRINGS),
}


@pytest.mark.parametrize("parts, index, node, what, strings", STRUCTURE_CASES.values(),
                         ids=STRUCTURE_CASES.keys())
def test_structure_errors(parts: list[bytes], index: int, node: str | None, what: str, strings: bytes) -> None:
    err = read_error(blob(*parts, strings=strings))
    assert err.offset == at(parts, index)
    assert err.node == node
    assert what in err.message
    assert f"offset {at(parts, index):#x}" in str(err)


# ---------------------------------------------------------------- valid edge cases


def test_minimal_tree_and_sources() -> None:
    data = blob(*MINIMAL, rsv=((0x8000_0000, 0x1000), (0x1_0000_0000, 0x20)), boot_cpuid_phys=3,
                tail=b"\xff" * 7)
    tree = read_dtb(data, "board.dtb")
    assert tree.file == "board.dtb"
    assert tree.dtb_size == len(data) - 7
    assert tree.boot_cpuid == 3
    assert [(r.address, r.size, r.source.offset if r.source else None) for r in tree.memreserve] == [
        (0x8000_0000, 0x1000, 0x28), (0x1_0000_0000, 0x20, 0x38)]
    start = STRUCT + 32
    root = tree.root
    assert (root.name, root.path, root.source and root.source.offset) == ("", "/", start)
    assert root.properties["compatible"].value == b"a\0"
    assert root.properties["compatible"].source is not None
    assert root.properties["compatible"].source.offset == start + 8
    cpu = tree.find("/cpu@0")
    assert cpu is not None and cpu.parent is root and cpu.source is not None
    assert (cpu.source.file, cpu.source.offset) == ("board.dtb", start + 8 + 16)
    assert cpu.properties["reg"].u32() == 1


def test_nops_everywhere_are_skipped() -> None:
    plain = read_dtb(blob(*MINIMAL), "t.dtb")
    with_nops = [NOP]
    for part in MINIMAL:
        with_nops += [part, NOP, NOP] if part is not END else [part]
    assert shape(read_dtb(blob(*with_nops), "t.dtb")) == shape(plain)


def test_version_16_header_ignores_size_dt_struct() -> None:
    tree = read_dtb(blob(*MINIMAL, version=16, last_comp_version=16, size_dt_struct=0xFFFFFFFF), "t.dtb")
    assert tree.find("/cpu@0") is not None


def test_newer_version_with_compatible_layout() -> None:
    assert read_dtb(blob(*MINIMAL, version=18, last_comp_version=16), "t.dtb").find("/cpu@0")


def test_bytes_after_fdt_end_inside_struct_block_are_ignored() -> None:
    assert read_dtb(blob(*MINIMAL, b"junk"), "t.dtb").find("/cpu@0")


def test_names_dtc_accepts() -> None:
    strings = b"#xen,static-mem-address-cells\0a+b\0prop?name\0x*y\0"
    parts = [begin(), prop(0, u32(1)), prop(30, b""), prop(34, b""), prop(44, b""),
             begin(b"node@0,1"), END_NODE, begin(b"A_b.c+d-e"), END_NODE, begin(b"n@"), END_NODE,
             END_NODE, END]
    tree = read_dtb(blob(*parts, strings=strings), "t.dtb")
    assert list(tree.root.properties) == ["#xen,static-mem-address-cells", "a+b", "prop?name", "x*y"]
    assert [c.name for c in tree.root.children] == ["node@0,1", "A_b.c+d-e", "n@"]


def test_name_offsets_may_point_into_another_name() -> None:
    """dtc and fdt share string tails: "phandle" can be the end of "linux,phandle"."""
    parts = [begin(), prop(0, u32(1)), prop(6, u32(1)), END_NODE, END]
    tree = read_dtb(blob(*parts, strings=b"linux,phandle\0"), "t.dtb")
    assert list(tree.root.properties) == ["linux,phandle", "phandle"]


# ---------------------------------------------------------------- values fdt would guess wrong

TRICKY_DTS = """/dts-v1/;
/memreserve/ 0x80000000 0x1000;
/ {
	#address-cells = <2>;
	text-cell = <0x41424300>;
	text-cells = <0x61626300 0x64656600>;
	model = "Café";
	bootargs = "a\\nb";
	path = "C:\\\\dir";
	quote = "say \\"hi\\"";
	empty = "";
	holes = "a", "", "b";
	odd = [00 11 22];
	mixed = "abc", <1 2>, [03 04], "def";
	big = /bits/ 64 <0x100000000>;
	flag;
	node@0,1 {
		a+b = <1>;
		prop?name = <2>;
		#xen,static-mem-address-cells = <1>;
	};
};
"""


def test_tricky_values_round_trip(dtc_compile: Compile) -> None:
    data = dtc_compile(TRICKY_DTS)
    tree = read_dtb(data, "tricky.dtb")
    root = tree.root.properties
    assert root["model"].value == "Café".encode() + b"\0"
    assert root["bootargs"].value == b"a\nb\0"
    assert root["path"].value == b"C:\\dir\0"
    assert root["holes"].value == b"a\0\0b\0"
    assert root["big"].value == bytes.fromhex("0000000100000000")
    assert fdt_cross_check(data) == []
    assert read_dtb(tree_to_dtb(tree), "tricky.dtb") == tree
    assert shape(read_dtb(dtc_compile(tree_to_dts(tree)), "again.dtb")) == shape(tree)


def test_fdt_cross_check_reads_nops_and_new_versions() -> None:
    with_nops = blob(NOP, *MINIMAL[:2], NOP, *MINIMAL[2:-1], NOP, END, version=18,
                     rsv=((0x1000, 0x1000),))
    assert fdt_cross_check(with_nops) == []
    # fdt's shared reserve-map list (bug B1) must not leak into the next blob
    assert fdt_cross_check(blob(*MINIMAL)) == []


# ---------------------------------------------------------------- writer round trips

NODE_NAME = st.from_regex(r"[a-z][a-z0-9,._+-]{0,8}(@[0-9a-f]{1,4})?", fullmatch=True)
PROP_NAME = st.from_regex(r"[a-z#][a-z0-9,._+?#-]{0,10}", fullmatch=True)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    def fill(node: Node, depth: int) -> None:
        for name, value in draw(st.dictionaries(PROP_NAME, st.binary(max_size=24), max_size=4)).items():
            node.properties[name] = Property(name, value)
        if depth < 3:
            for name in draw(st.lists(NODE_NAME, max_size=3, unique=True)):
                fill(node.add_child(Node(name)), depth + 1)

    root = Node("")
    fill(root, 0)
    rsv = draw(st.lists(st.tuples(st.integers(0, 2**64 - 1), st.integers(1, 2**64 - 1)), max_size=3))
    return Tree(root, [MemReserve(a, s) for a, s in rsv], boot_cpuid=draw(st.integers(0, 2**32 - 1)))


@given(trees())
def test_dtb_writer_round_trip(tree: Tree) -> None:
    data = tree_to_dtb(tree)
    again = read_dtb(data, "gen.dtb")
    assert shape(again) == shape(tree)
    assert again.dtb_size == len(data)
    assert read_dtb(tree_to_dtb(again), "gen.dtb") == again
    assert fdt_cross_check(data) == []


@settings(max_examples=30, deadline=None)
@given(tree=trees())
def test_dts_writer_round_trip_through_dtc(tree: Tree, dtc_compile: Compile) -> None:
    again = read_dtb(dtc_compile(tree_to_dts(tree)), "gen.dtb")
    assert shape(again)[0::2] == shape(tree)[0::2]  # DTS has no syntax for boot_cpuid


# ---------------------------------------------------------------- real device trees


def _case_id(path: Path) -> str:
    return path.parent.name if path.name == "merged.dts" else path.name


def _compile_or_skip(path: Path, dtc_compile: Compile) -> bytes:
    try:
        return dtc_compile(path)
    except subprocess.CalledProcessError as exc:
        if path in ORACLE:
            raise
        first = str(exc.stderr).strip().splitlines()[0] if exc.stderr else f"exit {exc.returncode}"
        pytest.skip(f"not a complete DTS, dtc refuses it: {first}")


def test_test_data_is_present() -> None:
    assert len(ORACLE) == 128
    assert len(CORPUS) >= 13


@pytest.mark.parametrize("dts", ORACLE + CORPUS, ids=_case_id)
def test_real_tree_matches_fdt_and_round_trips(dts: Path, dtc_compile: Compile) -> None:
    data = _compile_or_skip(dts, dtc_compile)
    tree = read_dtb(data, dts.name)
    assert tree.dtb_size == len(data)
    assert fdt_cross_check(data) == []
    assert read_dtb(tree_to_dtb(tree), dts.name) == tree
    assert shape(read_dtb(dtc_compile(tree_to_dts(tree)), "again.dtb")) == shape(tree)


def test_most_of_the_corpus_compiles(dtc_compile: Compile) -> None:
    compiled = []
    for path in CORPUS:
        with contextlib.suppress(subprocess.CalledProcessError):
            compiled.append(read_dtb(dtc_compile(path), path.name))
    assert len(compiled) >= 12


@pytest.mark.parametrize("dts", ORACLE[::8], ids=_case_id)
def test_dtc_reads_what_we_write(dts: Path, dtc_compile: Compile) -> None:
    """dtc as an independent reader of tree_to_dtb's output (dtb -> dtb through dtc)."""
    dtc = shutil.which("dtc")
    assert dtc is not None  # dtc_compile skipped otherwise
    tree = read_dtb(dtc_compile(dts), dts.name)
    done = subprocess.run([dtc, "-q", "-I", "dtb", "-O", "dtb", "-o", "-", "-"],
                          input=tree_to_dtb(tree), capture_output=True, timeout=60, check=True)
    assert shape(read_dtb(done.stdout, "dtc.dtb")) == shape(tree)
