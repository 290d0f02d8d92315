"""S8–S9: dom0less mode and the construction of every ``xen,domain``.

Mirrors ``is_dom0less_mode()`` and ``create_domUs()`` / ``construct_domU()``
(``xen/arch/arm/domain_build.c`` up to 4.18, ``xen/arch/arm/dom0less-build.c``
4.20, ``xen/common/device-tree/dom0less-build.c`` 4.22), in the step order
of DOM-021: node checks, domain creation, ``memory``, the P2M pool, the
kernel probe, RAM (``allocate_memory()``, ``allocate_static_memory()``,
``assign_static_memory_11()``), static shared memory, the guest DTB, and
kernel/DTB/initrd placement. Domains are built one after the other in DT
order; the first failure stops Xen, and the rest is analysed as not reached.
"""

from __future__ import annotations

from xenplan.boot import domain_ram, passthrough, replay_bridge, shm
from xenplan.boot import kernel as krn
from xenplan.boot import messages as msg
from xenplan.boot.build_context import DomainBuild, DomainFailed, vpl011_spi_unreserved
from xenplan.boot.construction import Construction
from xenplan.boot.result import Related
from xenplan.boot.state import BootModule, BootState
from xenplan.model.base import PAGE_SHIFT, PAGE_SIZE
from xenplan.model.release import XenRelease
from xenplan.model.system import Domain

GICR_FRAME = 0x20000
"""One GICv3 redistributor frame pair per vCPU (128 KiB)."""

MAX_VGIC_SPIS = 988


