"""Boot-time cpupools: the pools ``btcpupools_allocate_pools()`` makes and the panics
of ``btcpupools_dtb_parse()`` (DOM-022), on trees written here.

The replay of their allocations is checked against traced boots in
``tests/boot/test_heaptrace.py`` (``cpupools@4.17.7``, ``cpupools@4.22.0``);
"Scheduler arinc653 does not exists!" was measured on 4.22.0 (the
``cpupools`` tree with ``cpupool-sched = "arinc653"`` on a build without it).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import xenplan
from xenplan import dt
from xenplan.boot import replay_bridge
from xenplan.boot.state import BootState
from xenplan.model import build
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

CPUS = "".join(f'\t\tcpu{i}: cpu@{i} {{ device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <{i}>; }};\n'
               for i in range(4))


def _tree(tmp_path: Path, pools: str) -> str:
    path = tmp_path / "t.dts"
    path.write_text(f"""/dts-v1/;
/ {{
	#address-cells = <2>;
	#size-cells = <2>;
	memory@40000000 {{ device_type = "memory"; reg = <0x0 0x40000000 0x0 0x40000000>; }};
	gpio: gpio@9030000 {{ reg = <0x0 0x9030000 0x0 0x1000>; }};
	cpus {{
		#address-cells = <1>;
		#size-cells = <0>;
{CPUS}	}};
	chosen {{
		#address-cells = <2>;
		#size-cells = <2>;
{pools}
		domU1 {{
			compatible = "xen,domain";
			memory = <0x0 0x20000>;
			cpus = <1>;
			module@4a000000 {{
				compatible = "multiboot,kernel", "multiboot,module";
				reg = <0x0 0x4a000000 0x0 0x10000>;
			}};
		}};
	}};
}};
""")
    return str(path)


def _pool(name: str, cpus: str, sched: str | None = None) -> str:
    extra = f' cpupool-sched = "{sched}";' if sched else ""
    return f'\t\t{name} {{ compatible = "xen,cpupool"; cpupool-cpus = <{cpus}>;{extra} }};'


def _panic(path: str, **kconfig: bool) -> str | None:
    target = xenplan.build_target(xen_version="4.22", kconfig=[f"{k}=y" for k in ("BOOT_TIME_CPUPOOLS", *kconfig)])
    result = xenplan.analyse(path, target).result
    return result.failed_at.message if result.failed_at is not None else None


@pytest.mark.parametrize(("pools", "message"), [
    (_pool("p", "&cpu1", "rtds"), "Scheduler rtds does not exists!"),
    (_pool("p", ""), "Missing or empty cpupool-cpus property!"),
    (_pool("p@1", "&gpio"), "Error retrieving logical cpu from node p (-2)"),
    (_pool("a", "&cpu1") + "\n" + _pool("b", "&cpu2 &cpu1"), "Logical cpu 1 already added to a cpupool!"),
    (_pool("p", "&cpu1 &cpu2", "credit"), None),
])
def test_boot_cpupool_panics(tmp_path: Path, pools: str, message: str | None) -> None:
    assert _panic(_tree(tmp_path, pools)) == message


def test_without_the_option_the_pools_are_ignored(tmp_path: Path) -> None:
    target = xenplan.build_target(xen_version="4.22")
    assert xenplan.analyse(_tree(tmp_path, _pool("p", "")), target).result.failed_at is None


def test_pools_are_numbered_as_xen_numbers_them(tmp_path: Path) -> None:
    """CPU 0's pool swaps ids with pool 0; CPUs in no pool make one more pool."""
    path = _tree(tmp_path, _pool("a", "&cpu2", "null") + "\n" + _pool("b", "&cpu0 &cpu1"))
    kconfig = {**KCONFIG_DEFAULTS, "BOOT_TIME_CPUPOOLS": True, "SCHED_NULL": True}
    system = build(dt.load(path), Target(version=XenVersion.parse("4.22.0"), kconfig=kconfig))
    assert replay_bridge._cpupools(BootState(system=system)) == (("credit2", "null", "credit2"), (0, 0, 1, 2))
