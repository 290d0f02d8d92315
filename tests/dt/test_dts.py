"""read_dts: the dtc route and the dtlib fallback give one tree, one error, one line.

Every test that can runs on both routes (the ``route`` fixture); the compiler's
own wording differs between dtc versions and dtlib, so error tests assert only
xenplan's part of the message: the file and the line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from xenplan.dt import dts as dts_module
from xenplan.dt.dtb import read_dtb
from xenplan.dt.dts import read_dts
from xenplan.dt.tree import Tree
from xenplan.errors import InputError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dt"
BAD = FIXTURES / "bad"
DATA = Path(__file__).parent.parent / "data"
CORPUS_DTS = sorted(DATA.glob("oracle/*/merged.dts")) + sorted(DATA.glob("corpus/*.dts"))
ZEPHYR_SNIPPET = "zephyr-xen-dom0-snippet_rcar-s4-spider_memory-overlay.dts"
HAS_DTC = shutil.which("dtc") is not None

ROUTES = [
    pytest.param("dtc", marks=pytest.mark.skipif(not HAS_DTC, reason="dtc not installed")),
    "dtlib",
]


@pytest.fixture(params=ROUTES)
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("XENPLAN_NO_DTC", "1" if request.param == "dtlib" else "0")
    yield request.param


def read_both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: object) -> tuple[Tree, Tree]:
    trees = []
    for flag in ("0", "1"):
        monkeypatch.setenv("XENPLAN_NO_DTC", flag)
        trees.append(read_dts(str(path), **kw))  # type: ignore[arg-type]
    return trees[0], trees[1]


def shape(tree: Tree) -> list[tuple[object, ...]]:
    """Names, order and bytes of everything, plus where each thing was written."""
    out: list[tuple[object, ...]] = []
    for node in tree.walk():
        src = node.source
        out.append(("node", node.path, src and (os.path.normpath(src.file), src.line)))
        for prop in node.properties.values():
            ps = prop.source
            out.append(("prop", node.path, prop.name, prop.value,
                        ps and (os.path.normpath(ps.file), ps.line)))
    out.append(("memreserve", [(r.address, r.size) for r in tree.memreserve]))
    out.append(("size", tree.dtb_size))
    return out


def line_of(path: Path, needle: str, nth: int = 1) -> int:
    """1-based line of the ``nth`` line containing ``needle``."""
    hits = [i for i, text in enumerate(path.read_text().splitlines(), 1) if needle in text]
    return hits[nth - 1]


# --- malformed sources: (fixture, file blamed, line blamed) ------------------

MALFORMED = [
    ("syntax-error.dts", "syntax-error.dts", 5),
    ("unterminated-string.dts", "unterminated-string.dts", 5),
    ("missing-include.dts", "missing-include.dts", 7),
    ("missing-cpp-include.dts", "missing-cpp-include.dts", 2),
    ("include-cycle.dts", "cycle-b.dtsi", 3),
    ("cpp-include-cycle.dts", "cpp-cycle-a.h", 1),
    ("undefined-label.dts", "undefined-label.dts", 5),
    ("undefined-label-override.dts", "undefined-label-override.dts", 6),
    ("bad-memreserve.dts", "bad-memreserve.dts", 3),
    ("duplicate-node.dts", "duplicate-node.dts", 8),
    ("duplicate-property.dts", "duplicate-property.dts", 5),
    ("duplicate-label.dts", "duplicate-label.dts", 7),
    ("duplicate-phandle.dts", "duplicate-phandle.dts", 7),
    ("property-after-subnode.dts", "property-after-subnode.dts", 6),
    ("cell-out-of-range.dts", "cell-out-of-range.dts", 5),
    ("no-version.dts", "no-version.dts", 1),
    ("empty.dts", "empty.dts", 1),
    ("error-in-include.dts", "broken.dtsi", 3),
    ("bad-char-literal.dts", "bad-char-literal.dts", 4),  # dtc: "Lexical error: ..."
]


@pytest.mark.parametrize(("fixture", "blamed", "line"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_source_names_file_and_line(route: str, fixture: str, blamed: str, line: int) -> None:
    with pytest.raises(InputError) as info:
        read_dts(str(BAD / fixture))
    err = info.value
    assert os.path.basename(err.file) == blamed
    assert err.line == line
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{err.file}: line {line}")


def test_every_malformed_fixture_is_listed() -> None:
    listed = {m[0] for m in MALFORMED} | {"dtc-hang.dts"}
    assert {p.name for p in BAD.glob("*.dts")} == listed


def test_dtc_that_never_finishes_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # dtc 1.6.1 loops on a huge #clock-cells (docs/device-tree-input.md, section 5).
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    monkeypatch.setenv("XENPLAN_NO_DTC", "0")
    monkeypatch.setattr(dts_module, "DTC_TIMEOUT", 1.0)
    with pytest.raises(InputError, match="did not finish"):
        read_dts(str(BAD / "dtc-hang.dts"))


def test_dtc_crash_is_an_input_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "dtc"
    fake.write_text("#!/bin/sh\nkill -SEGV $$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("XENPLAN_NO_DTC", "0")
    with pytest.raises(InputError, match=r"dtc crashed .*SIGSEGV") as info:
        read_dts(str(FIXTURES / "features.dts"))
    assert info.value.file.endswith("features.dts")


def test_cpp_missing_names_the_directive(monkeypatch: pytest.MonkeyPatch, route: str) -> None:
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "cpp" else real_which(name))
    with pytest.raises(InputError, match="cpp is not installed") as info:
        read_dts(str(FIXTURES / "with-cpp.dts"), [str(FIXTURES / "inc")])
    assert info.value.line == 2


def test_no_dtc_env_forces_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dtc(*args: object, **kw: object) -> Tree:
        raise AssertionError("dtc route used")

    monkeypatch.setattr(dts_module, "_read_with_dtc", no_dtc)
    monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    assert read_dts(str(FIXTURES / "features.dts")).find("/chosen/domU1") is not None


def test_fallback_names_a_non_utf8_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    src = tmp_path / "latin1.dts"
    src.write_bytes(b'/dts-v1/;\n/ {\n\tmodel = "M\xfcller";\n};\n')
    monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    with pytest.raises(InputError) as info:
        read_dts(str(src))
    assert info.value.line == 3


def test_nesting_deeper_than_the_reader_allows(route: str, tmp_path: Path) -> None:
    depth = 70
    src = tmp_path / "deep.dts"
    src.write_text("/dts-v1/;\n/ {\n" + "".join(f"n{i} {{\n" for i in range(depth))
                   + "};\n" * depth + "};\n")
    with pytest.raises(InputError, match="nested deeper") as info:
        read_dts(str(src))
    assert info.value.file == str(src)


# --- the same tree on both routes --------------------------------------------


def test_features_same_tree_on_both_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    via_dtc, via_dtlib = read_both(FIXTURES / "features.dts", monkeypatch)
    assert shape(via_dtc) == shape(via_dtlib)


def test_symbols_same_on_both_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    via_dtc, via_dtlib = read_both(FIXTURES / "features.dts", monkeypatch, symbols=True)
    assert shape(via_dtc) == shape(via_dtlib)
    symbols = via_dtc.find("/__symbols__")
    assert symbols is not None
    # dtc's label order: a later `l3: &d1` goes in front of the first definition's labels.
    assert list(symbols.properties)[:3] == ["l3", "d1", "l2"]
    assert symbols.properties["l3"].string() == "/chosen/domU1"


def test_features_equal_dtc_blob(route: str, dtc_compile: object) -> None:
    """Names, order and bytes equal the blob plain ``dtc`` writes; phandles included."""
    path = FIXTURES / "features.dts"
    blob = dtc_compile(path)  # type: ignore[operator]
    ours, ref = read_dts(str(path)), read_dtb(blob, "ref")
    assert [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in ours.walk()] == \
        [(n.path, [(p.name, p.value) for p in n.properties.values()]) for n in ref.walk()]
    assert [(r.address, r.size) for r in ours.memreserve] == [(r.address, r.size) for r in ref.memreserve]
    assert ours.dtb_size == len(blob)


def test_features_values(route: str) -> None:
    tree = read_dts(str(FIXTURES / "features.dts"))
    root = tree.root
    assert root.properties["model"].string() == "braces { } ; and /* not a comment */ // either"
    assert root.properties["compatible"].strings() == ["xen,features", 'a"quoted"', ""]
    assert root.properties["sizes"].value == bytes([1, 2, 0, 3]) + (1 << 32).to_bytes(8, "big")
    assert root.properties["expr"].u32s() == [0x1004, 0x1000, 10, 0xFFFFFFFF]
    chosen = tree.find("/chosen")
    assert chosen is not None
    assert chosen.properties["bootargs"].string() == "second wins"
    # A node deleted and defined again keeps its first place, as in dtc.
    assert [c.name for c in chosen.children] == ["domU1", "drop-me"]
    dom = tree.find("/chosen/domU1")
    assert dom is not None and "gone-later" not in dom.properties and dom.has("vpl011")
    assert dom.properties["serial"].string() == "/serial@9000000"
    assert tree.find("/unused") is None and tree.find("/used") is not None
    gic = tree.find("/interrupt-controller@8000000")
    assert gic is not None and dom.properties["irq-parent"].u32() == gic.properties["phandle"].u32()
    assert [(r.address, r.size) for r in tree.memreserve] == [(0x48000000, 0x100000), (1 << 32, 0x2000)]


def test_cpp_and_include_same_tree_on_both_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    for name, dirs in (("with-cpp.dts", [str(FIXTURES / "inc")]), ("with-include.dts", [])):
        via_dtc, via_dtlib = read_both(FIXTURES / name, monkeypatch, include_dirs=dirs)
        assert shape(via_dtc) == shape(via_dtlib), name


def test_cpp_macros_expand(route: str) -> None:
    tree = read_dts(str(FIXTURES / "with-cpp.dts"), [str(FIXTURES / "inc")])
    module = tree.find("/chosen/domU1/module@50000000")
    assert module is not None
    assert module.properties["reg"].u32s() == [0x50000000, 0x1000000]
    assert tree.root.properties["from-dtsi"].string() == "common"


@pytest.mark.parametrize("path", CORPUS_DTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_same_tree_on_both_routes(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Names, order, bytes, phandle values, lines and blob size agree on every real tree."""
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    if path.name == ZEPHYR_SNIPPET:
        pytest.skip("needs Zephyr's tree (test_zephyr_snippet_is_an_input_error)")
    via_dtc, via_dtlib = read_both(path, monkeypatch)
    assert shape(via_dtc) == shape(via_dtlib)


