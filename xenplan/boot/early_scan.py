"""S4: the early scan — every region Xen records, in document order.

Mirrors ``early_scan_node()`` and its handlers (``process_memory_node``,
``process_reserved_memory``, ``process_multiboot_node``,
``process_chosen_node``, ``process_domain_node``, ``process_shm_node``) in
``xen/common/device-tree/bootinfo-fdt.c`` (``xen/arch/arm/bootfdt.c`` up to
4.18), with ``check_reserved_regions_overlap()`` from
``xen/common/device-tree/bootinfo.c``. Each insertion is checked against
what came before (RSV-010, from 4.18); the finding is blamed on the node
parsed second. A failing handler stops the scan without a panic up to 4.18
(TRUNC, DT-008/DT-009) and panics "Early FDT parsing failed" from 4.19.
"""

from __future__ import annotations

import contextlib
from typing import NoReturn

from xenplan.boot import messages as msg
from xenplan.boot.result import DroppedModule, Related
from xenplan.boot.state import BankType, BootModule, BootState, ResvBank, ShmBank
from xenplan.model.base import PAGE_SIZE, Range
from xenplan.model.system import ScanItem

MAX_MODULES = 32
NR_SHMEM_BANKS = 32
ENOENT, EINVAL, ENOSPC = -2, -22, -28


def nr_mem_banks(state: BootState) -> int:
    """``NR_MEM_BANKS`` of the release: the size of ``bootinfo``'s RAM and reserved-memory tables."""
    return state.rel.nr_mem_banks


def find_overlap(state: BootState, r: Range, *, live: bool, shm: bool = False) -> Related | None:
    """``check_reserved_regions_overlap()``: the first recorded region ``r`` touches.

    Checks ``reserved_mem`` (with the 4.19.2+ exception for a region lying
    inside one /memreserve/ entry, never for shm), the shm list (4.19+) and
    the boot modules. ``live`` restricts it to what Xen really recorded.
    """
    rel = state.rel
    for b in state.reserved_mem:
        if (live and not b.live) or not r.overlaps(b.range):
            continue
        if b.type == "memreserve" and not shm and rel.memreserve_covers_shm and b.range.contains(r):
            continue
        return Related(path=b.path, ranges=(b.range,))
    if rel.shm_banks_tracked:
        for s in state.shmem:
            if s.range is not None and (s.live or not live) and r.overlaps(s.range):
                return Related(path=s.path, ranges=(s.range,))
    for m in state.modules:
        if (m.live or not live) and r.overlaps(m.range):
            return Related(path=m.path, ranges=(m.range,))
    return None


class _HandlerFailed(Exception):
    """A handler of the early scan returned an error: the rest of that handler does not run."""


