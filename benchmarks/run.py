"""xenplan's speed, measured (not asserted): ``make bench`` or ``python benchmarks/run.py``.

1. The same configuration on a 1 GiB and on a 16 TiB board: pages are
   extents, so the two must cost the same.
2. A generated board with 1024 domains and 8192 static banks (Xen refuses
   it: too many banks and modules; the point is finding so, fast), and the
   same with every domain dynamic (the allocator replay is batched).

Each figure is the median of several runs of ``xenplan check`` in process
(load a DTB, model, simulate, rules), on this machine.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xenplan.analysis import analyse
from xenplan.model.base import Range
from xenplan.model.target import Target

GiB = 1 << 30
TARGET = Target(xen_image=Range(start=0x40200000, size=0x154000), fdt_address=0x48000000)


def board(ram_size: int, domains: str) -> str:
    hi, lo = divmod(ram_size, 1 << 32)
    return f"""/dts-v1/;
/ {{
  #address-cells = <2>; #size-cells = <2>;
  cpus {{ #address-cells = <1>; #size-cells = <0>;
    cpu@0 {{ device_type = "cpu"; compatible = "arm,cortex-a57"; reg = <0>; }}; }};
  memory@40000000 {{ device_type = "memory"; reg = <0 0x40000000 {hi:#x} {lo:#x}>; }};
  chosen {{ #address-cells = <2>; #size-cells = <2>;
{domains}
  }};
}};
"""


def small_config() -> str:
    return """
    domU1 { compatible = "xen,domain"; memory = <0 0x40000>; cpus = <1>;
      xen,static-mem = <0 0x60000000 0 0x10000000>;
      kernel@48200000 { compatible = "multiboot,kernel", "multiboot,module"; reg = <0 0x48200000 0 0x10000>; }; };
    domU2 { compatible = "xen,domain"; memory = <0 0x20000>; cpus = <2>;
      kernel@48210000 { compatible = "multiboot,kernel", "multiboot,module"; reg = <0 0x48210000 0 0x10000>; }; };
"""


def many_domains(n: int, banks: int, static: bool) -> str:
    out = []
    base = 0x100000000
    for d in range(n):
        kernel = 0x48200000 + d * 0x10000
        if static:
            pairs = []
            for b in range(banks):
                addr = base + (d * banks + b) * 0x200000
                pairs.append(f"{addr >> 32:#x} {addr & 0xffffffff:#x} 0 0x200000")
            mem = banks * 0x200000 // 1024
            prop = f"xen,static-mem = <{' '.join(pairs)}>;"
        else:
            mem, prop = 0x4000, ""
        out.append(f"    d{d} {{ compatible = \"xen,domain\"; memory = <0 {mem:#x}>; cpus = <1>; {prop}\n"
                   f"      k@{kernel:x} {{ compatible = \"multiboot,kernel\", \"multiboot,module\"; "
                   f"reg = <0 {kernel:#x} 0 0x10000>; }}; }};")
    return "\n".join(out)


def _cells(v: int) -> str:
    return f"{v >> 32:#x} {v & 0xffffffff:#x}"


def many_findings(n: int, banks: int) -> str:
    """A board where domains clash with each other in every way rules pair things up.

    Domain ``d`` takes shape ``d % 5``: (0) static banks, its last one also the
    next domain's first; (1) static banks, its kernel inside the next domain's
    first bank; (2) dynamic, ``banks // 8`` shared-memory nodes whose ids pair
    it with a neighbour, some naming another region under the same id, some
    overlapping the next pair's region, some reusing one under another id;
    (3) dynamic, a ring of static event channels, some not pointing back,
    some reusing a port; (4) direct-mapped static banks overlapping the next
    domain's. Every other kernel sits at one address, so Xen keeps one module
    there and every such domain still finds its kernel and is built as far
    as it goes: findings come from every stage, about 7 per domain.
    """
    mib2 = 0x200000
    out = []
    for d in range(n):
        shape = d % 5
        base = 0x100000000 + d * banks * mib2
        kernel = 0x48200000 if shape != 1 else base + banks * mib2 + 0x1000
        body, extra, mem = "", "", 0x4000
        if shape in (0, 1, 4):
            addrs = [base + b * mib2 for b in range(banks)]
            if shape != 1:
                addrs[-1] = base + banks * mib2
            body = "xen,static-mem = <" + " ".join(f"{_cells(a)} 0 {mib2:#x}" for a in addrs) + ">;"
            body += " direct-map; vpl011;" if shape == 4 else ""
            mem = banks * mib2 // 1024
        elif shape == 2:
            nodes = []
            for s in range(max(1, banks // 8)):
                pair = (d // 10) * 64 + s
                host = 0x200000000000 + pair * mib2 - (mib2 // 2 if pair % 2 else 0)
                if pair % 5 == 4:
                    host -= mib2
                if (d // 5) % 2 and pair % 3 == 0:
                    host += 0x1000
                role = "owner" if (d // 5) % 2 == 0 else "borrower"
                nodes.append(f"s{s} {{ compatible = \"xen,domain-shared-memory-v1\"; xen,shm-id = \"id{pair}\"; "
                             f"role = \"{role}\"; xen,shared-mem = <{_cells(host)} 0 0x80000000 0 {mib2:#x}>; }};")
            extra = " ".join(nodes)
        else:
            ring = [e for e in range(n) if e % 5 == 3]
            i = ring.index(d) if len(ring) < 64 else (d - 3) // 5
            nxt, prv = ring[(i + 1) % len(ring)], ring[(i - 1) % len(ring)]
            peer = 0x10000 + nxt * 4 + 1 if i % 7 else 0x10000 + ring[(i + 3) % len(ring)] * 4 + 1
            port = 10 if i % 11 == 0 else 11
            extra = (f"ea {{ compatible = \"xen,evtchn-v1\"; xen,evtchn = <10 {peer:#x}>; "
                     f"phandle = <{0x10000 + d * 4:#x}>; }}; "
                     f"eb {{ compatible = \"xen,evtchn-v1\"; xen,evtchn = <{port} {0x10000 + prv * 4:#x}>; "
                     f"phandle = <{0x10000 + d * 4 + 1:#x}>; }};")
        out.append(f"    d{d} {{ compatible = \"xen,domain\"; #address-cells = <2>; #size-cells = <2>; "
                   f"memory = <0 {mem:#x}>; cpus = <1>; {body}\n"
                   f"      k@{kernel:x} {{ compatible = \"multiboot,kernel\", \"multiboot,module\"; "
                   f"reg = <{_cells(kernel)} 0 0x10000>; }}; {extra} }};")
    return "\n".join(out)


def compile_dtb(dts: str, tmp: Path, name: str) -> Path:
    src, dtb = tmp / f"{name}.dts", tmp / f"{name}.dtb"
    src.write_text(dts)
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(src)], check=True)
    return dtb


def timed(path: Path, runs: int) -> tuple[float, str]:
    times = []
    outcome = ""
    for _ in range(runs):
        t0 = time.perf_counter()
        a = analyse(str(path), TARGET)
        times.append(time.perf_counter() - t0)
        outcome = f"{a.result.outcome}, {len(a.findings)} findings"
    return statistics.median(times), outcome


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        rows = []
        for label, size in (("1 GiB board", GiB), ("16 TiB board", 16 << 40)):
            rows.append((label, *timed(compile_dtb(board(size, small_config()), tmp, label[:2]), 20)))
        big = board(64 << 40, many_domains(1024, 8, True))
        rows.append(("1024 static domains, 8192 banks", *timed(compile_dtb(big, tmp, "big"), 3)))
        dyn = board(64 * GiB, many_domains(1024, 0, False))
        rows.append(("1024 dynamic domains", *timed(compile_dtb(dyn, tmp, "dyn"), 3)))
    width = max(len(r[0]) for r in rows)
    for label, secs, outcome in rows:
        print(f"{label:<{width}}  {secs * 1000:8.1f} ms   ({outcome})")


if __name__ == "__main__":
    main()