class _Domains(DomainBuild):
    """The S8-S9 stage: dom0less mode, then every domain in DT order, and what they share."""

    def __init__(self, state: BootState) -> None:
        super().__init__(state)
        self.built: list[Construction] = []
        self.constructions: dict[str, Construction] = {}
        self.hardware_domain: str | None = None
        self.xenstore_domain: str | None = None
        self.need_xenstore = False
        self.xs_wanted: list[str] = []
        self.xs_ports: dict[str, int] = {}
        self._kernels: dict[int, BootModule] | None = None
        self._dropped: set[str] | None = None

    # -- S8 -----------------------------------------------------------------
    def dom0less_mode(self) -> None:
        """``is_dom0less_mode()``: only modules recorded by the early scan count (DOM-002)."""
        live = self.state.live_modules()
        dom0_kernel = any(m.kind == "kernel" and m.domain is None for m in live)
        domu_kernel = any(m.kind == "kernel" and m.domain is not None for m in live)
        if dom0_kernel:
            self.hardware_domain = self.xenstore_domain = "d0"
            for m in live:
                if m.domain is None and m.kind in ("kernel", "ramdisk") and m.range.size \
                        and not any(r.contains(m.range) for r in self.state.ram):
                    self.state.event("MOD-008", "CRASH", f"dom0 {m.kind} module {m.range} is outside RAM: Xen faults "
                                     "reading it while building dom0", path=m.path, prop="reg", ranges=[m.range],
                                     xen_message=msg.DATA_ABORT)
                    self.state.stop("crash", "other", "MOD-008", msg.DATA_ABORT)
                    self.state.dom0_status = "failed"
                    return
            self.dom0_ram()
            self.dom0_shm()
            return
        if not domu_kernel:
            lost = [d.path for d in self.state.dropped]
            why = (f"every domU kernel was lost ({', '.join(lost)})" if lost
                   else "no domU kernel module was recorded")
            self.state.event("DOM-002", "PANIC", f"{why}: Xen is not in dom0less mode, tries to build dom0 and finds "
                             "no kernel for it", path="/chosen", xen_message=msg.dom0_fallback(self.rel))
            self.state.stop("panic", "other", "DOM-002", msg.dom0_fallback(self.rel))

    def dom0_ram(self) -> None:
        """``create_dom0()`` / ``allocate_memory_11()`` (HWD-002): dom0's 1:1 banks from the heap
        replay, or the panic when ``dom0_mem`` cannot be found. Without the replay's inputs
        (``--xen-image``, ``--fdt-address``) dom0's RAM is unknown and a note says so."""
        placement = replay_bridge.replay(self.state)
        placed = placement.dom0 if placement is not None else None
        if placed is None:
            why = ("the heap is only budgeted here" if placement is not None
                   else "--xen-image and --fdt-address are needed")
            self.state.notes.append(f"a dom0 kernel is present: Xen builds dom0 before the domUs; its RAM is not "
                                    f"placed: {why}")
            return
        self.state.dom0_status = "constructed" if placed.outcome == "ok" else "failed"
        self.state.dom0_banks = placed.banks
        if placed.outcome == "ok":
            return
        assert placed.message is not None
        req = replay_bridge.dom0_request(self.state)
        size = req.memory >> 20 if req is not None else 0
        why = (f"dom0_mem ({size} MiB) does not fit in the heap's chunks: {placed.unallocated_mb} MiB could "
               "not be placed" if placed.outcome == "out-of-memory" else
               "the heap cannot even hold dom0's domain structures")
        self.state.event("HWD-002", "PANIC", why, path="/chosen", prop="xen,xen-bootargs", xen_message=placed.message)
        self.state.stop("panic", "other", "HWD-002", placed.message)

    def dom0_shm(self) -> None:
        """HWD-005 (4.19+): dom0 is direct-mapped, so each of its shared-memory regions must
        name a host address equal to its guest one, else ``construct_dom0()`` fails."""
        if self.state.stopped or not self.rel.dom0_shm_host_checked:
            return
        for sh in self.state.system.xen.dom0_shm:
            if sh.guest is None or (sh.host is not None and sh.host == sh.guest):
                continue
            why = ("has no host address" if sh.host is None
                   else f"maps host {sh.host:#x} at guest {sh.guest:#x}")
            text = msg.dom0_fallback(self.rel, -22)
            self.state.dom0_status = "failed"
            self.state.event("HWD-005", "PANIC", f"{sh.path}: dom0's shared memory \"{sh.shm_id}\" {why}, but dom0 "
                             "is direct-mapped", path=sh.path, prop="xen,shared-mem", xen_message=text)
            self.state.stop("panic", "other", "HWD-005", text)
            return

    # -- S9 -----------------------------------------------------------------
    def construct(self, dom: Domain) -> None:
        construction = Construction(dom=dom, domid=dom.index + 1)
        self.constructions[dom.path] = construction
        if not self.state.stopped:
            self.state.domids[dom.path] = construction.domid
        try:
            self._node_checks(construction)
            self._create(construction)
            self._memory(construction)
            self._p2m_pool(construction)
            self._kernel(construction)
            self._ram(construction)
            self._shm(construction)
            if self.rel.vpl011_spi_error == "fail":
                self._vpl011_spi(construction)
            self._guest_dtb(construction)
            self._place(construction)
            self._vcpus(construction)
            self._vpl011(construction)
            if self.rel.vpl011_spi_error == "fail-late":
                self._vpl011_spi(construction)
            self._vcpu_affinity(construction)
            self._xenstore(construction)
        except DomainFailed:
            return
        if not self.state.stopped:
            self.state.statuses[dom.path] = "constructed"
            self.built.append(construction)

    def _node_checks(self, construction: Construction) -> None:
        """``parse_dom0less_node()`` (4.21+; inline in ``create_domUs()`` before), in its order."""
        dom, rel, t = construction.dom, self.rel, self.state.system.target
        caps = dom.capabilities if rel.domain_capabilities else None
        hw = bool(caps is not None and caps & 2)
        if caps is not None and caps & ~7:
            t_ = f"Invalid capabilities ({caps:x})"
            self.fail(construction,
                      "HWD-010", f"capabilities = {caps:#x}: only CONTROL (1), HARDWARE (2) and XENSTORE (4) "
                      "exist", t_, prop="capabilities")
        if hw and (self.hardware_domain is not None):
            t_ = f"Only 1 hardware domain can be specified! ({self.hardware_domain})"
            self.fail(construction, "HWD-010", f"{dom.name} asks to be the hardware domain, but "
                      f"{self.hardware_domain} already is", t_, prop="capabilities")
        if dom.static_mem_present and self.state.system.llc_coloring:
            t_ = "LLC coloring and static memory are incompatible"
            self.fail(construction, "LLC-001", f"{dom.name} has xen,static-mem on a Xen with LLC colouring", t_,
                      prop="xen,static-mem")
        if dom.direct_map and rel.direct_map and (not dom.static_mem_present or not t.has("STATIC_MEMORY")):
            t_ = f"direct-map is not valid for domain {dom.name} without static allocation."
            self.fail(construction, "DMAP-001", t_, t_, prop="direct-map")
        if dom.cpus is None:
            t_ = f"Missing property 'cpus' for domain {dom.name}"
            self.fail(construction, "DOM-006", t_, t_)
        if hw:
            if dom.passthrough is not None:
                self.fail(construction, "HWD-010", "passthrough on the hardware domain",
                          "Don't specify passthrough for hardware domain", prop="passthrough")
            if not dom.direct_map and not self.state.system.board.iommus:
                self.fail(construction,
                          "HWD-010", f"{dom.name} is the hardware domain, not direct-mapped, and the board "
                          "has no IOMMU", "non-direct mapped hardware domain requires iommu", prop="capabilities")
            if dom.child_module("multiboot,device-tree") is not None:
                self.fail(construction, "HWD-010", "a partial device tree on the hardware domain",
                          "\"multiboot,device-tree\" incompatible with hardware domain")
        if dom.cpupool is not None and rel.cpupool_binding and t.has("BOOT_TIME_CPUPOOLS"):
            target = self.state.system.phandles.get(dom.cpupool)
            if target is not None and target not in self.state.system.cpupools:
                t_ = "Error getting cpupool id from domain-cpupool (-3)"
                self.fail(construction,
                          "DOM-011", f"domain-cpupool = <{dom.cpupool:#x}> names {target}, not a xen,cpupool "
                          "node", t_, prop="domain-cpupool")
        for prop, val in (("max_grant_frames", dom.max_grant_frames), ("max_maptrack_frames", dom.max_maptrack_frames)):
            if val is not None and val > 0x7FFFFFFF and rel.grant_frame_props:
                t_ = f"{prop} ({val}) overflow"
                self.fail(construction, "DOM-012", f"{prop} = {val} is above INT32_MAX", t_, prop=prop)
        if dom.llc_colors is not None and "llc-colors" in rel.domain_props and not self.state.system.llc_coloring:
            t_ = "'llc-colors' found, but LLC coloring is disabled"
            self.fail(construction, "LLC-002", f"{dom.name} has llc-colors but Xen is built without LLC colouring", t_,
                      prop="llc-colors")
        if dom.direct_map and rel.direct_map and dom.nr_spis is None:
            uart = self.state.system.board.uart
            if uart is None or uart.irq is None:
                t_ = "Error getting IRQ number for this serial port"
                self.fail(construction, "DOM-010", f"{dom.name} is direct-mapped without nr_spis, and Xen's console "
                          "UART has no interrupt to size the vGIC from", t_, prop="direct-map")
        if hw and dom.nr_spis is not None:
            self.fail(construction,
                      "HWD-010", "nr_spis on the hardware domain", "nr_spis cannot be specified for hardware "
                      "domain", prop="nr_spis")
        if (dom.trap_unmapped_accesses is not None and "trap-unmapped-accesses" in rel.domain_props
                and dom.trap_unmapped_accesses > 1):
            t_ = "trap-unmapped-accesses: supported values are 0 or 1"
            self.fail(construction, "DOM-013", f"trap-unmapped-accesses = {dom.trap_unmapped_accesses}", t_,
                      prop="trap-unmapped-accesses")
        if hw:
            self.hardware_domain = dom.name

    def max_vcpus(self) -> int:
        gic = self.state.system.board.gic
        if self.state.system.target.arch == "arm32" or (gic is not None and gic.version == 2):
            return 8
        return 128

    def _create(self, construction: Construction) -> None:
        dom = construction.dom
        assert dom.cpus is not None
        pdt = dom.child_module("multiboot,device-tree")
        if pdt is not None and self.rel.partial_dt_needs_iommu and not self.state.system.board.iommus \
                and pdt.path in {m.path for m in self.state.live_modules()}:
            self.fail(construction,
                      "PT-001", f"{dom.name} has a partial device tree ({pdt.path}): Xen 4.16 then asks for "
                      "IOMMU mappings, and the board has no IOMMU (\"IOMMU requested but not available\")",
                      msg.error_creating(self.rel, dom.name))
        if dom.cpus == 0 or dom.cpus > self.max_vcpus():
            self.fail(construction, "DOM-006", f"cpus = {dom.cpus}: the vGIC takes 1 to {self.max_vcpus()} vCPUs",
                      msg.error_creating(self.rel, dom.name), prop="cpus")
        spis = self.nr_spis(dom)
        if (spis + 31) // 32 * 32 > MAX_VGIC_SPIS:
            self.fail(construction, "DOM-009", f"nr_spis = {spis}: the vGIC accepts at most 960",
                      msg.error_creating(self.rel, dom.name), prop="nr_spis")
        if dom.capabilities is not None and dom.capabilities & 4 and self.rel.xenstore_domain:
            if self.xenstore_domain is not None:
                t_ = f"Only 1 xenstore domain can be specified! ({self.xenstore_domain})"
                self.fail(construction,
                          "XS-002", f"{dom.name} asks to be the xenstore domain, but {self.xenstore_domain} "
                          "already is", t_, prop="capabilities")
            self.xenstore_domain = dom.name
        if dom.llc_colors is not None and self.state.system.llc_coloring and not _valid_colours(dom.llc_colors):
            self.fail(construction, "LLC-003", f"llc-colors = \"{dom.llc_colors}\" is not a list of colours and "
                      "ascending ranges", f"Error initializing LLC coloring for domain {dom.name} (rc = -22)",
                      prop="llc-colors")
        if dom.llc_colors is not None and self.state.system.llc_coloring:
            from xenplan.boot.llc import colours_beyond  # boards that colour only

            beyond = colours_beyond(self.state.system, dom.llc_colors)
            if beyond is not None:
                self.fail(construction, "LLC-003", f"llc-colors = \"{dom.llc_colors}\": {beyond}",
                          f"Error initializing LLC coloring for domain {dom.name} (rc = -22)", prop="llc-colors")

    def _memory(self, construction: Construction) -> None:
        dom = construction.dom
        if dom.memory_kib is None:
            what = "missing" if dom.memory_len == 0 else f"only {dom.memory_len} bytes long (needs 8: two cells)"
            self.fail(construction,
                      "DOM-004", f"memory is {what}", msg.could_not_set_up(self.rel, dom.name, -22), prop="memory")
        construction.max_pages = (dom.memory_kib or 0) * 1024 >> PAGE_SHIFT

    def _p2m_pool(self, construction: Construction) -> None:
        failure = replay_bridge.domain_pool_failure(self.state, construction.dom)
        if failure is not None:
            rule = "LLC-004" if replay_bridge.short_of_colours(self.state, construction.dom) else "ALLOC-006"
            self.fail(construction, rule, failure, msg.could_not_set_up(self.rel, construction.dom.name, -12),
                      prop="xen,domain-p2m-mem-mb" if construction.dom.p2m_mem_mb is not None else None)

    def _live_kernels(self) -> dict[int, BootModule]:
        """Recorded kernel modules by start address, the first of each (built once)."""
        if self._kernels is None:
            self._kernels = {}
            for m in self.state.live_modules():
                if m.kind == "kernel":
                    self._kernels.setdefault(m.range.start, m)
        return self._kernels

    def _dropped_paths(self) -> set[str]:
        """Paths of the modules the early scan dropped (built once: the scan is over)."""
        if self._dropped is None:
            self._dropped = {d.path for d in self.state.dropped}
        return self._dropped

    def _kernel(self, construction: Construction) -> None:
        """``kernel_probe()``: the ``multiboot,kernel`` child must be a recorded module (DOM-020)."""
        dom, v, rel = construction.dom, self.v, self.rel
        k = dom.kernel()
        rec = None
        if k is not None and k.range is not None:
            rec = self._live_kernels().get(k.range.start)
        if rec is None or rec.range.size == 0:
            if k is None:
                why = "has no child with compatible \"multiboot,kernel\""
            elif k.path in self._dropped_paths():
                why = f"kernel module {k.path} was dropped by the early scan"
            else:
                why = f"kernel module {k.path} is not a recorded boot module"
            self.fail(construction, "DOM-020", f"{dom.name} {why}: Missing kernel boot module?",
                      msg.could_not_set_up(rel, dom.name, -2))
        if not any(r.contains(rec.range) for r in self.state.ram):
            self.fail(construction, "MOD-008", f"kernel module {rec.range} is outside RAM: reading its header faults",
                      msg.DATA_ABORT, outcome="crash", behaviour="CRASH", ranges=[rec.range])
        if rel.early_fdt_overlap == "none":
            for other in self.state.live_modules():
                if (other is not rec and other.kind == "kernel"
                        and other.range.start < rec.range.start < other.range.end):
                    self.fail(construction,
                              "MOD-004", f"kernel module {rec.range} starts inside kernel module {other.path} "
                              f"{other.range}: Xen {v} keeps both and this image's header is overwritten",
                              msg.could_not_set_up(rel, dom.name, -22), ranges=[rec.range],
                              related=[Related(path=other.path, ranges=(other.range,))])
        xen = self.state.system.target.xen_image
        if xen is not None and krn.probe_reads_xen_code(self.state, rec.range):
            self.fail(construction,
                      "DOM-020", f"kernel module {rec.range} starts inside Xen's image {xen}: Xen {v} keeps it and "
                      "probes Xen's own code, which has no arm64 Image, zImage, uImage or gzip header",
                      msg.could_not_set_up(rel, dom.name, -22), ranges=[rec.range],
                      related=[Related(path="(Xen image)", ranges=(xen,))])
        image = self.state.system.target.kernel_image(dom.name, rec.path)
        if image is not None and image.kind == "invalid":
            self.fail(construction,
                      "DOM-020", f"{image.source or rec.path} is not a kernel Xen can load (no arm64 Image, "
                      "zImage, uImage or gzip header)", msg.could_not_set_up(rel, dom.name, -22),
                      ranges=[rec.range])
        construction.kernel = rec.range
        construction.image = image

    def _ram(self, construction: Construction) -> None:
        domain_ram.ram(self, construction)

    def _shm(self, construction: Construction) -> None:
        shm.construct(self, construction)

    def _guest_dtb(self, construction: Construction) -> None:
        """``prepare_dtb_domU()``: ``make_memory_node()`` refuses a domain without a RAM bank
        (-ENOENT, "Device tree generation failed (-2)") before anything is placed (DOM-005);
        then the partial device tree and the buffer size."""
        if not construction.guest_banks and not self.state.stopped:
            dom = construction.dom
            root = ("its xen,static-mem banks were never assigned (CONFIG_STATIC_MEMORY is off)"
                    if dom.static_mem_present and not self.state.system.target.has("STATIC_MEMORY")
                    else f"memory = {dom.memory_kib} KiB")
            self.fail(construction,
                      "DOM-005", f"{dom.name} has no RAM bank ({root}): Device tree generation failed (-2)",
                      msg.could_not_set_up(self.rel, dom.name, -22), prop="memory")
        passthrough.construct(self, construction)
        need = krn.guest_dtb_size(self.state, construction.dom, construction.nr_guest_banks)
        buf = krn.guest_dtb_buffer(self.state)
        if need > buf:
            self.fail(construction,
                      "KRN-005", f"the device tree Xen writes for {construction.dom.name} needs about {need} "
                      f"bytes ({construction.dom.cpus} vCPUs) but its buffer is {buf} bytes: Device tree generation "
                      "failed (-3)",
                      msg.could_not_set_up(self.rel, construction.dom.name, -22), prop="cpus")

    def _place(self, construction: Construction) -> None:
        krn.place(self, construction)

    def _vcpus(self, construction: Construction) -> None:
        """``construct_domain()``'s secondary vCPUs: on GICv3 a direct-mapped domain takes one
        host redistributor frame (128 KiB) per vCPU; from 4.20 the domain fails when they run out
        (DOM-016; 4.17-4.19 run it with fewer vCPUs, which the check reports)."""
        dom = construction.dom
        gic = self.state.system.board.gic
        if not (dom.direct_map and self.rel.dom016 == "PANIC" and gic is not None and gic.version == 3
                and gic.redist and dom.cpus):
            return
        frames = sum(r.size for r in gic.redist) // GICR_FRAME
        if dom.cpus > frames:
            self.fail(construction, "DOM-016", f"{dom.name} is direct-mapped with {dom.cpus} vCPUs but the host GICv3 "
                      f"redistributor regions of {gic.path} hold only {frames} frames of 128 KiB: "
                      f"Failed to allocate d{construction.domid}v{frames}",
                      msg.could_not_set_up(self.rel, dom.name, -12), prop="cpus")

    def _vpl011(self, construction: Construction) -> None:
        dom = construction.dom
        if not dom.vpl011:
            return
        if not self.state.system.target.has("SBSA_VUART_CONSOLE"):
            self.fail(construction, "DMAP-006", "vpl011 needs CONFIG_SBSA_VUART_CONSOLE",
                      msg.could_not_set_up(self.rel, dom.name, -38), prop="vpl011")
        if dom.direct_map and self.rel.direct_map:
            uart = self.state.system.board.uart
            if uart is None or uart.base is None:
                self.fail(construction,
                          "DMAP-006", "vpl011 on a direct-mapped domain re-uses Xen's UART, and Xen has none",
                          "Unable to re-use the Xen UART information", prop="vpl011")
            elif (uart.size or 0) < PAGE_SIZE:
                self.fail(construction,
                          "DMAP-006", f"Xen's UART MMIO region ({uart.size:#x} bytes) is smaller than a page",
                          "Unable to re-use the Xen UART MMIO region as it is too small", prop="vpl011")

    def _vpl011_spi(self, construction: Construction) -> None:
        """``domain_vpl011_init()`` returning -EINVAL when the vUART's interrupt is outside the
        vGIC (DOM-018): 4.16 after ``construct_domain()``, 4.18+ before ``prepare_dtb_domU()``.
        4.17 drops the error; ``checks/dom.py`` reports that as a warning."""
        dom = construction.dom
        virq = vpl011_spi_unreserved(self.state.system, dom)
        if virq is None:
            return
        self.fail(construction, "DOM-018", f"{dom.name} has vpl011 but nr_spis = {dom.nr_spis} gives the vGIC no "
                  f"IRQ {virq} for the emulated UART", msg.could_not_set_up(self.rel, dom.name, -22), prop="nr_spis")

    def _vcpu_affinity(self, construction: Construction) -> None:
        """DOM-015 (4.21+): ``xen,vcpu`` children need an ``id`` below ``cpus`` and pCPUs that exist."""
        dom = construction.dom
        if not self.rel.vcpu_affinity_nodes:
            return
        nr_cpu_ids = self.state.system.target.host_cpus or self.state.system.board.nr_cpus or 1
        for vc in dom.vcpus:
            if vc.id is None:
                self.fail(construction,
                          "DOM-015", f"{vc.path} has no id", f"Invalid xen,vcpu node for domain {dom.name}")
            if vc.id >= (dom.cpus or 0):
                self.fail(construction, "DOM-015", f"{vc.path}: id {vc.id} but {dom.name} has {dom.cpus} vCPUs",
                          f"Invalid vcpu_id {vc.id} for domain {dom.name}, max_vcpus={dom.cpus}")
            for cpu in _affinity_cpus(vc.hard_affinity or ""):
                if cpu >= nr_cpu_ids:
                    self.fail(construction, "DOM-015", f"{vc.path}: hard-affinity names pCPU {cpu}, the host has "
                              f"{nr_cpu_ids}", f"Invalid pCPU {cpu} for domain {dom.name}")

    def _xenstore(self, construction: Construction) -> None:
        """``xen,enhanced``: the xenstore event channel (port 1) and who must serve it (XS-002)."""
        dom = construction.dom
        if not _wants_xenstore(self.rel, dom.enhanced):
            return
        if not self.rel.xenstore_domain:
            if self.hardware_domain is None:
                self.fail(construction, "XS-002", f"{dom.name} asks for xenstore (xen,enhanced) and there is no dom0: "
                          "construct_domU() refuses it before the domain's first vCPU exists",
                          "At the moment, Xenstore support requires dom0 to be present", prop="xen,enhanced")
            self.xs_ports[dom.path] = 1
            return
        if dom.capabilities is not None and dom.capabilities & 4:
            return  # the xenstore domain itself gets no xenstore channel
        self.need_xenstore = True
        self.xs_wanted.append(dom.path)

    def after_domains(self) -> None:
        """``create_domUs()`` tail (4.21+): xenstore needs a xenstore domain; its channel takes port 1."""
        if not self.need_xenstore:
            return
        doms = self.state.system.domains
        if self.xenstore_domain is None:
            t_ = "xenstore requested, but xenstore domain not present"
            self.state.event("XS-002", "PANIC", f"{', '.join(self.xs_wanted)} ask for xenstore (xen,enhanced) and no "
                             "domain serves it (no dom0, no domain with the XENSTORE capability)",
                             path=self.xs_wanted[0], prop="xen,enhanced", xen_message=t_)
            if doms and self.state.stop("panic", "domain", "XS-002", t_, domain=doms[-1].name):
                self.state.statuses[doms[-1].path] = "failed"
            return
        for path in self.xs_wanted:
            self.xs_ports[path] = 1


