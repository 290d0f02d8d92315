"""The planner's input: what an integrator wants, as TOML (``xenplan plan --spec``).

Every key is a pydantic field with ``extra="forbid"``, read through
``xenplan.tomlfile`` so that an unknown key, a wrong type or a size that is
not a size is one line naming the file, the line and the key (exit 2).
Sizes are ``"256M"``, ``"0x10000000"`` or integers (bytes).
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from xenplan.errors import InputError
from xenplan.tomlfile import TomlDocument, load_toml, size_value

Size = Annotated[int, BeforeValidator(size_value)]
_SPEC_DIR: ContextVar[str] = ContextVar("spec_dir", default=".")
"""The directory of the spec being read: a module given as a path is relative to it."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_,.+-]{0,30}")


def _range_text(value: object, *, size_required: bool) -> tuple[int, int | None]:
    """``"START:SIZE"`` (or ``"START"`` when the size may be left out) as numbers."""
    if not isinstance(value, str):
        raise ValueError(f"expected a string such as \"0x40200000:0x200000\", not {value!r}")
    start_text, sep, size_text = value.partition(":")
    if size_required and not sep:
        raise ValueError(f"expected START:SIZE, got {value!r}")
    start = size_value(start_text)
    size = size_value(size_text) if sep else None
    if size == 0:
        raise ValueError(f"{value!r}: the size is zero")
    return start, size


def _bank(value: object) -> tuple[int, int]:
    start, size = _range_text(value, size_required=True)
    assert size is not None
    if start % 4096 or size % 4096:
        raise ValueError(f"{value!r}: a static bank starts and ends on a 4 KiB page")
    return start, size


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def image_footprint(path: str, size: int) -> int:
    """The bytes an arm64 ``Image`` occupies once running: its header's ``image_size`` (offset 16, with
    the BSS) when larger than the file, as ImageBuilder reserves it; the file size for anything else."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return size
    if len(head) == 64 and head[56:60] == b"ARM\x64":
        return max(size, int.from_bytes(head[16:24], "little"))
    return size


class Payload(_Model):
    """A module's content: a size (bytes reserved for it) or the path of the file it loads.

    ``footprint`` is what the module's 2 MiB slot must hold: the file, or an
    arm64 kernel's whole image including its BSS."""

    size: int
    path: str | None = None
    footprint: int = 0

    @model_validator(mode="after")
    def _footprint(self) -> Payload:
        if self.footprint < self.size:
            object.__setattr__(self, "footprint", self.size)
        return self

    @classmethod
    def of(cls, value: object) -> object:
        if isinstance(value, Payload | dict):
            return value
        if isinstance(value, str) and not re.fullmatch(r"\s*(0x[0-9a-fA-F]+|\d+)\s*[kKmMgGtT]?(i?[bB])?\s*", value):
            path = os.path.join(_SPEC_DIR.get(), value)
            try:
                size = os.path.getsize(path)
                return {"size": size, "path": path, "footprint": image_footprint(path, size)}
            except OSError as exc:
                raise ValueError(f"{value!r}: neither a size nor a readable file ({exc.strerror})") from None
        size = size_value(value)
        if size == 0:
            raise ValueError("a module of 0 bytes")
        return {"size": size}


PayloadValue = Annotated[Payload, BeforeValidator(Payload.of)]


class XenSpec(_Model):
    version: str | None = Field(default=None, description="the release; else the configuration's, else 4.22")
    bootargs: str | None = None
    static_heap: Literal["auto"] | Size | None = Field(default=None, alias="static-heap")
    image: str | None = Field(default=None, description="START:SIZE where the bootloader puts Xen's image")
    fdt: str | None = Field(default=None, description="START[:SIZE] where the bootloader puts the DTB")
    scheduler: Literal["credit", "credit2", "rtds", "arinc653", "null"] | None = None
    llc_coloring: bool = Field(default=False, alias="llc-coloring")

    @field_validator("static_heap", mode="before")
    @classmethod
    def _heap(cls, value: object) -> object:
        if value == "auto":
            return value
        size = size_value(value)
        if size == 0 or size % (2 << 20):
            raise ValueError(f"{value!r}: the static heap is a positive multiple of 2 MiB, or \"auto\"")
        return size

    @field_validator("image")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        if value is not None:
            _range_text(value, size_required=True)
        return value

    @field_validator("fdt")
    @classmethod
    def _fdt(cls, value: str | None) -> str | None:
        if value is not None:
            _range_text(value, size_required=False)
        return value


