"""apply_overlay against the real fdtoverlay, and its errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from xenplan.dt.dtb import read_dtb
from xenplan.dt.dts import read_dts
from xenplan.dt.load import load
from xenplan.dt.overlay import apply_overlay, is_overlay
from xenplan.dt.tree import Tree
from xenplan.errors import InputError

OVERLAY = Path(__file__).parent.parent / "fixtures" / "dt" / "overlay"
BASE = OVERLAY / "base.dts"

pytestmark = pytest.mark.skipif(
    shutil.which("dtc") is None, reason="overlay sources compile with dtc only"
)


def dtc(src: Path, out: Path, symbols: bool = True) -> Path:
    args = ["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(out), str(src)]
    if symbols:
        args.insert(1, "-@")
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return out


def fdtoverlay(base: Path, overlays: list[Path], tmp: Path) -> bytes:
    if shutil.which("fdtoverlay") is None:
        pytest.skip("fdtoverlay not installed")
    blobs = [dtc(o, tmp / f"{o.stem}.dtbo") for o in overlays]
    out = tmp / "out.dtb"
    subprocess.run(["fdtoverlay", "-i", str(dtc(base, tmp / "base.dtb")), "-o", str(out),
                    *map(str, blobs)], check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def content(tree: Tree) -> list[tuple[str, list[tuple[str, bytes]]]]:
    return [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in tree.walk()]


CASES = [
    ["domains.dtso"],
    ["domains.dtso", "second.dtso"],
    ["domains.dtso", "domains.dtso"],
]


@pytest.mark.parametrize("names", CASES, ids=["+".join(c) for c in CASES])
def test_equals_fdtoverlay(names: list[str], tmp_path: Path) -> None:
    overlays = [OVERLAY / n for n in names]
    reference = fdtoverlay(BASE, overlays, tmp_path)
    tree = load(str(BASE), [str(o) for o in overlays])
    assert content(tree) == content(read_dtb(reference, "ref"))
    assert tree.dtb_size == len(reference)


def test_equals_fdtoverlay_on_compiled_inputs(tmp_path: Path) -> None:
    """DTB base and DTBO overlays: the same result as from sources."""
    overlays = [OVERLAY / "domains.dtso", OVERLAY / "second.dtso"]
    reference = fdtoverlay(BASE, overlays, tmp_path)
    base_blob = dtc(BASE, tmp_path / "b.dtb")
    blobs = [dtc(o, tmp_path / f"{o.stem}.x.dtbo") for o in overlays]
    tree = load(str(base_blob), [str(b) for b in blobs])
    assert content(tree) == content(read_dtb(reference, "ref"))
    assert tree.dtb_size == len(reference)


def test_additions_land_first_in_reverse_order() -> None:
    """libfdt inserts each new subnode before the first one: Xen then meets domU2 first."""
    tree = load(str(BASE), [str(OVERLAY / "domains.dtso")])
    chosen = tree.find("/chosen")
    assert chosen is not None
    assert [c.name for c in chosen.children] == ["domU2", "domU1", "dom0"]
    dom = tree.find("/chosen/domU1")
    assert dom is not None
    assert list(dom.properties)[:3] == ["phandle", "vpl011", "cpus"]


def test_phandles_fixed_up() -> None:
    tree = load(str(BASE), [str(OVERLAY / "domains.dtso"), str(OVERLAY / "second.dtso")])
    dom1, dom2 = tree.find("/chosen/domU1"), tree.find("/chosen/domU2")
    uart, gic = tree.find("/serial@9040000"), tree.find("/interrupt-controller@8000000")
    assert dom1 and dom2 and uart and gic
    phandle = dom1.properties["phandle"].u32()
    base_phandles = read_dts(str(BASE), symbols=True).phandles()
    assert phandle is not None and phandle > max(base_phandles)  # renumbered above the base's
    assert tree.phandles()[phandle] is dom1
    assert dom2.properties["peer"].u32() == phandle  # a __local_fixups__ reference
    assert uart.properties["owner"].u32() == phandle
    assert dom1.properties["irq"].u32() == gic.properties["phandle"].u32()  # a __fixups__ one
    symbols = tree.find("/__symbols__")
    assert symbols is not None and symbols.properties["domU1"].string() == "/chosen/domU1"
    # "memory" in an overlay merges into memory@40000000, as fdt_subnode_offset() matches.
    memory = tree.find("/memory@40000000")
    assert memory is not None and memory.has("numa-node-id") and tree.find("/memory") is None


def test_overlay_keeps_its_sources() -> None:
    overlay = OVERLAY / "domains.dtso"
    tree = load(str(BASE), [str(overlay)])
    chosen, dom = tree.find("/chosen"), tree.find("/chosen/domU1")
    assert chosen is not None and dom is not None
    bootargs = chosen.properties["xen,xen-bootargs"].source
    assert bootargs is not None and bootargs.file == str(overlay) and bootargs.line == 5
    assert dom.source is not None and dom.source.file == str(overlay) and dom.source.line == 7
    cpus = dom.properties["cpus"].source
    assert cpus is not None and cpus.file == str(overlay) and cpus.line == 12
    # What the overlay did not touch still points at the base.
    assert chosen.source is not None and chosen.source.file == str(BASE)
    assert chosen.properties["#address-cells"].source.file == str(BASE)  # type: ignore[union-attr]


def test_inputs_are_not_changed() -> None:
    base = read_dts(str(BASE), symbols=True)
    overlay = read_dts(str(OVERLAY / "domains.dtso"))
    before = (content(base), content(overlay))
    apply_overlay(base, overlay)
    assert (content(base), content(overlay)) == before


def test_missing_label_names_overlay_and_fragment() -> None:
    overlay = OVERLAY / "missing-label.dtso"
    with pytest.raises(InputError, match="no_such_label") as info:
        load(str(BASE), [str(overlay)])
    err = info.value
    assert err.file == str(overlay)
    assert err.node == "/fragment@1"
    assert err.line == 8
    assert "\n" not in str(err)


def test_bad_target_path() -> None:
    overlay = OVERLAY / "bad-target-path.dtso"
    with pytest.raises(InputError, match="/soc/missing") as info:
        load(str(BASE), [str(overlay)])
    assert info.value.file == str(overlay)
    assert info.value.node == "/fragment@1"
    assert info.value.line == 8


def test_base_without_symbols(tmp_path: Path) -> None:
    plain = dtc(BASE, tmp_path / "plain.dtb", symbols=False)
    with pytest.raises(InputError, match=r"no __symbols__.*-@") as info:
        load(str(plain), [str(OVERLAY / "domains.dtso")])
    assert info.value.file == str(OVERLAY / "domains.dtso")


def test_target_path_overlay_on_base_without_symbols(tmp_path: Path) -> None:
    plain = dtc(BASE, tmp_path / "plain.dtb", symbols=False)
    src = tmp_path / "paths.dtso"
    src.write_text('/dts-v1/;\n/plugin/;\n&{/chosen} {\n\tnew-prop = "x";\n};\n')
    tree = load(str(plain), [str(src)])
    chosen = tree.find("/chosen")
    assert chosen is not None and chosen.properties["new-prop"].string() == "x"


def test_is_overlay() -> None:
    assert is_overlay(read_dts(str(OVERLAY / "domains.dtso")))
    assert not is_overlay(read_dts(str(BASE)))


def test_symbol_on_a_fragment_body(tmp_path: Path) -> None:
    """A label on ``__overlay__`` itself becomes "<target>/" (and "/" for the root)."""
    src = tmp_path / "labels.dtso"
    src.write_text('/dts-v1/;\n/plugin/;\n/ {\n\tfragment@0 {\n\t\ttarget-path = "/chosen";\n'
                   '\t\tbody: __overlay__ {\n\t\t\tz;\n\t\t};\n\t};\n\tfragment@1 {\n'
                   '\t\ttarget-path = "/";\n\t\ttop: __overlay__ {\n\t\t\tw;\n\t\t};\n\t};\n};\n')
    reference = fdtoverlay(BASE, [src], tmp_path)
    tree = load(str(BASE), [str(src)])
    assert content(tree) == content(read_dtb(reference, "ref"))
    symbols = tree.find("/__symbols__")
    assert symbols is not None
    assert symbols.properties["body"].string() == "/chosen/"
    assert symbols.properties["top"].string() == "/"
