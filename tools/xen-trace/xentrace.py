#!/usr/bin/env python3
"""Measure the real Xen's heap allocations, to check xenplan's allocator replay.

Not part of xenplan or of its tests: the tool that produced the recordings in
``tests/data/heaptrace``, ``tests/data/xmalloc``, ``tests/data/dom0`` and
``tests/data/hwdom``, and the consoles in ``tests/data/measured``. It needs
Debian's ``gcc-aarch64-linux-gnu``, ``flex``, ``bison``, ``qemu-system-arm``
and ``device-tree-compiler``, and a git directory of Xen.

  xentrace.py build --git XEN_GIT_DIR --tag RELEASE-4.22.0 --out DIR
      extract the release, configure it as the oracle did (arm64 defconfig +
      EXPERT, UNSUPPORTED, STATIC_MEMORY, STATIC_SHM, STATIC_EVTCHN,
      DOM0LESS_BOOT, PL011 early UART), add one console line per page
      allocation, page free, xmalloc, xfree and pool page, build debug=n.
  xentrace.py boot --xen DIR/xen/xen --dts board.dts --kernel 0x48200000 ... -o run.log
      boot it on QEMU virt (GICv3, 2 Cortex-A57, 4 GiB) with a fake arm64
      Image at every --kernel address (--blob FILE@ADDR loads any other
      file, e.g. a partial DTB); stop once Xen frees its init memory,
      panics, or after --timeout seconds. --machine zcu102: QEMU's
      xlnx-zcu102 instead (a build with the Cadence early UART).
  xentrace.py record run.log --dts PATH -o trace.json.gz
      the allocations (order, first page) of the boot, in order, with the
      Xen image and DTB placement, in the format of tests/data/heaptrace.
  xentrace.py colours run.log -o case@4.22.0.json
      an LLC-colouring boot (a build with --config LLC_COLORING=y): Xen's coloured
      window, the buddy's share, each colour's free pages before and after the
      domains, as in tests/data/llc.
  xentrace.py compare board.dts run.log
      replay the boot with xenplan and report the first allocation where it
      and Xen differ.
  xentrace.py hypercall CASE_DIR --xen DIR/xen/xen   (or --log VERSION: re-extract a kept log)
      build the hypercall guest (guest/) for every domain of CASE_DIR/tree.dts
      with its operations from CASE_DIR/ops.txt, boot them, and write
      CASE_DIR/<version>.log (trimmed console) and CASE_DIR/<version>.json
      (each operation's return value and frames; see hypercall.py).
  xentrace.py trim run.log -o case@4.17.7.log
      Xen's own console lines of the boot, as in tests/data/measured: from
      its first line (the module table) to the end of the boot (init memory
      freed, or the panic up to "Reboot in"), without the tracing lines.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from qemu_console import read_console

CONFIG = """CONFIG_EXPERT=y
CONFIG_UNSUPPORTED=y
CONFIG_STATIC_MEMORY=y
CONFIG_STATIC_SHM=y
CONFIG_STATIC_EVTCHN=y
CONFIG_DOM0LESS_BOOT=y
CONFIG_EARLY_UART_CHOICE_PL011=y
CONFIG_EARLY_UART_BASE_ADDRESS=0x09000000
"""
LINE = "    const int __maybe_unused xtr_ = (printk({fmt}), 0);"


def _edit(path: Path, anchor: str, replacement: str) -> None:
    text = path.read_text()
    if anchor not in text:
        sys.exit(f"{path}: anchor not found: {anchor[:60]!r}")
    path.write_text(text.replace(anchor, replacement, 1))


def _instrument(xen: Path) -> None:
    """Rename Xen's allocator entry points and wrap them with one printk each."""
    pa = xen / "common/page_alloc.c"
    _edit(pa, "static struct page_info *alloc_heap_pages(\n    unsigned int zone_lo,",
          "static struct page_info *alloc_heap_pages_real(\n    unsigned int zone_lo, unsigned int zone_hi,\n"
          "    unsigned int order, unsigned int memflags, struct domain *d);\n"
          "static struct page_info *alloc_heap_pages(\n    unsigned int zone_lo, unsigned int zone_hi,\n"
          "    unsigned int order, unsigned int memflags, struct domain *d)\n{\n"
          "    struct page_info *pg = alloc_heap_pages_real(zone_lo, zone_hi, order, memflags, d);\n"
          '    printk("XTR HA %u %u %u %x %lx %pS\\n", zone_lo, zone_hi, order, memflags,\n'
          "           pg ? mfn_x(page_to_mfn(pg)) : 0UL, __builtin_return_address(0));\n    return pg;\n}\n"
          "static struct page_info *alloc_heap_pages_real(\n    unsigned int zone_lo,")
    _edit(pa, "static void free_heap_pages(\n    struct page_info *pg, unsigned int order, bool need_scrub)\n{",
          "static void free_heap_pages_real(\n    struct page_info *pg, unsigned int order, bool need_scrub);\n"
          "static void free_heap_pages(\n    struct page_info *pg, unsigned int order, bool need_scrub)\n{\n"
          '    printk("XTR HF %lx %u %d %pS\\n", mfn_x(page_to_mfn(pg)), order, need_scrub,\n'
          "           __builtin_return_address(0));\n    free_heap_pages_real(pg, order, need_scrub);\n}\n"
          "static void free_heap_pages_real(\n    struct page_info *pg, unsigned int order, bool need_scrub)\n{")
    text = pa.read_text()
    start = text.index("static void init_heap_pages(")
    end = text.index("\n}\n", start)
    pa.write_text(text[:start] + text[start:end].replace("free_heap_pages(", "free_heap_pages_real(") + text[end:])
    text = pa.read_text()
    for sig, what in (("void *alloc_xenheap_pages(unsigned int order, unsigned int memflags)\n{", "XH"),
                      ("struct page_info *alloc_domheap_pages(\n    struct domain *d, unsigned int order, "
                       "unsigned int memflags)\n{", "DH")):
        text = text.replace(sig, sig + "\n" + LINE.format(
            fmt=f'"XTR {what} %u %pS\\n", order, __builtin_return_address(0)'))
    pa.write_text(text)
    if "CONFIG_LLC_COLORING=y" in (xen / ".config").read_text():
        _instrument_colours(pa)
    xm = xen / "common/xmalloc_tlsf.c"
    text = xm.read_text()
    m = re.search(r"void \*_xmalloc\(unsigned long size, unsigned long align\)\n\{", text)
    assert m is not None
    text = text.replace(m.group(0), "static void *_xmalloc_real(unsigned long size, unsigned long align);\n"
                        "void *_xmalloc(unsigned long size, unsigned long align)\n{\n"
                        "    void *p = _xmalloc_real(size, align);\n"
                        '    printk("XTR XM %lu %lu %p %pS\\n", size, align, p, __builtin_return_address(0));\n'
                        "    return p;\n}\nstatic void *_xmalloc_real(unsigned long size, unsigned long align)\n{", 1)
    for sig, fmt in (("void *_xzalloc(unsigned long size, unsigned long align)\n{",
                      '"XTR XZ %pS\\n", __builtin_return_address(0)'),
                     ("void xfree(void *p)\n{", '"XTR XF %p %pS\\n", p, __builtin_return_address(0)')):
        text = text.replace(sig, sig + "\n" + LINE.format(fmt=fmt), 1)
    m = re.search(r"(static void \*(cf_check )?xmalloc_pool_get\(unsigned long size\)\n\{\n)(.*?)(\n\})", text, re.S)
    assert m is not None
    text = text.replace(m.group(0), m.group(1) + "    void *p;\n    ASSERT(size == PAGE_SIZE);\n"
                        '    p = alloc_xenheap_page();\n    printk("XTR PG %p\\n", p);\n    return p;' + m.group(4), 1)
    m = re.search(r"(static void (cf_check )?xmalloc_pool_put\(void \*p\)\n\{\n)", text)
    assert m is not None
    text = text.replace(m.group(0), m.group(1) + '    printk("XTR PP %p\\n", p);\n', 1)
    xm.write_text(text)