class Dom0Spec(_Model):
    kernel: PayloadValue
    memory: Size
    ramdisk: PayloadValue | None = None
    bootargs: str | None = None

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value < (1 << 20) or value % 4096:
            raise ValueError(f"{value:#x}: dom0's memory is at least 1 MiB and a multiple of 4 KiB")
        return value


class DomainSpec(_Model):
    name: str
    memory: Size
    cpus: int = Field(default=1, ge=1, le=128)
    static: bool = False
    direct_map: bool = Field(default=False, alias="direct-map")
    kernel: PayloadValue
    ramdisk: PayloadValue | None = None
    dtb: PayloadValue | None = None
    banks: tuple[Annotated[tuple[int, int], BeforeValidator(_bank)], ...] = ()
    near: Literal["low"] | None = None
    align: Size | None = None
    passthrough: tuple[str, ...] = ()
    vpl011: bool | None = Field(default=None, description="None: on, except for a 1:1 domain on a board "
                                "whose UART region is smaller than a page (DMAP-006)")
    enhanced: bool | Literal["enabled", "no-xenstore", "legacy"] = False
    bootargs: str | None = None
    colors: str | None = None
    cpupool: str | None = Field(default=None, description="the name of a [[cpupool]]")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value) or value == "chosen":
            raise ValueError(f"{value!r}: a node name of 1 to 31 letters, digits and , . _ + -")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int) -> int:
        if value < (1 << 20) or value % 4096:
            raise ValueError(f"{value:#x}: a domain's memory is at least 1 MiB and a multiple of 4 KiB")
        return value

    @field_validator("align")
    @classmethod
    def _align(cls, value: int | None) -> int | None:
        if value is not None and (value < 4096 or value & (value - 1)):
            raise ValueError(f"{value:#x}: an alignment is a power of two of at least 4 KiB")
        return value

    @field_validator("passthrough")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for p in value:
            if not p.startswith("/"):
                raise ValueError(f"{p!r}: a passthrough device is an absolute node path")
        return value

    @model_validator(mode="after")
    def _kinds(self) -> DomainSpec:
        if self.direct_map and not self.static and not self.banks:
            object.__setattr__(self, "static", True)
        if self.banks:
            object.__setattr__(self, "static", True)
            total = sum(size for _, size in self.banks)
            if total != self.memory:
                raise ValueError(f"the banks add up to {total:#x} bytes, memory is {self.memory:#x}")
        return self

    @property
    def is_static(self) -> bool:
        return self.static or self.direct_map or bool(self.banks)


class CpupoolSpec(_Model):
    """A boot-time cpupool (``xen,cpupool`` under ``/chosen``): the board's CPU nodes it takes."""

    name: str
    cpus: tuple[str, ...] = Field(min_length=1, description="paths of the board's CPU nodes")
    scheduler: Literal["credit", "credit2", "rtds", "arinc653", "null"] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.fullmatch(value):
            raise ValueError(f"{value!r}: a node name of 1 to 31 letters, digits and , . _ + -")
        return value


class SharedMemorySpec(_Model):
    id: str = Field(min_length=1, max_length=15)
    size: Size
    owner: str
    borrowers: tuple[str, ...] = Field(min_length=1)
    host: Size | None = None

    @field_validator("size")
    @classmethod
    def _size(cls, value: int) -> int:
        if value == 0 or value % 4096:
            raise ValueError(f"{value:#x}: shared memory is a positive multiple of 4 KiB")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: int | None) -> int | None:
        if value is not None and value % 4096:
            raise ValueError(f"{value:#x}: shared memory starts on a 4 KiB page")
        return value


