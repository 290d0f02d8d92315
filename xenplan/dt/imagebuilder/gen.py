"""ImageBuilder's ``uboot-script-gen``, as data: a config in, the script it writes out.

The script's lines are produced as ImageBuilder's release script (Xilinx
``xlnx_rel_v2023.2``) prints them, each tagged with the config line it
comes from. A config with keys only upstream ImageBuilder knows
(``XEN_STATIC_HEAP``, ``DOMU_SHARED_MEM``) is read as upstream's script
reads it: ``vpl011 = <1>``, the static heap set last, each kernel placed by
the larger of its file size and its header's image size. The ``UBoot`` replayer then builds
the tree from these lines exactly as it builds it from a real script, so
both inputs share one path to the tree Xen receives.

Placement is ImageBuilder's: the script itself at ``MEMORY_START`` + 2 MiB
(never below 12 MiB), then every file in its order (dom0 kernel, dom0
ramdisk, per domU kernel, ramdisk and passthrough DTB, Xen, overlays, the
host DTB, a bitstream), each at the next 2 MiB boundary after the previous
file's real size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from xenplan.dt.imagebuilder.config import Config, shell_int
from xenplan.dt.tree import Source, Tree
from xenplan.errors import InputError

OFFSET = 2 << 20
"""ImageBuilder's slot: every load address is a multiple of 2 MiB."""
MIN_SCRIPT_ADDR = 0xC00000
LEGACY_HEADER = 64
MISSING_SIZE = OFFSET
"""A file that is not there is taken as one slot (and the note says so): the least room it can take."""


@dataclass
class FileInfo:
    """One binary the script loads: the config variable, the name in the script, the size (None: unknown)."""

    key: str
    name: str
    path: str
    size: int | None
    source: Source
    kind: str


@dataclass
class Generated:
    lines: list[tuple[str, Source]] = field(default_factory=list)
    files: list[FileInfo] = field(default_factory=list)
    """Every file the script loads, in load order."""
    notes: list[str] = field(default_factory=list)
    uboot_addr: int = 0
    end_addr: int = 0
    """The first address after the last file (ImageBuilder's final ``memaddr``)."""
    memory_start: int = 0
    memory_end: int = 0
    dtb_path: str = ""
    problems: list[tuple[str, str, Source]] = field(default_factory=list)
    """(rule id, message, where) for what ImageBuilder itself refuses or silently changes."""