def _instrument_colours(pa: Path) -> None:
    """LLC colouring (4.20+): one line per page the coloured heap hands a domain
    (``XTR CA colour mfn``), and the free pages of every colour once the heap is
    set up (``XTR CH colour pages``, after ``end_boot_allocator()``), and the pages
    ``init_color_heap_pages()`` gives to the buddy (``XTR CB mfn pages``)."""
    text = pa.read_text()
    if "static struct page_info *alloc_color_heap_page(" not in text:
        return
    _edit(pa, "static struct page_info *alloc_color_heap_page(unsigned int memflags,\n"
          "                                               const struct domain *d)\n{",
          "static struct page_info *alloc_color_heap_page_real(unsigned int memflags,\n"
          "                                                    const struct domain *d);\n"
          "static struct page_info *alloc_color_heap_page(unsigned int memflags,\n"
          "                                               const struct domain *d)\n{\n"
          "    struct page_info *pg = alloc_color_heap_page_real(memflags, d);\n"
          "    if ( pg )\n"
          '        printk("XTR CA %u %lx\\n", page_to_llc_color(pg), mfn_x(page_to_mfn(pg)));\n'
          "    return pg;\n}\n"
          "static struct page_info *alloc_color_heap_page_real(unsigned int memflags,\n"
          "                                                    const struct domain *d)\n{")
    _edit(pa, "        init_heap_pages(pg, buddy_pages);\n",
          '        printk("XTR CB %lx %lx\\n", mfn_x(page_to_mfn(pg)), buddy_pages);\n'
          "        init_heap_pages(pg, buddy_pages);\n")
    _edit(pa, "    nr_bootmem_regions = 0;\n",
          "    nr_bootmem_regions = 0;\n"
          "    if ( llc_coloring_enabled )\n    {\n"
          "        unsigned int c_;\n\n"
          "        for ( c_ = 0; c_ < get_max_nr_llc_colors(); c_++ )\n"
          '            printk("XTR CH %u %lu\\n", c_, free_colored_pages[c_]);\n'
          "    }\n")