class EventChannelSpec(_Model):
    ends: tuple[str, str] = Field(description="two DOMAIN:PORT ends")

    @field_validator("ends")
    @classmethod
    def _ends(cls, value: tuple[str, str]) -> tuple[str, str]:
        for end in value:
            m = re.fullmatch(r"([^:]+):(\d+)", end)
            if not m or not 1 <= int(m.group(2)) < 4096:
                raise ValueError(f"{end!r}: expected DOMAIN:PORT with a port from 1 to 4095")
        return value

    def parsed(self) -> tuple[tuple[str, int], tuple[str, int]]:
        a, b = ((e.rpartition(":")[0], int(e.rpartition(":")[2])) for e in self.ends)
        return a, b


class Spec(_Model):
    xen: XenSpec = XenSpec()
    dom0: Dom0Spec | None = None
    domain: tuple[DomainSpec, ...] = ()
    shared_memory: tuple[SharedMemorySpec, ...] = Field(default=(), alias="shared-memory")
    event_channel: tuple[EventChannelSpec, ...] = Field(default=(), alias="event-channel")
    cpupool: tuple[CpupoolSpec, ...] = ()


def load_spec(path: str) -> Spec:
    """Read and validate a spec; cross-references (names, owners, ports) are checked here too."""
    doc = load_toml(path)
    token = _SPEC_DIR.set(os.path.dirname(path) or "." if path != "-" else ".")
    try:
        spec = doc.validate(Spec)
    finally:
        _SPEC_DIR.reset(token)
    _cross_check(doc, spec)
    return spec


def _cross_check(doc: TomlDocument, spec: Spec) -> None:
    """What no single key can say: unique names, known owners and borrowers, ports used once."""
    names: dict[str, int] = {}
    for i, d in enumerate(spec.domain):
        if d.name in names:
            doc.fail(("domain", i, "name"), f"{d.name!r} is already the name of domain[{names[d.name]}]")
        names[d.name] = i
    known = set(names) | ({"dom0"} if spec.dom0 is not None else set())
    if not spec.domain and spec.dom0 is None:
        raise InputError(doc.file, "the spec has neither a [dom0] nor a [[domain]]")
    pools = {p.name for p in spec.cpupool}
    if len(pools) != len(spec.cpupool):
        doc.fail(("cpupool",), "two cpupools have the same name")
    for i, d in enumerate(spec.domain):
        if d.cpupool is not None and d.cpupool not in pools:
            doc.fail(("domain", i, "cpupool"), f"{d.cpupool!r} is not a [[cpupool]] of the spec "
                     f"(have: {', '.join(sorted(pools)) or 'none'})")
    ids: set[str] = set()
    for i, s in enumerate(spec.shared_memory):
        if s.id in ids:
            doc.fail(("shared-memory", i, "id"), f"{s.id!r} is already the id of another region")
        ids.add(s.id)
        for key, who in (("owner", s.owner), *(("borrowers", b) for b in s.borrowers)):
            if who not in known:
                doc.fail(("shared-memory", i, key), f"{who!r} is not a domain of the spec "
                         f"(have: {', '.join(sorted(known))})")
        if s.owner in s.borrowers or len(set(s.borrowers)) != len(s.borrowers):
            doc.fail(("shared-memory", i, "borrowers"), "a domain takes part in a region once")
    ports: set[tuple[str, int]] = set()
    for i, e in enumerate(spec.event_channel):
        for end in e.parsed():
            if end[0] not in names:
                doc.fail(("event-channel", i, "ends"), f"{end[0]!r} is not a [[domain]] of the spec "
                         f"(have: {', '.join(sorted(names))})")
            if end in ports:
                doc.fail(("event-channel", i, "ends"), f"port {end[1]} of {end[0]} is already bound")
            ports.add(end)
        if e.parsed()[0][0] == e.parsed()[1][0]:
            doc.fail(("event-channel", i, "ends"), "both ends are the same domain")
