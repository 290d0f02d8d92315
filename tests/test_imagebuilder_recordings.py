"""The ImageBuilder recordings are complete and say what their consoles say.

``tests/data/imagebuilder/<case>/`` holds one boot of a real
``uboot-script-gen`` output in real U-Boot and real Xen
(``tests/data/imagebuilder/README.md``). Other tests compare xenplan with
these files, so a recording with a missing file, a stand-in committed by
mistake, or a ``verdict.json`` that disagrees with its own ``xen.log`` would
make them judge against the wrong thing. Nothing here runs QEMU.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "imagebuilder"
CASES = sorted(p for p in DATA.iterdir() if p.is_dir() and not p.name.startswith("ibread-")) if DATA.is_dir() else []
"""The booted recordings; ``ibread-*`` folders are script-only cases for the equivalence test (ibread-cases.md)."""
REQUIRED = ("config", "files.json", "command.txt", "boot.source", "xen.log", "verdict.json")
KINDS = {"kernel", "ramdisk", "dtb", "xen", "passthrough-dtb", "other"}
COMMITTED = {"dtb", "passthrough-dtb"}
OUTCOMES = {"boots", "panic", "domain-failed", "uboot-error"}
STAMP = re.compile(r"^\(XEN\) (\[[ 0-9.a-f]*\] )?")


def _standins() -> ModuleType:
    path = ROOT / "tools" / "imagebuilder-boot" / "make_standins.py"
    spec = importlib.util.spec_from_file_location("make_standins", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def log_banks(log: str, source: str) -> dict[str, list[list[str]]]:
    """RAM banks per domain from Xen's console.

    Xen names domains by ID; the ID's kernel module ("Loading dN kernel from
    boot module @ ADDR") says which /chosen node of the script it is, since
    U-Boot's ``fdt mknod`` puts new nodes first and Xen meets them in the
    reverse of the script's order.
    """
    owner = {}
    for m in re.finditer(r"^fdt set /chosen/(dom0|[^/ ]+/module\S+) reg <(0x\w+) (0x\w+) ", source, re.M):
        owner.setdefault(int(m.group(2), 16) << 32 | int(m.group(3), 16), m.group(1).partition("/")[0])
    names = {m.group(1): owner[int(m.group(2), 16)]
             for m in re.finditer(r"Loading d(\d+) kernel from boot module @ (\w+)", log)}
    banks: dict[str, list[list[str]]] = {}
    in_dom0 = False
    for raw in log.splitlines():
        line = STAMP.sub("", raw)
        if re.search(r"totalling \d+MB for (d0|dom0):", line):
            in_dom0 = True
            continue
        if line.startswith("*** LOADING DOMU"):
            in_dom0 = False
        m = re.match(r"(?:d(\d+):? (?:STATIC )?)?BANK\[\d+\] (0x\w+)-(0x\w+)", line)
        if m is None or (m.group(1) is None and not in_dom0):
            continue
        name = names[m.group(1)] if m.group(1) is not None else "dom0"
        banks.setdefault(name, []).append([f"{int(m.group(2), 16):#x}", f"{int(m.group(3), 16):#x}"])
    return banks


def test_there_are_recordings_of_both_releases() -> None:
    versions = {json.loads((c / "verdict.json").read_text())["xen"] for c in CASES}
    assert len(CASES) >= 10
    assert {"4.18.6", "4.22.0"} <= versions


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_recording_is_complete(case: Path) -> None:
    for name in REQUIRED:
        assert (case / name).is_file(), f"{case.name}: no {name}"
    files = json.loads((case / "files.json").read_text())
    for name, entry in files.items():
        assert set(entry) == {"size", "kind"} and entry["kind"] in KINDS, name
        assert isinstance(entry["size"], int) and entry["size"] > 0, name
        if entry["kind"] in COMMITTED:
            assert (case / name).stat().st_size == entry["size"], name
        else:
            assert not (case / name).exists(), f"{case.name}: stand-in {name} is committed"
    assert sum(e["kind"] == "xen" for e in files.values()) == 1
    source = (case / "boot.source").read_text()
    loaded = re.findall(r"^load virtio 0:1 0x[0-9A-F]+ (\S+)$", source, re.M)
    assert loaded and set(loaded) <= set(files), sorted(set(loaded) - set(files))
    command = (case / "command.txt").read_text()
    assert 'uboot-script-gen -c config -d . -t "load virtio 0:1" -o boot' in command
    assert re.search(r"commit [0-9a-f]{40}", command)
    log = (case / "xen.log").read_text()
    assert "U-Boot 20" in log
    assert not re.search(r"^\(XEN\) (\[[ 0-9.a-f]*\] )?XTR ", log, re.M), "tracing lines left in xen.log"
    chosen = case / "chosen.txt"
    if chosen.is_file():
        assert chosen.read_text().startswith("chosen {")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict_agrees_with_the_console(case: Path) -> None:
    verdict = json.loads((case / "verdict.json").read_text())
    assert set(verdict) == {"xen", "outcome", "domains", "notes"}
    assert verdict["outcome"] in OUTCOMES
    log = (case / "xen.log").read_text()
    version = re.search(r"Xen version (\d+\.\d+\.\d+)", log)
    if verdict["outcome"] == "uboot-error":
        assert not re.search(r"^\(XEN\) ", log, re.M) and verdict["domains"] == []
        return
    assert version is None or version.group(1) == verdict["xen"]
    assert re.fullmatch(r"4\.\d+\.\d+", verdict["xen"])
    panicked = re.search(r"Panic on CPU \d+", log) is not None
    assert panicked == (verdict["outcome"] == "panic")
    if verdict["outcome"] == "boots":
        assert re.search(r"Freed \d+kB init memory|\*\*\* Serial input to ", log)
    banks = log_banks(log, (case / "boot.source").read_text())
    assert {d["name"]: d["banks"] for d in verdict["domains"]} == banks
    assert [d["name"] for d in verdict["domains"]] == list(banks)


def test_standins_are_what_uboot_script_gen_accepts() -> None:
    standins = _standins()
    kernel = standins.kernel(0x123457)
    assert len(kernel) == 0x123457 and kernel[0x38:0x3C] == b"ARM\x64"
    assert int.from_bytes(kernel[16:24], "little") == 0x123457 and kernel[8:16] == bytes(8)
    ramdisk = standins.ramdisk(4096)
    assert len(ramdisk) == 4096 and ramdisk.startswith(b"070701")
    assert standins.kernel(4096) == standins.kernel(4096)