def _quiet(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    """Run a configuration step silently, showing its output only if it fails (e.g. no flex or bison)."""
    done = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def build(args: argparse.Namespace) -> None:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cross = {"arm64": "aarch64-linux-gnu-", "arm32": "arm-linux-gnueabihf-"}[args.arch]
    env = dict(os.environ, GIT_DIR=args.git, XEN_TARGET_ARCH=args.arch, CROSS_COMPILE=cross)
    archive = subprocess.run(["git", "archive", args.tag], env=env, check=True, capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", str(out)], input=archive, check=True)
    xen = out / "xen"
    _quiet(["make", "defconfig"], xen, env)
    with open(xen / ".config", "a") as config:
        config.write(CONFIG + "".join(f"CONFIG_{c}\n" for c in args.config)
                     + ("CONFIG_DEBUG=y\n" if args.debug else ""))
    _quiet(["make", "olddefconfig"], xen, env)
    _instrument(xen)
    subprocess.run(["make", f"-j{os.cpu_count() or 2}", f"debug={'y' if args.debug else 'n'}"], cwd=xen, env=env,
                   check=True)
    image = xen / "xen"
    if args.arch == "arm32":
        # The zImage header's end word (offset 0x2c) is _end - start: BSS included.
        size = int.from_bytes(image.read_bytes()[0x2C:0x30], "little")
        print(f"{image}: {size:#x} bytes in memory (the zImage header's end, BSS included; "
              "QEMU's arm32 virt loads it at 0x40010000, see the module table for where Xen moved it)")
        return
    size = int.from_bytes(image.read_bytes()[16:24], "little")
    print(f"{image}: {size:#x} bytes in memory (the arm64 header's image_size, BSS included: "
          f"--xen-image 0x40200000:{size:#x} on QEMU virt)")


def _fake_kernel(path: Path) -> None:
    """A 64 KiB arm64 Image: valid header, an endless loop."""
    image = bytearray(0x10000)
    image[0:4] = (0x14000000).to_bytes(4, "little")
    image[16:24] = (0x10000).to_bytes(8, "little")
    image[24:32] = (0xA).to_bytes(8, "little")
    image[0x38:0x3C] = b"ARM\x64"
    path.write_bytes(bytes(image))


def _fake_zimage(path: Path) -> None:
    """A 64 KiB arm32 zImage: the header ``kernel_zimage32_probe()`` checks (magic,
    start 0, end 64 KiB) and an endless loop (``b .``)."""
    image = bytearray(0x10000)
    image[0:4] = (0xEAFFFFFE).to_bytes(4, "little")
    image[0x24:0x28] = (0x016F2818).to_bytes(4, "little")
    image[0x2C:0x30] = (0x10000).to_bytes(4, "little")
    path.write_bytes(bytes(image))


# Where the zcu102 boot puts Xen, its device tree and the stub that enters Xen.
ZCU102_XEN, ZCU102_DTB, ZCU102_STUB = 0x200000, 0x8000000, 0x100000


def _entry_stub(path: Path, dtb: int, entry: int, uart: int) -> None:
    """What the board's firmware leaves behind, in ten instructions: the Cadence UART's
    transmitter and receiver enabled (QEMU drops what is written while they are off, so
    Xen's early printk would be lost), then an arm64 Image entered as the boot protocol
    asks (x0 the DTB, x1-x3 zero); the three addresses they load follow, 8-byte aligned."""
    words = (0x580001C5,  # ldr x5, =uart
             0x52800286,  # mov w6, #0x14 (CR: TX_EN | RX_EN)
             0xB90000A6,  # str w6, [x5]
             0x580000E0,  # ldr x0, =dtb
             0xAA1F03E1, 0xAA1F03E2, 0xAA1F03E3,  # mov x1..x3, xzr
             0x580000A4,  # ldr x4, =entry
             0xD61F0080,  # br x4
             0xD503201F)  # nop
    path.write_bytes(b"".join(w.to_bytes(4, "little") for w in words)
                     + b"".join(a.to_bytes(8, "little") for a in (dtb, entry, uart)))


def _zcu102(args: argparse.Namespace, dtb: Path, tmp: Path) -> list[str]:
    """QEMU's ZynqMP board (4 Cortex-A53, GIC-400, Cadence UART at 0xff000000 as serial0).

    Its ``-kernel``/``-dtb`` boot rewrites ``/memory`` as one bank from 0 of ``-m``'s size,
    while the board's RAM beyond 2 GiB sits at 32 GiB: so Xen, the tree (as compiled)
    and a stub that enters Xen with x0 = the tree are loaded by hand, and the CPU starts
    at the stub in EL2 (``virtualization=on``, no EL3)."""
    stub = tmp / "stub"
    _entry_stub(stub, ZCU102_DTB, ZCU102_XEN, 0xFF000000)
    return ["qemu-system-aarch64", "-machine", "xlnx-zcu102,virtualization=on", "-smp", str(args.smp),
            "-m", args.ram, "-display", "none", "-serial", "stdio", "-monitor", "none", "-parallel", "none",
            "-no-reboot", "-device", f"loader,file={args.xen},addr={ZCU102_XEN:#x},force-raw=on",
            "-device", f"loader,file={dtb},addr={ZCU102_DTB:#x},force-raw=on",
            "-device", f"loader,file={stub},addr={ZCU102_STUB:#x},force-raw=on",
            "-device", f"loader,addr={ZCU102_STUB:#x},cpu-num=0"]


def boot(args: argparse.Namespace) -> None:
    arm32 = args.arch == "arm32"
    with tempfile.TemporaryDirectory() as tmp:
        dtb, image = Path(tmp) / "board.dtb", Path(tmp) / "Image"
        subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), args.dts], check=True)
        (_fake_zimage if arm32 else _fake_kernel)(image)
        machine = f"virt,virtualization=on,gic-version={2 if arm32 else args.gic}" + (",highmem=on" if arm32 else "")
        cmd = ["qemu-system-arm" if arm32 else "qemu-system-aarch64", "-machine", machine,
               "-cpu", "cortex-a15" if arm32 else "cortex-a57",
               "-smp", str(args.smp), "-m", args.ram, "-display", "none", "-serial", "stdio", "-monitor", "none",
               "-parallel", "none", "-no-reboot", "-kernel", args.xen, "-dtb", str(dtb)]
        if args.machine == "zcu102":
            cmd = _zcu102(args, dtb, Path(tmp))
        for i, size in enumerate(s for v in args.numa for s in v.split(",")):
            cmd += ["-object", f"memory-backend-ram,id=m{i},size={size}", "-numa", f"node,memdev=m{i}"]
        for addr in args.kernel:
            cmd += ["-device", f"loader,file={image},addr={addr},force-raw=on"]
        for blob in args.blob:
            path, _, addr = blob.rpartition("@")
            cmd += ["-device", f"loader,file={os.path.abspath(path)},addr={addr},force-raw=on"]
        # 4.22 with a static heap never prints "Freed ... init memory"; "Serial input to" ends its boot.
        end = re.compile(rb"Freed \d+kB init memory|Panic on CPU|Reboot in|\*\*\* Serial input to")
        lines = read_console(cmd, args.timeout, lambda line: 1.0 if end.search(line) else None)
    Path(args.output).write_bytes(b"\n".join(lines))
    if not any(line.startswith(b"(XEN) ") for line in lines):
        sys.exit(f"no Xen console in {args.output}; QEMU said: "
                 + b" ".join(lines[:3]).decode(errors="replace").strip())


