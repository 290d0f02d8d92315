"""What ImageBuilder configs and U-Boot scripts get wrong before Xen sees them.

ImageBuilder checks almost nothing about memory: it drops array entries
beyond ``NUM_DOMUS`` without a word, takes ``DOMU_MEM`` in MiB whatever the
number looks like, and places files without looking at the static regions
the same config declares. Each lint yields ``(rule id, message, source,
node path)``; the rules' documentation lives in ``xenplan.checks.ib``.
"""

from __future__ import annotations

import re

from xenplan.dt.imagebuilder.config import Config, shell_int
from xenplan.dt.imagebuilder.gen import Generated
from xenplan.dt.imagebuilder.uboot import Replay, descend
from xenplan.dt.tree import Source, Tree
from xenplan.errors import InputError

Problem = tuple[str, str, Source, "str | None"]
_COUNTS = {"CPUPOOL": "NUM_CPUPOOLS", "DT_OVERLAY": "NUM_DT_OVERLAY"}
"""Arrays counted by their own variable; every other ``DOMU_`` array (except the scalar
``DOMU_VUART_PL011``) is counted by ``NUM_DOMUS``."""
_DEFAULTED = {"DOMU_MEM": "512 MiB", "DOMU_VCPUS": "1 vCPU", "DOMU_CMD": '"console=ttyAMA0"'}


def _num(cfg: Config, name: str) -> int:
    try:
        return shell_int(cfg.get(name) or "0", cfg.file, cfg.line(name), name)
    except InputError:
        return 0


def _banks(cfg: Config, name: str, i: int, step: int = 2, first: int = 0) -> list[tuple[int, int]]:
    words = (cfg.get(name, i) or "").split()[first:]
    try:
        vals = [shell_int(w, cfg.file, cfg.line(name, i), name) for w in words]
    except InputError:
        return []
    if step == 3:
        return [(vals[k], vals[k + 2]) for k in range(0, len(vals) - 2, 3)]
    return [(vals[k], vals[k + 1]) for k in range(0, len(vals) - 1, 2)]


def config_lints(cfg: Config, g: Generated, board: Tree, replay: Replay) -> list[Problem]:
    out: list[Problem] = []
    f = cfg.file
    n = _num(cfg, "NUM_DOMUS")
    for name in cfg.names():
        count = _COUNTS.get(name) or ("NUM_DOMUS" if name.startswith("DOMU_") and name != "DOMU_VUART_PL011"
                                      else None)
        if count is None:
            continue
        limit = _num(cfg, count)
        for i, a in sorted(cfg.values[name].items()):
            if a.index is not None and i >= limit:
                out.append(("IB-001", f"{a.key} is set but {count} is {limit}: uboot-script-gen only reads "
                            f"indices 0 to {limit - 1} and drops this one without a word", Source(f, a.line), None))
    seen: dict[str, int] = {}
    for a in cfg.history:
        if a.index is not None and a.name.startswith("DOMU_") and a.index < n:
            if a.key in seen:
                out.append(("IB-008", f"{a.key} is assigned again (first on line {seen[a.key]}); the later value "
                            "wins: an index slip copies one domain's setting over another's",
                            Source(f, a.line), f"/chosen/domU{a.index}"))
            seen[a.key] = a.line
    for name, default in _DEFAULTED.items():
        have = [i for i in cfg.indices(name) if i < n]
        for i in range(n):
            if have and i not in have and cfg.get("DOMU_KERNEL", i):
                other = have[0]
                out.append(("IB-008", f"{name}[{i}] is not set while {name}[{other}] is: domU{i} silently gets "
                            f"ImageBuilder's default ({default})", Source(f, cfg.line(name, other)),
                            f"/chosen/domU{i}"))
    for i in range(n):
        mem = cfg.get("DOMU_MEM", i)
        if mem and mem.strip().isdigit() and int(mem) >= 1 << 20:
            out.append(("IB-003", f"DOMU_MEM[{i}]={mem} is in MiB for ImageBuilder: {int(mem) >> 20} TiB; a size "
                        "in bytes belongs in DOMU_STATIC_MEM, DOMU_MEM wants a number of MiB",
                        Source(f, cfg.line("DOMU_MEM", i)), f"/chosen/domU{i}"))
        for start, size in _banks(cfg, "DOMU_STATIC_MEM", i):
            if 0 < size < 1 << 20 or start % 4096 or size % 4096:
                out.append(("IB-003", f"DOMU_STATIC_MEM[{i}] bank {start:#x} size {size:#x}: sizes here are bytes "
                            "(not MiB as DOMU_MEM) and banks must be 4 KiB aligned",
                            Source(f, cfg.line("DOMU_STATIC_MEM", i)), f"/chosen/domU{i}"))
    for start, size in _banks(cfg, "XEN_STATIC_HEAP", 0):
        if 0 < size < 1 << 20:
            out.append(("IB-003", f"XEN_STATIC_HEAP bank {start:#x} size {size:#x}: sizes are bytes, not MiB",
                        Source(f, cfg.line("XEN_STATIC_HEAP")), "/chosen"))
    mem0 = cfg.get("DOM0_MEM")
    if mem0 and mem0.strip().isdigit() and int(mem0) >= 1 << 20:
        out.append(("IB-003", f"DOM0_MEM={mem0} is in MiB ({int(mem0) >> 20} TiB)", Source(f, cfg.line("DOM0_MEM")),
                    "/chosen"))
    out.extend(_colours(cfg, n))
    for i in range(n):
        for dev in (cfg.get("DOMU_PASSTHROUGH_PATHS", i) or "").split():
            if descend(board.root, dev) is None:
                out.append(("IB-005", f"DOMU_PASSTHROUGH_PATHS[{i}] names {dev}, which the board's tree does not "
                            "have: U-Boot's 'fdt set' fails and the device is not marked xen,passthrough",
                            Source(f, cfg.line("DOMU_PASSTHROUGH_PATHS", i)), f"/chosen/domU{i}"))
    out.extend(_window(cfg, g, replay, n))
    out.extend(load_overlaps(replay))
    return out