class _Gen:
    def __init__(self, cfg: Config, ib_dir: str, assume: dict[str, int], dtb: str | None,
                 board: Tree, load_cmd: str | None, dialect: str | None) -> None:
        self.load_cmd, self.dialect = load_cmd, dialect
        self.upstream = dialect == "upstream" or (dialect is None and bool(
            cfg.get("XEN_STATIC_HEAP") or any(cfg.get("DOMU_SHARED_MEM", i) for i in cfg.indices("DOMU_SHARED_MEM"))))
        self.cfg, self.dir, self.assume, self.board = cfg, ib_dir, assume, board
        self.g = Generated()
        self.dtb_override = dtb
        self.phandle_next = 0xFFFFFFFE

    # -- helpers ---------------------------------------------------------------
    def v(self, name: str, i: int = 0) -> str:
        return self.cfg.get(name, i) or ""

    def src(self, *keys: tuple[str, int] | str) -> Source:
        for k in keys:
            name, i = (k, 0) if isinstance(k, str) else k
            ln = self.cfg.line(name, i)
            if ln is not None:
                return Source(self.cfg.file, ln)
        return Source(self.cfg.file)

    def num(self, name: str, i: int = 0, default: int = 0) -> int:
        val = self.v(name, i)
        if not val.strip():
            return default
        entry = self.cfg.entry(name, i)
        return shell_int(val, self.cfg.file, self.cfg.line(name, i), entry.key if entry else name)

    def emit(self, text: str, src: Source) -> None:
        self.g.lines.append((text, src))

    def dt_mknode(self, path: str, name: str, src: Source) -> None:
        self.emit(f"fdt mknod {path} {name}", src)

    def dt_set(self, path: str, var: str, kind: str, data: str, src: Source) -> None:
        var = var.replace("#", "\\#", 1)
        if kind in ("hex", "int"):
            self.emit(f"fdt set {path} {var} <{data}>", src)
        elif kind == "str_a":
            array = "".join(f' "{e}"' for e in data.split())
            self.emit(f"fdt set {path} {var} {array}", src)
        elif kind == "bool":
            if data.strip() == "1":
                self.emit(f"fdt set {path} {var}", src)
        else:
            self.emit(f'fdt set {path} {var} "{data}"', src)

    def fail(self, message: str, src: Source) -> InputError:
        return InputError(src.file, f"{message} (uboot-script-gen stops here)", line=src.line)

    # -- files ---------------------------------------------------------------
    def load_file(self, key: str, value: str, kind: str, src: Source, memaddr: int, load_cmd: str,
                  header: int = 0, path: str | None = None) -> int:
        path = path or (value if os.path.isabs(value) else os.path.join(self.dir, value))
        base = os.path.realpath(self.dir) + os.sep
        absolute = os.path.normpath(os.path.join(os.path.abspath(self.dir), value))
        name = absolute[len(base):] if absolute.startswith(base) else absolute
        if header:
            name += ".ub"
        size: int | None
        if key in self.assume:
            size = self.assume[key]
        elif os.path.isfile(path) and kind == "dtb" and self.board.dtb_size and not _is_dtb(path):
            size = self.board.dtb_size
            self.g.notes.append(f"{key} ({value}) is DTS: placed by the size of the blob dtc makes of it "
                                f"({size:#x} bytes)")
        elif os.path.isfile(path):
            size = os.stat(path).st_size + header
            if self.upstream:
                size = max(size, image_size(path))
        else:
            size = None
            self.g.notes.append(f"{key} ({value}): no such file under {self.dir}, so its size is unknown; it is "
                                f"taken as {MISSING_SIZE >> 20} MiB (one slot, the least room ImageBuilder gives a "
                                f"file), so every file after it may lie lower than ImageBuilder would put it: "
                                f"give --assume-size {key}=SIZE")
        self.g.files.append(FileInfo(key, name, path, size, src, kind))
        self.emit(f"{load_cmd} 0x{memaddr:X} {name}", src)
        end = memaddr + (MISSING_SIZE if size is None else size) + OFFSET - 1
        return end & ~(OFFSET - 1)

    def next_phandle(self) -> str:
        p = f"0x{self.phandle_next:x}"
        self.phandle_next -= 1
        return p

    # -- the script ----------------------------------------------------------
    def run(self) -> Generated:
        g = self.g
        load_cmd = self.load_cmd or self.v("LOAD_CMD") or "tftpb"
        if not load_cmd.strip():
            raise self.fail("LOAD_CMD is empty", self.src("LOAD_CMD"))
        if not self.v("LOAD_CMD") and not self.load_cmd:
            g.notes.append("LOAD_CMD is not set (uboot-script-gen takes it from -t); the script is modelled "
                           "with tftpb, which does not change any address")
        boot_cmd = self.v("BOOT_CMD") or "booti"
        if boot_cmd not in ("booti", "bootm", "bootz", "none"):
            raise self.fail(f"BOOT_CMD={boot_cmd!r}: xenplan models booti, bootm and none", self.src("BOOT_CMD"))
        num_domus = self.num("NUM_DOMUS")
        if not self.v("XEN"):
            raise self.fail("XEN is not set: xenplan checks Xen configs (neither XEN nor a dom0less setup)",
                            self.src("LINUX", "DEVICE_TREE"))
        if self.v("FIT"):
            g.notes.append("FIT is set: xenplan models the plain script form (the FIT image places files the "
                           "same way)")
        for key in ("PASSTHROUGH_DTS_REPO", "LOPPER_PATH"):
            if self.v(key):
                g.notes.append(f"{key}: the partial DTBs it builds are not modelled; name the merged file with "
                               "DOMU_PASSTHROUGH_DTB")
        xen_cmd, dom0_cmd = self.xen_config(num_domus)
        mem_start, mem_end = self.num("MEMORY_START"), self.num("MEMORY_END")
        g.memory_start, g.memory_end = mem_start, mem_end
        memaddr = max(mem_start + OFFSET, MIN_SCRIPT_ADDR)
        g.uboot_addr = memaddr
        memaddr += OFFSET

        addr: dict[str, int] = {}
        dom0 = self.v("DOM0_KERNEL")
        if dom0:
            addr["dom0"] = memaddr
            memaddr = self.load_file("DOM0_KERNEL", dom0, "kernel", self.src("DOM0_KERNEL"), memaddr, load_cmd)
        if self.v("DOM0_RAMDISK"):
            addr["dom0-ramdisk"] = memaddr
            memaddr = self.load_file("DOM0_RAMDISK", self.v("DOM0_RAMDISK"), "ramdisk", self.src("DOM0_RAMDISK"),
                                     memaddr, load_cmd)
        booted: list[int] = []
        for i in range(num_domus):
            if self.v("DOMU_ROOTFS", i) or self.v("DOMU_NOBOOT", i):
                if not self.v("DOMU_NOBOOT", i):
                    g.notes.append(f"DomU[{i}] is skipped: ImageBuilder cannot boot a non-ramdisk rootfs "
                                   "dom0less VM")
                continue
            if not self.v("DOMU_KERNEL", i):
                raise self.fail(f"DOMU_KERNEL[{i}] is not defined but NUM_DOMUS is {num_domus}",
                                self.src("NUM_DOMUS"))
            booted.append(i)
            for var, kind in (("DOMU_KERNEL", "kernel"), ("DOMU_RAMDISK", "ramdisk"),
                              ("DOMU_PASSTHROUGH_DTB", "passthrough-dtb")):
                if self.v(var, i):
                    addr[f"{var}[{i}]"] = memaddr
                    memaddr = self.load_file(f"{var}[{i}]", self.v(var, i), kind, self.src((var, i)), memaddr,
                                             load_cmd)
        addr["xen"] = memaddr
        memaddr = self.load_file("XEN", self.v("XEN"), "xen", self.src("XEN"), memaddr, load_cmd,
                                 header=LEGACY_HEADER if boot_cmd == "bootm" else 0)
        overlays = self.num("NUM_DT_OVERLAY")
        for i in range(overlays):
            addr[f"DT_OVERLAY[{i}]"] = memaddr
            memaddr = self.load_file(f"DT_OVERLAY[{i}]", self.v("DT_OVERLAY", i), "other",
                                     self.src(("DT_OVERLAY", i)), memaddr, load_cmd)
        dtb_value = self.dtb_override or self.v("DEVICE_TREE")
        addr["dtb"] = memaddr
        memaddr = self.load_file("DEVICE_TREE", dtb_value, "dtb", self.src("DEVICE_TREE"), memaddr, load_cmd,
                                 path=self.dtb_override)
        g.dtb_path = self.g.files[-1].path
        if self.v("BITSTREAM"):
            bit_addr = memaddr
            memaddr = self.load_file("BITSTREAM", self.v("BITSTREAM"), "other", self.src("BITSTREAM"), memaddr,
                                     load_cmd)
            size = self.g.files[-1].size or 0
            self.emit(f"fpga load 0 0x{bit_addr:X} {size}", self.src("BITSTREAM"))
        g.end_addr = memaddr

        dsrc = self.src("DEVICE_TREE")
        self.emit(f"fdt addr 0x{addr['dtb']:X}", dsrc)
        self.emit("fdt resize 1024", dsrc)
        for i in range(overlays):
            self.emit(f"fdt apply 0x{addr[f'DT_OVERLAY[{i}]']:X}", self.src(("DT_OVERLAY", i)))
        self.xen_tree(xen_cmd, dom0_cmd, addr, booted, num_domus)
        self.emit("setenv fdt_high 0xffffffffffffffff", dsrc)
        extra = self.v("APPEND_EXTRA_CMDS")
        if extra:
            path = extra if os.path.isabs(extra) else os.path.join(self.dir, extra)
            try:
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for text in fh.read().splitlines():
                        self.emit(text, self.src("APPEND_EXTRA_CMDS"))
            except OSError:
                g.notes.append(f"APPEND_EXTRA_CMDS ({extra}): cannot read it; its commands are not replayed")
        if boot_cmd != "none":
            self.emit(f"{boot_cmd} 0x{addr['xen']:X} - 0x{addr['dtb']:X}", self.src("BOOT_CMD", "XEN"))
        else:
            self.emit(f"setenv host_kernel_addr 0x{addr['xen']:X}", self.src("BOOT_CMD"))
            self.emit(f"setenv host_fdt_addr 0x{addr['dtb']:X}", self.src("BOOT_CMD"))
        if mem_end - memaddr - OFFSET < 0:
            g.problems.append(("IB-007", f"the files end at {memaddr:#x}, beyond MEMORY_END {mem_end:#x} less "
                               "the 2 MiB ImageBuilder keeps free: uboot-script-gen stops with \"not enough "
                               "memory to load all binaries\"", self.src("MEMORY_END")))
        if self.upstream:
            g.notes.append("read as upstream ImageBuilder's script" + (
                "" if self.dialect else " (XEN_STATIC_HEAP/DOMU_SHARED_MEM: the Xilinx release script has "
                "neither key)"))
        return g

    def xen_config(self, num_domus: int) -> tuple[str, str]:
        dom0 = self.v("DOM0_KERNEL")
        if not dom0:
            if num_domus == 0:
                raise self.fail("neither a dom0 kernel nor domUs: DOM0_KERNEL is unset and NUM_DOMUS is 0",
                                self.src("NUM_DOMUS", "XEN"))
            for k in ("DOM0_MEM", "DOM0_VCPUS", "DOM0_COLORS", "DOM0_CMD", "DOM0_RAMDISK", "DOM0_ROOTFS",
                      *(() if self.upstream else ("DOM0_VIOMMU",))):
                if self.v(k):
                    raise self.fail(f"{k} is set without DOM0_KERNEL: ImageBuilder refuses dom0 parameters in a "
                                    "setup without dom0", self.src(k))
        xen_cmd = self.v("XEN_CMD")
        if not xen_cmd:
            mem = self.v("DOM0_MEM") or ("1024" if self.upstream else "1500")
            vcpus = self.v("DOM0_VCPUS") or "1"
            dc = f"dom0_colors={self.v('DOM0_COLORS')}" if self.v("DOM0_COLORS") else ""
            xc = f"xen_colors={self.v('XEN_COLORS')}" if self.v("XEN_COLORS") else ""
            vi = "" if self.upstream else " dom0_viommu=1" if self.v("DOM0_VIOMMU") == "1" else " "
            xen_cmd = (f"console=dtuart dtuart=serial0 dom0_mem={mem}M dom0_max_vcpus={vcpus} bootscrub=0 "
                       f"vwfi=native sched=null {xc} {dc}{vi}")
        elif self.v("DOM0_MEM") or self.v("DOM0_VCPUS"):
            raise self.fail("XEN_CMD and DOM0_MEM/DOM0_VCPUS are both set: ImageBuilder takes one or the other",
                            self.src("DOM0_MEM", "DOM0_VCPUS"))
        dom0_cmd = self.v("DOM0_CMD") or "console=hvc0 earlycon=xen earlyprintk=xen clk_ignore_unused"
        if "root=" not in dom0_cmd:
            dom0_cmd += " root=" + (self.root_dev() if self.v("DOM0_ROOTFS") else "/dev/ram0")
        if not dom0:
            xen_cmd = " ".join("" if w.startswith("dom0") else w for w in xen_cmd.split())
        return xen_cmd, dom0_cmd

    def root_dev(self) -> str:
        load = self.v("LOAD_CMD")
        dev = load.rsplit(":", 1)[0].split()[-1] if ":" in load else ""
        par = load.split(":", 1)[1] if ":" in load else ""
        src = self.src("DOM0_ROOTFS")
        if not dev.isdigit() or not par.isdigit():
            raise self.fail("DOM0_ROOTFS: the device and partition cannot be read from LOAD_CMD", src)
        p = int(par) + 1
        if "mmc" in load:
            return f"/dev/mmcblk{dev}p{p}"
        if "scsi" in load:
            return f"/dev/sd{chr(97 + int(dev))}{p}"
        raise self.fail("DOM0_ROOTFS: only mmc and scsi root devices are derived from LOAD_CMD", src)

    def split_cells(self, name: str, i: int, words: list[str]) -> str:
        """Upstream's ``split_value`` cells: ``0x%X `` per half, joined by spaces (as the script prints them)."""
        vals = [shell_int(x, self.cfg.file, self.cfg.line(name, i), name) for x in words]
        return " ".join(f"0x{v >> 32:X} 0x{v & 0xFFFFFFFF:X} " for v in vals)

    def cells(self, name: str, i: int) -> str:
        vals = [shell_int(x, self.cfg.file, self.cfg.line(name, i), f"{name}[{i}]") for x in self.v(name, i).split()]
        return " ".join(f"0x{v >> 32:x} 0x{v & 0xFFFFFFFF:x}" for v in vals)

    def xen_tree(self, xen_cmd: str, dom0_cmd: str, addr: dict[str, int], booted: list[int],
                 num_domus: int) -> None:
        files = {f.key: f for f in self.g.files}

        def reg(key: str, name: str) -> str:
            size = files[name].size
            size = MISSING_SIZE if size is None else size
            a = addr[key]
            return f"0x{a >> 32:X} 0x{a & 0xFFFFFFFF:X} 0x{size >> 32:X} 0x{size & 0xFFFFFFFF:X} "

        top = self.src("XEN_CMD", "XEN")
        self.dt_set("/chosen", "#address-cells", "hex", "0x2", top)
        self.dt_set("/chosen", "#size-cells", "hex", "0x2", top)
        self.dt_set("/chosen", "xen,xen-bootargs", "str", xen_cmd, top)
        if self.v("DOM0_KERNEL"):
            s = self.src("DOM0_KERNEL")
            self.dt_mknode("/chosen", "dom0", s)
            self.dt_set("/chosen/dom0", "compatible", "str_a", "xen,linux-zimage xen,multiboot-module "
                        "multiboot,module", s)
            self.dt_set("/chosen/dom0", "reg", "hex", reg("dom0", "DOM0_KERNEL"), s)
            self.dt_set("/chosen", "xen,dom0-bootargs", "str", dom0_cmd, self.src("DOM0_CMD", "DOM0_KERNEL"))
        if self.v("DOM0_RAMDISK"):
            s = self.src("DOM0_RAMDISK")
            self.dt_mknode("/chosen", "dom0-ramdisk", s)
            self.dt_set("/chosen/dom0-ramdisk", "compatible", "str_a", "xen,linux-initrd xen,multiboot-module "
                        "multiboot,module", s)
            self.dt_set("/chosen/dom0-ramdisk", "reg", "hex", reg("dom0-ramdisk", "DOM0_RAMDISK"), s)
        for i in range(num_domus):
            for dev in self.v("DOMU_PASSTHROUGH_PATHS", i).split():
                self.dt_set(dev, "xen,passthrough", "str_a", "", self.src(("DOMU_PASSTHROUGH_PATHS", i)))
            if i not in booted:
                continue
            self.domu(i, addr, reg)
        npools = self.num("NUM_CPUPOOLS")
        if npools > 0:
            self.cpupools(npools, num_domus)
        if self.v("XEN_STATIC_HEAP"):
            self.dt_set("/chosen", "xen,static-heap", "hex", self.split_cells("XEN_STATIC_HEAP", 0,
                                                                               self.v("XEN_STATIC_HEAP").split()),
                        self.src("XEN_STATIC_HEAP"))

    def domu(self, i: int, addr: dict[str, int], reg: object) -> None:
        p = f"/chosen/domU{i}"
        s = self.src(("DOMU_KERNEL", i))
        self.dt_mknode("/chosen", f"domU{i}", s)
        self.dt_set(p, "compatible", "str", "xen,domain", s)
        self.dt_set(p, "#address-cells", "hex", "0x2", s)
        self.dt_set(p, "#size-cells", "hex", "0x2", s)
        memory = self.num("DOMU_MEM", i) * 1024
        static = self.v("DOMU_STATIC_MEM", i)
        msrc = self.src(("DOMU_STATIC_MEM", i), ("DOMU_MEM", i), ("DOMU_KERNEL", i))
        if static:
            vals = [shell_int(x, self.cfg.file, self.cfg.line("DOMU_STATIC_MEM", i), f"DOMU_STATIC_MEM[{i}]")
                    for x in static.split()]
            total = sum(vals[1::2]) >> 10
            if memory and memory != total:
                self.g.problems.append(("IB-002", f"DOMU_MEM[{i}] ({memory >> 10} MiB) disagrees with "
                                        f"DOMU_STATIC_MEM[{i}] ({total >> 10} MiB); ImageBuilder ignores DOMU_MEM",
                                        self.src(("DOMU_MEM", i))))
            memory = total
        if memory == 0:
            memory = 512 * 1024
        self.dt_set(p, "memory", "int", f"0 {memory}", msrc)
        self.dt_set(p, "cpus", "int", self.v("DOMU_VCPUS", i) or "1", self.src(("DOMU_VCPUS", i), ("DOMU_KERNEL", i)))
        if static:
            ssrc = self.src(("DOMU_STATIC_MEM", i))
            self.dt_set(p, "xen,static-mem", "hex", self.cells("DOMU_STATIC_MEM", i), ssrc)
            self.dt_set(p, "direct-map", "bool", self.v("DOMU_DIRECT_MAP", i) or "1",
                        self.src(("DOMU_DIRECT_MAP", i), ("DOMU_STATIC_MEM", i)))
        if self.upstream:
            self.dt_set(p, "vpl011", "hex", "0x1", s)
        elif self.v("DOMU_VUART_PL011") == "1":
            self.dt_set(p, "vpl011", "str", "pl011", self.src("DOMU_VUART_PL011"))
        else:
            self.dt_set(p, "vpl011", "bool", "1", s)
        enh = self.v("DOMU_ENHANCED", i)
        if enh == "1" or (self.v("DOM0_KERNEL") and enh != "0"):
            self.dt_set(p, "xen,enhanced", "str", "enabled", self.src(("DOMU_ENHANCED", i), ("DOMU_KERNEL", i)))
        if self.v("DOMU_VIOMMU", i) == "1" and not self.upstream:
            self.dt_set(p, "viommu", "bool", "1", self.src(("DOMU_VIOMMU", i)))
        colors = self.v("DOMU_COLORS", i)
        if colors:
            csrc = self.src(("DOMU_COLORS", i))
            lo, _, hi = colors.partition("-")
            try:
                a, b = int(lo), int(hi.split("-")[0] if hi else lo)
            except ValueError:
                a, b = 0, -1
            mask = 0
            for bit in range(a, b + 1):
                mask |= 1 << bit
            self.dt_set(p, "colors", "hex", f"0x{mask:x}", csrc)
        shm = self.v("DOMU_SHARED_MEM", i)
        if shm:
            self.shared_mem(p, i, shm)
        ka = addr[f"DOMU_KERNEL[{i}]"]
        m = f"{p}/module0x{ka:X}"
        self.dt_mknode(p, f"module0x{ka:X}", s)
        self.dt_set(m, "compatible", "str_a", "multiboot,kernel multiboot,module", s)
        self.dt_set(m, "reg", "hex", reg(f"DOMU_KERNEL[{i}]", f"DOMU_KERNEL[{i}]"), s)  # type: ignore[operator]
        self.dt_set(m, "bootargs", "str", self.v("DOMU_CMD", i) or "console=ttyAMA0",
                    self.src(("DOMU_CMD", i), ("DOMU_KERNEL", i)))
        for var, compat in (("DOMU_RAMDISK", "multiboot,ramdisk"), ("DOMU_PASSTHROUGH_DTB", "multiboot,device-tree")):
            if self.v(var, i):
                a = addr[f"{var}[{i}]"]
                m = f"{p}/module0x{a:X}"
                vs = self.src((var, i))
                self.dt_mknode(p, f"module0x{a:X}", vs)
                self.dt_set(m, "compatible", "str_a", f"{compat} multiboot,module", vs)
                self.dt_set(m, "reg", "hex", reg(f"{var}[{i}]", f"{var}[{i}]"), vs)  # type: ignore[operator]

    def shared_mem(self, p: str, i: int, shm: str) -> None:
        words = shm.split()
        s = self.src(("DOMU_SHARED_MEM", i))
        if len(words) != 4:
            raise InputError(self.cfg.file, f"DOMU_SHARED_MEM[{i}]: expected \"ID HOST-ADDRESS GUEST-ADDRESS "
                             f"SIZE\", got {len(words)} word(s)", line=s.line)
        node = f"shared-mem@{words[1]}"
        self.dt_mknode(p, node, s)
        self.dt_set(f"{p}/{node}", "compatible", "str", "xen,domain-shared-memory-v1", s)
        self.dt_set(f"{p}/{node}", "xen,shm-id", "str", words[0], s)
        self.dt_set(f"{p}/{node}", "xen,shared-mem", "hex", self.split_cells("DOMU_SHARED_MEM", i, words[1:]), s)

    def cpupools(self, npools: int, num_domus: int) -> None:
        assigned: list[str] = []
        for i in range(npools):
            words = self.v("CPUPOOL", i).split()
            s = self.src(("CPUPOOL", i), "NUM_CPUPOOLS")
            if not words:
                raise self.fail(f"CPUPOOL[{i}] is not set but NUM_CPUPOOLS is {npools}", s)
            cpus, sched = words[0], words[-1]
            phandles = ""
            for cpu in cpus.split(","):
                path = f"/cpus/{cpu}"
                node = self.board.find(path)
                if node is None or not node.has("reg"):
                    raise self.fail(f"CPUPOOL[{i}]: {path} does not exist in the board's tree", s)
                if path in assigned:
                    raise self.fail(f"CPUPOOL[{i}]: {path} is already in another cpupool", s)
                prop = node.prop("phandle")
                old = prop.u32() if prop is not None else None
                if self.upstream and old is not None:
                    ph = f"0x{old:x}"
                else:
                    ph = f"{old:x}" if old is not None else self.next_phandle()
                    self.dt_set(path, "phandle", "hex", ph, s)
                phandles += f" {ph}"
                assigned.append(path)
            ph = self.next_phandle()
            pool = f"/chosen/cpupool_{i}"
            self.dt_mknode("/chosen", f"cpupool_{i}", s)
            self.dt_set(pool, "phandle", "hex", ph, s)
            self.dt_set(pool, "compatible", "str", "xen,cpupool", s)
            self.dt_set(pool, "cpupool-cpus", "hex", phandles, s)
            if sched != cpus:
                self.dt_set(pool, "cpupool-sched", "str", sched, s)
            for j in range(num_domus):
                if self.v("DOMU_CPUPOOL", j).strip() == str(i):
                    self.dt_set(f"/chosen/domU{j}", "domain-cpupool", "hex", ph, self.src(("DOMU_CPUPOOL", j)))


