"""The host nodes ``handle_node()`` hands a classic dom0, as ``model.hostwalk`` reads them."""

from __future__ import annotations

from pathlib import Path

from xenplan import dt, model
from xenplan.model.target import Target, XenVersion

TREE = """/dts-v1/;
/ {
    #address-cells = <2>; #size-cells = <2>;
    interrupt-parent = <&gic>;
    memory@40000000 { device_type = "memory"; reg = <0 0x40000000 1 0>; };
    gic: intc@8000000 {
        compatible = "arm,gic-v3"; interrupt-controller; #interrupt-cells = <3>; #address-cells = <2>;
        reg = <0 0x8000000 0 0x10000 0 0x80a0000 0 0xf60000>;
    };
    timer { compatible = "arm,armv8-timer"; interrupts = <1 13 4>; };
    pmu { compatible = "arm,armv8-pmuv3"; interrupts = <1 7 4>; };
    ppi-user { interrupts = <1 3 4>; reg = <0 0x9100000 0 0x1000>; };
    uart0: pl011@9000000 { compatible = "arm,pl011"; reg = <0 0x9000000 0 0x1000>; interrupts = <0 1 4>; };
    bus@c000000 {
        compatible = "simple-bus"; #address-cells = <1>; #size-cells = <1>;
        ranges = <0 0 0xc000000 0x2000000>;
        dev@1000 { reg = <0x1000 0x100>; interrupts = <0 5 4>; };
    };
    pt@9200000 { reg = <0 0x9200000 0 0x1000>; interrupts = <0 6 4>; xen,passthrough; };
    pcie@10000000 {
        device_type = "pci"; #address-cells = <3>; #size-cells = <2>; #interrupt-cells = <1>;
        reg = <0x40 0x10000000 0 0x10000000>;
        ranges = <0x1000000 0 0 0 0x3eff0000 0 0x10000 0x2000000 0 0x10000000 0 0x10000000 0 0x2eff0000>;
        interrupt-map = <0 0 0 1 &gic 0 0 0 3 4  0x800 0 0 1 &gic 0 0 0 4 4  0x1000 0 0 1 &gic 0 0 0 3 4>;
    };
    chosen {
        #address-cells = <2>; #size-cells = <2>;
        xen,xen-bootargs = "console=dtuart dtuart=/pl011@9000000";
        module@48300000 { compatible = "multiboot,kernel", "multiboot,module"; reg = <0 0x48300000 0 0x10000>; };
    };
};
"""


def _walk(tmp_path: Path, text: str) -> list[tuple[str, tuple[int, ...], tuple[tuple[int, int], ...], bool]]:
    path = tmp_path / "host.dts"
    path.write_text(text)
    system = model.build(dt.load(str(path)), Target(version=XenVersion.parse("4.22.0")))
    return [(d.path, d.irqs + d.pci_irqs, d.regs + d.pci_ranges, d.mapped) for d in system.dom0_devices]


def test_dom0_is_given_every_device_but_xens_own(tmp_path: Path) -> None:
    """The GIC, timer, PMU, console UART and a PPI user are skipped; a bus child's
    ``reg`` is translated; a PCI bridge adds its interrupt-map SPIs (repeats
    included) and its windows; a ``xen,passthrough`` node is permitted, not mapped."""
    assert _walk(tmp_path, TREE) == [
        ("/bus@c000000/dev@1000", (37,), ((0xC001000, 0x100),), True),
        ("/pt@9200000", (38,), ((0x9200000, 0x1000),), False),
        ("/pcie@10000000", (35, 36, 35),
         ((0x4010000000, 0x10000000), (0x3EFF0000, 0x10000), (0x10000000, 0x2EFF0000)), True),
    ]


def test_no_walk_without_a_dom0_kernel(tmp_path: Path) -> None:
    start = TREE.index("        module@48300000")
    module = TREE[start : TREE.index("\n", start) + 1]
    assert _walk(tmp_path, TREE.replace(module, "")) == []


def test_gicv2m_frames_as_xen_reads_them(tmp_path: Path) -> None:
    """``gicv2_extension_dt_init()``: each available v2m frame with its MSI SPIs, from the
    node's properties when both are given and non-zero, else from ``MSI_TYPER`` (QEMU's)."""
    gic = '''gic: intc@8000000 {
        compatible = "arm,cortex-a15-gic"; interrupt-controller; #interrupt-cells = <3>;
        #address-cells = <2>; #size-cells = <2>; ranges;
        reg = <0 0x8000000 0 0x10000 0 0x8010000 0 0x10000 0 0x8030000 0 0x10000 0 0x8040000 0 0x10000>;
        v2m@8020000 { compatible = "arm,gic-v2m-frame"; msi-controller; reg = <0 0x8020000 0 0x1000>; };
        v2m@8021000 { compatible = "arm,gic-v2m-frame"; reg = <0 0x8021000 0 0x1000>;
                      arm,msi-base-spi = <160>; arm,msi-num-spis = <32>; };
        v2m@8022000 { compatible = "arm,gic-v2m-frame"; reg = <0 0x8022000 0 0x1000>; status = "disabled"; };
    };'''
    start = TREE.index("    gic: intc@8000000")
    end = TREE.index("};", start) + 2
    path = tmp_path / "host.dts"
    path.write_text(TREE[:start] + "    " + gic + TREE[end:])
    system = model.build(dt.load(str(path)), Target(version=XenVersion.parse("4.22.0")))
    assert system.board.gic is not None and system.board.gic.version == 2
    assert system.board.gic.cpu is not None and system.board.gic.cpu.start == 0x8010000
    assert system.board.gic.v2m == ((0x8020000, 0x1000, 80, 64), (0x8021000, 0x1000, 160, 32))
