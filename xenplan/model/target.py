"""What xenplan simulates: a Xen release, an architecture, a Kconfig and
the board facts that are not in the device tree."""

from __future__ import annotations

from dataclasses import field
from typing import Literal

from xenplan.model.base import Range, value
from xenplan.model.kernel_image import KernelImage
from xenplan.model.release import DEV_RELEASE, POINT_RELEASES, XenRelease, XenVersion, release_of

__all__ = ["DEV_RELEASE", "KCONFIG_DEFAULTS", "POINT_RELEASES", "Target", "XenVersion"]

#: Kconfig defaults: static features and dom0less on.
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


@value
class Target:
    """The Xen build and board facts a simulation runs against."""

    version: XenVersion = field(default_factory=lambda: XenVersion.parse("4.22"))
    arch: Literal["arm64", "arm32"] = "arm64"
    kconfig: dict[str, bool] = field(default_factory=lambda: dict(KCONFIG_DEFAULTS))
    xen_image: Range | None = None
    fdt_address: int | None = None
    fdt_size: int | None = None
    pa_bits: int | None = None
    gic_spis: int = 224
    host_cpus: int | None = None
    notes: tuple[str, ...] = ()
    kernel_images: dict[str, KernelImage] = field(default_factory=dict)
    """By domain name or module path (--kernel-image NODE=FILE)."""

    def kernel_image(self, domain: str, module: str) -> KernelImage | None:
        return self.kernel_images.get(module) or self.kernel_images.get(domain)

    def has(self, option: str) -> bool:
        return self.kconfig.get(option, KCONFIG_DEFAULTS.get(option, False))

    @property
    def debug(self) -> bool:
        return self.has("DEBUG")

    @property
    def release(self) -> XenRelease:
        """What this release, architecture and Kconfig do (``release_of()``, cached per combination)."""
        return release_of(self.version, self.arch, self.has("LLC_COLORING"))
