"""Reading inputs and writing reports without surprises.

Every file xenplan reads goes through ``read_input``: only a regular file
(or ``-``, standard input) is opened, so a FIFO without a writer cannot block
and ``/dev/zero`` cannot grow without end, and nothing larger than a hard cap
is read. Xen maps at most ``MAX_FDT_SIZE`` (2 MiB) of device tree in
``early_fdt_map()``, so ``MAX_TREE_BYTES`` leaves room for a finding about
a tree above that size while refusing what no device tree is.

Every report goes through ``write_output``: it refuses a path that is one of
the inputs, and writes a temporary file in the target's directory that
replaces the target only once complete, so a failed run never leaves half a
report or a clobbered device tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterable

from xenplan.errors import InputError, UsageError

MAX_TREE_BYTES = 64 << 20
"""Largest device tree, overlay, board or partial DTB read (Xen itself takes 2 MiB)."""
MAX_KERNEL_BYTES = 1 << 30
"""Largest kernel image read (its header decides placement; the size decides room)."""
STDIN = "-"


def _size_text(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def read_input(path: str, limit: int = MAX_TREE_BYTES) -> bytes:
    """The bytes of ``path`` (``-``: standard input), at most ``limit`` of them.

    Raises ``InputError`` for a path that is not a regular file (checked with
    ``os.stat`` before opening, so nothing blocks), one that cannot be read,
    and one larger than ``limit``.
    """
    if path == STDIN:
        data = sys.stdin.buffer.read(limit + 1)
        if len(data) > limit:
            raise InputError("<stdin>", f"more than {_size_text(limit)}: too large for an input "
                             f"(the limit is {_size_text(limit)})")
        return data
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if stat.S_ISDIR(st.st_mode):
        raise InputError(path, "is a directory, not a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, f"is not a regular file (a {_kind(st.st_mode)}); give a file, or - for "
                         "standard input")
    if st.st_size > limit:
        raise InputError(path, f"is {_size_text(st.st_size)}, larger than the {_size_text(limit)} "
                         "an input may be")
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise InputError(path, f"grew past {_size_text(limit)} while being read")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file (by inode when both exist, else by resolved path)."""
    if STDIN in (a, b):
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: str, inputs: Iterable[str], option: str = "--output") -> str:
    """Refuse an output path that is one of ``inputs``, a directory, or in no directory; return its directory."""
    for given in inputs:
        if same_file(path, given):
            raise UsageError(option, f"{path!r} is also an input ({given}); refusing to overwrite it")
    if os.path.isdir(path):
        raise UsageError(option, f"{path!r} is a directory; give a file path")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(option, f"{path!r}: directory {directory} does not exist")
    return directory


def write_output(path: str, text: str | bytes | Iterable[str], inputs: Iterable[str], option: str = "--output") -> None:
    """Write ``text`` (bytes, or pieces of text written as they come) to ``path`` atomically, refusing to
    overwrite any of ``inputs``.

    The text goes to a temporary file beside ``path`` and replaces it with
    ``os.replace``; an unwritable or missing directory, or a directory given
    as ``path``, is a ``UsageError`` naming ``option``. A symbolic link is
    followed (the file it leads to is replaced, the link stays), and a device
    or FIFO (``-o /dev/null``, ``/dev/stdout``) is written into, never
    renamed over.
    """
    check_output(path, inputs, option)
    if _special(path):
        _write_through(path, text, option)
        return
    target = _link_target(path)
    tmp = _temporary(target, text, os.path.dirname(target), option, None)
    _rename(tmp, target, option)


def _special(path: str) -> bool:
    """Whether ``path`` names an existing file that is not a regular one (``/dev/null``, ``/dev/stdout``
    on a pipe or terminal, a FIFO): renaming over it would put a regular file in the device's place."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _link_target(path: str) -> str:
    """The file a symbolic link leads to, so that the rename replaces the file and keeps the link."""
    return os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)


def _write_through(path: str, text: str | bytes | Iterable[str], option: str) -> None:
    """Write straight into a device or FIFO: it holds no earlier content a failed run could spoil.

    A FIFO is opened without blocking first, so one that nobody reads is refused at once
    rather than waited on for ever."""
    try:
        fifo = stat.S_ISFIFO(os.stat(path).st_mode)
        fd = os.open(path, os.O_WRONLY | (os.O_NONBLOCK if fifo else 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise UsageError(option, f"{path!r} is a FIFO that nothing reads") from exc
        raise UsageError(option, f"{path!r}: cannot write: {exc.strerror or exc}") from exc
    os.set_blocking(fd, True)
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as bh:
                bh.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines([text] if isinstance(text, str) else text)
    except OSError as exc:
        raise UsageError(option, f"{path!r}: cannot write: {exc.strerror or exc}") from exc


def replace_inputs(files: dict[str, str | bytes], option: str = "--in-place") -> None:
    """Rewrite input files (``plan --repair --in-place``, the one command that may): each new content
    goes to a temporary file beside its target, keeping the target's permission bits, and only when
    every one is complete are they renamed over their targets, so a failed write changes no file."""
    temps: list[tuple[str, str]] = []
    try:
        for path, text in files.items():
            check_output(path, (), option)
            target = _link_target(path)
            mode = None
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(os.stat(target).st_mode)
            temps.append((_temporary(target, text, os.path.dirname(target), option, mode), target))
    except BaseException:
        for tmp, _path in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    for i, (tmp, path) in enumerate(temps):
        try:
            _rename(tmp, path, option)
        except BaseException:
            for rest, _path in temps[i + 1:]:
                with contextlib.suppress(OSError):
                    os.unlink(rest)
            raise


def _temporary(path: str, text: str | bytes | Iterable[str], directory: str, option: str, mode: int | None) -> str:
    """A complete temporary file beside ``path`` holding ``text``; removed again if writing fails.

    ``tempfile`` is imported here, not with the module: it brings ``random`` and ``shutil`` (with
    its compression modules), a few ms of every run's start-up, for output written to a file."""
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".xenplan-", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise UsageError(option, f"{path!r}: cannot write in {directory}: {exc.strerror or exc}") from exc
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as bh:
                bh.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines([text] if isinstance(text, str) else text)
        with contextlib.suppress(OSError):
            os.chmod(tmp, mode if mode is not None else 0o666 & ~_umask())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(option, f"{path!r}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def _rename(tmp: str, path: str, option: str) -> None:
    try:
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise UsageError(option, f"{path!r}: cannot write: {exc.strerror or exc}") from exc


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