def test_corpus_is_there() -> None:
    assert len(CORPUS_DTS) >= 100


def test_zephyr_snippet_is_an_input_error(route: str) -> None:
    # A Zephyr board overlay: no /dts-v1/, macros and labels from Zephyr's tree.
    path = DATA / "corpus" / ZEPHYR_SNIPPET
    with pytest.raises(InputError) as info:
        read_dts(str(path))
    assert info.value.file == str(path)
    assert info.value.line == line_of(path, "/delete-node/ &ram;")
    assert "\n" not in str(info.value)


# --- source lines -------------------------------------------------------------


def test_property_lines(route: str) -> None:
    path = FIXTURES / "features.dts"
    tree = read_dts(str(path))
    root = tree.root
    assert root.properties["model"].source.line == line_of(path, "model =")  # type: ignore[union-attr]
    assert root.properties["mixed"].source.line == line_of(path, "mixed =")  # type: ignore[union-attr]
    dom = tree.find("/chosen/domU1")
    assert dom is not None and dom.source is not None
    assert dom.source.line == line_of(path, "d1: l2: domU1 {")
    assert dom.properties["memory"].source.line == line_of(path, "memory = <0x0 0x20000>")  # type: ignore[union-attr]
    assert dom.properties["vpl011"].source.line == line_of(path, "vpl011;")  # type: ignore[union-attr]


