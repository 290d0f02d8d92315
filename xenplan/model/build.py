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

from collections.abc import Iterator, Sequence
from dataclasses import replace

from xenplan.dt.flat import StringTable, bytes_after, dtc_strings
from xenplan.dt.tree import Node, Property, Tree
from xenplan.model.base import Range, SourceRef
from xenplan.model.board import (
    alias_requests,
    board,
    boot_cpupools,
    dma_masters,
    gic,
    host_nodes,
    partial_dtb,
    smmu_probes,
    uart,
    unflattened_size,
)
from xenplan.model.cells import (
    ROOT_CELLS,
    available,
    cells_of,
    decode_pairs,
    parent_cells,
    read_number,
    source_ref,
)
from xenplan.model.hostwalk import dom0_devices
from xenplan.model.system import (
    CmdlineProp,
    Dom0Device,
    Domain,
    EventChannel,
    Module,
    ModuleKind,
    ReservedRegion,
    ScanItem,
    SharedMem,
    System,
    VcpuNode,
    XenConfig,
)
from xenplan.model.target import Target
from xenplan.records import record

#: DEVICE_TREE_MAX_DEPTH in ``device_tree_for_each_node()`` (DT-007).
MAX_DEPTH = 16
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
#: ``MAX_SHM_ID_LENGTH`` (SHM-004).
MAX_SHM_ID_LENGTH = 16


def _is_memory_node(node: Node, depth: int, target: Target) -> bool:
    """RAM-001: 4.20+ wants depth 1 and ``device_type = "memory"``; before, any depth and name."""
    if node.name != "memory" and not node.name.startswith("memory@"):
        return False
    if target.release.memory_node_needs_device_type:
        dt = node.prop("device_type")
        return depth == 1 and dt is not None and dt.value == b"memory\0"
    return True


@record
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
        own = cells_of(w.node, w.cells)
        stack.extend(_Walk(c, w.depth + 1, own) for c in reversed(w.node.children))


def _module_kind(compat: list[str]) -> ModuleKind | None:
    for c in compat:
        if c in KIND_COMPATIBLES:
            return KIND_COMPATIBLES[c]
    return None


