"""Build a ``System`` from a device tree, decoding it exactly as Xen does.

Mirrors what Xen reads, not what it does with it: the early scan's
recognition rules (``early_scan_node()`` in
``xen/common/device-tree/bootinfo-fdt.c``), cell decoding (DT-001…DT-008:
a property is read with its *parent's* cells; ``xen,static-mem`` with
``/chosen``'s from 4.17, with ``#xen,static-mem-*-cells`` on 4.16), and the
``xen,domain`` bindings of ``create_domUs()``. Judging is left to
``xenplan.boot`` and ``xenplan.checks``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from xenplan.dt.tree import Node, Property, Source, Tree
from xenplan.model.base import Range, SourceRef
from xenplan.model.system import (
    Board,
    Domain,
    EventChannel,
    Gic,
    Module,
    ModuleKind,
    ReservedRegion,
    ScanItem,
    SharedMem,
    System,
    PartialDtb,
    PassthroughDevice,
    Uart,
    VcpuNode,
    XenConfig,
)
from xenplan.model.target import Target

#: DEVICE_TREE_MAX_DEPTH in ``device_tree_for_each_node()`` (DT-007).
MAX_DEPTH = 16
ROOT_CELLS = (2, 1)
MODULE_COMPATIBLES = ("multiboot,module", "xen,multiboot-module")
KIND_COMPATIBLES: dict[str, ModuleKind] = {
    "multiboot,kernel": "kernel",
    "xen,linux-zimage": "kernel",
    "multiboot,ramdisk": "ramdisk",
    "xen,linux-initrd": "ramdisk",
    "xen,xsm-policy": "xsm",
    "multiboot,device-tree": "device-tree",
    "multiboot,microcode": "microcode",
}
SHM_COMPATIBLE = "xen,domain-shared-memory-v1"
EVTCHN_COMPATIBLE = "xen,evtchn-v1"
GIC_V3 = ("arm,gic-v3",)
GIC_V2 = ("arm,gic-400", "arm,cortex-a15-gic", "arm,gic-v2", "arm,cortex-a9-gic", "arm,cortex-a7-gic")
IOMMU_COMPATIBLES = ("arm,smmu-v3", "arm,mmu-500", "arm,smmu-v1", "arm,smmu-v2", "arm,mmu-401", "iommu")
#: ``MAX_SHM_ID_LENGTH`` (SHM-004).
MAX_SHM_ID_LENGTH = 16


def source_ref(src: Source | None) -> SourceRef | None:
    if src is None:
        return None
    return SourceRef(file=src.file, line=src.line, offset=src.offset)


def _cells_of(node: Node, inherited: tuple[int, int]) -> tuple[int, int]:
    """A node's effective cells for its children (DT-001: inherit when absent or short)."""
    ac_p, sc_p = node.prop("#address-cells"), node.prop("#size-cells")
    ac = ac_p.u32() if ac_p is not None and ac_p.u32() is not None else inherited[0]
    sc = sc_p.u32() if sc_p is not None and sc_p.u32() is not None else inherited[1]
    return (ac if ac is not None else inherited[0], sc if sc is not None else inherited[1])


def read_number(cells: list[int], count: int) -> int:
    """``dt_read_number()``: 1 or 2 cells; a release build reads only the first of more (DT-004)."""
    if count == 2:
        return (cells[0] << 32) | cells[1]
    return cells[0]


