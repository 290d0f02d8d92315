#!/usr/bin/env python3
"""Recreate the stand-in binaries of one ImageBuilder recording from its files.json.

Not part of xenplan or of its tests. A recording in tests/data/imagebuilder
commits only the config, the trees and what the tools printed; the kernels
and ramdisks it booted are stand-ins that this script writes again, byte for
byte, from the sizes in files.json:

  kernel           an arm64 Image: branch-to-self at offset 0, text_offset 0,
                   image_size = the file's size, flags 0xa (little-endian,
                   4 KiB pages, placeable anywhere), "ARM\\x64" at 0x38, zeros
                   after; Xen copies it into the guest, and the guest spins.
  ramdisk          a newc cpio archive holding one empty file, zero-padded to
                   the size (``file`` must call it "cpio archive", or
                   uboot-script-gen refuses it).
  other            zeros.

Entries of kind dtb and passthrough-dtb are committed with the recording and
are only checked for their size; the Xen binary (kind xen) is copied from the
build given to the runner, never generated.

  make_standins.py CASE_DIR [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KINDS = ("kernel", "ramdisk", "dtb", "xen", "passthrough-dtb", "other")


def kernel(size: int) -> bytes:
    """A minimal arm64 Image header whose image_size covers the whole file."""
    if size < 0x40:
        raise ValueError(f"an arm64 Image needs at least 64 bytes, not {size}")
    image = bytearray(size)
    image[0:4] = (0x14000000).to_bytes(4, "little")
    image[16:24] = size.to_bytes(8, "little")
    image[24:32] = (0xA).to_bytes(8, "little")
    image[0x38:0x3C] = b"ARM\x64"
    return bytes(image)


def _cpio_entry(name: str, mode: int, ino: int) -> bytes:
    fields = [ino, mode, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name) + 1, 0]
    head = b"070701" + b"".join(f"{v:08X}".encode() for v in fields) + name.encode() + b"\0"
    return head + b"\0" * (-len(head) % 4)


def ramdisk(size: int) -> bytes:
    """A newc cpio archive with one empty regular file, padded with zeros to ``size``."""
    body = _cpio_entry("init", 0o100755, 1) + _cpio_entry("TRAILER!!!", 0, 0)
    if size < len(body):
        raise ValueError(f"a ramdisk stand-in needs at least {len(body)} bytes, not {size}")
    return body + b"\0" * (size - len(body))


def standin(kind: str, size: int) -> bytes | None:
    """The bytes of one generated file, or None for a kind that is committed or copied."""
    if kind == "kernel":
        return kernel(size)
    if kind == "ramdisk":
        return ramdisk(size)
    if kind == "other":
        return bytes(size)
    return None


def make(case: Path, out: Path) -> list[Path]:
    """Write every generated stand-in of ``case`` under ``out``; check the committed ones' sizes."""
    files = json.loads((case / "files.json").read_text())
    written = []
    for name, entry in sorted(files.items()):
        kind, size = entry["kind"], entry["size"]
        if kind not in KINDS:
            sys.exit(f"{case / 'files.json'}: {name}: unknown kind {kind!r}")
        data = standin(kind, size)
        if data is None:
            committed = case / name
            if kind != "xen" and (not committed.is_file() or committed.stat().st_size != size):
                sys.exit(f"{committed}: missing or not {size} bytes, as files.json says")
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", type=Path)
    parser.add_argument("--out", type=Path, help="where to write them (default: the case directory)")
    args = parser.parse_args()
    for path in make(args.case, args.out or args.case):
        print(path)


if __name__ == "__main__":
    main()
