#!/usr/bin/env python3
"""Record one ImageBuilder case end to end: real uboot-script-gen, real U-Boot, real Xen.

Not part of xenplan or of its tests: the tool that produced the recordings in
``tests/data/imagebuilder``. It needs bash, ``mkimage`` (u-boot-tools),
``dtc``/``fdtget``/``fdtput`` (device-tree-compiler), ``file``, ``sfdisk``
(fdisk), ``mkfs.vfat`` (dosfstools), ``mcopy``/``mmd`` (mtools),
``qemu-system-aarch64`` (qemu-system-arm), Debian's u-boot-qemu, and an
ImageBuilder tree (its ``scripts/uboot-script-gen``).

  ibboot.py run CASE_DIR --xen XEN --imagebuilder IB_DIR --imagebuilder-ref TEXT
      CASE_DIR holds ``config`` and ``files.json`` (and the trees the
      config names). In a scratch directory: write the stand-ins
      (make_standins.py), copy XEN under the config's file name, run
      ``uboot-script-gen -c config -d . -t "load virtio 0:1" -o boot``,
      put boot.scr and every file on the FAT partition of a
      partitioned disk, boot QEMU virt with U-Boot as its firmware, keep
      the console until Xen frees its init memory, panics, or U-Boot gives
      up. Writes command.txt, boot.source, xen.log, chosen.txt and
      verdict.json into CASE_DIR.
  ibboot.py tree CASE_DIR [-o tree.dts]
      the tree U-Boot handed to Xen, as DTS: the config's DEVICE_TREE with
      the nodes of chosen.txt merged over it.
  ibboot.py verdict CASE_DIR
      rewrite verdict.json from CASE_DIR/xen.log (keeps its notes).

The boot.scr on the disk is boot.source with these lines before its boot
command: ``echo`` markers around ``fdt print /chosen`` and ``fdt print`` of
every other node the script sets a property on. They print the tree U-Boot
built, and change nothing in it; chosen.txt is what they printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_standins

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "xen-trace"))
from qemu_console import read_console

UBOOT = "/usr/lib/u-boot/qemu_arm64/u-boot.bin"
LOAD = "load virtio 0:1"
MARK_BEGIN, MARK_END = "==== ibboot tree begin ====", "==== ibboot tree end ===="
MIB = 1 << 20
TRACE = re.compile(r"\(XEN\) (\[[ 0-9.a-f]*\] )?XTR ")
STAMP = re.compile(r"^\(XEN\) (\[[ 0-9.a-f]*\] )?")


def _qemu(disk: Path) -> list[str]:
    return ["qemu-system-aarch64", "-M", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a57", "-smp", "2",
            "-m", "4G", "-nographic", "-nic", "none", "-bios", UBOOT, "-device", "virtio-blk-device,drive=d",
            "-drive", f"if=none,id=d,format=raw,file={disk}", "-no-reboot"]


def _printing_script(source: str) -> str:
    """boot.source with the tree printed just before its boot command (a script without one is kept as is)."""
    lines = source.splitlines()
    boot = next((i for i in range(len(lines) - 1, -1, -1) if re.match(r"(booti|bootm|bootz|bootefi)\b", lines[i])),
                None)
    if boot is None:
        return source
    paths = ["/chosen"]
    for line in lines[:boot]:
        m = re.match(r"fdt set (\S+)", line)
        if m and not (m.group(1) + "/").startswith("/chosen/") and m.group(1) not in paths:
            paths.append(m.group(1))
    extra = [f"echo {MARK_BEGIN}", "fdt print /chosen"]
    for path in paths[1:]:
        extra += [f"echo ---- fdt print {path}", f"fdt print {path}"]
    extra.append(f"echo {MARK_END}")
    return "\n".join(lines[:boot] + extra + lines[boot:]) + "\n"


def _disk(work: Path, names: list[str], disk: Path) -> None:
    """A DOS-partitioned image, one FAT partition from 1 MiB holding ``names`` (paths kept)."""
    payload = sum((work / n).stat().st_size for n in names)
    fs_bytes = (payload * 11 // 10 + 8 * MIB + MIB - 1) // MIB * MIB
    with open(disk, "wb") as f:
        f.truncate(MIB + fs_bytes)
    subprocess.run(["sfdisk", "-q", str(disk)], input="label: dos\nstart=2048, type=c\n", text=True, check=True)
    subprocess.run(["mkfs.vfat", "-n", "IBDISK", "--offset", "2048", str(disk), str(fs_bytes // 1024)], check=True,
                   capture_output=True)
    image = f"{disk}@@{MIB}"
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    made: set[str] = set()
    for name in names:
        parts = Path(name).parts
        for i in range(1, len(parts)):
            folder = "/".join(parts[:i])
            if folder not in made:
                subprocess.run(["mmd", "-i", image, f"::{folder}"], check=True, env=env)
                made.add(folder)
        subprocess.run(["mcopy", "-i", image, str(work / name), f"::{name}"], check=True, env=env)


def _boot(disk: Path, timeout: float) -> str:
    """QEMU's console until Xen ends its boot, panics, U-Boot is back at its prompt, or ``timeout``.

    Xen's last boot line is "Freed NkB init memory", except with a static
    heap (``free_init_memory()`` keeps the pages and prints nothing): then
    the console hand-over line "*** Serial input to ..." ends it, and five
    more seconds are kept.
    """
    end = re.compile(rb"Freed \d+kB init memory|Reboot in|^=> ")
    quiet_end = re.compile(rb"\*\*\* Serial input to ")

    def grace(line: bytes) -> float | None:
        return 1.5 if end.search(line) else 5.0 if quiet_end.search(line) else None

    lines = read_console(_qemu(disk), timeout, grace, partial=True)
    return b"\n".join(lines).decode(errors="replace").replace("\r", "")


def _console(raw: str) -> str:
    """The console without xen-trace's allocation lines; after the end of Xen's boot nothing is kept."""
    lines = [line for line in raw.split("\n") if not TRACE.match(line)]
    last = next((i for i, line in enumerate(lines) if re.search(r"Freed \d+kB init memory|Reboot in", line)), None)
    if last is not None:
        lines = lines[:last + 1]
    return "\n".join(lines).rstrip("\n") + "\n"


def _tree(console: str) -> str | None:
    m = re.search(re.escape(MARK_BEGIN) + r"\n(.*?)" + re.escape(MARK_END), console, re.S)
    if m is None:
        return None
    return m.group(1)


def kernel_owners(source: str) -> dict[int, str]:
    """Which domain node each kernel module address belongs to, from the script's ``fdt set`` lines."""
    owners = {}
    for m in re.finditer(r'^fdt set /chosen/(\S+) reg <(0x[0-9A-Fa-f]+) (0x[0-9A-Fa-f]+) ', source, re.M):
        node, address = m.group(1), int(m.group(2), 16) << 32 | int(m.group(3), 16)
        if node == "dom0":
            owners[address] = "dom0"
        elif "/module" in node:
            owners.setdefault(address, node.partition("/")[0])
    return owners


