"""A layout as device-tree text: the ``/chosen`` fragment, the whole board, an overlay.

The fragment is the one source every other format is made from: the
verification merges it onto the board exactly as ``check --board`` does, so
what is written is what was simulated.
"""

from __future__ import annotations

from xenplan.model.release import XenRelease
from xenplan.plan.engine import Layout, PlacedModule
from xenplan.plan.spec import Spec

_COMPAT = {"kernel": "multiboot,kernel", "ramdisk": "multiboot,ramdisk", "dtb": "multiboot,device-tree"}


def cells64(*values: int) -> str:
    """Values as 2-cell (64-bit) pairs: ``0x0 0x40000000``."""
    return " ".join(f"{v >> 32:#x} {v & 0xFFFFFFFF:#x}" for v in values)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def xen_bootargs(spec: Spec, board_bootargs: str | None) -> str | None:
    """Xen's command line: the spec's (else the board's), with what the spec implies appended once."""
    base = spec.xen.bootargs if spec.xen.bootargs is not None else board_bootargs
    words = (base or "").split()
    extra: list[str] = []
    if spec.dom0 is not None and not any(w.startswith("dom0_mem=") for w in words):
        extra.append(f"dom0_mem={spec.dom0.memory >> 20}M")
    if spec.xen.scheduler is not None and not any(w.startswith("sched=") for w in words):
        extra.append(f"sched={spec.xen.scheduler}")
    if spec.xen.llc_coloring and not any(w.startswith("llc-coloring") for w in words):
        extra.append("llc-coloring=on")
    if base is None and not extra:
        return None
    return " ".join([*words, *extra])


def _module(m: PlacedModule, indent: str, bootargs: str | None) -> list[str]:
    out = [f"{indent}module@{m.start:x} {{",
           f'{indent}\tcompatible = "{_COMPAT[m.kind]}", "multiboot,module";',
           f"{indent}\treg = <{cells64(m.start, m.size)}>;"]
    if bootargs is not None:
        out.append(f"{indent}\tbootargs = {_quote(bootargs)};")
    return [*out, f"{indent}}};"]


def chosen_body(spec: Spec, layout: Layout, release: XenRelease, board_bootargs: str | None,
                phandle_base: int = 0, reverse: bool = False, cpu_phandles: dict[str, int] | None = None
                ) -> list[str]:
    """The lines inside ``chosen { … }`` (one tab deep), in the order Xen builds the domains.

    Event-channel nodes carry explicit phandles above ``phandle_base`` (the board's largest), so the
    fragment compiled on its own and merged onto the board takes none the board already uses.
    ``reverse`` writes every list of new nodes backwards: ``fdtoverlay`` (libfdt's
    ``fdt_add_subnode()``) puts each new node first among its siblings, so an overlay lists them
    backwards for the result to be in the order Xen must build them."""
    t = "\t\t"
    lines = [f"{t}#address-cells = <2>;", f"{t}#size-cells = <2>;"]
    args = xen_bootargs(spec, board_bootargs)
    if args is not None:
        lines.append(f"{t}xen,xen-bootargs = {_quote(args)};")
    if layout.static_heap:
        heap = ", ".join(f"<{cells64(s, n)}>" for s, n in layout.static_heap)
        lines.append(f"{t}xen,static-heap = {heap};")
    blocks: list[list[str]] = []
    for m in layout.dom0_modules:
        blocks.append(_module(m, t, spec.dom0.bootargs if spec.dom0 is not None and m.kind == "kernel" else None))
    labels = _evtchn_labels(spec)
    numbers = {end: phandle_base + 1 + n for n, end in enumerate(labels)}
    pools = pool_phandles(spec, phandle_base)
    for pool in spec.cpupool:
        cpus = " ".join(f"{(cpu_phandles or {})[c]:#x}" for c in pool.cpus)
        block = [f"{t}cpupool-{pool.name} {{", f'{t}\tcompatible = "xen,cpupool";',
                 f"{t}\tphandle = <{pools[pool.name]:#x}>;", f"{t}\tcpupool-cpus = <{cpus}>;"]
        if pool.scheduler is not None:
            block.append(f'{t}\tcpupool-sched = "{pool.scheduler}";')
        blocks.append([*block, f"{t}}};"])
    for p in layout.domains:
        d = p.spec
        i = f"{t}\t"
        node = ["", f"{t}{d.name} {{", f'{i}compatible = "xen,domain";', f"{i}#address-cells = <2>;",
                f"{i}#size-cells = <2>;", f"{i}memory = <{cells64(d.memory >> 10)}>;", f"{i}cpus = <{d.cpus}>;"]
        if p.vpl011:
            node.append(f"{i}vpl011;")
        if d.is_static:
            banks = ", ".join(f"<{cells64(b.host, b.size)}>" for b in p.banks)
            node.append(f"{i}xen,static-mem = {banks};")
        if d.direct_map:
            node.append(f"{i}direct-map;")
        if d.enhanced is not False:
            node.append(f"{i}xen,enhanced = \"{'enabled' if d.enhanced is True else d.enhanced}\";")
        if d.passthrough and "passthrough" in release.domain_props:
            node.append(f'{i}passthrough = "enabled";')
        if d.colors is not None:
            node.append(f"{i}llc-colors = {_quote(d.colors)};")
        if d.cpupool is not None:
            node.append(f"{i}domain-cpupool = <{pools[d.cpupool]:#x}>;")
        children: list[list[str]] = []
        for r in layout.shm:
            if d.name not in (r.owner, *r.borrowers):
                continue
            role = "owner" if d.name == r.owner else "borrower"
            children.append([f"{i}shm-{r.id} {{", f'{i}\tcompatible = "xen,domain-shared-memory-v1";',
                             f"{i}\txen,shm-id = {_quote(r.id)};", f'{i}\trole = "{role}";',
                             f"{i}\txen,shared-mem = <{cells64(r.host, r.guest[d.name], r.size)}>;", f"{i}}};"])
        for (name, port), (peer, peer_port) in _evtchn_ends(spec):
            if name == d.name:
                children.append([f"{i}{labels[name, port]}: evtchn-{port} {{",
                                 f'{i}\tcompatible = "xen,evtchn-v1";', f"{i}\tphandle = <{numbers[name, port]:#x}>;",
                                 f"{i}\txen,evtchn = <{port} &{labels[peer, peer_port]}>;", f"{i}}};"])
        for m in p.modules:
            children.append(_module(m, i, d.bootargs if m.kind == "kernel" else None))
        for child in order(children, reverse):
            node += child
        node.append(f"{t}}};")
        blocks.append(node)
    for block in order(blocks, reverse):
        lines += block
    return lines


