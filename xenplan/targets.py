"""Building a ``Target`` from option values: the one place they are checked.

The CLI's target options and ``xenplan.build_target`` are the same code, so
a Python caller gets the same refusals, as ``UsageError`` (a ``ValueError``
whose one-line message names the option), and the same defaults: a named
``--board`` places Xen's image and the DTB where that board's loader puts
them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from xenplan.errors import InputError, UsageError
from xenplan.files import MAX_KERNEL_BYTES, read_input

if TYPE_CHECKING:
    from xenplan.model.target import Target, XenVersion

#: Physical address bits Xen's page tables reach (``PADDR_BITS``): 48 on arm64, 40 (LPAE) on arm32.
ARCH_PA_BITS = {"arm64": 48, "arm32": 40}
PA_BITS_RANGE = (32, 52)
"""``--pa-bits`` accepted: ID_AA64MMFR0_EL1.PARange encodes 32 to 52."""

EXTRA_KCONFIG = ("PHYS_ADDR_T_32",)
"""Kconfig options a rule reads that have no default in the model (off unless given)."""


def kconfig_keys() -> tuple[str, ...]:
    """Every Kconfig option xenplan models, sorted (the keys ``--kconfig`` accepts)."""
    from xenplan.model.target import KCONFIG_DEFAULTS

    return tuple(sorted({*KCONFIG_DEFAULTS, *EXTRA_KCONFIG}))


def parse_number(text: str, option: str = "value") -> int:
    """``0x…``, decimal, with an optional K/M/G/T suffix (binary); no spaces inside."""
    m = re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)([kKmMgGtT])?i?[bB]?", text.strip())
    if not m:
        raise UsageError(option, f"not a number: {text!r} (expected e.g. 0x40000000, 1024, 2M or 1G)")
    value = int(m.group(1), 0)
    shift = {"k": 10, "m": 20, "g": 30, "t": 40}.get((m.group(2) or "").lower(), 0)
    return value << shift


def parse_range(text: str, option: str, *, size_required: bool, pa_bits: int) -> tuple[int, int | None]:
    """``START:SIZE`` (or ``START`` when the size is optional), inside the physical address space."""
    start_text, sep, size_text = text.partition(":")
    if size_required and not size_text:
        raise UsageError(option, f"expected START:SIZE, got {text!r}")
    start = parse_number(start_text, option)
    size = parse_number(size_text, option) if sep else None
    if sep and size == 0:
        raise UsageError(option, f"{text!r}: the size is zero")
    top = 1 << pa_bits
    end = start + (size or 1)
    if end > top:
        what = f"end {end:#x}" if size else f"address {start:#x}"
        raise UsageError(option, f"{text!r}: {what} is above 2^{pa_bits} ({top:#x}), the top of the "
                         "physical address space")
    return start, size


def parse_kconfig(items: Iterable[str], base: Mapping[str, bool] | None = None) -> dict[str, bool]:
    """``K=y,K=n`` items over ``base`` (the model's defaults); only modelled keys, each with a value."""
    from xenplan.model.target import KCONFIG_DEFAULTS

    keys = kconfig_keys()
    out = dict(KCONFIG_DEFAULTS if base is None else base)
    for item in items:
        parts = [p.strip() for p in item.split(",")]
        if not any(parts):
            raise UsageError("--kconfig", f"{item!r}: empty; expected KEY=y or KEY=n")
        for part in parts:
            if not part:
                raise UsageError("--kconfig", f"{item!r}: an empty entry between commas")
            key, sep, val = part.partition("=")
            key = key.strip().upper().removeprefix("CONFIG_")
            val = val.strip().lower()
            if not key:
                raise UsageError("--kconfig", f"{part!r}: no key; expected KEY=y or KEY=n")
            if key not in keys:
                raise UsageError("--kconfig", f"{key}: not an option xenplan models (known: {', '.join(keys)})")
            if not sep or val not in ("y", "n", "yes", "no", "1", "0", "true", "false"):
                raise UsageError("--kconfig", f"{part!r}: expected {key}=y or {key}=n")
            out[key] = val in ("y", "yes", "1", "true")
    return out


_CONFIG_SET = re.compile(r"CONFIG_([A-Za-z0-9_]+)=(.*)")
_CONFIG_UNSET = re.compile(r"# CONFIG_([A-Za-z0-9_]+) is not set")


def read_kconfig_file(path: str) -> tuple[dict[str, bool], str]:
    """The modelled options a Xen ``.config`` sets, and a note on what it left out.

    Lines are ``CONFIG_X=y`` (or ``=m``), ``# CONFIG_X is not set``, and
    ``CONFIG_X="text"`` or numbers, which no modelled option takes. Options
    the file does not mention keep the model's default.
    """
    from xenplan.model.target import KCONFIG_DEFAULTS

    keys = set(kconfig_keys())
    text = read_input(path).decode("utf-8", "replace")
    out = dict(KCONFIG_DEFAULTS)
    seen: set[str] = set()
    ignored = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        unset = _CONFIG_UNSET.fullmatch(line)
        if unset:
            key, value = unset.group(1), False
        elif line.startswith("#") or not line:
            continue
        else:
            m = _CONFIG_SET.fullmatch(line)
            if m is None:
                raise InputError(path, f"not a Kconfig line: {line[:60]!r} (expected CONFIG_X=y or "
                                 "# CONFIG_X is not set)", line=number)
            key, val = m.group(1), m.group(2)
            if key in keys and val not in ("y", "m", "n"):
                raise InputError(path, f"CONFIG_{key}={val[:40]}: {key} is a yes/no option", line=number)
            value = val in ("y", "m")
        if key in keys:
            out[key] = value
            seen.add(key)
        else:
            ignored += 1
    kept = sorted(keys - seen)
    note = f"--kconfig-file {path}: {len(seen)} modelled option(s) read, {ignored} other(s) ignored"
    if kept:
        note += f"; defaults kept for {', '.join(kept)}"
    return out, note


def parse_version(text: str) -> XenVersion:
    """``--xen-version``: ``X.Y`` (its newest point release), a released ``X.Y.Z``, or ``X.Y-dev``.

    Stricter than ``XenVersion.parse``: no surrounding spaces, and a point
    release past the newest one known (``4.22.99``) is refused rather than
    read as a release that does not exist.
    """
    from xenplan.model.target import POINT_RELEASES, XenVersion

    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?(?:-dev)?", text)
    if not m:
        raise UsageError("--xen-version", f"not a Xen version: {text!r} (expected e.g. 4.22, 4.20.4 or 4.23-dev)")
    try:
        version = XenVersion.parse(text)
    except ValueError as exc:
        raise UsageError("--xen-version", str(exc)) from exc
    line = (int(m.group(1)), int(m.group(2)))
    if m.group(3) is not None and line in POINT_RELEASES and int(m.group(3)) > POINT_RELEASES[line]:
        a, b = line
        raise UsageError("--xen-version", f"Xen {text} is not a release (the {a}.{b} line goes from {a}.{b}.0 "
                         f"to {a}.{b}.{POINT_RELEASES[line]})")
    return version


def parse_versions(text: str) -> list[str]:
    """``--xen-version`` naming several releases: ``4.18,4.22``, or ``all``, oldest first, each once.

    ``all`` is every released line xenplan models (4.16 … 4.22, each at its
    newest point release); a development tree (4.23-dev) moves under its
    users, so it is only compared when named (``all,4.23-dev``).
    """
    from xenplan.model.target import POINT_RELEASES

    names: list[str] = []
    for item in text.split(","):
        names += [f"{a}.{b}" for a, b in sorted(POINT_RELEASES)] if item == "all" else [item]
    versions: dict[str, tuple[XenVersion, str]] = {}
    for n in names:
        v = parse_version(n)
        versions.setdefault(str(v), (v, n))
    ordered = sorted(versions.values(), key=lambda vn: (vn[0].major, vn[0].minor, vn[0].dev, vn[0].patch))
    return [n for _, n in ordered]


def node_files(items: Iterable[str] | Mapping[str, str], option: str) -> dict[str, str]:
    """``NODE=FILE`` items (or a mapping already) as ``{node: file}``."""
    if isinstance(items, Mapping):
        return dict(items)
    out: dict[str, str] = {}
    for item in items:
        node, sep, path = item.partition("=")
        if not sep or not node or not path:
            raise UsageError(option, f"expected NODE=FILE, got {item!r}")
        out[node] = path
    return out


def board_path(board: str | None) -> str | None:
    """The tree file of ``--board`` (a bundled board's, or the path given)."""
    if board is None:
        return None
    from xenplan.boards import board as find_board

    return str(find_board(board).path)


def build_target(xen_version: str = "4.22", arch: str = "arm64",
                 kconfig: Iterable[str] | Mapping[str, bool] = (), xen_image: str | None = None,
                 fdt_address: str | None = None, pa_bits: int | None = None, gic_spis: int = 224,
                 board: str | None = None, kernel_images: Iterable[str] | Mapping[str, str] = (),
                 kconfig_file: str | None = None) -> Target:
    """The ``Target`` the CLI's options describe, checked.

    ``xen_image`` is ``START:SIZE`` and ``fdt_address`` ``START[:SIZE]``
    (numbers as ``--xen-image`` takes them); ``kconfig`` is ``K=y,K=n``
    items or a mapping; ``kernel_images`` is ``NODE=FILE`` items or a
    mapping, each file's header read now; ``kconfig_file`` a Xen ``.config``
    that ``kconfig`` overrides. Raises ``UsageError`` naming the option for
    a value outside what xenplan models, and ``InputError`` for a file it
    cannot read.
    """
    from xenplan.model.base import Range
    from xenplan.model.kernel_image import parse_kernel_image
    from xenplan.model.release import release_of
    from xenplan.model.target import Target

    version = parse_version(xen_version)
    if arch not in ARCH_PA_BITS:
        raise UsageError("--arch", f"{arch!r}: expected one of {', '.join(ARCH_PA_BITS)}")
    if pa_bits is not None and not PA_BITS_RANGE[0] <= pa_bits <= PA_BITS_RANGE[1]:
        raise UsageError("--pa-bits", f"{pa_bits}: expected {PA_BITS_RANGE[0]} to {PA_BITS_RANGE[1]}")
    from xenplan.boot.domains import MAX_VGIC_SPIS

    if not 0 <= gic_spis <= MAX_VGIC_SPIS:
        raise UsageError("--gic-spis", f"{gic_spis}: expected 0 to {MAX_VGIC_SPIS} (the GIC's SPI IDs end at 1019)")
    space = min(pa_bits, ARCH_PA_BITS[arch]) if pa_bits is not None else ARCH_PA_BITS[arch]
    xi = parse_range(xen_image, "--xen-image", size_required=True, pa_bits=space) if xen_image else None
    fa = parse_range(fdt_address, "--fdt-address", size_required=False, pa_bits=space) if fdt_address else None
    if xi is not None and xi[1] is not None and xi[1] > release_of(version).xen_image_max:
        limit = release_of(version).xen_image_max
        raise UsageError("--xen-image", f"size {xi[1]:#x} is larger than any Xen {version.major}.{version.minor} "
                         f"image can be (at most {limit >> 20} MiB: Xen's text, data and bss share "
                         f"{'one 2 MiB slot' if limit == 2 << 20 else 'the 8 MiB XEN_VIRT_SIZE'})")
    notes: list[str] = []
    base: dict[str, bool] | None = None
    if kconfig_file is not None:
        base, note = read_kconfig_file(kconfig_file)
        notes.append(note)
    items = [f"{k}={'y' if v else 'n'}" for k, v in kconfig.items()] if isinstance(kconfig, Mapping) else kconfig
    kc = parse_kconfig(items, base)
    if board is not None:
        from xenplan.boards import board as find_board

        b = find_board(board)
        if xi is None and b.xen_image_start is not None:
            xi = (b.xen_image_start, release_of(version).xen_image_size)
            notes.append(f"--board {b.name}: Xen image assumed at {xi[0]:#x}, {xi[1]:#x} bytes "
                         f"(a {version} arm64 release build)")
        if fa is None and b.fdt_address is not None:
            fa = (b.fdt_address, None)
            notes.append(f"--board {b.name}: DTB assumed at {b.fdt_address:#x}")
    images = {node: parse_kernel_image(read_input(path, MAX_KERNEL_BYTES), source=path)
              for node, path in node_files(kernel_images, "--kernel-image").items()}
    return Target(version=version, arch="arm32" if arch == "arm32" else "arm64", kconfig=kc,
                  xen_image=Range(start=xi[0], size=xi[1] or 0) if xi else None,
                  fdt_address=fa[0] if fa else None, fdt_size=fa[1] if fa else None,
                  pa_bits=pa_bits, gic_spis=gic_spis, notes=tuple(notes), kernel_images=images)
