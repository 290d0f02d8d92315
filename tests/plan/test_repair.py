"""``xenplan plan --repair``: every broken example with a placement or size mistake boots after the
smallest edit, the others are left with the reason; DTS includes, DTBs, ``-o`` and ``--in-place``."""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import referencing
from click.testing import CliRunner

from xenplan.cli import main

ROOT = Path(__file__).resolve().parents[2]
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]
ZCU = ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"]
SCHEMAS = resources.files("xenplan") / "data" / "schema"


def _schema(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return doc


REGISTRY: referencing.Registry[Any] = referencing.Registry().with_resources(
    (s["$id"], referencing.Resource.from_contents(s))
    for s in (_schema("xenplan-1.schema.json"), _schema("xenplan-repair-1.schema.json")))
VALIDATOR = jsonschema.Draft202012Validator(_schema("xenplan-repair-1.schema.json"), registry=REGISTRY)

# example -> the lines the repair changes: (old line, new line), in file order.
REPAIRED: dict[str, list[tuple[str, str]]] = {
    "directmap-grant-window": [("\t\t\txen,static-mem = <0x0 0x30000000  0x0 0x0c000000>;\n",
                                "\t\t\txen,static-mem = <0x0 0x28000000  0x0 0x0c000000>;\n")],
    "dynamic-memory-not-4k": [("\t\t\tmemory = <0x0 292969>;\t\t/* WRONG: 292969 KiB, not a multiple of 4 */\n",
                               "\t\t\tmemory = <0x0 292968>;\t\t/* WRONG: 292969 KiB, not a multiple of 4 */\n")],
    "kernel-in-static-bank": [("\t\t\t\treg = <0x0 0x60000000 0x0 0x0006c000>;\n",
                               "\t\t\t\treg = <0x0 0x43600000 0x0 0x0006c000>;\n")],
    "memory-mismatch": [("\t\t\tmemory = <0x0 0x40000>;\t\t/* WRONG: 256 MiB, the banks hold 384 MiB */\n",
                         "\t\t\tmemory = <0x0 0x60000>;\t\t/* WRONG: 256 MiB, the banks hold 384 MiB */\n")],
    "shm-inside-static-bank": [
        ("\t\t\t\txen,shared-mem = <0x0 0x6fe00000  0x0 0x80000000  0x0 0x00200000>;\n",
         "\t\t\t\txen,shared-mem = <0x0 0x70000000  0x0 0x80000000  0x0 0x00200000>;\n")] * 2,
    "static-bank-outside-ram": [("\t\t\txen,static-mem = <0x1 0xc0000000  0x0 0x10000000>;\n",
                                 "\t\t\txen,static-mem = <0x1 0x20000000  0x0 0x10000000>;\n")],
    "static-banks-overlap": [("\t\t\txen,static-mem = <0x0 0x68000000  0x0 0x10000000>;\n",
                              "\t\t\txen,static-mem = <0x0 0x70000000  0x0 0x10000000>;\n")],
    "static-xen-enhanced": [],
}
# example -> (rule left, words of the reason)
NOT_REPAIRED: dict[str, tuple[str, str]] = {
    "module-compatible-typo": ("DOM-002", "not recognised (a typo?)"),
    "static-mem-domain-cells": ("RSV-010", "the cells are a typo, not a placement (DT-002)"),
}


def test_every_broken_example_is_classified() -> None:
    names = {p.stem for p in (ROOT / "examples" / "broken").glob("*.dts")}
    assert names == set(REPAIRED) | set(NOT_REPAIRED)


@pytest.fixture
def examples(tmp_path: Path) -> Path:
    """A copy of examples/ (includes resolve as in the repository; nothing there is written)."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path / "examples"


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.stdout, r.stderr


def target(name: str) -> list[str]:
    return ZCU if name == "directmap-grant-window" else QEMU


def check_errors(path: Path, args: list[str]) -> list[str]:
    code, out, _ = run("check", str(path), *args, "--format", "json")
    doc = json.loads(out)
    errors = [f"{f['rule']}: {f['message']}" for f in doc["findings"] if f["severity"] == "error"]
    assert (code == 0) == (not errors)
    return errors


@pytest.mark.parametrize("name", sorted(REPAIRED))
def test_repair_boots_with_the_smallest_diff(examples: Path, name: str) -> None:
    src = examples / "broken" / f"{name}.dts"
    fixed = examples / "broken" / f"{name}.fixed.dts"
    before = src.read_bytes()
    code, out, err = run("plan", str(src), "--repair", *target(name), "-o", str(fixed))
    assert code == 0, out + err
    assert src.read_bytes() == before
    old, new = before.decode().splitlines(keepends=True), fixed.read_text().splitlines(keepends=True)
    assert len(old) == len(new)
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert changed == REPAIRED[name]
    assert check_errors(fixed, target(name)) == []
    if changed:
        assert f"--- a/{src}" in out and changed[0][1].rstrip("\n") in out


@pytest.mark.parametrize("name", sorted(NOT_REPAIRED))
def test_typos_are_left_with_the_reason(examples: Path, name: str) -> None:
    src = examples / "broken" / f"{name}.dts"
    before = src.read_bytes()
    code, out, _ = run("plan", str(src), "--repair", *QEMU, "--in-place")
    assert code == 1
    assert src.read_bytes() == before
    rule, reason = NOT_REPAIRED[name]
    left = [line for line in out.splitlines() if line.startswith(f"  {rule} ")]
    assert left and reason in left[0]
    assert "wrote" not in out and "--- a/" not in out


@pytest.mark.parametrize("name", sorted([*REPAIRED, *NOT_REPAIRED]))
def test_json_document_matches_its_schema(examples: Path, name: str) -> None:
    code, out, _ = run("plan", str(examples / "broken" / f"{name}.dts"), "--repair", *target(name),
                       "--format", "json")
    doc = json.loads(out)
    assert list(VALIDATOR.iter_errors(doc)) == []
    assert doc["repaired"] == (code == 0) == (name in REPAIRED)
    assert len(doc["changes"]) == len(REPAIRED.get(name, []))
    assert doc["check"]["schema"] == "xenplan/1"
    assert bool(doc["remaining"]) == (name in NOT_REPAIRED)
    for c in doc["changes"]:
        assert c["file"].endswith(f"{name}.dts") and c["why"] and c["old"] != c["new"]


def test_memory_follows_the_banks_and_says_why(examples: Path) -> None:
    code, out, _ = run("plan", str(examples / "broken" / "memory-mismatch.dts"), "--repair", *QEMU, "--format",
                       "json")
    assert code == 0
    (change,) = json.loads(out)["changes"]
    assert change["property"] == "memory" and change["new"] == "<0x0 0x60000>"
    assert "the banks are the intent of a static domain" in change["why"]


def test_nothing_to_repair_is_success(examples: Path) -> None:
    code, out, _ = run("plan", str(examples / "qemu-virt.dts"), "--repair", *QEMU)
    assert code == 0 and "nothing to repair" in out and "--- a/" not in out


# --------------------------------------------------------------------------------------------------------------
# Where the property is written: an included file, a DTB, macros


DOMAINS_DTSI = """\
/ {
\tchosen {
\t\tdomU2 {
\t\t\tcompatible = "xen,domain";
\t\t\t#address-cells = <2>;
\t\t\t#size-cells = <2>;
\t\t\tmemory = <0x0 0x40000>;
\t\t\tcpus = <1>;
\t\t\txen,static-mem = <0x1 0xc0000000  0x0 0x10000000>; // written for -m 8G
\t\t\tmodule@44000000 {
\t\t\t\tcompatible = "multiboot,kernel", "multiboot,module";
\t\t\t\treg = <0x0 0x44000000 0x0 0x0006c000>;
\t\t\t};
\t\t};
\t};
};
"""


def _included_board(examples: Path) -> tuple[Path, Path]:
    board = examples / "mine" / "board.dts"
    board.parent.mkdir()
    (board.parent / "domains.dtsi").write_text(DOMAINS_DTSI)
    board.write_text('/dts-v1/;\n/include/ "../qemu-virt-base.dtsi"\n/include/ "domains.dtsi"\n')
    return board, board.parent / "domains.dtsi"


def test_the_edit_lands_in_the_included_file(examples: Path) -> None:
    board, dtsi = _included_board(examples)
    main_before, dtsi_before = board.read_bytes(), dtsi.read_bytes()
    code, out, err = run("plan", str(board), "--repair", *QEMU, "-o", str(examples / "fixed.dts"))
    assert code == 2 and "domains.dtsi" in err and "--in-place" in err
    assert not (examples / "fixed.dts").exists()
    code, out, _ = run("plan", str(board), "--repair", *QEMU, "--in-place")
    assert code == 0, out
    assert f"--- a/{dtsi}" in out and f"wrote {dtsi}" in out
    assert board.read_bytes() == main_before
    old, new = dtsi_before.decode().splitlines(), dtsi.read_text().splitlines()
    assert [(a, b) for a, b in zip(old, new, strict=True) if a != b] == [
        ("\t\t\txen,static-mem = <0x1 0xc0000000  0x0 0x10000000>; // written for -m 8G",
         "\t\t\txen,static-mem = <0x1 0x20000000  0x0 0x10000000>; // written for -m 8G")]
    assert check_errors(board, QEMU) == []


def test_a_dtb_is_patched_in_place(examples: Path, tmp_path: Path) -> None:
    blob = tmp_path / "board.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(blob),
                    str(examples / "broken" / "kernel-in-static-bank.dts")], check=True)
    fixed = tmp_path / "fixed.dtb"
    code, out, _ = run("plan", str(blob), "--repair", *QEMU, "-o", str(fixed))
    assert code == 0, out
    assert "--- a/" not in out
    assert "/chosen/domU2/module@60000000 reg: <0x0 0x60000000 0x0 0x6c000> -> <0x0 0x43600000 0x0 0x6c000>" in out
    a, b = blob.read_bytes(), fixed.read_bytes()
    assert len(a) == len(b)
    differ = [i for i in range(len(a)) if a[i] != b[i]]
    assert len(differ) == 2 and differ[1] - differ[0] == 1  # 0x60000000 -> 0x43600000: two bytes of one cell
    assert check_errors(fixed, QEMU) == []


def test_macros_and_style_are_kept(examples: Path) -> None:
    src = examples / "broken" / "macro.dts"
    text = (examples / "broken" / "static-bank-outside-ram.dts").read_text()
    text = text.replace('/include/ "../qemu-virt-base.dtsi"',
                        '#include "../qemu-virt-base.dtsi"\n#define BANK_HI 0x1\n#define MB(x) ((x) << 20)')
    text = text.replace("xen,static-mem = <0x1 0xc0000000  0x0 0x10000000>;",
                        "xen,static-mem = <BANK_HI 0xC0000000  0x0 MB(256)>;")
    src.write_text(text)
    code, out, _ = run("plan", str(src), "--repair", *QEMU, "--in-place")
    assert code == 0, out
    assert "xen,static-mem = <BANK_HI 0x20000000  0x0 MB(256)>;" in src.read_text()


def test_a_macro_for_several_cells_is_refused_and_nothing_is_written(examples: Path) -> None:
    src = examples / "broken" / "macro.dts"
    text = (examples / "broken" / "static-bank-outside-ram.dts").read_text()
    text = text.replace('/include/ "../qemu-virt-base.dtsi"',
                        '#include "../qemu-virt-base.dtsi"\n#define HIGH 0x1 0xc0000000')
    text = text.replace("xen,static-mem = <0x1 0xc0000000  0x0 0x10000000>;",
                        "xen,static-mem = <HIGH  0x0 0x10000000>;")
    src.write_text(text)
    code, _, err = run("plan", str(src), "--repair", *QEMU, "--in-place")
    assert code == 2 and "macro.dts" in err and "cannot write the repair" in err
    assert src.read_text() == text


# --------------------------------------------------------------------------------------------------------------
# --in-place


def test_in_place_round_trip(examples: Path) -> None:
    src = examples / "broken" / "static-banks-overlap.dts"
    mode = 0o640
    src.chmod(mode)
    code, out, _ = run("plan", str(src), "--repair", *QEMU, "--in-place")
    assert code == 0 and f"wrote {src}" in out
    assert src.stat().st_mode & 0o777 == mode
    once = src.read_bytes()
    code, out, _ = run("plan", str(src), "--repair", *QEMU, "--in-place")
    assert code == 0 and "nothing to repair" in out and "wrote" not in out
    assert src.read_bytes() == once
    assert check_errors(src, QEMU) == []
    assert not [p for p in src.parent.iterdir() if p.name.startswith(".xenplan-")]


def test_usage(examples: Path) -> None:
    src = str(examples / "broken" / "static-banks-overlap.dts")
    assert run("plan", src, *QEMU)[0] == 2
    assert run("plan", src, "--repair", "-o", str(examples / "x.dts"), "--in-place", *QEMU)[0] == 2
    assert run("plan", src, src, "--repair", *QEMU)[0] == 2
    code, _, err = run("plan", src, "--repair", "-o", src, *QEMU)
    assert code == 2 and "also an input" in err


def test_readme_shows_what_the_command_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Repairing a broken board", 1)[1].split("```", 2)[1]
    shown = block.splitlines()[3:-1]
    monkeypatch.chdir(ROOT)
    code, out, _ = run("plan", "examples/broken/static-banks-overlap.dts", "--repair", *QEMU, "-o",
                       str(tmp_path / "fixed.dts"))
    assert code == 0
    assert out.splitlines()[:-1] == shown


def _qemu_virt_with(examples: Path, *swaps: tuple[str, str]) -> Path:
    text = (examples / "qemu-virt.dts").read_text()
    for old, new in swaps:
        assert text.count(old) == 1
        text = text.replace(old, new)
    board = examples / "mistakes.dts"
    board.write_text(text)
    return board


def test_several_mistakes_are_repaired_together(examples: Path) -> None:
    board = _qemu_virt_with(examples, ("<0x0 0x60000000  0x0 0x10000000>,", "<0x2 0x60000000  0x0 0x10000000>,"),
                            ("reg = <0x0 0x46000000 0x0 0x0006c000>", "reg = <0x0 0x50100000 0x0 0x0006c000>"),
                            ("memory = <0x0 0x20000>;", "memory = <0x0 0x10000>;"))
    code, out, _ = run("plan", str(board), "--repair", *QEMU, "--format", "json", "--in-place")
    doc = json.loads(out)
    assert code == 0 and doc["repaired"] and doc["written"] == [str(board)]
    assert [(c["node"], c["property"], c["rule"]) for c in doc["changes"]] == [
        ("/chosen/static-vm", "xen,static-mem", "RSV-011"),
        ("/chosen/rtos-1to1", "memory", "PAGE-003"),
        ("/chosen/rtos-1to1/module@46000000", "reg", "MOD-004")]
    assert check_errors(board, QEMU) == []


def test_no_room_is_said_with_the_largest_free_range(examples: Path) -> None:
    board = _qemu_virt_with(examples, ("<0x0 0x60000000  0x0 0x10000000>,", "<0x2 0x60000000  0x0 0xb0000000>,"),
                            ("memory = <0x0 0x60000>;", "memory = <0x0 0x2e0000>;"))
    before = board.read_bytes()
    code, out, _ = run("plan", str(board), "--repair", *QEMU, "--in-place")
    assert code == 1 and board.read_bytes() == before
    assert "RSV-011 /chosen/static-vm:" in out
    assert "no free host range of 2816 MiB for it: the largest is" in out


def test_a_chosen_fragment_on_a_bundled_board(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "broken" / "static-banks-overlap.dts").read_text()
    frag = tmp_path / "chosen.dts"
    frag.write_text("/dts-v1/;\n" + text[text.index("/ {"):])
    code, out, _ = run("plan", str(frag), "--repair", "--board", "qemu-virt", "--in-place")
    assert code == 0 and f"wrote {frag}" in out
    assert "xen,static-mem = <0x0 0x70000000  0x0 0x10000000>;" in frag.read_text()


def test_a_dtb_in_place(examples: Path, tmp_path: Path) -> None:
    blob = tmp_path / "board.dtb"
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(blob),
                    str(examples / "broken" / "static-bank-outside-ram.dts")], check=True)
    code, out, _ = run("plan", str(blob), "--repair", *QEMU, "--in-place", "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["written"] == [str(blob)]
    assert [(c["line"], c["new"]) for c in doc["changes"]] == [(None, "<0x1 0x20000000 0x0 0x10000000>")]
    assert check_errors(blob, QEMU) == []


def test_a_one_to_one_move_says_the_guest_moves_too(examples: Path) -> None:
    code, out, _ = run("plan", str(examples / "broken" / "directmap-grant-window.dts"), "--repair", *ZCU,
                       "--format", "json")
    (change,) = json.loads(out)["changes"]
    assert code == 0 and "its guest RAM moves too" in change["why"]


def test_in_place_writes_every_file_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    import xenplan.files as files
    from xenplan.errors import UsageError

    a, b = tmp_path / "a.dts", tmp_path / "b.dtsi"
    a.write_text("old a\n")
    b.write_text("old b\n")
    real = tempfile.mkstemp
    calls: list[str] = []

    def mkstemp(**kw: Any) -> tuple[int, str]:
        calls.append(kw["dir"])
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(**kw)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(UsageError, match="No space left"):
        files.replace_inputs({str(a): b"new a\n", str(b): b"new b\n"})
    assert (a.read_text(), b.read_text()) == ("old a\n", "old b\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.dts", "b.dtsi"]
    monkeypatch.setattr(tempfile, "mkstemp", real)
    files.replace_inputs({str(a): b"new a\n", str(b): "new b\n"})
    assert (a.read_text(), b.read_text()) == ("new a\n", "new b\n")
