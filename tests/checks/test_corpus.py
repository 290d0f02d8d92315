"""Real-world configurations people published (tests/data/corpus, see each header):
each loads, and xenplan says what Xen would do with it.

Xen's documentation examples are ``/chosen`` fragments without hardware; they
are checked on the bundled QEMU ``virt`` board (``--board qemu-virt``: 4 GiB
at 0x40000000, two CPUs, Xen at 0x40200000, DTB at 0x48000000), so the
verdict is the one Xen gives on that board.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xenplan.analysis import Analysis, analyse
from xenplan.errors import InputError
from xenplan.targets import board_path, build_target

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"


def run(name: str, version: str = "4.22", *, board: str | None = "qemu-virt",
        kconfig: tuple[str, ...] = ()) -> Analysis:
    target = build_target(xen_version=version, kconfig=kconfig, board=board)
    return analyse(str(CORPUS / name), target, board=board_path(board))


def test_cache_colouring_example_overlapping_modules_are_dropped() -> None:
    """The upstream example puts domU0's kernel at 0x2000000, inside dom0's ramdisk
    (0x2000000 + 20638062), and its ramdisk at 0x3000000, also inside it: Xen drops both."""
    a = run("xen-docs_cache-coloring_llc-colors.dts", kconfig=("LLC_COLORING=y",))
    assert {m.path for m in a.result.dropped_modules} == {"/chosen/domU0/module@2000000",
                                                          "/chosen/domU0/module@30000000"}
    assert {(f.rule, f.path) for f in a.findings if f.rule == "MOD-004"} == {
        ("MOD-004", "/chosen/domU0/module@2000000"), ("MOD-004", "/chosen/domU0/module@30000000")}


def test_cache_colouring_example_dom0_kernel_below_qemu_ram() -> None:
    """dom0 is built before the domUs, and its kernel (0x1000000) is below QEMU's RAM: Xen faults.
    Without colouring, domU0's llc-colors would have stopped Xen next (not reached)."""
    a = run("xen-docs_cache-coloring_llc-colors.dts")
    assert a.result.failed_at is not None
    assert (a.result.outcome, a.result.failed_at.stage, a.result.failed_at.rule) == ("crash", "other", "MOD-008")
    assert [(f.rule, f.reached) for f in a.findings if f.rule == "LLC-002"] == [("LLC-002", False)]


@pytest.mark.parametrize(("version", "outcome"), [("4.20", "boots"), ("4.22", "panic")])
def test_vcpu_affinity_example_names_pcpus_the_board_lacks(version: str, outcome: str) -> None:
    """booting.txt pins vCPUs to pCPUs 0-3; the QEMU board has two. 4.21+ reads xen,vcpu and panics."""
    a = run("xen-docs_booting-txt_two-domUs-vcpu-affinity.dts", version)
    assert a.result.outcome == outcome
    if outcome == "panic":
        assert a.result.failed_at is not None
        assert (a.result.failed_at.rule, a.result.failed_at.message) == ("DOM-015", "Invalid pCPU 3 for domain domU1")
    else:
        assert [d.status for d in a.result.domains] == ["constructed", "constructed"]


def test_static_allocation_example_covers_xen_on_qemu() -> None:
    """The example's bank 0x30000000-0x4fffffff covers QEMU's Xen image at 0x40200000."""
    a = run("xen-docs_static-allocation_chosen-1cell.dts")
    assert a.result.failed_at is not None
    assert (a.result.failed_at.stage, a.result.failed_at.rule) == ("early-fdt", "RSV-010")
    assert a.result.failed_at.message == "Early FDT parsing failed (-22)"


def test_static_allocation_example_on_416_uses_chosen_cells_wrongly() -> None:
    """4.16 reads #xen,static-mem-*-cells (absent: 0): the scan stops at the domain node, dom0 fallback."""
    a = run("xen-docs_static-allocation_chosen-1cell.dts", "4.16")
    assert a.result.failed_at is not None
    assert (a.result.failed_at.stage, a.result.failed_at.rule) == ("other", "DOM-002")
    assert any(f.rule == "DT-004" and f.path == "/chosen/domU1" for f in a.findings)


def test_static_shared_memory_example_below_qemu_ram_crashes() -> None:
    """The example's host region 0x10000000 is below QEMU's RAM: initialising its pages faults."""
    a = run("xen-docs_static-shared-memory_dom0-domU1-domU2.dts")
    assert (a.result.outcome, a.result.failed_at.message if a.result.failed_at else None) == (
        "crash", "CPU0: Unexpected Trap: Data Abort")


@pytest.mark.parametrize("name", ["xen-docs_boot-cpupools.dts", "xen-docs_static-event-channels.dts"])
def test_examples_without_kernel_modules_fall_back_to_dom0(name: str) -> None:
    """The examples leave the modules out: Xen records no domU kernel and tries dom0 (DOM-002)."""
    a = run(name)
    assert a.result.failed_at is not None
    assert (a.result.failed_at.stage, a.result.failed_at.rule) == ("other", "DOM-002")


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.dts")
                                        if not p.name.startswith("zephyr")))
def test_every_corpus_tree_loads_alone_and_on_the_board(name: str) -> None:
    for board in (None, "qemu-virt"):
        a = run(name, board=board)
        assert a.result.outcome in ("boots", "panic", "crash", "hang")


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.iterdir()
                                        if p.suffix in (".config", ".txt", ".yaml", ".dtso")
                                        or p.name.startswith("zephyr")))
def test_what_is_not_a_whole_device_tree_is_refused_cleanly(name: str) -> None:
    with pytest.raises(InputError) as exc:
        run(name, board=None)
    assert name in str(exc.value) and "\n" not in str(exc.value)