def decode_pairs(prop: Property, ac: int, sc: int) -> tuple[list[Range], str | None]:
    """Decode (addr, size) pairs as ``device_tree_get_meminfo()`` does.

    Cells below 1 are refused (-EINVAL); the pair count is an integer
    division, so a trailing partial pair is ignored (SMEM-001).
    """
    if ac < 1 or sc < 1:
        return [], f"invalid #address-cells or #size-cells ({ac}/{sc})"
    cells = prop.u32s()
    step = ac + sc
    out = []
    for i in range(len(cells) // step):
        chunk = cells[i * step : (i + 1) * step]
        out.append(Range(start=read_number(chunk[:ac], ac), size=read_number(chunk[ac:], sc)))
    return out, None


def _available(node: Node) -> bool:
    """``device_tree_node_is_available()``: no status, or "ok"/"okay" (DT-006)."""
    st = node.prop("status")
    return st is None or st.string() in ("ok", "okay")


def _is_memory_node(node: Node, depth: int, target: Target) -> bool:
    """RAM-001: 4.20+ wants depth 1 and ``device_type = "memory"``; before, any depth and name."""
    if node.name != "memory" and not node.name.startswith("memory@"):
        return False
    if target.version.at_least(4, 20):
        dt = node.prop("device_type")
        return depth == 1 and dt is not None and dt.value == b"memory\0"
    return True


@dataclass
class _Walk:
    node: Node
    depth: int
    cells: tuple[int, int]  # the parent's effective cells, as Xen hands them down


def _walk(root: Node) -> Iterator[_Walk]:
    """``device_tree_for_each_node()``: depth-first, parents before children, cells handed down."""
    stack: list[_Walk] = [_Walk(root, 0, ROOT_CELLS)]
    while stack:
        w = stack.pop()
        yield w
        if w.depth >= MAX_DEPTH:
            continue
        own = _cells_of(w.node, w.cells)
        stack.extend(_Walk(c, w.depth + 1, own) for c in reversed(w.node.children))


def _module_kind(compat: list[str]) -> ModuleKind | None:
    for c in compat:
        if c in KIND_COMPATIBLES:
            return KIND_COMPATIBLES[c]
    return None


class _Builder:
    def __init__(self, tree: Tree, target: Target) -> None:
        self.tree = tree
        self.target = target
        self.v = target.version
        self.scan: list[ScanItem] = []
        self.modules: list[Module] = []
        self.shm: list[SharedMem] = []
        self.ram: list[Range] = []
        self.reserved: list[ReservedRegion] = []
        self.static_heap: list[Range] = []
        self.static_heap_present = False
        self.untyped_modules = 0
        self.dropped: list[str] = []
        self.domain_static: dict[str, tuple[list[Range], str | None]] = {}
        self.module_by_path: dict[str, Module] = {}
        self.shm_by_path: dict[str, SharedMem] = {}

    def src(self, node: Node, prop: str | None = None) -> SourceRef | None:
        if prop is not None and node.prop(prop) is not None:
            return source_ref(node.properties[prop].source) or source_ref(node.source)
        return source_ref(node.source)

    # -- S4: the early scan ------------------------------------------------
    def early_scan(self) -> None:
        for w in _walk(self.tree.root):
            node, depth, (ac, sc) = w.node, w.depth, w.cells
            path = node.path
            if depth >= MAX_DEPTH:
                self.dropped.append(path)
                continue
            compat = node.compatible()
            if _is_memory_node(node, depth, self.target):
                self._memory(node, ac, sc)
            elif depth == 1 and node.name == "reserved-memory":
                self._reserved_memory(node)
            elif depth <= 3 and any(c in MODULE_COMPATIBLES for c in compat):
                if path.startswith("/chosen"):
                    self._module(node, ac, sc)
            elif depth == 1 and node.name == "chosen":
                self._chosen(node, ac, sc)
            elif depth == 2 and "xen,domain" in compat:
                self._static_mem(node)
            elif depth <= 3 and SHM_COMPATIBLE in compat:
                self._shm(node, ac, sc)

    def _memory(self, node: Node, ac: int, sc: int) -> None:
        if not _available(node):
            return
        reg = node.prop("reg")
        if reg is None:
            self.scan.append(ScanItem(kind="ram", path=node.path, source=self.src(node), prop="reg",
                                      error="memory node has no reg property", rc=-2))
            return
        pairs, err = decode_pairs(reg, ac, sc)
        self.scan.append(ScanItem(kind="ram", path=node.path, source=self.src(node, "reg"), prop="reg",
                                  cells=(ac, sc), pairs=tuple(pairs), error=err, rc=-22 if err else 0))

    def _reserved_memory(self, rm: Node) -> None:
        """``process_reserved_memory()``: its own walk, cells defaulting to 2/1 (DT-003)."""
        if not _available(rm):
            return
        own = _cells_of(rm, ROOT_CELLS)
        stack: list[tuple[Node, tuple[int, int], int]] = [(c, own, 2) for c in reversed(rm.children)]
        while stack:
            node, (ac, sc), depth = stack.pop()
            reg = node.prop("reg")
            if reg is not None and _available(node):
                pairs, err = decode_pairs(reg, ac, sc)
                self.scan.append(ScanItem(kind="reserved", path=node.path, source=self.src(node, "reg"),
                                          prop="reg", cells=(ac, sc), pairs=tuple(pairs), error=err,
                                          rc=-22 if err else 0))
                if err is None:
                    self.reserved.append(ReservedRegion(path=node.path, source=self.src(node, "reg"),
                                                        ranges=tuple(pairs)))
            if depth + 1 < MAX_DEPTH:
                inner = _cells_of(node, (ac, sc))
                stack.extend((c, inner, depth + 1) for c in reversed(node.children))

    def _module(self, node: Node, ac: int, sc: int) -> None:
        """``process_multiboot_node()``: kind from compatible, else the global guess (MOD-003)."""
        compat = node.compatible()
        kind = _module_kind(compat)
        explicit = kind is not None
        if kind is None:
            self.untyped_modules += 1
            kind = "kernel" if self.untyped_modules == 1 else "ramdisk" if self.untyped_modules == 2 else "unknown"
        reg = node.prop("reg")
        rng: Range | None = None
        panic: str | None = None
        if reg is None:
            panic = f"node {node.name} missing `reg' property"
        else:
            pairs, err = decode_pairs(reg, ac, sc)
            if err is not None or not pairs:
                panic = "`reg` property length is too short" if err is None else err
            else:
                rng = pairs[0]
        parent = node.parent
        domain = parent.path if parent is not None and parent.is_compatible("xen,domain") else None
        args = node.prop("bootargs")
        mod = Module(path=node.path, source=self.src(node, "reg"), kind=kind, explicit_kind=explicit,
                     range=rng, reg_error=panic, domain=domain, compatible=tuple(compat),
                     bootargs_len=len(args.string()) if args is not None else 0)
        if mod.bootargs_len > 1024 and panic is None:
            panic = f"module {node.path} command line too long"
        self.modules.append(mod)
        self.module_by_path[node.path] = mod
        self.scan.append(ScanItem(kind="module", path=node.path, source=mod.source, prop="reg",
                                  pairs=(rng,) if rng else (), panic=panic, module=mod, domain=domain))

    def _chosen(self, node: Node, ac: int, sc: int) -> None:
        """``process_chosen_node()``: static heap (4.17+, root cells) and the dom0 initrd."""
        heap = node.prop("xen,static-heap")
        if heap is not None and self.v.at_least(4, 17):
            self.static_heap_present = True
            pairs, err = decode_pairs(heap, ac, sc)
            self.scan.append(ScanItem(kind="static-heap", path=node.path, source=self.src(node, "xen,static-heap"),
                                      prop="xen,static-heap", cells=(ac, sc), pairs=tuple(pairs), error=err,
                                      rc=-22 if err else 0))
            if err is None:
                self.static_heap = [p for p in pairs if p.size]
        start, end = node.prop("linux,initrd-start"), node.prop("linux,initrd-end")
        if start is not None:
            err = None
            s = e = 0
            if len(start.value) not in (4, 8):
                err = "linux,initrd-start property has invalid length"
            elif end is None:
                err = "linux,initrd-end not present"
            elif len(end.value) not in (4, 8):
                err = "linux,initrd-end property has invalid length"
            else:
                s, e = int.from_bytes(start.value, "big"), int.from_bytes(end.value, "big")
                if s >= e:
                    err = "linux,initrd limits invalid"
            self.scan.append(ScanItem(kind="initrd", path=node.path, source=self.src(node, "linux,initrd-start"),
                                      prop="linux,initrd-start",
                                      pairs=(Range(start=s, size=e - s),) if err is None else (),
                                      error=err, rc=-22 if err else 0))

    def _static_mem_cells(self, node: Node) -> tuple[int, int]:
        """DT-002: 4.16 reads ``#xen,static-mem-*-cells`` (default 0); 4.17+ ``/chosen``'s cells."""
        if not self.v.at_least(4, 17):
            a, s = node.prop("#xen,static-mem-address-cells"), node.prop("#xen,static-mem-size-cells")
            return (a.u32() or 0 if a is not None else 0, s.u32() or 0 if s is not None else 0)
        parent = node.parent
        assert parent is not None
        return _cells_of(parent, self._parent_cells(parent))

    def _parent_cells(self, node: Node) -> tuple[int, int]:
        chain: list[Node] = []
        n = node.parent
        while n is not None:
            chain.append(n)
            n = n.parent
        cells = ROOT_CELLS
        for anc in reversed(chain):
            cells = _cells_of(anc, cells)
        return cells

    def _static_mem(self, node: Node) -> None:
        """``process_domain_node()``: ``xen,static-mem`` into ``reserved_mem`` (SMEM-001)."""
        prop = node.prop("xen,static-mem")
        if prop is None:
            return
        ac, sc = self._static_mem_cells(node)
        pairs, err = decode_pairs(prop, ac, sc)
        self.domain_static[node.path] = (pairs, err)
        self.scan.append(ScanItem(kind="static-mem", path=node.path, source=self.src(node, "xen,static-mem"),
                                  prop="xen,static-mem", cells=(ac, sc), pairs=tuple(pairs), error=err,
                                  rc=-22 if err else 0, domain=node.path))

    def _shm(self, node: Node, ac: int, sc: int) -> None:
        """``process_shm_node()``: id, role and ``xen,shared-mem`` in the parent's cells (§3.4)."""
        idp = node.prop("xen,shm-id")
        shm_id = idp.string() if idp is not None else None
        id_len = len(idp.value.split(b"\0", 1)[0]) if idp is not None else None
        role = node.prop("role")
        mem = node.prop("xen,shared-mem")
        host = guest = size = None
        short = False
        cells_err = shape_err = None
        if ac < 1 or sc < 1:
            cells_err = f"invalid cells ({ac}/{sc})"
        elif mem is None:
            shape_err = "missing xen,shared-mem"
        else:
            cells = mem.u32s()
            if len(cells) == 2 * ac + sc and len(mem.value) % 4 == 0:
                host = read_number(cells[:ac], ac)
                guest = read_number(cells[ac : 2 * ac], ac)
                size = read_number(cells[2 * ac :], sc)
            elif len(cells) == ac + sc and len(mem.value) % 4 == 0:
                short = True
                guest = read_number(cells[:ac], ac)
                size = read_number(cells[ac:], sc)
            else:
                shape_err = f"xen,shared-mem has {len(mem.value)} bytes, expected {(2 * ac + sc) * 4}"
        parent = node.parent.path if node.parent is not None else "/"
        shm = SharedMem(path=node.path, source=self.src(node, "xen,shared-mem"), parent=parent, shm_id=shm_id,
                        shm_id_len=id_len, role=role.string() if role is not None else None, host=host,
                        guest=guest, size=size, short_form=short, cells_error=cells_err, shape_error=shape_err,
                        address_cells=ac, size_cells=sc)
        self.shm.append(shm)
        self.shm_by_path[node.path] = shm
        self.scan.append(ScanItem(kind="shm", path=node.path, source=shm.source, prop="xen,shared-mem",
                                  pairs=(shm.host_range,) if shm.host_range else (), shm=shm, domain=parent))

    # -- the rest of the model -------------------------------------------
    def domains(self) -> list[Domain]:
        chosen = self.tree.find("/chosen")
        if chosen is None:
            return []
        out: list[Domain] = []
        for node in chosen.children:
            if not node.is_compatible("xen,domain"):
                continue
            out.append(self._domain(node, len(out)))
        return out

    def _domain(self, node: Node, index: int) -> Domain:
        p = node.prop
        mem = p("memory")
        memory_kib = int.from_bytes(mem.value[:8], "big") if mem is not None and len(mem.value) >= 8 else None
        pairs, err = self.domain_static.get(node.path, ([], None))
        if p("xen,static-mem") is not None and node.path not in self.domain_static:
            ac, sc = self._static_mem_cells(node)
            pairs, err = decode_pairs(p("xen,static-mem"), ac, sc)  # type: ignore[arg-type]

        def u32(name: str) -> int | None:
            q = p(name)
            return q.u32() if q is not None else None

        def string(name: str) -> str | None:
            q = p(name)
            return q.string() if q is not None else None

        mods = tuple(self.module_by_path[c.path] for c in node.children if c.path in self.module_by_path)
        shm = tuple(self.shm_by_path[c.path] for c in node.children if c.path in self.shm_by_path)
        evt = tuple(self._evtchn(c) for c in node.children if c.is_compatible(EVTCHN_COMPATIBLE))
        vcpus = tuple(VcpuNode(path=c.path, source=self.src(c), id=c.prop("id").u32() if c.has("id") else None,  # type: ignore[union-attr]
                               hard_affinity=c.prop("hard-affinity").string() if c.has("hard-affinity") else None)  # type: ignore[union-attr]
                      for c in node.children if c.is_compatible("xen,vcpu"))
        return Domain(
            path=node.path, source=self.src(node), name=node.name, index=index,
            memory_kib=memory_kib, memory_len=len(mem.value) if mem is not None else 0,
            cpus=u32("cpus"), static_mem_present=p("xen,static-mem") is not None,
            static_mem=tuple(r for r in pairs if r.size), static_mem_error=err,
            direct_map=node.has("direct-map"), enhanced=string("xen,enhanced"), vpl011=node.has("vpl011"),
            nr_spis=u32("nr_spis"), passthrough=string("passthrough"), p2m_mem_mb=u32("xen,domain-p2m-mem-mb"),
            cpupool=u32("domain-cpupool"), llc_colors=string("llc-colors"), capabilities=u32("capabilities"),
            max_grant_frames=u32("max_grant_frames"), max_maptrack_frames=u32("max_maptrack_frames"),
            trap_unmapped_accesses=u32("trap-unmapped-accesses"), modules=mods, shm=shm, evtchns=evt,
            vcpus=vcpus, sve=node.has("sve"),
            prop_sources={k: s for k in node.properties if (s := self.src(node, k)) is not None},
        )

    def _evtchn(self, node: Node) -> EventChannel:
        prop = node.prop("xen,evtchn")
        cells = prop.u32s() if prop is not None else []
        ph = node.prop("phandle") or node.prop("linux,phandle")
        return EventChannel(path=node.path, source=self.src(node, "xen,evtchn"),
                            parent=node.parent.path if node.parent else "/",
                            phandle=ph.u32() if ph is not None else None, cells=len(cells),
                            port=cells[0] if cells else None, peer=cells[1] if len(cells) > 1 else None)

    def board(self) -> Board:
        ram = sorted((r for it in self.scan if it.kind == "ram" and not it.error for r in it.pairs if r.size),
                     key=lambda r: r.start)
        cpus = self.tree.find("/cpus")
        cpu_nodes = [c for c in (cpus.children if cpus else []) if (dt := c.prop("device_type")) and dt.string() == "cpu"]
        compat = tuple(dict.fromkeys(c for n in cpu_nodes for c in n.compatible()))
        model = self.tree.root.prop("model")
        return Board(ram=tuple(ram), memreserve=tuple(Range(start=m.address, size=m.size) for m in self.tree.memreserve),
                     reserved=tuple(self.reserved), gic=self._gic(), uart=self._uart(),
                     iommus=tuple(n.path for n in self.tree.walk()
                                  if any(c in IOMMU_COMPATIBLES for c in n.compatible()) and _available(n)),
                     cpu_compatibles=compat, nr_cpus=len(cpu_nodes),
                     model=model.string() if model is not None else None)

    def _reg(self, node: Node) -> list[Range]:
        reg = node.prop("reg")
        if reg is None or node.parent is None:
            return []
        ac, sc = _cells_of(node.parent, self._parent_cells(node.parent))
        pairs, err = decode_pairs(reg, ac, sc)
        return [] if err else pairs

    def _gic(self) -> Gic | None:
        for n in self.tree.walk():
            compat = n.compatible()
            if any(c in GIC_V3 for c in compat) and _available(n):
                regs = self._reg(n)
                nr = n.prop("#redistributor-regions")
                k = nr.u32() if nr is not None and nr.u32() else 1
                return Gic(path=n.path, source=self.src(n), version=3, dist=regs[0] if regs else None,
                           redist=tuple(regs[1 : 1 + (k or 1)]))
            if any(c in GIC_V2 for c in compat) and _available(n):
                regs = self._reg(n)
                return Gic(path=n.path, source=self.src(n), version=2, dist=regs[0] if regs else None,
                           cpu=regs[1] if len(regs) > 1 else None)
        return None

    def _uart(self) -> Uart | None:
        """The console UART: ``dtuart=`` on Xen's command line, else ``/chosen/stdout-path``."""
        chosen = self.tree.find("/chosen")
        if chosen is None:
            return None
        args = chosen.prop("xen,xen-bootargs")
        target = None
        if args is not None:
            m = re.search(r"(?:^|\s)dtuart=(\S+)", args.string())
            if m:
                target = m.group(1).split(":", 1)[0]
        if target is None and chosen.prop("stdout-path") is not None:
            target = chosen.properties["stdout-path"].string().split(":", 1)[0]
        if not target:
            return None
        node = self.tree.find(target) if target.startswith("/") else None
        if node is None and not target.startswith("/"):
            aliases = self.tree.find("/aliases")
            alias = aliases.prop(target) if aliases is not None else None
            node = self.tree.find(alias.string()) if alias is not None else None
        if node is None:
            return None
        regs = self._reg(node)
        irq = None
        ints = node.prop("interrupts")
        if ints is not None:
            cells = ints.u32s()
            if len(cells) >= 2:
                irq = cells[1] + (32 if cells[0] == 0 else 16)
        return Uart(path=node.path, source=self.src(node), base=regs[0].start if regs else None,
                    size=regs[0].size if regs else None, irq=irq)

    def xen(self) -> XenConfig:
        chosen = self.tree.find("/chosen")
        args = chosen.prop("xen,xen-bootargs") if chosen is not None else None
        bootargs = args.string() if args is not None else None
        cmdline: dict[str, str] = {}
        for tok in (bootargs or "").split():
            k, _, val = tok.partition("=")
            cmdline[k] = val
        dom0_mods = tuple(m for m in self.modules if m.domain is None)
        dom0_shm = tuple(s for s in self.shm if s.parent == "/chosen")
        dom0_evt = tuple(self._evtchn(c) for c in (chosen.children if chosen else [])
                         if c.is_compatible(EVTCHN_COMPATIBLE))
        return XenConfig(bootargs=bootargs, static_heap_present=self.static_heap_present,
                         static_heap=tuple(self.static_heap), dom0_modules=dom0_mods, dom0_shm=dom0_shm,
                         dom0_evtchns=dom0_evt, cmdline=cmdline,
                         chosen_props=tuple(chosen.properties) if chosen is not None else ())


def unflattened_size(tree: Tree, node_struct: int) -> int:
    """Bytes Xen's ``unflatten_device_tree()`` allocates for the host tree.

    Per node: align 8, a node struct plus its full-name length; per
    property: align 8, a property struct (32); a synthetic ``name``
    property when the node has none (``spec/dynamic-placement.md`` §4).
    """
    u = 0
    stack: list[tuple[Node, int]] = [(tree.root, 2)]
    while stack:
        node, full = stack.pop()
        u = (u + 7) & ~7
        u += node_struct + full
        for _ in node.properties:
            u = (u + 7) & ~7
            u += 32
        if "name" not in node.properties:
            u = (u + 7) & ~7
            u += 32 + (len(node.basename) + 1 if node.parent is not None else 1)
        stack.extend((c, full + len(c.name) + 1) for c in reversed(node.children))
    return 4 + (u | 3) + 1


def partial_dtb(tree: Tree) -> PartialDtb:
    """The passthrough devices of a partial DTB as ``scan_pfdt_node()`` reads them.

    Only ``/passthrough`` is scanned for ``xen,reg``: the node itself with the
    root defaults (2/1), each child with its parent's cells, default 2/1.
    """
    devices: list[PassthroughDevice] = []
    pt = tree.find("/passthrough")
    stack: list[tuple[Node, tuple[int, int]]] = [(pt, ROOT_CELLS)] if pt is not None else []
    while stack:
        node, (ac, sc) = stack.pop()
        reg, path = node.prop("xen,reg"), node.prop("xen,path")
        if reg is not None or path is not None:
            regs: list[tuple[int, int, int]] = []
            if reg is not None and 1 <= ac <= 2 and 1 <= sc <= 2:
                cells = reg.u32s()
                step = 2 * ac + sc
                for i in range(len(cells) // step):
                    c = cells[i * step : (i + 1) * step]
                    regs.append((read_number(c[:ac], ac), read_number(c[ac + sc :], ac),
                                 read_number(c[ac : ac + sc], sc)))
            devices.append(PassthroughDevice(
                path=node.path, source=source_ref((reg or path).source), regs=tuple(regs),  # type: ignore[union-attr]
                xen_path=path.string() if path is not None else None, force=node.has("xen,force-assign-without-iommu"),
                has_reg=reg is not None, cells=(ac, sc)))
        own = (node.prop("#address-cells"), node.prop("#size-cells"))
        inner = (own[0].u32() if own[0] is not None and own[0].u32() is not None else ROOT_CELLS[0],
                 own[1].u32() if own[1] is not None and own[1].u32() is not None else ROOT_CELLS[1])
        stack.extend((c, inner) for c in reversed(node.children))  # type: ignore[misc]
    return PartialDtb(file=tree.file, size=tree.dtb_size or 0, max_phandle=max(tree.phandles(), default=0),
                      devices=tuple(devices))


def _host_nodes(tree: Tree) -> dict[str, tuple[bool, bool, tuple[int, ...]]]:
    """What passthrough needs of each host node: behind an IOMMU, marked ``xen,passthrough``, its SPIs."""
    out: dict[str, tuple[bool, bool, tuple[int, ...]]] = {}
    for n in tree.walk():
        ints = n.prop("interrupts")
        cells = ints.u32s() if ints is not None else []
        spis = tuple(cells[i + 1] + 32 for i in range(0, len(cells) - 2, 3) if cells[i] == 0)
        out[n.path] = (n.has("iommus"), n.has("xen,passthrough"), spis)
    return out


def build(tree: Tree, target: Target, partial_dtbs: dict[str, Tree] | None = None) -> System:
    """Decode ``tree`` for ``target`` into a ``System`` (never judges, never fails on Xen-visible values).

    ``partial_dtbs`` maps a domain name or its ``multiboot,device-tree`` module path to the
    partial device tree that module holds (``--partial-dtb``).
    """
    b = _Builder(tree, target)
    b.early_scan()
    domains = b.domains()
    if partial_dtbs:
        with_pt = []
        for d in domains:
            mod = d.child_module("multiboot,device-tree")
            ptree = partial_dtbs.get(d.name) or (partial_dtbs.get(mod.path) if mod is not None else None)
            with_pt.append(d.model_copy(update={"partial_dtb": partial_dtb(ptree)}) if ptree is not None else d)
        domains = with_pt
    node_struct = 128 if target.version.at_least(4, 22) else 144
    return System(
        file=tree.file, target=target, board=b.board(), xen=b.xen(), domains=tuple(domains),
        scan=tuple(b.scan), modules=tuple(b.modules), shm=tuple(b.shm),
        phandles={k: n.path for k, n in tree.phandles().items()}, dtb_size=tree.dtb_size,
        unflat_size=unflattened_size(tree, node_struct), dropped_nodes=tuple(b.dropped),
        cpupools=tuple(n.path for n in tree.walk() if n.is_compatible("xen,cpupool")),
        host_nodes=_host_nodes(tree) if partial_dtbs else {},
        sources={n.path: r for n in tree.walk() if (r := source_ref(n.source)) is not None},
    )