def read_verdict(log: str, source: str, release: str | None) -> dict[str, object]:
    """Outcome, release and each domain's RAM banks as Xen's console states them.

    A domain is named by the /chosen node whose kernel module Xen says it
    loads ("Loading dN kernel from boot module @ ADDR"): U-Boot's ``fdt
    mknod`` puts each new node before its siblings, so Xen meets the domains
    in the reverse of the script's order and domain IDs cannot be mapped by
    position. Banks are ``[start, end)`` as printed: ``dN BANK[i] a-b``
    (``dN: STATIC BANK[i] a-b`` for static memory), and dom0's ``BANK[i]
    a-b`` after its "... totalling NMB for d0:" line.
    """
    version = re.search(r"Xen version (\d+\.\d+\.\d+)", log)
    if re.search(r"Panic on CPU \d+", log):
        outcome = "panic"
    elif not re.search(r"^\(XEN\) ", log, re.M):
        outcome = "uboot-error"
    elif re.search(r"Freed \d+kB init memory|\*\*\* Serial input to ", log):
        outcome = "boots"
    else:
        outcome = "domain-failed"
    owners = kernel_owners(source)
    names = {int(m.group(1)): owners.get(int(m.group(2), 16), f"d{m.group(1)}")
             for m in re.finditer(r"Loading d(\d+) kernel from boot module @ ([0-9a-fA-F]+)", log)}
    banks: dict[str, list[list[str]]] = {}
    in_dom0 = False
    for raw in log.split("\n"):
        line = STAMP.sub("", raw)
        if re.search(r"totalling \d+MB for (?:d0|dom0):", line):
            in_dom0 = True
            continue
        if line.startswith("*** LOADING DOMU"):
            in_dom0 = False
            continue
        m = re.match(r"(?:d(\d+):? (?:STATIC )?)?BANK\[\d+\] (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)", line)
        if not m:
            continue
        if m.group(1) is not None:
            name = names.get(int(m.group(1)), f"d{m.group(1)}")
        elif in_dom0:
            name = "dom0"
        else:
            continue
        banks.setdefault(name, []).append([f"{int(m.group(2), 16):#x}", f"{int(m.group(3), 16):#x}"])
    return {"xen": version.group(1) if version else release, "outcome": outcome,
            "domains": [{"name": n, "banks": b} for n, b in banks.items()]}