def test_redefined_property_points_at_winning_definition(route: str) -> None:
    path = FIXTURES / "features.dts"
    tree = read_dts(str(path))
    chosen = tree.find("/chosen")
    uart = tree.find("/serial@9000000")
    assert chosen is not None and uart is not None
    assert chosen.properties["bootargs"].source.line == line_of(path, '"second wins"')  # type: ignore[union-attr]
    assert uart.properties["status"].source.line == line_of(path, 'status = "okay"')  # type: ignore[union-attr]
    # The node itself points at its first definition.
    assert uart.source is not None and uart.source.line == line_of(path, "uart: serial@9000000 {")


def test_generated_phandle_points_at_its_node(route: str) -> None:
    tree = read_dts(str(FIXTURES / "features.dts"))
    gic = tree.find("/interrupt-controller@8000000")
    assert gic is not None
    assert gic.properties["phandle"].source == gic.source


def test_memreserve_lines(route: str) -> None:
    path = FIXTURES / "features.dts"
    tree = read_dts(str(path))
    assert [r.source.line for r in tree.memreserve] == [2, 3]  # type: ignore[union-attr]
    assert all(r.source.file == str(path) for r in tree.memreserve)  # type: ignore[union-attr]


def test_lines_in_included_files_name_them(route: str) -> None:
    tree = read_dts(str(FIXTURES / "with-include.dts"))
    soc = tree.find("/soc")
    assert soc is not None
    assert Path(soc.properties["compatible"].source.file).name == "common.dtsi"  # type: ignore[union-attr]
    assert soc.properties["compatible"].source.line == 4  # type: ignore[union-attr]
    assert Path(soc.properties["extra"].source.file).name == "with-include.dts"  # type: ignore[union-attr]
    assert soc.properties["extra"].source.line == 7  # type: ignore[union-attr]