def _colours(cfg: Config, n: int) -> list[Problem]:
    out: list[Problem] = []
    f = cfg.file
    xen_cmd = cfg.get("XEN_CMD") or ""
    upstream = bool(re.search(r"\b(llc-coloring|xen-llc-colors|dom0-llc-colors)\b", xen_cmd))
    for i in range(n):
        c = cfg.get("DOMU_COLORS", i)
        if not c:
            continue
        src = Source(f, cfg.line("DOMU_COLORS", i))
        if not re.fullmatch(r"\d+(-\d+)?", c.strip()):
            out.append(("IB-004", f"DOMU_COLORS[{i}]={c!r}: this ImageBuilder takes one range FIRST-LAST; a list "
                        "or other syntax gives a wrong bitmask", src, f"/chosen/domU{i}"))
        out.append(("IB-004", f"DOMU_COLORS[{i}] becomes the Xilinx 'colors' bitmask property, which only Xilinx's "
                    "Xen reads; upstream Xen (4.20 and later, LLC_COLORING) reads the string property llc-colors "
                    f"and ignores 'colors', so domU{i} runs uncoloured there"
                    + (" (XEN_CMD uses the upstream llc- options: the two dialects are mixed)" if upstream else ""),
                    src, f"/chosen/domU{i}"))
    for key, opt in (("XEN_COLORS", "xen_colors="), ("DOM0_COLORS", "dom0_colors=")):
        if cfg.get(key) and not cfg.get("XEN_CMD"):
            out.append(("IB-004", f"{key} becomes '{opt}' on Xen's command line, which only Xilinx's Xen reads; "
                        "upstream Xen reads llc-coloring=on with xen-llc-colors= and dom0-llc-colors=",
                        Source(f, cfg.line(key)), "/chosen"))
    if re.search(r"\b(xen_colors|dom0_colors)=", xen_cmd):
        out.append(("IB-004", "XEN_CMD uses xen_colors=/dom0_colors=, read only by Xilinx's Xen; upstream Xen reads "
                    "xen-llc-colors=/dom0-llc-colors= with llc-coloring=on", Source(f, cfg.line("XEN_CMD")),
                    "/chosen"))
    return out


def _window(cfg: Config, g: Generated, replay: Replay, n: int) -> list[Problem]:
    out: list[Problem] = []
    f = cfg.file
    regions: list[tuple[str, int, int, int | None, str]] = []
    for i in range(n):
        for s, z in _banks(cfg, "DOMU_STATIC_MEM", i):
            regions.append((f"DOMU_STATIC_MEM[{i}]", s, z, cfg.line("DOMU_STATIC_MEM", i), f"/chosen/domU{i}"))
        for s, z in _banks(cfg, "DOMU_SHARED_MEM", i, step=3, first=1):
            regions.append((f"DOMU_SHARED_MEM[{i}]", s, z, cfg.line("DOMU_SHARED_MEM", i), f"/chosen/domU{i}"))
    for s, z in _banks(cfg, "XEN_STATIC_HEAP", 0):
        regions.append(("XEN_STATIC_HEAP", s, z, cfg.line("XEN_STATIC_HEAP"), "/chosen"))
    for key, s, z, line, path in regions:
        hit = [ld for ld in replay.loads if ld.size and ld.addr < s + z and s < ld.addr + ld.size]
        if hit:
            names = ", ".join(f"{ld.key or ld.name} at {ld.addr:#x}" for ld in hit)
            out.append(("IB-006", f"{key} [{s:#x}, {s + z:#x}) holds files U-Boot loads there ({names}): Xen gives "
                        "those pages to a domain or its heap while the boot modules still lie in them",
                        Source(f, line), path))
        elif g.memory_start < s + z and s < g.memory_end:
            out.append(("IB-010", f"{key} [{s:#x}, {s + z:#x}) lies inside the module window MEMORY_START.."
                        f"MEMORY_END [{g.memory_start:#x}, {g.memory_end:#x}): ImageBuilder may put boot files there "
                        "as they grow; end the window below the static regions", Source(f, line), path))
    return out


def load_overlaps(replay: Replay) -> list[Problem]:
    """Files loaded over each other (the DTB counted at the size it has once U-Boot boots)."""
    out: list[Problem] = []
    spans = []
    for ld in replay.loads:
        size = replay.dtb_size if ld.addr == replay.fdt_addr and replay.dtb_size else ld.size
        if size:
            spans.append((ld, ld.addr, ld.addr + size))
    for k, (a, s1, e1) in enumerate(spans):
        for b, s2, e2 in spans[k + 1 :]:
            if s1 < e2 and s2 < e1:
                out.append(("IB-009", f"{b.key or b.name} [{s2:#x}, {e2:#x}) overlaps {a.key or a.name} "
                            f"[{s1:#x}, {e1:#x}) once both are loaded: the later load overwrites the earlier file",
                            b.source, None))
    return out


def script_lints(replay: Replay) -> list[Problem]:
    return load_overlaps(replay)