def _wants_xenstore(rel: XenRelease, enhanced: str | None) -> bool:
    """``construct_domU()``: the ``xen,enhanced`` modes that ask for xenstore ("" and
    "enabled", "legacy" from 4.21); other values, and any value on a release that does
    not read the property (4.16), do not (XS-001)."""
    return rel.enhanced_mode(enhanced) in ("xenstore", "legacy")


def _affinity_cpus(text: str) -> list[int]:
    """The pCPU numbers of a ``hard-affinity`` string ("0-3,5"), parsed as Xen's loop does."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        try:
            a, b = int(lo, 0), int(hi, 0) if hi else int(lo, 0)
        except ValueError:
            break
        out.extend((a, b))
    return out


def _valid_colours(text: str) -> bool:
    """``llc-colors``: comma-separated colours or ascending ranges ("0-3,5")."""
    for part in text.split(","):
        lo, _, hi = part.strip().partition("-")
        if not lo.isdigit() or (hi and (not hi.isdigit() or int(hi) < int(lo))):
            return False
    return True


def run(state: BootState) -> BootState:
    stage = _Domains(state)
    stage.dom0less_mode()
    for dom in state.system.domains:
        state.statuses[dom.path] = "not-reached"
    for dom in state.system.domains:
        stage.construct(dom)
    stage.after_domains()
    state.constructions = stage.constructions
    state.xs_ports = stage.xs_ports
    return state