def test_cpp_lines_name_the_original_files(route: str) -> None:
    path = FIXTURES / "with-cpp.dts"
    tree = read_dts(str(path), [str(FIXTURES / "inc")])
    module = tree.find("/chosen/domU1/module@50000000")
    assert module is not None
    reg = module.properties["reg"].source
    assert reg is not None and reg.file == str(path) and reg.line == line_of(path, "reg = <KERNEL_BASE")
    files = {n.source.file for n in tree.walk() if n.source} | {
        p.source.file for n in tree.walk() for p in n.properties.values() if p.source
    }
    assert all(not re.search(r"xenplan-dts-|preprocessed", f) for f in files), files


def test_lines_match_the_dts_on_a_real_tree(route: str) -> None:
    """Every property of an oracle tree sits on a line that starts with its name."""
    path = sorted(DATA.glob("oracle/*/merged.dts"))[0]
    lines = path.read_text().splitlines()
    tree = read_dts(str(path))
    for node in tree.walk():
        for prop in node.properties.values():
            src = prop.source
            assert src is not None and src.line is not None, (node.path, prop.name)
            assert lines[src.line - 1].lstrip().startswith(prop.name), (node.path, prop.name)


def test_dtb_size_is_the_compiled_size(route: str, dtc_compile: object) -> None:
    path = sorted(DATA.glob("oracle/*/merged.dts"))[0]
    assert read_dts(str(path)).dtb_size == len(dtc_compile(path))  # type: ignore[operator]


def test_symbols_only_when_asked(route: str) -> None:
    plain = read_dts(str(FIXTURES / "features.dts"))
    assert plain.find("/__symbols__") is None
    with_symbols = read_dts(str(FIXTURES / "features.dts"), symbols=True)
    used = with_symbols.find("/chosen/domU1")
    assert with_symbols.find("/__symbols__") is not None and used is not None
    assert with_symbols.dtb_size is not None and plain.dtb_size is not None
    assert with_symbols.dtb_size > plain.dtb_size


def test_plugin_source_on_the_fallback_says_dtc_is_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    with pytest.raises(InputError, match="needs dtc") as info:
        read_dts(str(FIXTURES / "overlay" / "domains.dtso"))
    assert info.value.line == 2


def test_dtc_annotations_match_real_dtc_output() -> None:
    """The annotation parser copes with what this dtc prints (strings with braces)."""
    if not HAS_DTC:
        pytest.skip("dtc not installed")
    out = subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dts", "-T", "-T",
                          str(FIXTURES / "features.dts")], capture_output=True, check=True)
    from xenplan.dt.dts_lines import parse_annotated

    lines = parse_annotated(out.stdout.decode())
    assert lines.props[("/", "model")].line == line_of(FIXTURES / "features.dts", "model =")
    assert ("/chosen/domU1", "vpl011") in lines.props