def printed_tree(case: Path) -> str:
    """A DTS of the tree U-Boot handed to Xen: the config's DEVICE_TREE with chosen.txt's nodes laid over it.

    chosen.txt is U-Boot's own ``fdt print`` output, which is DTS syntax:
    each printed node goes on top of the board tree at its path (``&{/path}``),
    dtc merges it there, and U-Boot's order of the /chosen children is kept.
    ``booti``'s later edits (the memory node from U-Boot's RAM size, which is
    the tree's own) are not in it.
    """
    config = (case / "config").read_text()
    m = re.search(r'^DEVICE_TREE="?([^"\n]+?)"?$', config, re.M)
    if m is None:
        sys.exit(f"{case / 'config'}: no DEVICE_TREE")
    base = subprocess.run(["dtc", "-q", "-I", "dtb", "-O", "dts", str(case / m.group(1))], capture_output=True,
                          text=True, check=True).stdout
    parts = re.split(r"^---- fdt print (\S+)\n", (case / "chosen.txt").read_text(), flags=re.M)
    out = [base]
    for path, body in [("/chosen", parts[0]), *zip(parts[1::2], parts[2::2], strict=True)]:
        lines = [line for line in body.strip().split("\n") if line and not line.startswith("libfdt ")]
        if lines:
            inner = "\n".join(lines[1:-1])
            out.append(f"&{{{path}}} {{\n{inner}\n}};\n")
    return "\n".join(out)


def tree(args: argparse.Namespace) -> None:
    text = printed_tree(Path(args.case))
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


def verdict(args: argparse.Namespace) -> None:
    case = Path(args.case)
    path = case / "verdict.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    new = read_verdict((case / "xen.log").read_text(), (case / "boot.source").read_text(), old.get("xen"))
    new["notes"] = old.get("notes", "")
    path.write_text(json.dumps(new, indent=2) + "\n")
    print(json.dumps(new))


def run(args: argparse.Namespace) -> None:
    case = Path(args.case).resolve()
    files = json.loads((case / "files.json").read_text())
    xen_names = [n for n, e in files.items() if e["kind"] == "xen"]
    if len(xen_names) != 1:
        sys.exit(f"{case / 'files.json'}: needs exactly one file of kind xen")
    xen = Path(args.xen)
    files[xen_names[0]]["size"] = xen.stat().st_size
    (case / "files.json").write_text(json.dumps(files, indent=2, sort_keys=True) + "\n")
    with tempfile.TemporaryDirectory(prefix="ibboot-") as tmp:
        work = Path(tmp)
        shutil.copy(case / "config", work / "config")
        for name, entry in files.items():
            if entry["kind"] in ("dtb", "passthrough-dtb") or (entry["kind"] == "other" and (case / name).is_file()):
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(case / name, work / name)
        make_standins.make(case, work)
        (work / xen_names[0]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(xen, work / xen_names[0])
        gen = Path(args.imagebuilder) / "scripts" / "uboot-script-gen"
        cmd = ["bash", str(gen), "-c", "config", "-d", ".", "-t", LOAD, "-o", "boot"]
        done = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
        shown = f'{Path(args.imagebuilder).name}/scripts/uboot-script-gen -c config -d . -t "{LOAD}" -o boot'
        (case / "command.txt").write_text(
            f"{shown}\n(run in a directory holding config and the files of files.json)\n"
            f"ImageBuilder: {args.imagebuilder_ref}\n"
            f"exit status: {done.returncode}\noutput:\n{done.stdout}{done.stderr}")
        if done.returncode or not (work / "boot.source").is_file():
            sys.exit(f"uboot-script-gen failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        source = (work / "boot.source").read_text()
        (case / "boot.source").write_text(source)
        m = re.search(r"to be loaded at address (0x[0-9A-Fa-f]+)", done.stdout)
        script_addr = m.group(1) if m else "0x40200000"
        (work / "print.source").write_text(_printing_script(source))
        subprocess.run(["mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-a", script_addr, "-e", script_addr,
                        "-d", str(work / "print.source"), str(work / "boot.scr")], check=True, capture_output=True)
        _disk(work, [*sorted(files), "boot.scr"], work / "disk.img")
        raw = _boot(work / "disk.img", args.timeout)
        if args.raw:
            Path(args.raw).write_text(raw)
    log = _console(raw)
    (case / "xen.log").write_text(log)
    tree = _tree(log)
    if tree is not None:
        (case / "chosen.txt").write_text(tree)
    release = re.search(r"(\d+\.\d+\.\d+)", str(xen))
    result = read_verdict(log, source, release.group(1) if release else None)
    panic = re.search(r"Panic on CPU \d+:\n(?:\(XEN\) )?(?:\[[ 0-9.]*\] )?(.*)", log)
    note = args.note or ""
    if panic:
        note = (note + " " if note else "") + f"Xen panics: {panic.group(1).strip()}"
    result["notes"] = note
    (case / "verdict.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("case")
    p.add_argument("--xen", required=True, help="the Xen binary to boot, e.g. /tmp/xen-4.22.0/xen/xen")
    p.add_argument("--imagebuilder", required=True, help="an ImageBuilder tree (holding scripts/uboot-script-gen)")
    p.add_argument("--imagebuilder-ref", required=True, help="where that tree came from, for command.txt")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--note", help="the start of verdict.json's notes")
    p.add_argument("--raw", help="also keep the untrimmed console here")
    p.set_defaults(run=run)
    p = sub.add_parser("tree")
    p.add_argument("case")
    p.add_argument("-o", "--output")
    p.set_defaults(run=tree)
    p = sub.add_parser("verdict")
    p.add_argument("case")
    p.set_defaults(run=verdict)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