def _is_dtb(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"\xd0\x0d\xfe\xed"


def image_size(path: str) -> int:
    """The in-memory size a kernel header declares (arm64 ``image_size``; arm32 zImage end - start), else 0.

    Upstream ImageBuilder places a file by the larger of this and its size on disk."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if len(head) >= 64 and head[56:60] == b"ARM\x64":
        return int.from_bytes(head[16:24], "little")
    if len(head) >= 48 and int.from_bytes(head[36:40], "little") == 0x016F2818:
        start, end = int.from_bytes(head[40:44], "little"), int.from_bytes(head[44:48], "little")
        return max(0, end - start)
    return 0


def generate(cfg: Config, ib_dir: str, assume: dict[str, int], dtb: str | None, board: Tree,
             load_cmd: str | None = None, dialect: str | None = None) -> Generated:
    """The script ``uboot-script-gen -c CONFIG -d IB_DIR`` writes, line by line with each line's config source.

    ``dtb`` (a positional INPUT) replaces ``DEVICE_TREE``; ``board`` is that
    tree as read (cpupools take CPU phandles from it). ``assume`` gives
    sizes for files that are absent, keyed by config variable; ``load_cmd``
    stands for ``uboot-script-gen -t`` (it overrides LOAD_CMD); ``dialect``
    is ``xilinx`` (the release script), ``upstream``, or None to take upstream
    only for keys the release script lacks.
    """
    return _Gen(cfg, ib_dir, assume, dtb, board, load_cmd, dialect).run()
