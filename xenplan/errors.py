"""The one error type for input xenplan cannot read as a device tree.

Anything Xen itself reads and reacts to is *not* an input error: it is
modelled and reported as a finding. ``InputError`` is only for input that is
not a device tree at all or cannot be read (I/O, corrupt DTB, DTS syntax,
missing include, compiler failure).
"""

from __future__ import annotations


class InputError(Exception):
    """Input that cannot be turned into a device tree.

    ``str()`` is one line: ``file: line N: offset 0x2c8 (/node/path): what``.
    """

    def __init__(
        self,
        file: str,
        message: str,
        *,
        node: str | None = None,
        line: int | None = None,
        offset: int | None = None,
    ) -> None:
        self.file = file
        self.message = message
        self.node = node
        self.line = line
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.offset is not None:
            parts.append(f"offset {self.offset:#x}")
        where = ": ".join(parts)
        if self.node:
            where += f" ({self.node})"
        text = " ".join(self.message.split())
        return f"{where}: {text}"


class UsageError(ValueError):
    """An option (or a ``build_target`` argument) with a value xenplan does not accept.

    ``str()`` is one line: ``--option: what is wrong and what is accepted``.
    The CLI prints it as a usage error (exit 2); a Python caller can catch it
    as a ``ValueError``.
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        self.message = " ".join(message.split())
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.option}: {self.message}"
