"""A configuration file read and checked: the model of its keys and the cached reader.

Kept apart from ``xenplan.config`` so that a run with no configuration file
(the common case) loads neither these models nor the TOML reader.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from xenplan.errors import InputError
from xenplan.tomlfile import KeyPath, TomlDocument, load_toml


class Options(BaseModel):
    """The settings a configuration's top level and each per-file entry may give.

    Built on first validation (``defer_build``): a run without a configuration file never builds it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False, frozen=True, defer_build=True)

    xen_version: str | None = Field(None, alias="xen-version")
    arch: Literal["arm64", "arm32"] | None = None
    kconfig: list[str] | dict[str, bool] | None = None
    kconfig_file: str | None = Field(None, alias="kconfig-file")
    xen_image: str | None = Field(None, alias="xen-image")
    fdt_address: str | None = Field(None, alias="fdt-address")
    pa_bits: int | None = Field(None, alias="pa-bits")
    board: str | None = None
    gic_spis: int | None = Field(None, alias="gic-spis")
    include: list[str] | None = None
    select: list[str] | None = None
    ignore: list[str] | None = None
    fail_on: Literal["error", "warning", "info"] | None = Field(None, alias="fail-on")
    ignore_nodes: dict[str, list[str]] | None = Field(None, alias="ignore-nodes")

    @field_validator("ignore_nodes")
    @classmethod
    def _node_paths(cls, v: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        for path in v or {}:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} is not a node path (a full path such as /chosen/domU1)")
        return v


class PerFile(Options):
    glob: str


class ConfigModel(Options):
    per_file: list[PerFile] = Field(default_factory=list, alias="per-file")


@dataclass(frozen=True)
class Config:
    """A configuration file read and checked."""

    file: str
    doc: TomlDocument
    base: KeyPath
    """Where the settings sit in the document: ``()`` or ``("tool", "xenplan")``."""
    model: ConfigModel

    @property
    def folder(self) -> str:
        return os.path.dirname(self.file) or "."

    def line(self, path: KeyPath) -> int | None:
        return self.doc.line((*self.base, *path))



def load_config(path: str) -> Config:
    """Read a configuration file; every error (syntax, unknown key, wrong type) is one ``InputError`` line.

    The inputs of one run that share a configuration read it once (cached by path, time and size)."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    return _load_config(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=64)
def _load_config(path: str, mtime: int, size: int) -> Config:
    doc = load_toml(path)
    base: KeyPath = ()
    if os.path.basename(path) == "pyproject.toml":
        tool = doc.data.get("tool", {})
        if not isinstance(tool, dict) or not isinstance(tool.get("xenplan"), dict):
            raise InputError(path, "has no [tool.xenplan] table")
        base = ("tool", "xenplan")
    model = doc.validate(ConfigModel, base)
    for i, entry in enumerate(model.per_file):
        if not entry.glob.strip():
            doc.fail((*base, "per-file", i, "glob"), "an empty glob matches no input")
    return Config(path, doc, base, model)
