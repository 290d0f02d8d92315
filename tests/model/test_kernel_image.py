"""Kernel headers as Xen's probes read them (``--kernel-image``)."""

from __future__ import annotations

import struct

from xenplan.model.kernel_image import parse_kernel_image


def image64(text_offset: int, size: int = 0x10000) -> bytes:
    data = bytearray(size)
    struct.pack_into("<Q", data, 8, text_offset)
    struct.pack_into("<I", data, 56, 0x644D5241)
    return bytes(data)


def test_arm64_image_gives_text_offset_and_the_whole_file_as_length() -> None:
    k = parse_kernel_image(image64(0x80000, 0x12345))
    assert (k.kind, k.text_offset, k.length, k.start) == ("image64", 0x80000, 0x12345, 0)


def test_zimage32_length_is_end_minus_start() -> None:
    data = bytearray(0x2000)
    struct.pack_into("<III", data, 0x24, 0x016F2818, 0, 0x1800)
    k = parse_kernel_image(bytes(data))
    assert (k.kind, k.length, k.start) == ("zimage32", 0x1800, 0)


def test_zimage32_claiming_more_than_the_file_is_refused() -> None:
    data = bytearray(0x100)
    struct.pack_into("<III", data, 0x24, 0x016F2818, 0, 0x1000)
    assert parse_kernel_image(bytes(data)).kind == "invalid"


def test_wrappers_and_garbage() -> None:
    assert parse_kernel_image(b"\x1f\x8b" + bytes(100)).kind == "gzip"
    uimage = struct.pack(">IIIIII", 0x27051956, 0, 0, 0x4000, 0x80008000, 0) + bytes(64)
    k = parse_kernel_image(uimage)
    assert (k.kind, k.length, k.start) == ("uimage", 0x4000, 0x80008000)
    assert parse_kernel_image(b"not a kernel" * 10).kind == "invalid"