class _Builder:
    def __init__(self, tree: Tree, target: Target) -> None:
        self.tree = tree
        self._strings: StringTable | None = None
        """The strings block dtc writes for the tree, made once when a short-form xen,shared-mem needs it."""
        self.target = target
        self.rel = target.release
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
        if not available(node):
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
        if not available(rm):
            return
        own = cells_of(rm, ROOT_CELLS)
        stack: list[tuple[Node, tuple[int, int], int]] = [(c, own, 2) for c in reversed(rm.children)]
        while stack:
            node, (ac, sc), depth = stack.pop()
            reg = node.prop("reg")
            if reg is not None and available(node):
                pairs, err = decode_pairs(reg, ac, sc)
                self.scan.append(ScanItem(kind="reserved", path=node.path, source=self.src(node, "reg"),
                                          prop="reg", cells=(ac, sc), pairs=tuple(pairs), error=err,
                                          rc=-22 if err else 0))
                if err is None:
                    self.reserved.append(ReservedRegion(path=node.path, source=self.src(node, "reg"),
                                                        ranges=tuple(pairs)))
            if depth + 1 < MAX_DEPTH:
                inner = cells_of(node, (ac, sc))
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
        uefi = node.prop("xen,uefi-binary")
        mod = Module(path=node.path, source=self.src(node, "reg"), kind=kind, explicit_kind=explicit,
                     range=rng, reg_error=panic, domain=domain, compatible=tuple(compat),
                     bootargs_len=len(args.string()) if args is not None else 0,
                     bootargs=args.string() if args is not None else None,
                     uefi_binary=uefi.string() if uefi is not None else None)
        if mod.bootargs_len > 1024 and panic is None:
            panic = f"module {node.path} command line too long"
        self.modules.append(mod)
        self.module_by_path[node.path] = mod
        self.scan.append(ScanItem(kind="module", path=node.path, source=mod.source, prop="reg",
                                  pairs=(rng,) if rng else (), panic=panic, module=mod, domain=domain))

    def _chosen(self, node: Node, ac: int, sc: int) -> None:
        """``process_chosen_node()``: static heap (4.17+, root cells) and the dom0 initrd."""
        heap = node.prop("xen,static-heap")
        if heap is not None and self.rel.static_heap:
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

    @staticmethod
    def _own_static_mem_cells(node: Node) -> tuple[int, int]:
        """A domain's ``#xen,static-mem-address-cells``/``-size-cells``, 0 when absent (4.16's defaults)."""
        a, s = node.prop("#xen,static-mem-address-cells"), node.prop("#xen,static-mem-size-cells")
        return (a.u32() or 0 if a is not None else 0, s.u32() or 0 if s is not None else 0)

    def _static_mem_cells(self, node: Node) -> tuple[int, int]:
        """DT-002: 4.16 reads ``#xen,static-mem-*-cells`` (default 0); 4.17+ ``/chosen``'s cells."""
        if self.rel.static_mem_cells_props:
            return self._own_static_mem_cells(node)
        parent = node.parent
        assert parent is not None
        return cells_of(parent, parent_cells(parent))

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
        unchecked: tuple[int, int, int] | None = None
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
                if self._strings is None:
                    self._strings = dtc_strings(self.tree)
                past = Property(mem.name, mem.value + bytes_after(self.tree, node, mem.name, 4 * ac,
                                                                  self._strings)).u32s()
                unchecked = (read_number(past[:ac], ac), read_number(past[ac:2 * ac], ac),
                             read_number(past[2 * ac:], sc))
            else:
                shape_err = f"xen,shared-mem has {len(mem.value)} bytes, expected {(2 * ac + sc) * 4}"
        parent = node.parent.path if node.parent is not None else "/"
        shm = SharedMem(path=node.path, source=self.src(node, "xen,shared-mem"), parent=parent, shm_id=shm_id,
                        shm_id_len=id_len, role=role.string() if role is not None else None, host=host,
                        guest=guest, size=size, short_form=short, cells_error=cells_err, shape_error=shape_err,
                        unchecked_read=unchecked, address_cells=ac, size_cells=sc)
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
            static_mem_cells=self._own_static_mem_cells(node),
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

    def cmdline(self) -> tuple[str | None, CmdlineProp | None, Module | None]:
        """``boot_fdt_cmdline()``, the same on every release 4.16-4.22: ``/chosen/xen,xen-bootargs``;
        when absent, ``/chosen/bootargs``, but only if ``/chosen`` has ``xen,dom0-bootargs`` or the
        command line ``boot_cmdline_find_by_kind(BOOTMOD_KERNEL)`` finds is not empty. That lookup
        returns the first command line ``add_boot_cmdline()`` recorded for a kernel module outside
        any ``xen,domain`` (guessed kinds included), and only modules with ``bootargs`` record one.

        Returns the command line, the property it comes from and the module the lookup found."""
        chosen = self.tree.find("/chosen")
        kernel = next((m for m in self.modules
                       if m.domain is None and m.kind == "kernel" and m.bootargs is not None), None)
        if chosen is None:
            return None, None, kernel
        own = chosen.prop("xen,xen-bootargs")
        if own is not None:
            return own.string(), "xen,xen-bootargs", kernel
        fallback = chosen.prop("bootargs")
        wanted = chosen.prop("xen,dom0-bootargs") is not None or (kernel is not None and bool(kernel.bootargs))
        if fallback is not None and wanted:
            return fallback.string(), "bootargs", kernel
        return None, None, kernel

    def xen(self) -> XenConfig:
        chosen = self.tree.find("/chosen")
        bootargs, prop, kernel = self.cmdline()
        cmdline: dict[str, str] = {}
        for tok in (bootargs or "").split():
            k, _, val = tok.partition("=")
            cmdline[k] = val
        dom0_mods = tuple(m for m in self.modules if m.domain is None)
        dom0_shm = tuple(s for s in self.shm if s.parent == "/chosen")
        dom0_evt = tuple(self._evtchn(c) for c in (chosen.children if chosen else [])
                         if c.is_compatible(EVTCHN_COMPATIBLE))
        chosen_args = chosen.prop("bootargs") if chosen is not None else None
        return XenConfig(bootargs=bootargs, bootargs_prop=prop,
                         chosen_bootargs=chosen_args.string() if chosen_args is not None else None,
                         dom0_bootargs_prop=chosen is not None and chosen.has("xen,dom0-bootargs"),
                         dom0_kernel_cmdline=kernel.path if kernel is not None else None,
                         static_heap_present=self.static_heap_present,
                         static_heap=tuple(self.static_heap), dom0_modules=dom0_mods, dom0_shm=dom0_shm,
                         dom0_evtchns=dom0_evt, cmdline=cmdline,
                         chosen_props=tuple(chosen.properties) if chosen is not None else ())


