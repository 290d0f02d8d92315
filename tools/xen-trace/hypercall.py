"""Run-time memory hypercalls measured on the real Xen, case by case.

A case is a directory holding ``tree.dts`` (a QEMU ``virt`` tree with
dom0less domains) and ``ops.txt`` (one operation a line, as ``xenplan
simulate --op`` takes them):

  DOMAIN balloon-out SIZE[@GADDR]           XENMEM_decrease_reservation, order 0
  DOMAIN populate SIZE@GADDR [order N]      XENMEM_populate_physmap
  DOMAIN increase-reservation SIZE [order N]  XENMEM_increase_reservation

``run_case`` builds, for every domain of the tree, the guest of ``guest/``
with that domain's operations compiled in, boots the tree with the guests as
kernels, and keeps the console. ``trim`` keeps Xen's boot, the guests' lines
and the tracing lines printed while a hypercall ran; ``extract`` reads the
operations back from that log: the return value and, per extent done, the
guest frame and the machine frame.

Where the machine frame comes from, in this order: the allocator trace
printed inside the hypercall (a page freed to, or taken from, the heap); a
1:1 domain's own frame (Xen maps gfn == mfn there); for a page ballooned
out, the frame at that gfn (as an earlier operation of the log mapped it,
else as the static banks laid it out at boot); for a populated page holding
a stamp, the frame that was released from the stamped gfn. Otherwise
``null``.
Xen 4.16 reads no ``direct-map`` property: there such a domain is an
ordinary static one.

The guests start at about the same time and each runs operation N of the
case at N + 1 seconds after its start, so the case's order holds across
domains; ``extract`` refuses a log where it did not.

Frames are page numbers (address >> 12). Not part of xenplan; the tests
import ``extract`` to check that each recorded JSON agrees with its log.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GUEST = Path(__file__).resolve().parent / "guest"
RAM0 = (0x40000000, 0xC0000000)
RAM1 = (0x200000000, 0xFE00000000)
CMDS = {"increase-reservation": 0, "balloon-out": 1, "populate": 6}
NAMES = {0: "increase_reservation", 1: "decrease_reservation", 6: "populate_physmap"}
SLOTS_PER_SECOND = 1


class CaseError(Exception):
    """A case directory that cannot be run or read (file and line in the message)."""


@dataclass
class Op:
    text: str
    domain: str
    kind: str
    size: int
    gaddr: int | None
    order: int

    @property
    def nr(self) -> int:
        return self.size // (4096 << self.order)


@dataclass
class Domain:
    name: str
    kernel: int
    kernel_size: int
    memory: int
    direct_map: bool
    static_banks: list[tuple[int, int]] = field(default_factory=list)

    def guest_banks(self) -> list[tuple[int, int, int]]:
        """(gfn-base address, size, machine address) per RAM range, as Xen lays a static or 1:1 domain out.

        A 1:1 domain's banks sit at their own addresses; a static domain's banks are
        placed one after the other in guest RAM0 then RAM1 (Xen's allocate_static_memory).
        """
        if self.direct_map:
            return [(start, size, start) for start, size in self.static_banks]
        out: list[tuple[int, int, int]] = []
        regions = [list(RAM0), list(RAM1)]
        for bank_start, bank_size in self.static_banks:
            start, size = bank_start, bank_size
            while size:
                region = regions[0]
                take = min(size, region[1])
                if take:
                    out.append((region[0], take, start))
                    region[0] += take
                    region[1] -= take
                    start += take
                    size -= take
                if size:
                    regions.pop(0)
        return out

    def ram_top(self) -> int:
        if self.direct_map:
            raise CaseError(f"domain {self.name}: give balloon-out an @GADDR (a direct-map domain's top of RAM "
                            "depends on the release: 4.16 ignores direct-map and maps the banks from 0x40000000)")
        if self.static_banks:
            gbase, size, _ = self.guest_banks()[-1]
            return gbase + size
        if self.memory > RAM0[1]:
            raise CaseError(f"domain {self.name}: give balloon-out an @GADDR (RAM beyond the first bank)")
        return RAM0[0] + self.memory

    def mfn_of(self, gfn: int) -> int | None:
        for gbase, size, mbase in self.guest_banks():
            if gbase >> 12 <= gfn < (gbase + size) >> 12:
                return (mbase >> 12) + gfn - (gbase >> 12)
        return None


def size_value(text: str) -> int:
    m = re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)([KMG]?)", text)
    if m is None:
        raise ValueError(text)
    return int(m.group(1), 0) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def parse_ops(path: Path) -> list[Op]:
    ops = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        try:
            domain, kind, where, *rest = words
            size_text, _, addr_text = where.partition("@")
            order = 0
            if rest:
                if rest[0] != "order" or len(rest) != 2:
                    raise ValueError(rest)
                order = int(rest[1], 0)
            op = Op(" ".join(words), domain, kind, size_value(size_text),
                    size_value(addr_text) if addr_text else None, order)
        except ValueError:
            raise CaseError(f"{path}:{number}: cannot read {raw.strip()!r}") from None
        if kind not in CMDS or (kind == "populate" and op.gaddr is None) or (
                kind == "increase-reservation" and op.gaddr is not None) or (kind == "balloon-out" and order):
            raise CaseError(f"{path}:{number}: not an operation: {raw.strip()!r}")
        if op.size % (4096 << order) or not op.nr:
            raise CaseError(f"{path}:{number}: size is not a multiple of the extent ({4096 << order:#x})")
        ops.append(op)
    return ops


def _cells(value: str) -> list[int]:
    return [int(c, 0) for c in re.findall(r"0x[0-9a-fA-F]+|\d+", value)]


def read_tree(path: Path) -> dict[str, Domain]:
    """The dom0less domains of a tree: kernel module, memory, direct-map, static banks (2 address/size cells)."""
    done = subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dts", str(path)], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise CaseError(f"{path}: dtc: {done.stderr.strip()}")
    stack: list[str] = []
    props: dict[str, dict[str, str]] = {}
    for raw in done.stdout.splitlines():
        line = raw.strip()
        if line.endswith("{"):
            stack.append(line[:-1].strip().rstrip("/"))
            props.setdefault("/".join(stack), {})
        elif line == "};":
            stack.pop()
        elif line.endswith(";") and stack:
            name, _, value = line[:-1].partition("=")
            props["/".join(stack)][name.strip()] = value.strip()
    domains = {}
    for node, p in props.items():
        parts = node.split("/")
        if len(parts) != 3 or parts[1] != "chosen" or '"xen,domain"' not in p.get("compatible", ""):
            continue
        kernel = None
        for child, cp in props.items():
            if child.startswith(node + "/") and "multiboot,kernel" in cp.get("compatible", ""):
                reg = _cells(cp["reg"])
                kernel = (reg[0] << 32 | reg[1], reg[2] << 32 | reg[3])
        if kernel is None:
            raise CaseError(f"{path}: /chosen/{parts[2]} has no kernel module")
        mem = _cells(p.get("memory", "<0 0>"))
        banks = _cells(p.get("xen,static-mem", "<>"))
        domains[parts[2]] = Domain(
            parts[2], kernel[0], kernel[1], (mem[0] << 32 | mem[1]) * 1024, "direct-map" in p,
            [(banks[i] << 32 | banks[i + 1], banks[i + 2] << 32 | banks[i + 3]) for i in range(0, len(banks), 4)])
    return domains


def guest_table(op: Op, slot: int, domain: Domain) -> str:
    if op.kind == "increase-reservation":
        first = 0
    else:
        first = (op.gaddr if op.gaddr is not None else domain.ram_top() - op.size) >> 12
    return f"{{{CMDS[op.kind]}, {op.order}, {op.nr:#x}, {first:#x}, {slot}}}"


def build_guest(domain: Domain, all_ops: list[Op], out: Path, shutdown: int | None = None) -> None:
    """Compile the guest for one domain, its operations at their slots in the case's order."""
    with tempfile.TemporaryDirectory() as tmp:
        rows = [guest_table(op, slot, domain) for slot, op in enumerate(all_ops)
                if op.domain == domain.name]
        Path(tmp, "ops.h").write_text(f'#define GUEST_NAME "{domain.name}"\n'
                                      f"#define SLOT_TICKS_DIVISOR {SLOTS_PER_SECOND}\n"
                                      f"#define OPS {', '.join(rows)}\n"
                                      + ("" if shutdown is None else f"#define SHUTDOWN_REASON {shutdown}\n"))
        flags = ["-O2", "-ffreestanding", "-fno-builtin", "-nostdlib", "-mstrict-align", "-mgeneral-regs-only",
                 "-fno-pic", "-fno-stack-protector", "-Wall", f"-I{tmp}"]
        cc = "aarch64-linux-gnu-"
        subprocess.run([cc + "gcc", *flags, "-c", str(GUEST / "guest.c"), "-o", f"{tmp}/guest.o"], check=True)
        subprocess.run([cc + "gcc", "-c", str(GUEST / "start.S"), "-o", f"{tmp}/start.o"], check=True)
        subprocess.run([cc + "ld", "--no-warn-rwx-segments", "-T", str(GUEST / "guest.ld"), "-nostdlib",
                        f"{tmp}/start.o", f"{tmp}/guest.o", "-o", f"{tmp}/guest.elf"], check=True)
        subprocess.run([cc + "objcopy", "-O", "binary", f"{tmp}/guest.elf", str(out)], check=True)
    if out.stat().st_size > domain.kernel_size:
        raise CaseError(f"guest for {domain.name} ({out.stat().st_size} bytes) exceeds its module")


def boot(xen: str, case: Path, timeout: float, shutdown: int | None = None) -> str:
    """Boot the case on QEMU virt and return the console once every guest has run its list (or Xen stopped).

    With ``shutdown`` (a SHUTDOWN_* reason), each guest then calls SCHEDOP_shutdown.
    """
    domains = read_tree(case / "tree.dts")
    ops = parse_ops(case / "ops.txt")
    for op in ops:
        if op.domain not in domains:
            raise CaseError(f"{case / 'ops.txt'}: unknown domain {op.domain}")
    with tempfile.TemporaryDirectory() as tmp:
        dtb = Path(tmp) / "board.dtb"
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(case / "tree.dts")], check=True)
        cmd = ["qemu-system-aarch64", "-machine", "virt,virtualization=on,gic-version=3", "-cpu", "cortex-a57",
               "-smp", "2", "-m", "4G", "-display", "none", "-serial", "stdio", "-monitor", "none",
               "-parallel", "none", "-no-reboot", "-kernel", xen, "-dtb", str(dtb)]
        for domain in domains.values():
            image = Path(tmp) / f"{domain.name}.Image"
            build_guest(domain, ops, image, shutdown)
            cmd += ["-device", f"loader,file={image},addr={domain.kernel:#x},force-raw=on"]
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from qemu_console import read_console

        stop = re.compile(rb"Panic on CPU|Reboot in")
        ends = 0

        def grace(line: bytes) -> float | None:
            nonlocal ends
            ends += b"XHC end " in line
            if stop.search(line) or ends == len(domains):
                return 1.0 if shutdown is None else 3.0
            return None

        lines = read_console(cmd, timeout, grace)
    return b"\n".join(lines).decode(errors="replace").replace("\r", "")


