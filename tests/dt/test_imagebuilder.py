"""The ImageBuilder config reader (never runs anything) and the U-Boot script replayer."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xenplan.dt.imagebuilder import load_imagebuilder, load_uboot_script
from xenplan.dt.imagebuilder.config import read_config
from xenplan.dt.imagebuilder.uboot import UBoot, parse_prop, read_script_bytes, split_words
from xenplan.dt.tree import Node, Source, Tree
from xenplan.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = sorted((ROOT / "tests" / "data" / "corpus").glob("*.config"))
BOARD = ROOT / "tests" / "data" / "imagebuilder" / "ibread-dom0-three-domus" / "virt.dtb"


def test_assignments_quotes_and_references() -> None:
    cfg = read_config(
        '# comment\nBASE="0x40000000"  # trailing\nexport END=0x50000000\nNAME=\'single $BASE\'\n'
        'X[2]="a b"; Y=${X[2]}-$BASE\nMULTI="line one\nline two"\nARR=(p "q r" s)\nZ+=more\n'
        'ESC=a\\ b\nUNSET=$NOPE\n', "c")
    assert cfg.get("BASE") == "0x40000000" and cfg.get("END") == "0x50000000"
    assert cfg.get("NAME") == "single $BASE"
    assert cfg.get("X", 2) == "a b" and cfg.get("Y") == "a b-0x40000000"
    assert cfg.get("MULTI") == "line one\nline two" and cfg.line("ARR") == 8
    assert [cfg.get("ARR", i) for i in range(3)] == ["p", "q r", "s"]
    assert cfg.get("Z") == "more" and cfg.get("ESC") == "a b"
    assert cfg.unset_refs == [("NOPE", 11)]


@pytest.mark.parametrize(("text", "line", "what"), [
    ('A=1\nB="$(touch x)"\n', 2, "command substitution"),
    ("A=1\n\nB=`id`\n", 3, "command substitution"),
    ("A=$((1+2))\n", 1, "arithmetic"),
    ("f() { echo hi; }\n", 1, "functions"),
    ("function f {\n", 1, "functions"),
    ("if true; then A=1; fi\n", 1, "control flow"),
    ("A=1 | cat\n", 1, "pipes"),
    ("A=1 > out\n", 1, "redirections"),
    ("echo hi\n", 1, "a command"),
    ("A=1 echo hi\n", 1, "a command"),
    ('A="unterminated\n\n', 1, "unterminated"),
    ("A=${B:-x}\n", 1, "${NAME}"),
    ("A[$i]=1\n", 1, "plain number"),
    ("source other.cfg\n", 1, "a command"),
])
def test_anything_else_is_refused_with_its_line(text: str, line: int, what: str) -> None:
    with pytest.raises(InputError) as exc:
        read_config(text, "cfg")
    assert exc.value.line == line and what in str(exc.value)
    assert "\n" not in str(exc.value)


def test_a_command_substitution_is_never_run(tmp_path: Path) -> None:
    """Every way bash could run the payload is refused before anything happens."""
    flag = tmp_path / "ran"
    for payload in (f'X="$(touch {flag})"', f"X=`touch {flag}`", f"touch {flag}", f"X=1; touch {flag}",
                    f"X=$(( $(touch {flag}) ))", f"X=1 && touch {flag}"):
        cfg = tmp_path / "config"
        cfg.write_text(f'DEVICE_TREE="{BOARD}"\nXEN=xen\nNUM_DOMUS=1\n{payload}\n')
        with pytest.raises(InputError) as exc:
            load_imagebuilder(str(cfg))
        assert exc.value.line == 4
    assert not flag.exists()


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_real_world_configs_read(path: Path) -> None:
    cfg = read_config(path.read_text(), str(path))
    assert cfg.get("XEN") and cfg.get("MEMORY_END")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("AB_[]0123=\"'$(){}`#;|&\\ \n\t-x")), max_size=60))
def test_fuzz_config_reader_reads_or_refuses(text: str) -> None:
    try:
        read_config(text, "fuzz")
    except InputError as exc:
        assert exc.line is not None and exc.line >= 1


def _tree() -> Tree:
    root = Node("")
    root.add_child(Node("chosen"))
    cpus = root.add_child(Node("cpus"))
    cpus.add_child(Node("cpu@0"))
    return Tree(root=root, file="board")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from(list("fdt setmknodr /chosen<>0x1\"'${}#;ab")), max_size=40),
                max_size=6))
def test_fuzz_script_replayer_replays_or_refuses(lines: list[str]) -> None:
    ub = UBoot(lambda name, src: None, lambda ld, src: _tree())  # type: ignore[arg-type, return-value]
    ub.run_line("fdt addr 0x40000000", Source("s", 0))
    for i, text in enumerate(lines, 1):
        try:
            ub.run_line(text, Source("s", i))
        except InputError as exc:
            assert exc.line == i
            return


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_fuzz_script_image_reader(data: bytes) -> None:
    for blob in (data, bytes.fromhex("27051956") + data):
        with contextlib.suppress(InputError):
            read_script_bytes(blob, "boot.scr")


def script_image(text: str) -> bytes:
    """What ``mkimage -T script`` writes: the legacy header, the length table, the text."""
    body = len(text).to_bytes(4, "big") + bytes(4) + text.encode()
    head = bytearray(64)
    head[0:4] = bytes.fromhex("27051956")
    head[12:16] = len(body).to_bytes(4, "big")
    head[30] = 6
    return bytes(head) + body


def test_boot_scr_is_read_like_its_source(tmp_path: Path) -> None:
    text = (f"load virtio 0:1 0x40400000 {BOARD.name}\nfdt addr 0x40400000\nfdt resize 1024\n"
            "fdt mknod /chosen domU0\nfdt set /chosen/domU0 compatible \"xen,domain\"\n"
            "setenv bootargs \"console=${con}\"\nsetenv con ttyAMA0\nsetenv bootargs \"console=${con}\"\n"
            "booti 0x40000000 - 0x40400000\n")
    (tmp_path / "boot.scr").write_bytes(script_image(text))
    (tmp_path / "boot.source").write_text(text)
    (tmp_path / BOARD.name).write_bytes(BOARD.read_bytes())
    a = load_uboot_script(str(tmp_path / "boot.scr"))
    b = load_uboot_script(str(tmp_path / "boot.source"))
    for bi in (a, b):
        chosen = bi.tree.find("/chosen")
        assert chosen is not None and chosen.prop("bootargs") is not None
        assert chosen.prop("bootargs").string() == "console=ttyAMA0"  # type: ignore[union-attr]
        assert bi.tree.find("/chosen/domU0") is not None and bi.fdt_addr == 0x40400000
        assert bi.dtb_size % 4096 == 0
    assert "fdt_high" in " ".join(a.notes) and "nothing is loaded at 0x40000000" in " ".join(a.notes)
    assert a.xen_size is None


@pytest.mark.parametrize(("line", "what"), [
    ("run bootcmd", "outside the subset"),
    ("fdt get value x /chosen bootargs", "outside the fdt commands"),
    ("if test 1; then echo; fi", "outside the subset"),
    ("booti 0x40000000", "third argument"),
])
def test_a_command_outside_the_subset_names_its_line(tmp_path: Path, line: str, what: str) -> None:
    (tmp_path / "boot.source").write_text(f"fdt addr 0x40400000\nsetenv a b\n{line}\n")
    with pytest.raises(InputError) as exc:
        load_uboot_script(str(tmp_path / "boot.source"), str(BOARD))
    assert exc.value.line == 3 and what in str(exc.value)


def test_fdt_values_parse_as_u_boot_does() -> None:
    assert parse_prop(["<0x1", "2>"], "s", 1) == bytes.fromhex("0000000100000002")
    assert parse_prop(["<010>"], "s", 1) == (8).to_bytes(4, "big")
    assert parse_prop(["<8001>"], "s", 1) == (8001).to_bytes(4, "big")
    assert parse_prop(["a", "b"], "s", 1) == b"a\0b\0"
    assert parse_prop(["[01 02]"], "s", 1) == b"\x01\x02"
    assert parse_prop([], "s", 1) == b""
    assert split_words('fdt set /chosen \\#size-cells <0x2> # c', {}, "s", 1) == [
        ["fdt", "set", "/chosen", "#size-cells", "<0x2>"]]
    assert split_words("a 'x y' \"$v\"; b", {"v": "1"}, "s", 1) == [["a", "x y", "1"], ["b"]]