def cmdline_notes(xen: XenConfig) -> list[str]:
    """Where Xen's command line comes from, when it is not ``/chosen/xen,xen-bootargs``."""
    if xen.bootargs_prop == "bootargs":
        why = ("/chosen has xen,dom0-bootargs" if xen.dom0_bootargs_prop
               else f"dom0's kernel module {xen.dom0_kernel_cmdline} has a bootargs of its own")
        return [f"Xen's command line is /chosen/bootargs: /chosen has no xen,xen-bootargs and {why} "
                "(boot_fdt_cmdline())"]
    if xen.bootargs_prop is None and xen.chosen_bootargs is not None:
        return ["Xen's command line is empty: /chosen has no xen,xen-bootargs, and /chosen/bootargs is read "
                "only when /chosen has xen,dom0-bootargs or dom0's kernel module has a non-empty bootargs "
                "(boot_fdt_cmdline())"]
    return []


def board_notes(tree: Tree, board_tree: Tree | None) -> list[str]:
    """What ``--board`` did to Xen's command line: merged as ``dtc`` merges ``/ { … }`` blocks, the
    input's ``/chosen/xen,xen-bootargs`` replaces the board's, and a board value the input does
    not override is the one Xen reads."""
    if board_tree is None:
        return []
    theirs_node, ours_node = board_tree.find("/chosen"), tree.find("/chosen")
    theirs = theirs_node.prop("xen,xen-bootargs") if theirs_node is not None else None
    ours = ours_node.prop("xen,xen-bootargs") if ours_node is not None else None
    if theirs is None or ours is None:
        return []
    if ours.source == theirs.source and ours.value == theirs.value:
        return [f"--board: Xen's command line is the board's /chosen/xen,xen-bootargs "
                f"(\"{theirs.string()}\"): the input sets none"]
    if ours.value == theirs.value:
        return []
    kept = set(ours.string().split())
    lost = [t for t in theirs.string().split() if t not in kept]
    dropped = f"; the board's {' '.join(lost)} no longer apply" if lost else ""
    return [f"--board: the input's /chosen/xen,xen-bootargs (\"{ours.string()}\") replaces the board's "
            f"(\"{theirs.string()}\"){dropped}"]


def _dom0_devices(tree: Tree, modules: Sequence[Module], bootargs: str | None) -> tuple[Dom0Device, ...]:
    """The host walk of ``construct_dom0()``, for trees that boot a classic dom0 (a kernel outside any domain)."""
    if not any(m.kind == "kernel" and m.domain is None for m in modules):
        return ()
    host_gic, console = gic(tree), uart(tree, bootargs)
    return dom0_devices(tree, host_gic.path if host_gic else None,
                        frozenset({console.path} if console is not None else ()))


def build(tree: Tree, target: Target, partial_dtbs: dict[str, Tree] | None = None,
          board_tree: Tree | None = None) -> System:
    """Decode ``tree`` for ``target`` into a ``System`` (never judges, never fails on Xen-visible values).

    ``partial_dtbs`` maps a domain name or its ``multiboot,device-tree`` module path to the
    partial device tree that module holds (``--partial-dtb``). ``board_tree`` is the ``--board``
    tree on its own, before ``tree`` was merged onto it, so the notes can say what the merge
    replaced.
    """
    b = _Builder(tree, target)
    b.early_scan()
    domains = b.domains()
    if partial_dtbs:
        with_pt = []
        for d in domains:
            mod = d.child_module("multiboot,device-tree")
            ptree = partial_dtbs.get(d.name) or (partial_dtbs.get(mod.path) if mod is not None else None)
            with_pt.append(replace(d, partial_dtb=partial_dtb(ptree)) if ptree is not None else d)
        domains = with_pt
    node_struct = target.release.node_struct_size
    xen = b.xen()
    return System(
        file=tree.file, target=target, board=board(tree, b.scan, b.reserved, xen.bootargs), xen=xen,
        domains=tuple(domains),
        scan=tuple(b.scan), modules=tuple(b.modules), shm=tuple(b.shm),
        phandles={k: n.path for k, n in tree.phandles().items()}, dtb_size=tree.dtb_size,
        unflat_size=unflattened_size(tree, node_struct), alias_sizes=alias_requests(tree),
        smmu_irqs=smmu_probes(tree),
        dropped_nodes=tuple(b.dropped),
        cpupools=tuple(n.path for n in tree.walk() if n.is_compatible("xen,cpupool")),
        boot_cpupools=boot_cpupools(tree),
        host_nodes=host_nodes(tree) if partial_dtbs else {},
        dma_masters=dma_masters(tree) if partial_dtbs else (),
        dom0_devices=_dom0_devices(tree, b.modules, xen.bootargs),
        sources={n.path: r for n in tree.walk() if (r := source_ref(n.source)) is not None},
        notes=(*board_notes(tree, board_tree), *cmdline_notes(xen)),
    )