def _placement(text: str) -> tuple[str, list[int], list[int]]:
    version = re.search(r"Xen version (4\.\d+\.\d+)", text)
    xen = re.search(r"MODULE\[0\]: (\w+) - (\w+) Xen", text)
    fdt = re.search(r"MODULE\[1\]: (\w+) - (\w+) Device Tree", text)
    if version is None or xen is None or fdt is None:
        sys.exit("not a Xen boot log with its module table")
    xs, xe, fs, fe = (int(x, 16) for x in (*xen.groups(), *fdt.groups()))
    inclusive = int(version.group(1).split(".")[1]) >= 20
    if xe & 0xFFF == 0xFFF:
        xe += 1
    if inclusive:
        fe += 1
    return version.group(1), [xs, xe - xs], [fs, fe - fs]


def _allocations(text: str, zones: str = "all") -> list[list[int]]:
    """(order, pfn) of every successful allocation; ``zones`` "xen" keeps only arm32's
    xenheap zone (MEMZONE_XEN, 0), "dom" only the zones above it."""
    return [[int(m.group(2)), int(m.group(3), 16)]
            for m in re.finditer(r"XTR HA (\d+) \d+ (\d+) \w+ (\w+)", text)
            if int(m.group(3), 16) and (zones == "all" or (m.group(1) == "0") == (zones == "xen"))]


