"""Xen's command line as ``boot_fdt_cmdline()`` finds it (identical from 4.16 to 4.22), and what
``--board`` did to it: ``XenConfig.bootargs``/``bootargs_prop`` and ``System.notes``."""

from __future__ import annotations

from pathlib import Path

import pytest

from xenplan.dt.load import load
from xenplan.model.build import build
from xenplan.model.system import System
from xenplan.model.target import Target, XenVersion

ALL_VERSIONS = ("4.16", "4.17", "4.18", "4.19", "4.20", "4.21", "4.22")
KERNEL = 'compatible = "multiboot,kernel", "multiboot,module"; reg = <0x0 0x4c000000 0x0 0x1000000>;'


def tree_text(chosen: str) -> str:
    return ("/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n"
            'memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; };\n'
            f"chosen {{ #address-cells = <2>; #size-cells = <2>;\n{chosen}\n}}; }};\n")


def system(tmp_path: Path, chosen: str, version: str = "4.22", board: str | None = None) -> System:
    path = tmp_path / "input.dts"
    path.write_text(tree_text(chosen) if board is None else chosen)
    board_path = None
    if board is not None:
        board_path = tmp_path / "board.dts"
        board_path.write_text(board)
    tree = load(str(path), board=str(board_path) if board_path else None)
    board_tree = load(str(board_path)) if board_path else None
    return build(tree, Target(version=XenVersion.parse(version)), board_tree=board_tree)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_xen_bootargs_wins_over_bootargs(tmp_path: Path, version: str) -> None:
    s = system(tmp_path, 'xen,xen-bootargs = "dom0_mem=1G"; xen,dom0-bootargs = "console=hvc0"; '
               'bootargs = "dom0_mem=3G";', version)
    assert (s.xen.bootargs, s.xen.bootargs_prop, s.xen.cmdline) == ("dom0_mem=1G", "xen,xen-bootargs",
                                                                    {"dom0_mem": "1G"})
    assert s.notes == ()


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_bootargs_alone_is_not_read(tmp_path: Path, version: str) -> None:
    s = system(tmp_path, f'bootargs = "console=dtuart dom0_mem=3G"; k@4c000000 {{ {KERNEL} }};', version)
    assert (s.xen.bootargs, s.xen.bootargs_prop, s.xen.cmdline) == (None, None, {})
    assert s.xen.chosen_bootargs == "console=dtuart dom0_mem=3G"
    assert s.notes and s.notes[0].startswith("Xen's command line is empty")


def test_bootargs_is_read_with_xen_dom0_bootargs(tmp_path: Path) -> None:
    s = system(tmp_path, 'bootargs = "dom0_mem=3G"; xen,dom0-bootargs = "";')
    assert (s.xen.bootargs_prop, s.xen.cmdline) == ("bootargs", {"dom0_mem": "3G"})
    assert "xen,dom0-bootargs" in s.notes[0]


def test_bootargs_is_read_when_dom0_kernel_has_bootargs(tmp_path: Path) -> None:
    s = system(tmp_path, f'bootargs = "dom0_mem=3G"; k@4c000000 {{ {KERNEL} bootargs = "console=hvc0"; }};')
    assert (s.xen.bootargs_prop, s.xen.dom0_kernel_cmdline) == ("bootargs", "/chosen/k@4c000000")
    assert s.board.uart is None and s.xen.cmdline == {"dom0_mem": "3G"}


def test_an_empty_kernel_bootargs_is_found_first_and_does_not_count(tmp_path: Path) -> None:
    second = KERNEL.replace("0x4c000000 0x0", "0x4e000000 0x0")
    s = system(tmp_path, f'bootargs = "dom0_mem=3G"; k@4c000000 {{ {KERNEL} bootargs = ""; }}; '
               f'k@4e000000 {{ {second} bootargs = "console=hvc0"; }};')
    assert (s.xen.bootargs_prop, s.xen.dom0_kernel_cmdline) == (None, "/chosen/k@4c000000")


def test_a_kernel_without_bootargs_records_no_command_line(tmp_path: Path) -> None:
    second = KERNEL.replace("0x4c000000 0x0", "0x4e000000 0x0")
    s = system(tmp_path, f'bootargs = "dom0_mem=3G"; k@4c000000 {{ {KERNEL} }}; '
               f'k@4e000000 {{ {second} bootargs = "console=hvc0"; }};')
    assert (s.xen.bootargs_prop, s.xen.dom0_kernel_cmdline) == ("bootargs", "/chosen/k@4e000000")


def test_a_domu_kernels_bootargs_does_not_count(tmp_path: Path) -> None:
    s = system(tmp_path, 'bootargs = "dom0_mem=3G"; domU1 { compatible = "xen,domain"; memory = <0x0 0x40000>; '
               f'cpus = <1>; k@4c000000 {{ {KERNEL} bootargs = "console=ttyAMA0"; }}; }};')
    assert (s.xen.bootargs_prop, s.xen.dom0_kernel_cmdline) == (None, None)


def test_a_guessed_kernel_counts(tmp_path: Path) -> None:
    s = system(tmp_path, 'bootargs = "dom0_mem=3G"; m@4c000000 { compatible = "multiboot,module"; '
               'reg = <0x0 0x4c000000 0x0 0x1000000>; bootargs = "console=hvc0"; };')
    assert (s.xen.bootargs_prop, s.xen.dom0_kernel_cmdline) == ("bootargs", "/chosen/m@4c000000")


def test_dtuart_is_read_from_the_fallback_command_line(tmp_path: Path) -> None:
    s = system(tmp_path, 'bootargs = "console=dtuart dtuart=/uart"; xen,dom0-bootargs = "";')
    s2 = system(tmp_path, 'bootargs = "console=dtuart dtuart=/uart";')
    assert s.xen.cmdline["dtuart"] == "/uart" and "dtuart" not in s2.xen.cmdline


BOARD = ('/dts-v1/;\n/ { #address-cells = <2>; #size-cells = <2>;\n'
         'memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x1 0x0>; };\n'
         'chosen { xen,xen-bootargs = "console=dtuart bootscrub=0"; #address-cells = <2>; #size-cells = <2>; };\n'
         '};\n')


def test_board_value_replaced_by_the_input(tmp_path: Path) -> None:
    s = system(tmp_path, '/dts-v1/;\n/ { chosen { xen,xen-bootargs = "console=dtuart dom0_mem=1G"; }; };\n',
               board=BOARD)
    assert s.xen.bootargs == "console=dtuart dom0_mem=1G"
    assert s.notes == ('--board: the input\'s /chosen/xen,xen-bootargs ("console=dtuart dom0_mem=1G") replaces '
                       'the board\'s ("console=dtuart bootscrub=0"); the board\'s bootscrub=0 no longer apply',)


def test_board_value_kept_when_the_input_has_none(tmp_path: Path) -> None:
    s = system(tmp_path, '/dts-v1/;\n/ { chosen { }; };\n', board=BOARD)
    assert s.xen.bootargs == "console=dtuart bootscrub=0"
    assert s.notes == ('--board: Xen\'s command line is the board\'s /chosen/xen,xen-bootargs ("console=dtuart '
                       'bootscrub=0"): the input sets none',)


def test_board_value_repeated_unchanged_says_nothing(tmp_path: Path) -> None:
    s = system(tmp_path, '/dts-v1/;\n/ { chosen { xen,xen-bootargs = "console=dtuart bootscrub=0"; }; };\n',
               board=BOARD)
    assert s.notes == ()
