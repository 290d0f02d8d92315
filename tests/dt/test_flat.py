"""The structure block as dtc lays it out, checked against the blobs dtc and libfdt write."""

from __future__ import annotations

import struct
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.dt.dtb import read_dtb
from xenplan.dt.flat import bytes_after, packed_size

SHM = """/dts-v1/;
/ {
    #address-cells = <2>; #size-cells = <2>;
    chosen {
        #address-cells = <2>; #size-cells = <2>;
        domU1 {
            compatible = "xen,domain";
            shm@50000000 {
                compatible = "xen,domain-shared-memory-v1";
                xen,shm-id = "ring0";
                xen,shared-mem = <0x0 0x50000000 0x0 0x1000000>;
%s            };
        };
    };
};
"""


def _compile(text: str, tmp_path: Path) -> bytes:
    src = tmp_path / "t.dts"
    src.write_text(text)
    return subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", str(src)], check=True,
                          capture_output=True).stdout


def _value_ends(blob: bytes) -> dict[tuple[str, str], int]:
    """Offset just past each property's value in a real blob, by node path and name (a minimal
    walk of the structure block, independent of the reader under test)."""
    off_struct, off_strings = struct.unpack(">II", blob[8:16])
    ends: dict[tuple[str, str], int] = {}
    stack: list[str] = []
    pos = off_struct
    while True:
        tag = struct.unpack(">I", blob[pos:pos + 4])[0]
        if tag == 1:
            nul = blob.index(b"\0", pos + 4)
            stack.append(blob[pos + 4:nul].decode())
            pos = nul + 1 + (-(nul + 1) % 4)
        elif tag == 3:
            length, nameoff = struct.unpack(">II", blob[pos + 4:pos + 12])
            name = blob[off_strings + nameoff:blob.index(b"\0", off_strings + nameoff)].decode()
            path = "/" + "/".join(stack[1:])
            ends[(path, name)] = pos + 12 + length
            pos += 12 + length + (-length % 4)
        elif tag == 2:
            stack.pop()
            pos += 4
        elif tag == 4:
            pos += 4
        else:
            return ends


@pytest.mark.parametrize(("extra", "want"), [
    ("", bytes.fromhex("0000000200000002")),
    ('                role = "owner";\n', bytes.fromhex("0000000300000006")),
    ("                xen,flag;\n", bytes.fromhex("0000000300000000")),
])
def test_bytes_after_match_dtc(tmp_path: Path, extra: str, want: bytes) -> None:
    """What 4.17/4.18's process_shm() reads past a short form, as measured on the real Xen
    ("size 0x0000000200000002 is not suitably aligned", and 0x…0300000006 with a role after it)."""
    blob = _compile(SHM % extra, tmp_path)
    tree = read_dtb(blob, "t.dtb")
    path = "/chosen/domU1/shm@50000000"
    node = tree.find(path)
    assert node is not None
    end = _value_ends(blob)[(path, "xen,shared-mem")]
    assert bytes_after(tree, node, "xen,shared-mem", 8) == want == blob[end:end + 8]


_names = st.sampled_from(["a", "bb", "reg", "cells", "#size-cells", "x,y", "compatible"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_names, st.binary(max_size=9)), min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.integers(0, 3), st.integers(1, 40))
def test_bytes_after_any_property(props: list[tuple[str, bytes]], children: int, count: int) -> None:
    """Every property of a generated tree: the bytes after it are those of the blob dtc writes."""
    body = "".join(f"{n} = [{v.hex(' ')}];\n" if v else f"{n};\n" for n, v in props)
    kids = "".join(f"c{i} {{ {'p = <1>;' if i % 2 else ''} }};\n" for i in range(children))
    text = f"/dts-v1/;\n/ {{\n n {{\n{body}{kids} }};\n m {{ q = <2>; }};\n}};\n"
    with tempfile.TemporaryDirectory() as d:
        blob = _compile(text, Path(d))
    tree = read_dtb(blob, "t.dtb")
    assert packed_size(tree) == len(blob)
    off_strings = struct.unpack(">I", blob[12:16])[0]
    for (path, name), end in _value_ends(blob).items():
        node = tree.find(path)
        assert node is not None
        if end + count <= off_strings:
            assert bytes_after(tree, node, name, count) == blob[end:end + count]