def _arm32(text: str) -> bool:
    """Only arm32's ``setup_mm()`` prints where it carved the xenheap."""
    return "(XEN) Xen heap: " in text


def _machine(text: str) -> tuple[str, int | None]:
    """The board as Xen's console describes it (CPUs brought up, GIC, RAM banks), and the
    host GIC's SPIs when it is not QEMU's GICv3 (``compare --gic-spis``)."""
    cpus = re.search(r"Brought up (\d+) CPUs", text)
    v2 = re.search(r"GICv2: (\d+) lines", text)
    banks = len(re.findall(r"^\(XEN\) RAM: ", text, re.M))
    what = [f"{cpus.group(1) if cpus else '?'} CPUs"]
    if v2:
        what.append(f"GICv2 with {v2.group(1)} lines")
    if banks > 1:
        what.append(f"{banks} RAM banks")
    return ", ".join(what), int(v2.group(1)) - 32 if v2 else None


def record(args: argparse.Namespace) -> None:
    text = Path(args.log).read_text(errors="replace")
    version, xen, fdt = _placement(text)
    machine, spis = _machine(text)
    doc: dict[str, object] = {
        "source": f"Xen {version} release build with allocation tracing, booted on QEMU "
                  f"{'xlnx-zcu102' if 'Platform: Xilinx ZynqMP' in text else 'virt'} ({machine})",
        "version": version, "dts": args.dts, "xen_image": xen, "fdt": fdt}
    if spis is not None:
        doc["gic_spis"] = spis
    doc["allocations"] = _allocations(text)
    if _arm32(text):
        doc.update(source=f"Xen {version} arm32 release build with allocation tracing, booted on QEMU virt "
                   f"(Cortex-A15, {machine})", arch="arm32",
                   gic_spis=args.gic_spis if args.gic_spis is not None else spis,
                   allocations=_allocations(text, "dom"), xenheap_allocations=_allocations(text, "xen"),
                   outcome="panic" if "Panic on CPU" in text else "boots")
        carve = re.search(r"Xen heap: (\w+)-(\w+)", text)
        assert carve is not None
        doc["xenheap"] = [hex(int(x, 16)) for x in carve.groups()]
    with gzip.open(args.output, "wt") as out:
        json.dump(doc, out, separators=(",", ":"))