GUEST_LINE = re.compile(r"\(d(\d+)\) XHC (.*)")


def trim(raw: str) -> str:
    """Xen's console from its first line, the guests' lines, and the tracing lines printed inside a hypercall."""
    lines = raw.split("\n")
    first = next((i for i, line in enumerate(lines) if line.startswith("(XEN) ")), None)
    if first is None:
        raise CaseError("no Xen console in the run")
    kept, inside = [], 0
    for line in lines[first:]:
        m = GUEST_LINE.search(line)
        if m:
            words = m.group(2).split()
            inside += (words[0] == "op") - (words[0] == "rc")
        if "XTR " in line and not inside:
            continue
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept) + "\n"


def version_of(log: str) -> str:
    m = re.search(r"Xen version (4\.\d+\.\d+)", log)
    if m is None:
        raise CaseError("no Xen version banner in the log")
    return m.group(1)


def extract(log: str, domains: dict[str, Domain], ops: list[Op]) -> dict[str, Any]:
    """The operations as the log shows them: rc and, per extent done, gfn, mfn and order."""
    names: dict[str, str] = {}
    per_domain: dict[str, list[int]] = {}
    for index, op in enumerate(ops):
        per_domain.setdefault(op.domain, []).append(index)
    results: dict[int, dict[str, Any]] = {}
    window: dict[str, list[str]] = {}
    gfns: dict[tuple[str, int], dict[int, int]] = {}
    seen: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}
    for line in log.split("\n"):
        m = GUEST_LINE.search(line)
        if m is None:
            for trace in window.values():
                if "XTR " in line:
                    trace.append(line[line.index("XTR "):])
            continue
        domid, words = m.group(1), m.group(2).split()
        if words[0] == "start":
            names[domid] = words[1]
            continue
        if words[0] in ("end", "trap"):
            continue
        name = names[domid]
        k = int(words[1])
        if words[0] == "op":
            window[name] = []
        elif words[0] == "rc":
            if per_domain[name][k] != len(results):
                raise CaseError(f"the operations ran out of order: {ops[per_domain[name][k]].text!r} "
                                f"returned as operation {len(results) + 1}")
            results[per_domain[name][k]] = {"rc": int(words[2]), "trace": window.pop(name, [])}
        elif words[0] == "ext":
            gfns.setdefault((name, k), {})[int(words[2])] = int(words[3].removeprefix("gfn="), 16)
        elif words[0] == "seen" and words[3] == "stamp":
            seen.setdefault((name, k), {})[int(words[2], 16)] = (words[4], int(words[5], 16))
    version = version_of(log)
    direct = int(version.split(".")[1]) >= 17
    mapped: dict[str, dict[int, int | None]] = {name: {} for name in domains}
    released: dict[tuple[str, int], int | None] = {}

    def current(name: str, gfn: int) -> int | None:
        """The frame at gfn now: as an earlier operation of the log left it, else as boot laid it out."""
        if gfn in mapped[name]:
            return mapped[name][gfn]
        dom = domains[name]
        return gfn if dom.direct_map and direct else dom.mfn_of(gfn) if dom.static_banks else None

    out = []
    for index, op in enumerate(ops):
        if index not in results:
            raise CaseError(f"the log has no return value for {op.text!r}")
        k = per_domain[op.domain].index(index)
        rc, trace = results[index]["rc"], results[index]["trace"]
        domain = domains[op.domain]
        frames = _frames(trace, op.kind)
        extents = []
        for i in range(max(rc, 0)):
            gfn = gfns.get((op.domain, k), {}).get(i)
            mfn = frames[i] if len(frames) == rc else None
            if gfn is not None and op.kind == "balloon-out":
                if mfn is None:
                    mfn = current(op.domain, gfn)
                released[(op.domain, gfn)] = mfn
                mapped[op.domain][gfn] = None
            elif gfn is not None:
                if mfn is None and domain.direct_map and direct:
                    mfn = gfn
                elif mfn is None and gfn in seen.get((op.domain, k), {}):
                    mfn = released.get(seen[(op.domain, k)][gfn])
                mapped[op.domain][gfn] = mfn
            extents.append({"gfn": None if gfn is None else f"{gfn:#x}",
                            "mfn": None if mfn is None else f"{mfn:#x}", "order": op.order})
        out.append({"op": op.text, "rc": rc, "extents": extents})
    return {"xen": version, "operations": out}


