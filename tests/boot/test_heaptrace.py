"""The heap replay against traced boots of the real Xen, allocation by allocation.

``tests/data/heaptrace/*.json.gz`` are the heap allocations (order and first page of
every successful ``alloc_heap_pages()``, in order, from heap initialisation on) that a
release build of Xen with allocation tracing made while booting a device tree of the
oracle (or of ``tests/data/dom0``) on QEMU; ``tests/data/boards/*.json.gz`` the same on
other QEMU boards (several RAM banks, 8 CPUs, GICv2 and GICv3, with and without a dom0);
``tests/data/zcu102/*.json.gz`` on QEMU's ZynqMP board ``xlnx-zcu102``.
The replay must make the same requests in the same order and get the same pages: the
boot sequence, every xmalloc pool page, every domain's structures, P2M pool and RAM.
With a dom0, ``replayed`` (when present) says how far the replay goes: through dom0's
RAM on releases where ``construct_dom0()``'s host walk is not replayed, the whole boot
where it is (4.18 and later). ``partial_dtbs`` names the passthrough trees given as
``--partial-dtb``; ``gic_spis`` is the host GIC's SPI count when it is not QEMU's GICv3
(``--gic-spis``); ``kconfig`` what the build had beyond the defaults (schedulers).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from heaplog import record_allocations

from xenplan import boot, dt, model
from xenplan.model.base import Range
from xenplan.model.target import KCONFIG_DEFAULTS, Target, XenVersion

DATA = Path(__file__).resolve().parent.parent / "data"
TRACES = sorted([*(DATA / "heaptrace").glob("*.json.gz"), *(DATA / "boards").glob("*.json.gz"),
                 *(DATA / "zcu102").glob("*.json.gz")])


@pytest.mark.parametrize("trace", TRACES, ids=[t.name.removesuffix(".json.gz") for t in TRACES])
def test_replay_makes_xens_allocations(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc: dict[str, Any] = json.loads(gzip.decompress(trace.read_bytes()))
    real = [tuple(a) for a in doc["allocations"]]
    log = record_allocations(monkeypatch)
    target = Target(version=XenVersion.parse(doc["version"]),
                    xen_image=Range(start=doc["xen_image"][0], size=doc["xen_image"][1]),
                    fdt_address=doc["fdt"][0], fdt_size=doc["fdt"][1], gic_spis=doc.get("gic_spis", 224),
                    kconfig={**KCONFIG_DEFAULTS, **doc.get("kconfig", {})})
    partials = {node: dt.load(str(DATA / path)) for node, path in doc.get("partial_dtbs", {}).items()}
    boot.simulate(model.build(dt.load(str(DATA / doc["dts"])), target, partials))
    same = 0
    while same < min(len(log), len(real)) and log[same] == real[same]:
        same += 1
    want = doc.get("replayed") or min(len(log), len(real))
    assert same >= want, f"allocation {same}: Xen {real[same]}, replay {log[same] if same < len(log) else None}"
    assert want >= 0.99 * len(real) or "replayed" in doc
