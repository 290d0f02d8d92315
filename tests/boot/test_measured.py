"""Verdicts of the real Xen, read from its console, against xenplan's.

``tests/data/measured/<case>@<version>.log`` is the console of one release
of Xen booting ``<case>.dts`` on QEMU ``virt`` (``tests/data/measured/README.md``
says how each was recorded). The log is the judge: a ``Panic on CPU`` line
followed by the message is a panic with that message, ``Unexpected Trap:
Data Abort`` a crash, and the dom0less banner with the init memory freed a
boot. The module table gives the Xen image and the DTB placement the
analysis is run with, so the replay sees the memory map the real boot had.

``NOT_MODELLED`` lists the recordings xenplan is known to get wrong; they
are strict expected failures, so a model change that fixes one makes the
suite say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import xenplan

MEASURED = Path(__file__).resolve().parent.parent / "data" / "measured"
LOGS = sorted(MEASURED.glob("*@*.log"))

NOT_MODELLED: dict[str, str] = {}

KCONFIG: dict[str, list[str]] = {"cpupool-sched-missing": ["BOOT_TIME_CPUPOOLS=y", "SCHED_NULL=y"]}
"""Build options beyond the traced builds' defaults, by case (README.md says how each was built)."""


@dataclass(frozen=True)
class Console:
    """What one recorded boot shows: the release, the placement and Xen's verdict."""

    version: str
    xen_image: tuple[int, int]
    fdt: tuple[int, int]
    outcome: str
    panic: str | None
    domains_loaded: int


def _module(text: str, index: int, kind: str, inclusive: bool) -> tuple[int, int]:
    """One row of the module table that ``early_print_info()`` prints (end inclusive from 4.20)."""
    m = re.search(rf"MODULE\[{index}\]: (\w+) - (\w+) {kind}", text)
    assert m is not None, f"no MODULE[{index}] ({kind}) line"
    start, end = int(m.group(1), 16), int(m.group(2), 16)
    return start, end - start + (1 if inclusive else 0)


def read_console(path: Path) -> Console:
    """Parse a trimmed console log into the facts the comparison needs."""
    text = path.read_text()
    version = re.search(r"Xen version (\d+\.\d+\.\d+)", text)
    assert version is not None, f"{path.name}: no 'Xen version' line"
    major, minor, _ = (int(x) for x in version.group(1).split("."))
    inclusive = (major, minor) >= (4, 20)
    lines = [line.removeprefix("(XEN) ").rstrip() for line in text.splitlines()]
    panic = next((lines[i + 1] for i, line in enumerate(lines[:-1]) if re.fullmatch(r"Panic on CPU \d+:", line)),
                 None)
    if any(line.startswith("Unexpected Trap: Data Abort") for line in lines):
        outcome = "crash"
    elif panic is not None:
        outcome = "panic"
    elif "Xen dom0less mode detected" in lines and any(re.fullmatch(r"Freed \d+kB init memory\.", x) for x in lines):
        outcome = "boots"
    else:
        raise AssertionError(f"{path.name}: neither a panic, a data abort nor a finished dom0less boot")
    return Console(version=version.group(1), xen_image=_module(text, 0, "Xen", inclusive),
                   fdt=_module(text, 1, "Device Tree", inclusive), outcome=outcome, panic=panic,
                   domains_loaded=sum(line.startswith("*** LOADING DOMU ") for line in lines))


def _recordings() -> list[object]:
    out: list[object] = []
    for log in LOGS:
        name = log.name.removesuffix(".log")
        marks = [pytest.mark.xfail(strict=True, reason=NOT_MODELLED[name])] if name in NOT_MODELLED else []
        out.append(pytest.param(log, id=name, marks=marks))
    return out


def test_every_recording_has_its_tree() -> None:
    assert LOGS
    for log in LOGS:
        assert (MEASURED / f"{log.name.partition('@')[0]}.dts").is_file(), log.name
    assert set(NOT_MODELLED) <= {log.name.removesuffix(".log") for log in LOGS}


@pytest.mark.parametrize("log", _recordings())
def test_xenplan_matches_the_console(log: Path) -> None:
    seen = read_console(log)
    case = log.name.partition("@")[0]
    target = xenplan.build_target(xen_version=seen.version, kconfig=KCONFIG.get(case, []),
                                  xen_image=f"{seen.xen_image[0]:#x}:{seen.xen_image[1]:#x}",
                                  fdt_address=f"{seen.fdt[0]:#x}:{seen.fdt[1]:#x}")
    got = xenplan.analyse(str(MEASURED / f"{case}.dts"), target).result
    assert got.outcome == seen.outcome
    if seen.outcome == "panic":
        assert got.failed_at is not None
        assert got.failed_at.message == seen.panic
    else:
        assert got.failed_at is None
    reached = [d.name for d in got.domains if d.status != "not-reached"]
    assert len(reached) == seen.domains_loaded, reached
    if seen.outcome == "boots":
        assert all(d.status == "constructed" for d in got.domains)


def test_console_parsing_reads_a_panic_and_its_placement() -> None:
    seen = read_console(MEASURED / "XS-002-fires-417@4.17.7.log")
    assert (seen.outcome, seen.panic) == ("panic", "At the moment, Xenstore support requires dom0 to be present")
    assert seen.xen_image[0] == 0x40200000 and seen.fdt[0] == 0x48000000
    assert seen.domains_loaded == 1