def _frames(trace: list[str], kind: str) -> list[int]:
    """Machine frames the allocator trace shows inside one hypercall: frees for balloon-out, else allocations
    made for the domain (alloc_domheap_pages called from the memory_op code, not for a P2M table)."""
    frames = []
    caller = ""
    for line in trace:
        words = line.split()
        if kind == "balloon-out" and words[1] == "HF" and words[5].startswith("free_domheap_pages"):
            frames.append(int(words[2], 16))
        elif words[1] == "DH":
            caller = words[3]
        elif kind != "balloon-out" and words[1] == "HA" and "p2m" not in caller and int(words[6], 16):
            frames.append(int(words[6], 16))
        elif kind != "balloon-out" and words[1] == "HF" and words[5].startswith("alloc_domheap_pages") and (
                frames and frames[-1] == int(words[2], 16)):
            frames.pop()
    return frames


def dumps(doc: dict[str, Any]) -> str:
    """The JSON of ``extract``, one extent a line."""
    rows = []
    for op in doc["operations"]:
        extents = ",\n".join("      " + json.dumps(e) for e in op["extents"])
        rows.append(f'    {{"op": {json.dumps(op["op"])}, "rc": {op["rc"]}, "extents": ['
                    + (f"\n{extents}\n    ]}}" if extents else "]}"))
    return f'{{"xen": {json.dumps(doc["xen"])}, "operations": [\n' + ",\n".join(rows) + "\n]}\n"