def colours(args: argparse.Namespace) -> None:
    """The coloured heap of an LLC-colouring boot: where Xen's image moved, the buddy's
    share, every colour's free pages once the heap is set up, and after the domains."""
    text = Path(args.log).read_text(errors="replace")
    version, xen, fdt = _placement(text)
    window = re.search(r"Placing Xen at 0x(\w+)-0x(\w+)", text)
    free = [int(m.group(2)) for m in re.finditer(r"XTR CH (\d+) (\d+)", text)]
    if window is None or not free:
        sys.exit(f"{args.log}: no LLC colouring in this boot (no 'Placing Xen at' or XTR CH lines)")
    after = list(free)
    taken = 0
    for m in re.finditer(r"XTR CA (\d+) (\w+)", text):
        after[int(m.group(1))] -= 1
        taken += 1
    doc = {"source": f"Xen {version} release build with CONFIG_LLC_COLORING and allocation tracing, "
                     "booted on QEMU virt (2 CPUs, 1 GiB)",
           "version": version, "xen_image": xen, "fdt": fdt,
           "xen_window": [int(window.group(1), 16), int(window.group(2), 16)],
           "buddy": [[int(m.group(1), 16), int(m.group(2), 16)] for m in re.finditer(r"XTR CB (\w+) (\w+)", text)],
           "free": free, "taken": taken, "free_after": after}
    Path(args.output).write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    if args.pages:
        mfns = [int(m.group(1), 16) for m in re.finditer(r"XTR CA \d+ (\w+)", text)]
        with gzip.open(args.pages, "wt") as out:
            json.dump({"version": version, "mfn_deltas": [b - a for a, b in zip([0, *mfns], mfns, strict=False)]},
                      out, separators=(",", ":"))


def expect(args: argparse.Namespace) -> None:
    """A dom0 recording in the format of ``tests/data/dom0/<case>/expected-<version>.json``."""
    text = Path(args.log).read_text(errors="replace").replace("\r", "")
    version, xen, fdt = _placement(text)
    panic = re.search(r"Panic on CPU \d+:\n\(XEN\) (.+)", text)
    banks = [[int(s, 16), int(e, 16) - int(s, 16)]
             for s, e in re.findall(r"^\(XEN\) BANK\[\d+\] 0x(\w+)-0x(\w+)", text, re.M)]
    regions = [[int(s, 16), int(e, 16) - int(s, 16)]
               for s, e in re.findall(r"(?:d0: e|E)xtended region \d+: 0x(\w+)->0x(\w+)", text)]
    chunks: list[list[list[int]]] = []
    pending: int | None = None
    for line in text.split("\n"):
        if "*** LOADING DOMU" in line:
            chunks.append([])
        elif m := re.search(r"XTR DH (\d+) (?:\S+#)?allocate_bank_memory\+", line):
            pending = int(m.group(1))
        elif pending is not None and (m := re.search(r"XTR HA \d+ \d+ (\d+) \w+ (\w+)", line)):
            if chunks and int(m.group(2), 16):
                chunks[-1].append([int(m.group(2), 16) << 12, 1 << (int(m.group(1)) + 12)])
            pending = None
    doc = {"version": version, "xen_image": xen, "fdt": fdt, "outcome": "panic" if panic else "boots",
           "message": panic.group(1).strip() if panic else None, "dom0_banks": banks,
           "dom0_extended_regions": regions, "domu_chunks": chunks}
    if args.gic_spis is not None:
        doc["gic_spis"] = args.gic_spis
    Path(args.output).write_text(json.dumps(doc, indent=1) + "\n")


