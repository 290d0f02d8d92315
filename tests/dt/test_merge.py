"""--board: a fragment merged onto a board as dtc merges two ``/ { … }`` blocks."""

from __future__ import annotations

from pathlib import Path

from xenplan.boards import BOARDS
from xenplan.dt import load


def test_fragment_merges_onto_the_board(tmp_path: Path) -> None:
    frag = tmp_path / "frag.dts"
    frag.write_text("""/dts-v1/;
/ {
	chosen {
		#address-cells = <1>;
		domU1 { compatible = "xen,domain"; memory = <0x0 0x10000>; cpus = <1>; };
	};
	extra { };
};
""")
    t = load(str(frag), board=str(BOARDS["qemu-virt"].path))
    chosen = t.find("/chosen")
    assert chosen is not None
    assert chosen.properties["#address-cells"].u32() == 1  # the fragment wins
    assert chosen.properties["#size-cells"].u32() == 2  # the board's stays
    assert "xen,xen-bootargs" in chosen.properties
    assert [c.name for c in chosen.children][-1] == "domU1"  # appended, as dtc does
    assert t.root.children[-1].name == "extra"
    assert t.find("/memory@40000000") is not None
    src = t.find("/chosen/domU1").properties["memory"].source  # type: ignore[union-attr]
    assert src is not None and src.file == str(frag) and src.line == 5
    assert t.file == str(frag)
    assert t.dtb_size is not None and t.dtb_size > 0


def test_bundled_boards_load() -> None:
    for b in BOARDS.values():
        t = load(str(b.path))
        assert t.find("/chosen") is not None and any(n.name.startswith("memory") for n in t.root.children)
