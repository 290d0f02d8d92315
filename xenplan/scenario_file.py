"""A simulation scenario file (``xenplan simulate --scenario``): the model of its keys and its reader.

Kept apart from ``xenplan.simulate`` so that validating models are built
only when a user's file is read: ``check``'s own run-time scenario
(``xenplan.checks.rt``) is a list of operations, not a file.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from xenplan.tomlfile import TomlDocument, load_toml, size_value


class Scenario(BaseModel):
    """A scenario file: ``ops`` plus the target settings of the command line (which win when given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ops: list[str]
    xen_version: str | None = Field(default=None, alias="xen-version")
    arch: str | None = None
    board: str | None = None
    kconfig: tuple[str, ...] = ()
    xen_image: str | None = Field(default=None, alias="xen-image")
    fdt_address: str | None = Field(default=None, alias="fdt-address")
    pa_bits: Annotated[int | None, BeforeValidator(lambda v: None if v is None else size_value(v))] = Field(
        default=None, alias="pa-bits")
    gic_spis: int | None = Field(default=None, alias="gic-spis")

    def settings(self) -> dict[str, Any]:
        """The target settings the file gives, by the command line's parameter names."""
        out = {k: v for k, v in self.model_dump(exclude={"ops", "kconfig"}).items() if v is not None}
        if self.kconfig:
            out["kconfig"] = tuple(self.kconfig)
        return out


def load_scenario(path: str) -> tuple[Scenario, TomlDocument]:
    """A scenario TOML file, validated, with its document for line-numbered errors on its ``ops``."""
    doc = load_toml(path)
    return doc.validate(Scenario), doc