def compare(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from xenplan import boot as simulate
    from xenplan import dt, model
    from xenplan.boot.replay import buddy
    from xenplan.model.base import Range
    from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

    text = Path(args.log).read_text(errors="replace")
    version, xen, fdt = _placement(text)
    log: list[list[int]] = []
    heap = buddy.BuddyHeap
    one, pages, repeat = heap.alloc, heap.alloc_pages, heap.alloc_repeat

    def alloc(self, order, no_scrub=False, zone_hi=None):  # type: ignore[no-untyped-def]
        pfn = one(self, order, no_scrub, zone_hi)
        if pfn is not None:
            log.append([order, pfn])
        return pfn

    def alloc_pages(self, count, zone_hi=None):  # type: ignore[no-untyped-def]
        got = pages(self, count, zone_hi)
        for start, n in got:
            log.extend([0, p] for p in range(start + n - 1, start - 1, -1))
        return got

    def alloc_repeat(self, order, count, no_scrub=False, zone_hi=None):  # type: ignore[no-untyped-def]
        got = repeat(self, order, count, no_scrub, zone_hi)
        log.extend([order, p] for p in got)
        return got

    heap.alloc, heap.alloc_pages, heap.alloc_repeat = alloc, alloc_pages, alloc_repeat  # type: ignore[method-assign]
    arm32 = _arm32(text)
    target = Target(version=XenVersion.parse(version), xen_image=Range(start=xen[0], size=xen[1]),
                    arch="arm32" if arm32 else "arm64",
                    fdt_address=fdt[0], fdt_size=fdt[1], gic_spis=args.gic_spis,
                    kconfig={**KCONFIG_DEFAULTS, **{k.upper(): v.lower() == "y" for k, _, v in
                                                    (c.partition("=") for c in args.kconfig)}})
    partials = {}
    for spec in args.partial_dtb:
        node, _, path = spec.partition("=")
        partials[node] = dt.load(path)
    result = simulate.simulate(model.build(dt.load(args.dts), target, partials))
    real = _allocations(text, "dom" if arm32 else "all")
    if arm32:
        print(f"arm32: {len(_allocations(text, 'xen'))} xenheap allocations not replayed; domain heap below")
    same = 0
    while same < min(len(log), len(real)) and log[same] == real[same]:
        same += 1
    print(f"Xen {version}: {len(real)} allocations, replay {len(log)}, identical for the first {same}")
    if same < min(len(log), len(real)):
        print(f"first difference: Xen order {real[same][0]} at pfn {real[same][1]:#x}, "
              f"replay order {log[same][0]} at pfn {log[same][1]:#x}")
    print(f"verdict: {result.outcome}")


def trim(args: argparse.Namespace) -> None:
    lines = Path(args.log).read_text(errors="replace").replace("\r", "").split("\n")
    first = next((i for i, line in enumerate(lines) if line.startswith("(XEN) ")), None)
    last = next((i for i, line in enumerate(lines) if re.search(r"Freed \d+kB init memory|Reboot in", line)),
                next((i for i, line in enumerate(lines) if "*** Serial input to" in line), None))
    if first is None or last is None:
        sys.exit(f"{args.log}: no complete Xen boot (no console line, or no end of boot)")
    kept = [line for line in lines[first:last + 1] if not line.startswith("(XEN) XTR ")]
    Path(args.output).write_text("\n".join(kept) + "\n")


def hypercall(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import hypercall as hc

    case = Path(args.case)
    try:
        if args.xen:
            raw = hc.boot(args.xen, case, args.timeout, args.shutdown)
            if args.raw:
                Path(args.raw).write_text(raw)
            log = hc.trim(raw)
            version = hc.version_of(log)
            (case / f"{version}.log").write_text(log)
        else:
            log = (case / f"{args.log}.log").read_text()
            version = hc.version_of(log)
        doc = hc.extract(log, hc.read_tree(case / "tree.dts"), hc.parse_ops(case / "ops.txt"))
    except hc.CaseError as e:
        sys.exit(str(e))
    (case / f"{version}.json").write_text(hc.dumps(doc))
    for op in doc["operations"]:
        print(f"{version}: {op['op']}: rc {op['rc']}, {len(op['extents'])} extents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("build")
    p.add_argument("--git", required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--arch", choices=("arm64", "arm32"), default="arm64",
                   help="arm32: XEN_TARGET_ARCH=arm32 with Debian's gcc-arm-linux-gnueabihf")
    p.add_argument("--config", action="append", default=[], metavar="NAME=VALUE",
                   help="one more Kconfig line, e.g. SCHED_NULL=y; LLC_COLORING=y also traces the coloured heap")
    p.add_argument("--debug", action="store_true",
                   help="a debug build (CONFIG_DEBUG: ASSERTs and the guest-error messages of gdprintk on)")
    p.set_defaults(run=build)
    p = sub.add_parser("boot")
    p.add_argument("--xen", required=True)
    p.add_argument("--dts", required=True)
    p.add_argument("--kernel", action="append", default=[], help="address of a fake arm64 kernel")
    p.add_argument("--blob", action="append", default=[], help="FILE@ADDR: load a file, e.g. a partial DTB")
    p.add_argument("--ram", default="4G")
    p.add_argument("--smp", type=int, default=2, help="CPUs; the tree should list as many")
    p.add_argument("--numa", action="append", default=[], metavar="SIZE[,SIZE...]",
                   help="one NUMA node per SIZE (repeat the option or separate sizes with commas; they add up "
                        "to --ram): one /memory node, so one RAM bank for Xen, each")
    p.add_argument("--gic", type=int, default=3, choices=(2, 3))
    p.add_argument("--arch", choices=("arm64", "arm32"), default="arm64",
                   help="arm32: qemu-system-arm, Cortex-A15, GICv2, fake zImage kernels")
    p.add_argument("--machine", choices=("virt", "zcu102"), default="virt",
                   help="zcu102: QEMU's xlnx-zcu102 (4 Cortex-A53, GIC-400, Cadence UART), --ram 4G gives "
                        "its two banks (0-2 GiB, 32 GiB up); a build with the Cadence early UART at 0xff000000")
    p.add_argument("--timeout", type=float, default=40)
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=boot)
    p = sub.add_parser("record")
    p.add_argument("log")
    p.add_argument("--dts", required=True, help="the tree's path as the test data names it")
    p.add_argument("--gic-spis", type=int, default=256, help="arm32: the host GIC's SPIs (QEMU's GICv2: 256)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=record)
    p = sub.add_parser("colours")
    p.add_argument("log")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--pages", metavar="FILE.json.gz",
                   help="also every page the coloured heap handed out, in order (each mfn as its difference "
                   "from the previous one)")
    p.set_defaults(run=colours)
    p = sub.add_parser("expect", help="a dom0 boot's log as tests/data/dom0/<case>/expected-<version>.json")
    p.add_argument("log")
    p.add_argument("--gic-spis", type=int, help="the host GIC's SPIs when it is not QEMU's GICv3")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=expect)
    p = sub.add_parser("compare")
    p.add_argument("dts")
    p.add_argument("log")
    p.add_argument("--partial-dtb", action="append", default=[], metavar="NODE=FILE")
    p.add_argument("--gic-spis", type=int, default=224, help="SPIs of the host GIC (QEMU: 224 GICv3, 256 GICv2)")
    p.add_argument("--kconfig", action="append", default=[], metavar="NAME=y|n", help="as the build had it")
    p.set_defaults(run=compare)
    p = sub.add_parser("hypercall")
    p.add_argument("case", help="a directory with tree.dts and ops.txt")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--xen", help="boot this Xen image")
    how.add_argument("--log", metavar="VERSION", help="boot nothing: extract CASE/VERSION.log again")
    p.add_argument("--timeout", type=float, default=90)
    p.add_argument("--raw", help="also keep the whole console here")
    p.add_argument("--shutdown", type=int, metavar="REASON",
                   help="each guest ends with SCHEDOP_shutdown(REASON): 0 poweroff, 1 reboot, 2 suspend, 3 crash")
    p.set_defaults(run=hypercall)
    p = sub.add_parser("trim")
    p.add_argument("log")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(run=trim)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