class _Scan:
    def __init__(self, state: BootState) -> None:
        self.state = state
        self.v = state.v
        self.rel = state.rel

    @property
    def live(self) -> bool:
        return self.state.truncated_at is None

    @property
    def reached(self) -> bool:
        return self.live and not self.state.stopped

    def fail(self, item: ScanItem, rule: str, text: str, rc: int, *, ranges: tuple[Range, ...] = (),
             related: tuple[Related, ...] = ()) -> NoReturn:
        """A handler returns an error: TRUNC up to 4.18, "Early FDT parsing failed" from 4.19.

        Either way the handler stops there: ``_HandlerFailed`` leaves it, and ``run()`` goes on
        with the next node (recorded as not live once the scan is truncated)."""
        state = self.state
        if self.rel.early_fdt_error == "truncate":
            state.event(rule, "TRUNC", f"{text}; Xen {self.v} stops its early scan here without a panic: nothing "
                        "after this node is recorded", path=item.path, prop=item.prop, source=item.source,
                        ranges=ranges, related=related, reached=self.reached,
                        xen_message=f"fdt: node `{item.path.rsplit('/', 1)[-1]}': parsing failed")
            if self.live and not state.stopped:
                state.truncated_at = item.path
            raise _HandlerFailed(rule)
        reached = self.reached
        state.event(rule, "PANIC", text, path=item.path, prop=item.prop, source=item.source, ranges=ranges,
                    related=related, reached=reached, xen_message=msg.early_fdt(rc))
        if self.live:
            state.stop("panic", "early-fdt", rule, msg.early_fdt(rc))
        raise _HandlerFailed(rule)

    def panic(self, item: ScanItem, rule: str, text: str) -> None:
        """Handlers that call ``panic()`` themselves (MOD-002, MOD-005, RSV-003): every release."""
        reached = self.reached
        self.state.event(rule, "PANIC", text, path=item.path, prop=item.prop, source=item.source, reached=reached,
                     xen_message=text)
        if self.live:
            self.state.stop("panic", "early-fdt", rule, text)

    def wide_cells(self, item: ScanItem) -> None:
        """DT-004: more than 2 cells per number: a release build reads the first cell and steps over the rest."""
        ac, sc = item.cells
        if ac > 2 or sc > 2:
            self.state.event("DT-004", "UB", f"{item.prop} is decoded with {ac} address and {sc} size cells: Xen reads "
                         "only the first cell of each number (a debug build asserts), so the values are garbage",
                         path=item.path, prop=item.prop, source=item.source, ranges=item.pairs,
                         reached=self.reached)

    def insert_banks(self, item: ScanItem, btype: BankType) -> None:
        """``device_tree_get_meminfo()`` into ``reserved_mem``: check, skip empty, count."""
        if item.error is not None:
            self.fail(item, "DT-004", f"{item.prop} cannot be decoded: {item.error}", item.rc or EINVAL)
        self.wide_cells(item)
        for r in item.pairs:
            if self.rel.early_fdt_overlap != "none":
                other = find_overlap(self.state, r, live=self.live)
                if other is not None:
                    self.fail(item, "RSV-010", f"{item.prop} bank {r} overlaps {other.path} {other.ranges[0]}",
                              EINVAL, ranges=(r,), related=(other,))
            if r.size == 0:
                continue
            if len(self.state.reserved_mem) >= nr_mem_banks(self.state):
                if btype == "default":
                    self.panic(item, "RSV-003", "Max number of supported reserved-memory regions reached")
                else:
                    self.fail(item, "RSV-003", "Max number of supported memory regions reached", ENOSPC)
                return
            self.state.reserved_mem.append(ResvBank(range=r, type=btype, path=item.path, live=self.live))

    def ram(self, item: ScanItem) -> None:
        if item.error is not None:
            rule = "RAM-007" if item.rc == ENOENT else "DT-004"
            self.fail(item, rule, f"memory node: {item.error}", item.rc or EINVAL)
        self.wide_cells(item)
        for r in item.pairs:
            if r.size == 0:
                continue
            if len(self.state.ram) >= nr_mem_banks(self.state):
                self.fail(item, "RAM-004", "Max number of supported memory regions reached", ENOSPC)
            if self.live:
                self.state.ram.append(r)

    def module(self, item: ScanItem, rng: Range, kind: str) -> None:
        """``add_boot_module()``: dropped on overlap (4.18+) or when the table is full (MOD-004)."""
        state = self.state
        m = item.module
        if not self.live:
            if not state.stopped:
                state.dropped.append(_dropped(item.path, rng))
            return
        if sum(1 for x in state.modules if x.live) >= MAX_MODULES:
            state.event("MOD-004", "DROP", f"module {rng} ignored: the boot module table is full ({MAX_MODULES})",
                    path=item.path, prop="reg", source=item.source, ranges=[rng], reached=self.reached)
            if not state.stopped:
                state.dropped.append(_dropped(item.path, rng))
            return
        if self.rel.early_fdt_overlap != "none":
            other = find_overlap(state, rng, live=True)
            if other is not None:
                state.event("MOD-004", "DROP", f"module {rng} overlaps {other.path} {other.ranges[0]}: Xen drops it",
                        path=item.path, prop="reg", source=item.source, ranges=[rng], related=[other],
                        reached=self.reached)
                if not state.stopped:
                    state.dropped.append(_dropped(item.path, rng))
                return
        state.modules.append(BootModule(range=rng, kind=kind, path=item.path,
                                    domain=item.domain, module=m))

    def shm(self, item: ScanItem) -> None:
        """``process_shm_node()``: the checks in Xen's order, then the region lists per release."""
        sh = item.shm
        assert sh is not None
        v, rel = self.v, self.rel
        if not rel.static_shm_binding:
            return
        if not self.state.system.target.has("STATIC_SHM"):
            self.fail(item, "SHM-001", "a static shared-memory node, but CONFIG_STATIC_SHM is off: "
                      "CONFIG_STATIC_SHM must be enabled", EINVAL)
        if sh.cells_error is not None:
            self.fail(item, "SHM-003", f"invalid #address-cells or #size-cells for static shared memory node "
                      f"({sh.cells_error})", EINVAL)
        if sh.shm_id is None:
            self.fail(item, "SHM-004", "shared-memory node has no xen,shm-id", ENOENT)
        if (sh.shm_id_len or 0) >= 16:
            self.fail(item, "SHM-004", f"xen,shm-id \"{sh.shm_id}\" is {sh.shm_id_len} characters; "
                      "at most 15 are allowed", EINVAL)
        if sh.role not in (None, "owner", "borrower"):
            self.fail(item, "SHM-005", f"role = \"{sh.role}\": invalid `role` property for static shared memory "
                      "node (owner or borrower)", EINVAL)
        if sh.shape_error is not None:
            rc = ENOENT if sh.shape_error.startswith("missing") else EINVAL
            self.fail(item, "SHM-006", sh.shape_error, rc)
        assert sh.size is not None and sh.guest is not None
        if sh.short_form and not rel.shm_host_optional:
            self.fail(item, "SHM-006", f"xen,shared-mem has no host address; Xen {v} requires one "
                      "(host physical address must be chosen by users at the moment)", EINVAL)
        if rel.shm_alignment_in_scan:
            if sh.host is not None and sh.host % PAGE_SIZE:
                self.fail(item, "SHM-006", f"host address {sh.host:#x} is not page aligned", EINVAL)
            if sh.host is not None and sh.host + sh.size >= (1 << 64):
                self.fail(item, "SHM-006", f"static shared memory region {sh.shm_id} overflows", EINVAL)
            if sh.guest % PAGE_SIZE:
                self.fail(item, "SHM-006", f"guest address {sh.guest:#x} is not page aligned", EINVAL)
        if sh.size == 0:
            self.fail(item, "SHM-006", "the size for static shared memory region can not be zero", EINVAL)
        if rel.shm_alignment_in_scan and sh.size % PAGE_SIZE:
            self.fail(item, "SHM-006", f"size {sh.size:#x} is not page aligned", EINVAL)
        if rel.shm_scan == "4.19":
            self._shm_419(item, sh.shm_id, sh.host_range, sh.size)
            return
        rng = sh.host_range
        same_id = [b for b in self.state.shmem if b.shm_id == sh.shm_id and (b.live or not self.live)]
        if same_id and same_id[0].range != rng:
            first = same_id[0]
            self.fail(item, "SHM-007", f"shm id \"{sh.shm_id}\" already names a different region "
                      f"({first.path}): different shared memory region could not share the same shm ID",
                      EINVAL, related=(Related(path=first.path, ranges=tuple(x for x in (first.range,) if x)),))
        twin = [b for b in self.state.shmem if b.range == rng and b.shm_id != sh.shm_id and (b.live or not self.live)]
        if twin:
            self.fail(item, "SHM-008", f"region {rng} is already shared under id \"{twin[0].shm_id}\": xen,shm-id "
                      "does not match for all the nodes using the same region", EINVAL,
                      related=(Related(path=twin[0].path, ranges=(rng,) if rng else ()),))
        if rel.shm_scan == "4.18":
            self._shm_418(item, sh.shm_id, rng, sh.size, bool(same_id))
        else:
            self._shm_417(item, sh.shm_id, rng, sh.size, bool(same_id))

    def _record_shm(self, item: ScanItem, shm_id: str, rng: Range | None, size: int) -> None:
        self.state.shmem.append(ShmBank(shm_id=shm_id, range=rng, size=size, path=item.path, live=self.live))

    def _shm_419(self, item: ScanItem, shm_id: str, rng: Range | None, size: int) -> None:
        """4.19+: one loop over the shm list, then the global overlap check for a new host region."""
        for b in self.state.shmem:
            if not (b.live or not self.live):
                continue
            if b.shm_id == shm_id:
                start_match = rng is None or (b.range is not None and b.range.start == rng.start)
                if start_match and b.size == size:
                    return
                self.fail(item, "SHM-007", f"shm id \"{shm_id}\" already names a different region ({b.path}): "
                          "different shared memory region could not share the same shm ID", EINVAL,
                          related=(Related(path=b.path, ranges=tuple(x for x in (b.range,) if x)),))
            if rng is not None and b.range is not None and b.range == rng:
                self.fail(item, "SHM-008", f"region {rng} is already shared under id \"{b.shm_id}\": xen,shm-id "
                          "does not match for all the nodes using the same region", EINVAL,
                          related=(Related(path=b.path, ranges=(rng,)),))
        if len(self.state.shmem) >= NR_SHMEM_BANKS:
            self.fail(item, "SHM-010", "Max number of supported memory regions reached", ENOSPC)
        if rng is not None:
            other = find_overlap(self.state, rng, live=self.live, shm=True)
            if other is not None:
                self.fail(item, "SHM-009", f"shared memory {rng} overlaps {other.path} {other.ranges[0]}",
                          EINVAL, ranges=(rng,), related=(other,))
        self._record_shm(item, shm_id, rng, size)

    def _shm_418(self, item: ScanItem, shm_id: str, rng: Range | None, size: int, known: bool) -> None:
        """4.18: the global check runs inside the loop over ``reserved_mem`` (SHM-009, SHM-015)."""
        assert rng is not None
        entries = [b for b in self.state.reserved_mem if b.live or not self.live]
        if entries and entries[0].range != rng:
            other = find_overlap(self.state, rng, live=self.live)
            if other is not None:
                rule = "SHM-015" if known else "SHM-009"
                self.fail(item, rule, f"shared memory {rng} overlaps {other.path} {other.ranges[0]}",
                          EINVAL, ranges=(rng,), related=(other,))
        if any(b.range == rng for b in entries):
            if not known:
                self._record_shm(item, shm_id, rng, size)
            return
        self._new_shm_bank(item, shm_id, rng, size)

    def _shm_417(self, item: ScanItem, shm_id: str, rng: Range | None, size: int, known: bool) -> None:
        """4.17: compared only with the ``reserved_mem`` entries recorded before it (SHM-009)."""
        assert rng is not None
        for b in self.state.reserved_mem:
            if not (b.live or not self.live):
                continue
            if b.range == rng:
                if not known:
                    self._record_shm(item, shm_id, rng, size)
                return
            if b.range.overlaps(rng):
                self.fail(item, "SHM-009", f"shared memory region {rng} overlaps an existing entry "
                          f"{b.path} {b.range}", EINVAL, ranges=(rng,),
                          related=(Related(path=b.path, ranges=(b.range,)),))
        self._new_shm_bank(item, shm_id, rng, size)

    def _new_shm_bank(self, item: ScanItem, shm_id: str, rng: Range, size: int) -> None:
        """4.17/4.18: a region no bank matched takes a ``reserved_mem`` slot, among ``NR_MEM_BANKS``.

        ``process_shm_node()`` fails with -ENOSPC once the table is full, as
        ``device_tree_get_meminfo()`` does for ``/reserved-memory`` (RSV-003)."""
        if len(self.state.reserved_mem) >= nr_mem_banks(self.state):
            self.fail(item, "SHM-010", "Max number of supported memory regions reached", ENOSPC, ranges=(rng,))
        self._record_shm(item, shm_id, rng, size)
        self.state.reserved_mem.append(ResvBank(range=rng, type="static-domain", path=item.path, live=self.live))