def pool_phandles(spec: Spec, phandle_base: int) -> dict[str, int]:
    """Phandles of the plan's cpupool nodes: after the event channels', above the board's largest."""
    first = phandle_base + 1 + 2 * len(spec.event_channel)
    return {p.name: first + n for n, p in enumerate(spec.cpupool)}


def cpu_phandle_base(spec: Spec, phandle_base: int) -> int:
    """Where phandles the plan gives the board's CPU nodes start (after its own nodes')."""
    return phandle_base + 2 * len(spec.event_channel) + len(spec.cpupool)


def order(items: list[list[str]], reverse: bool) -> list[list[str]]:
    return items[::-1] if reverse else items


def _evtchn_ends(spec: Spec) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    out = []
    for e in spec.event_channel:
        a, b = e.parsed()
        out += [(a, b), (b, a)]
    return out


def _evtchn_labels(spec: Spec) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    for n, ((name, port), _) in enumerate(_evtchn_ends(spec)):
        out[name, port] = f"evtchn_{n}"
    return out


def fragment(spec: Spec, layout: Layout, release: XenRelease, board_bootargs: str | None,
             header: str = "", phandle_base: int = 0, cpu_phandles: dict[str, int] | None = None,
             new_cpu_phandles: dict[str, int] | None = None) -> str:
    """The ``/chosen`` node, as a DTS ``check --board`` merges onto the board; a cpupool's CPU nodes
    that have no phandle on the board get one here (``new_cpu_phandles``)."""
    body = chosen_body(spec, layout, release, board_bootargs, phandle_base, cpu_phandles=cpu_phandles)
    out = [f"/dts-v1/;{header}", "", "/ {", "\tchosen {", *body, "\t};", "};"]
    for path, number in sorted((new_cpu_phandles or {}).items()):
        parts = [x for x in path.split("/") if x]
        out += ["", "/ {", *(f"{chr(9) * (k + 1)}{p} {{" for k, p in enumerate(parts)),
                f"{chr(9) * (len(parts) + 1)}phandle = <{number:#x}>;",
                *(f"{chr(9) * (k + 1)}}};" for k in reversed(range(len(parts)))), "};"]
    return "\n".join([*out, ""])


def overlay(spec: Spec, layout: Layout, release: XenRelease, board_bootargs: str | None,
            passthrough: list[str], header: str = "", cpu_phandles: dict[str, int] | None = None) -> str:
    """A ``.dtso`` that ``fdtoverlay`` applies to the board: ``/chosen`` filled in (and host devices given
    away marked ``xen,passthrough``), by target paths so the board needs no ``__symbols__``."""
    body = [line[1:] for line in chosen_body(spec, layout, release, board_bootargs, reverse=True,
                                             cpu_phandles=cpu_phandles)]
    out = [f"/dts-v1/;{header}", "/plugin/;", "", "&{/chosen} {", *body, "};"]
    for path in passthrough:
        out += ["", f"&{{{path}}} {{", "\txen,passthrough;", "};"]
    return "\n".join([*out, ""])
