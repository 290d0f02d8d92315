"""Random single placement or size mistakes in examples/qemu-virt.dts are repaired to a clean check."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xenplan.cli import main

ROOT = Path(__file__).resolve().parents[2]
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
MB2 = 2 << 20
RAM_END = 0x140000000
BANKS = {  # the text of a bank in qemu-virt.dts -> (start, size)
    "<0x0 0x60000000  0x0 0x10000000>": (0x60000000, 0x10000000),
    "<0x1 0x00000000  0x0 0x08000000>": (0x100000000, 0x08000000),
    "<0x0 0x50000000  0x0 0x08000000>": (0x50000000, 0x08000000),
}
MODULES = {  # reg text -> size
    "reg = <0x0 0x42000000 0x0 0x015a0000>": 0x015a0000,
    "reg = <0x0 0x43800000 0x0 0x00b40000>": 0x00b40000,
    "reg = <0x0 0x44800000 0x0 0x015a0000>": 0x015a0000,
    "reg = <0x0 0x46000000 0x0 0x0006c000>": 0x0006c000,
}
MEMORY = ["memory = <0x0 0x60000>;", "memory = <0x0 0x20000>;"]


def cells(addr: int) -> str:
    return f"{addr >> 32:#x} {addr & 0xFFFFFFFF:#010x}"


@st.composite
def mistakes(draw: st.DrawFn) -> tuple[str, str]:
    """(text written, text that replaces it): one bank outside RAM, one module over a bank, or one memory."""
    kind = draw(st.sampled_from(["bank", "module", "memory"]))
    if kind == "bank":
        bank = draw(st.sampled_from(sorted(BANKS)))
        size = BANKS[bank][1]
        at = draw(st.integers(RAM_END // MB2, 0x1000000000 // MB2)) * MB2
        return bank, f"<{cells(at)}  0x0 {size:#010x}>"
    if kind == "module":
        reg = draw(st.sampled_from(sorted(MODULES)))
        start, size = BANKS[draw(st.sampled_from(sorted(BANKS)))]
        at = start + draw(st.integers(0, (size - MODULES[reg]) // MB2)) * MB2
        return reg, f"reg = <{cells(at)} 0x0 {MODULES[reg]:#010x}>"
    old = draw(st.sampled_from(MEMORY))
    kib = draw(st.integers(1, 0x100000 // 4)) * 4
    return old, f"memory = <0x0 {kib:#x}>;"


@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mistakes())
def test_a_single_mistake_is_repaired(mistake: tuple[str, str]) -> None:
    old, new = mistake
    text = (ROOT / "examples" / "qemu-virt.dts").read_text()
    assert text.count(old) == 1
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(ROOT / "examples" / "qemu-virt-base.dtsi", tmp)
        board = Path(tmp) / "qemu-virt.dts"
        board.write_text(text.replace(old, new))
        r = CliRunner().invoke(main, ["plan", str(board), "--repair", *QEMU, "--in-place"])
        assert r.exit_code == 0, r.stdout
        changed = sum(a != b for a, b in zip(text.replace(old, new).splitlines(), board.read_text().splitlines(),
                                             strict=True))
        assert changed <= 1
        r = CliRunner().invoke(main, ["check", str(board), *QEMU, "--format", "json"])
        doc = json.loads(r.stdout)
        assert [f["rule"] for f in doc["findings"] if f["severity"] == "error"] == []
        assert r.exit_code == 0
