"""What xenplan simulates: a Xen release, an architecture, a Kconfig and
the board facts that are not in the device tree (``DESIGN.md``, "Board facts")."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from xenplan.model.base import Range, XBase
from xenplan.model.kernel_image import KernelImage

#: Newest point release of each line the rulebook knows (``DESIGN.md``).
POINT_RELEASES: dict[tuple[int, int], int] = {
    (4, 16): 7,
    (4, 17): 7,
    (4, 18): 6,
    (4, 19): 6,
    (4, 20): 4,
    (4, 21): 2,
    (4, 22): 0,
}
DEV_RELEASE = (4, 23)

#: Kconfig defaults (``DESIGN.md``): static features and dom0less on.
KCONFIG_DEFAULTS: dict[str, bool] = {
    "STATIC_MEMORY": True,
    "STATIC_SHM": True,
    "STATIC_EVTCHN": True,
    "DOM0LESS_BOOT": True,
    "GRANT_TABLE": True,
    "SBSA_VUART_CONSOLE": True,
    "LLC_COLORING": False,
    "DEBUG": False,
    "SCHED_CREDIT": True,
    "SCHED_CREDIT2": True,
    "SCHED_NULL": False,
    "SCHED_RTDS": False,
    "SCHED_ARINC653": False,
    "BOOT_TIME_CPUPOOLS": False,
}


class XenVersion(XBase):
    """A Xen release, compared as (major, minor, patch); ``dev`` for 4.23-dev."""

    major: int
    minor: int
    patch: int = 0
    dev: bool = False

    @classmethod
    def parse(cls, text: str) -> XenVersion:
        """``4.22``, ``4.22.0`` or ``4.23-dev``; ``X.Y`` is the newest known point release."""
        m = re.fullmatch(r"\s*(\d+)\.(\d+)(?:\.(\d+))?(-dev)?\s*", text)
        if not m:
            raise ValueError(f"not a Xen version: {text!r} (expected e.g. 4.22, 4.20.4 or 4.23-dev)")
        major, minor = int(m.group(1)), int(m.group(2))
        line = (major, minor)
        if m.group(4):
            return cls(major=major, minor=minor, patch=0, dev=True)
        if line not in POINT_RELEASES:
            if line == DEV_RELEASE:
                return cls(major=major, minor=minor, patch=0, dev=True)
            known = ", ".join(f"{a}.{b}" for a, b in POINT_RELEASES) + ", 4.23-dev"
            raise ValueError(f"Xen {text} is not modelled (known: {known})")
        patch = int(m.group(3)) if m.group(3) is not None else POINT_RELEASES[line]
        return cls(major=major, minor=minor, patch=patch)

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.major, self.minor, self.patch)

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return self.key >= (major, minor, patch)

    def __str__(self) -> str:
        if self.dev:
            return f"{self.major}.{self.minor}-dev"
        return f"{self.major}.{self.minor}.{self.patch}"


class Target(XBase):
    """The Xen build and board facts a simulation runs against."""

    version: XenVersion = Field(default_factory=lambda: XenVersion.parse("4.22"))
    arch: Literal["arm64", "arm32"] = "arm64"
    kconfig: dict[str, bool] = Field(default_factory=lambda: dict(KCONFIG_DEFAULTS))
    xen_image: Range | None = None
    fdt_address: int | None = None
    fdt_size: int | None = None
    pa_bits: int | None = None
    gic_spis: int = 224
    host_cpus: int | None = None
    notes: tuple[str, ...] = ()
    kernel_images: dict[str, KernelImage] = Field(
        default_factory=dict, description="by domain name or module path (--kernel-image NODE=FILE)")

    def kernel_image(self, domain: str, module: str) -> KernelImage | None:
        return self.kernel_images.get(module) or self.kernel_images.get(domain)

    def has(self, option: str) -> bool:
        return self.kconfig.get(option, KCONFIG_DEFAULTS.get(option, False))

    @property
    def debug(self) -> bool:
        return self.has("DEBUG")