def _dropped(path: str, r: Range) -> DroppedModule:
    return DroppedModule(path=path, start=r.start, size=r.size)


def run(state: BootState) -> BootState:
    scan = _Scan(state)
    for item in state.system.scan:
        with contextlib.suppress(_HandlerFailed):
            _handle(scan, state, item)
    state.ram.sort(key=lambda r: r.start)
    return state


def _handle(scan: _Scan, state: BootState, item: ScanItem) -> None:
    """``early_scan_node()``: the handler of one node, by kind."""
    if item.kind == "ram":
        scan.ram(item)
    elif item.kind == "reserved":
        scan.insert_banks(item, "default")
    elif item.kind == "static-heap":
        scan.insert_banks(item, "static-heap")
    elif item.kind == "static-mem":
        if state.rel.static_mem_kconfig_in_scan and not state.system.target.has("STATIC_MEMORY"):
            scan.fail(item, "SMEM-002", "xen,static-mem on a Xen built without CONFIG_STATIC_MEMORY: "
                      "CONFIG_STATIC_MEMORY must be enabled to use static memory", EINVAL)
        else:
            scan.insert_banks(item, "static-domain")
    elif item.kind == "module":
        if item.panic is not None:
            rule = "MOD-005" if "command line" in item.panic else "MOD-002"
            scan.panic(item, rule, item.panic)
        elif item.pairs:
            assert item.module is not None
            scan.module(item, item.pairs[0], item.module.kind)
    elif item.kind == "initrd":
        if item.error is not None:
            scan.fail(item, "MOD-006", item.error, EINVAL)
        elif item.pairs:
            scan.module(item, item.pairs[0], "ramdisk")
    elif item.kind == "shm":
        scan.shm(item)
