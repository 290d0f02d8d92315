"""The input contract at every edge: each bad input is one line on stderr naming
the file (and node, line or offset) or the option, exit 2, quickly; never a
traceback or exit 3.

Covers the public API (``xenplan.build_target``), ``-o`` never touching an
input, bounded reads of regular files only, strict option values,
``--kconfig-file``, and the DTS edge cases (dtc's parser limit, syntax-error
hints, a cpp expansion bomb).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import xenplan
from xenplan.cli import main
from xenplan.errors import InputError, UsageError
from xenplan.files import MAX_TREE_BYTES, read_input, write_output

ROOT = Path(__file__).resolve().parent.parent
QEMU_VIRT = "examples/qemu-virt.dts"
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def invoke(*args: str | Path, stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], input=stdin, catch_exceptions=True)


def one_line(res: Result, *names: str) -> str:
    """Exit 2, one ``xenplan: error:`` line naming every one of ``names``, no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("xenplan: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "Traceback" not in res.stderr + res.stdout
    return lines[0]


def timed(*args: str | Path, limit: float = 1.0) -> Result:
    start = time.monotonic()
    res = invoke(*args)
    assert time.monotonic() - start < limit, f"took {time.monotonic() - start:.1f} s"
    return res


# ---------------------------------------------------------------- public API


def test_import_is_cheap() -> None:
    code = "import sys, xenplan; print(sorted(m for m in sys.modules if m.startswith(('xenplan.', 'pydantic'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    from xenplan.analysis import Analysis, analyse
    from xenplan.boot.result import BootResult
    from xenplan.checks.finding import Finding
    from xenplan.model.target import Target, XenVersion

    assert (xenplan.analyse, xenplan.Analysis, xenplan.BootResult, xenplan.Finding, xenplan.Target,
            xenplan.XenVersion) == (analyse, Analysis, BootResult, Finding, Target, XenVersion)
    assert set(xenplan.__all__) <= set(dir(xenplan))
    with pytest.raises(AttributeError):
        _ = xenplan.nothing_here  # type: ignore[attr-defined]


def test_build_target_matches_the_cli_defaults() -> None:
    t = xenplan.build_target(xen_version="4.20", board="qemu-virt", kconfig=["LLC_COLORING=y"])
    assert str(t.version) == "4.20.4" and t.has("LLC_COLORING")
    assert t.xen_image is not None and t.xen_image.start == 0x40200000 and t.fdt_address == 0x48000000
    assert xenplan.build_target(kconfig={"DEBUG": True}).debug


@pytest.mark.parametrize(("kwargs", "option"), [
    ({"xen_version": "4.22.99"}, "--xen-version"),
    ({"kconfig": ["FOO=y"]}, "--kconfig"),
    ({"xen_image": "0xffffffffffffffff:0x1000"}, "--xen-image"),
    ({"gic_spis": 2000}, "--gic-spis"),
    ({"arch": "riscv"}, "--arch"),
])
def test_build_target_raises_a_one_line_usage_error(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(UsageError) as err:
        xenplan.build_target(**kwargs)  # type: ignore[arg-type]
    assert isinstance(err.value, ValueError)
    assert str(err.value).startswith(f"{option}: ") and "\n" not in str(err.value)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("### Python API", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m is not None
    return m.group(1)


def test_readme_python_example_runs() -> None:
    code = readme_example()
    assert len(code.strip().splitlines()) <= 12
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip()


# ---------------------------------------------------------------- -o never destroys an input


@pytest.mark.parametrize("role", ["input", "include", "overlay", "board", "partial", "kernel", "kconfig-file"])
def test_output_onto_an_input_is_refused(tmp_path: Path, role: str) -> None:
    board = tmp_path / "board.dts"
    board.write_text((ROOT / "tests" / "report" / "data" / "board.dts").read_text())
    inc = tmp_path / "extra.dtsi"
    inc.write_text("/ { extra { }; };\n")
    with_include = tmp_path / "top.dts"
    with_include.write_text(board.read_text() + '\n/include/ "extra.dtsi"\n')
    ovl = tmp_path / "o.dtso"
    ovl.write_text("/dts-v1/;\n/plugin/;\n&{/} { from-overlay { }; };\n")
    frag = tmp_path / "frag.dts"
    frag.write_text("/dts-v1/;\n/ { chosen { }; };\n")
    kernel = tmp_path / "Image"
    kernel.write_bytes(b"\0" * 128)
    kconf = tmp_path / ".config"
    kconf.write_text("CONFIG_DEBUG=y\n")
    args: dict[str, tuple[list[str | Path], Path]] = {
        "input": ([board], board),
        "include": ([with_include], inc),
        "overlay": ([board, "--overlay", ovl], ovl),
        "board": ([frag, "--board", board], board),
        "partial": ([board, "--partial-dtb", f"domU1={frag}"], frag),
        "kernel": ([board, "--kernel-image", f"domU1={kernel}"], kernel),
        "kconfig-file": ([board, "--kconfig-file", kconf], kconf),
    }
    given, victim = args[role]
    before = victim.read_bytes()
    line = one_line(invoke("check", *given, *QEMU, "-o", victim), "--output")
    assert "is also an input" in line
    assert victim.read_bytes() == before
    # The same file under another name (a symbolic link) is the same input.
    link = tmp_path / "link"
    link.symlink_to(victim)
    one_line(invoke("check", *given, *QEMU, "-o", link), "--output")
    assert victim.read_bytes() == before


@pytest.mark.parametrize("command", ["check", "map"])
@pytest.mark.parametrize("where", ["/nonexistent/dir/out", "/tmp", "ro/out", "/sys/out"])
def test_bad_output_path_exits_2(tmp_path: Path, command: str, where: str) -> None:
    """A missing directory, a directory, and no permission (a read-only directory; /sys even for root)."""
    if where.startswith("ro"):
        if os.geteuid() == 0:
            pytest.skip("root writes in a read-only directory; /sys/out covers the case")
        (tmp_path / "ro").mkdir(mode=0o500)
        where = str(tmp_path / where)
    if where.startswith("/sys") and not os.path.isdir("/sys/kernel"):
        pytest.skip("no sysfs here")
    one_line(invoke(command, QEMU_VIRT, *QEMU, "-o", where), "--output", where)


def test_output_replaces_atomically(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    out.write_text("old")
    assert invoke("check", QEMU_VIRT, *QEMU, "--format", "json", "-o", out).exit_code in (0, 1)
    assert json.loads(out.read_text())["input"] == QEMU_VIRT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null")
def test_output_to_a_device_writes_into_it() -> None:
    """``-o /dev/null`` writes into the device; renaming a report over it (as root) would have put a
    regular file in its place for every program on the machine."""
    assert invoke("check", QEMU_VIRT, *QEMU, "-o", "/dev/null").exit_code in (0, 1)
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()
    assert Path("/dev/null").is_char_device()


def test_output_to_a_fifo_nobody_reads_exits_2(tmp_path: Path) -> None:
    """Refused at once rather than waited on; the FIFO stays a FIFO."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    line = one_line(invoke("check", QEMU_VIRT, *QEMU, "-o", fifo), "--output")
    assert "nothing reads" in line
    assert fifo.is_fifo()


def test_output_through_a_link_keeps_the_link(tmp_path: Path) -> None:
    target = tmp_path / "reports" / "board.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    assert invoke("check", QEMU_VIRT, *QEMU, "--format", "json", "-o", link).exit_code in (0, 1)
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert json.loads(target.read_text())["input"] == QEMU_VIRT
    assert sorted(p.name for p in target.parent.iterdir()) == ["board.json"]


def test_failed_run_leaves_the_old_report(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    out.write_text("old")
    one_line(invoke("check", tmp_path / "missing.dts", *QEMU, "-o", out), "missing.dts")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.txt"]


def test_write_output_cleans_up_when_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(UsageError, match="No space left"):
        write_output(str(tmp_path / "out"), "text", [])
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- bounded reads


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    p = tmp_path / "pipe.dtb"
    os.mkfifo(p)
    return p


@pytest.fixture
def sparse(tmp_path: Path) -> Path:
    p = tmp_path / "huge.dtb"
    with open(p, "wb") as fh:
        fh.truncate(70 << 20)
    return p


SPECIAL = ["/dev/zero", "/dev/urandom", "fifo", "directory", "sparse"]


def special(kind: str, fifo: Path, sparse: Path, tmp_path: Path) -> str:
    return {"fifo": str(fifo), "directory": str(tmp_path), "sparse": str(sparse)}.get(kind, kind)


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("role", ["input", "overlay", "board", "partial", "kernel", "kconfig-file"])
def test_unbounded_or_blocking_files_are_refused_fast(kind: str, role: str, fifo: Path, sparse: Path,
                                                     tmp_path: Path) -> None:
    path = special(kind, fifo, sparse, tmp_path)
    args: dict[str, list[str]] = {
        "input": [path],
        "overlay": [QEMU_VIRT, "--overlay", path],
        "board": [QEMU_VIRT, "--board", path],
        "partial": [QEMU_VIRT, "--partial-dtb", f"static-vm={path}"],
        "kernel": [QEMU_VIRT, "--kernel-image", f"static-vm={path}"],
        "kconfig-file": [QEMU_VIRT, "--kconfig-file", path],
    }
    if role == "kernel" and kind == "sparse":
        pytest.skip("a 70 MiB kernel image is a kernel image")
    line = one_line(timed("check", *args[role], *QEMU), path)
    if kind == "sparse":
        assert "70.0 MiB" in line and "64.0 MiB" in line
    else:
        assert "regular file" in line


def test_a_tree_between_xens_limit_and_the_cap_still_loads(tmp_path: Path) -> None:
    """A 2.5 MiB property puts the blob above Xen's 2 MiB, and below the reader's cap."""
    big = tmp_path / "big.dts"
    body = (ROOT / QEMU_VIRT).read_text()
    big.write_text(body + "\n/ { padding = [" + "00 " * (5 << 19) + "]; };\n")
    assert (ROOT / "examples" / "qemu-virt-base.dtsi").exists()
    res = invoke("check", big, "-I", "examples", *QEMU)
    assert res.exit_code in (0, 1), res.stderr


def test_read_input_caps_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    class Big:
        buffer = type("B", (), {"read": staticmethod(lambda n: b"\0" * n)})()

    monkeypatch.setattr(sys, "stdin", Big)
    with pytest.raises(InputError, match=r"<stdin>: more than 64\.0 MiB"):
        read_input("-")
    assert MAX_TREE_BYTES == 64 << 20


@pytest.mark.parametrize("form", ["dts", "dtb"])
def test_stdin_is_read_as_dts_or_dtb(form: str, dtc_compile: object) -> None:
    src = ROOT / "tests" / "report" / "data" / "board.dts"
    data = src.read_bytes() if form == "dts" else dtc_compile(src)  # type: ignore[operator]
    res = invoke("check", "-", *QEMU, "--format", "json", stdin=data)
    assert res.exit_code in (0, 1), res.stderr
    assert json.loads(res.stdout)["input"] == "-"


def test_stdin_syntax_error_names_stdin() -> None:
    one_line(invoke("check", "-", *QEMU, stdin=b"/dts-v1/;\n/ { a = <1> };\n"), "<stdin>", "line 2")


# ---------------------------------------------------------------- option values


@pytest.mark.parametrize(("args", "option", "says"), [
    (["--xen-version", "4.22.99"], "--xen-version", "4.22.0 to 4.22.0"),
    (["--xen-version", "4.18.7"], "--xen-version", "4.18.0 to 4.18.6"),
    (["--xen-version", " 4.18"], "--xen-version", "not a Xen version"),
    (["--kconfig", "FOO=y"], "--kconfig", "STATIC_MEMORY"),
    (["--kconfig", "=y"], "--kconfig", "no key"),
    (["--kconfig", ","], "--kconfig", "KEY=y"),
    (["--kconfig", "DEBUG=y,,STATIC_SHM=n"], "--kconfig", "empty entry"),
    (["--kconfig", "STATIC_MEMORY"], "--kconfig", "STATIC_MEMORY=y or STATIC_MEMORY=n"),
    (["--kernel-image", "nosuch=examples/qemu-virt.dts"], "--kernel-image", "/chosen/linux/module@42000000"),
    (["--partial-dtb", "nosuch=examples/qemu-virt.dts"], "--partial-dtb", "static-vm"),
    (["--xen-image", "0xffffffffffffffff:0x1000"], "--xen-image", "2^48"),
    (["--xen-image", "1T:1T", "--arch", "arm32"], "--xen-image", "2^40"),
    (["--xen-image", "1T:1T", "--pa-bits", "40"], "--xen-image", "2^40"),
    (["--xen-image", "0x40200000:0"], "--xen-image", "size is zero"),
    (["--xen-image", "1T:1T"], "--xen-image", "at most 8 MiB"),
    (["--xen-image", "0x40200000:0x300000", "--xen-version", "4.17"], "--xen-image", "at most 2 MiB"),
    (["--fdt-address", "0xffffffffffffffff"], "--fdt-address", "2^48"),
    (["--gic-spis", "-1"], "--gic-spis", "0 to 988"),
    (["--gic-spis", "989"], "--gic-spis", "0 to 988"),
    (["--pa-bits", "999"], "--pa-bits", "32 to 52"),
    (["--pa-bits", "31"], "--pa-bits", "32 to 52"),
])
def test_wrong_option_values_exit_2(args: list[str], option: str, says: str) -> None:
    rest = [] if any(a in ("--xen-image", "--fdt-address") for a in args) else QEMU
    line = one_line(invoke("check", QEMU_VIRT, *rest, *args), option)
    assert says in line


@pytest.mark.parametrize("args", [
    ["--xen-version", "4.22.0"], ["--xen-version", "4.18.0"], ["--xen-version", "4.23-dev"],
    ["--kconfig", "DEBUG=y,STATIC_SHM=n"], ["--kconfig", "CONFIG_SCHED_NULL=y"],
    ["--gic-spis", "0"], ["--gic-spis", "988"], ["--pa-bits", "32"], ["--pa-bits", "52"],
    ["--kernel-image", "static-vm=examples/qemu-virt.dts"],
    ["--xen-version", "4.18", "--xen-image", "0x40200000:0x300000", "--fdt-address", "0x48000000"],
])
def test_accepted_option_values(args: list[str]) -> None:
    res = invoke("check", QEMU_VIRT, *QEMU, *args)
    assert res.exit_code in (0, 1), res.stderr


def test_help_lists_the_kconfig_keys() -> None:
    text = invoke("check", "--help").stdout
    for key in xenplan.kconfig_keys():
        assert key in text.replace("\n", " ").replace("  ", " ") or key in re.sub(r"\s+", "", text)


def test_every_kconfig_key_the_code_reads_is_modelled() -> None:
    from xenplan.checks.registry import rules

    read = set(re.findall(r'has\("([A-Z0-9_]+)"\)', "".join(p.read_text() for p in (ROOT / "xenplan").rglob("*.py"))))
    read |= {k for r in rules() for k in r.kconfig}
    assert read <= set(xenplan.kconfig_keys())


KCONFIG = """\
#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_CC_IS_GCC=y
CONFIG_GCC_VERSION=120200
CONFIG_ARM_64=y
CONFIG_STATIC_MEMORY=y
# CONFIG_STATIC_SHM is not set
CONFIG_LLC_COLORING=y
CONFIG_NR_CPUS=128
CONFIG_DEBUG=y
CONFIG_CMDLINE=""
"""


def test_kconfig_file(tmp_path: Path) -> None:
    conf = tmp_path / ".config"
    conf.write_text(KCONFIG)
    t = xenplan.build_target(kconfig_file=str(conf))
    assert t.has("STATIC_MEMORY") and not t.has("STATIC_SHM") and t.has("LLC_COLORING") and t.debug
    assert any("4 modelled option(s) read, 5 other(s) ignored" in n for n in t.notes)
    # The command line wins over the file.
    assert not xenplan.build_target(kconfig_file=str(conf), kconfig=["DEBUG=n"]).debug
    res = invoke("check", QEMU_VIRT, *QEMU, "--kconfig-file", conf, "--format", "json")
    assert res.exit_code in (0, 1)
    assert any("other(s) ignored" in n for n in json.loads(res.stdout)["notes"])


@pytest.mark.parametrize(("text", "says"), [
    ("CONFIG_DEBUG=maybe\n", "line 1"),
    ("this is not kconfig\n", "not a Kconfig line"),
])
def test_bad_kconfig_file(tmp_path: Path, text: str, says: str) -> None:
    conf = tmp_path / "bad.config"
    conf.write_text(text)
    assert says in one_line(invoke("check", QEMU_VIRT, *QEMU, "--kconfig-file", conf), "bad.config")


# ---------------------------------------------------------------- DTS edge cases


def test_twelve_thousand_siblings_fall_back_to_the_python_reader(tmp_path: Path) -> None:
    big = tmp_path / "siblings.dts"
    nodes = "".join(f"\tn{i} {{ v = <{i}>; }};\n" for i in range(12000))
    big.write_text(f"/dts-v1/;\n/ {{\n{nodes}}};\n")
    res = invoke("check", big, "--board", "qemu-virt", "--format", "json")
    assert res.exit_code in (0, 1), res.stderr
    notes = json.loads(res.stdout)["notes"]
    assert any("dtc's parser ran out of memory" in n for n in notes)


@pytest.mark.parametrize(("body", "line", "hint"), [
    ("\tcompatible = \u201cfoo\u201d;\n", 3, "curly quotes"),
    ("\tcompatible = \u2018foo\u2019;\n", 3, "curly quotes"),
    ("\ta = <1>\n\tb = <2>;\n", 4, "';' missing at the end of line 3"),
    ("\tn {\n\t\ta = <1>\n\t};\n", 5, "';' missing at the end of line 4"),
    ("\tn {\n\t\ta = <1>;\n\t}\n\tm { };\n", 6, "';' missing at the end of line 5"),
    ("\treg = <0x0 ...... 0x1000>;\n", 3, "ellipsis"),
    ("\treg = <0x0 \u2026>;\n", 3, "ellipsis"),
])
@pytest.mark.parametrize("route", ["dtc", "dtlib"])
def test_syntax_error_hints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route: str, body: str, line: int,
                            hint: str) -> None:
    if route == "dtlib":
        monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    src = tmp_path / "pasted.dts"
    src.write_text(f"/dts-v1/;\n/ {{\n{body}}};\n", encoding="utf-8")
    text = one_line(invoke("check", src, *QEMU), "pasted.dts", f"line {line}")
    assert hint in text


def test_plain_syntax_error_has_no_hint(tmp_path: Path) -> None:
    src = tmp_path / "plain.dts"
    src.write_text("/dts-v1/;\n/ {\n\ta = <1 ;\n};\n")
    assert "hint" not in one_line(invoke("check", src, *QEMU), "plain.dts")


BOMB = "/dts-v1/;\n#define A0 x\n" + "".join(f"#define A{i} A{i - 1} A{i - 1}\n" for i in range(1, 10)) + \
    "#define B0 A9 A9 A9 A9 A9 A9 A9 A9\n" + \
    "".join(f"#define B{i} B{i - 1} B{i - 1} B{i - 1} B{i - 1} B{i - 1} B{i - 1} B{i - 1} B{i - 1}\n"
            for i in range(1, 7)) + "/ { p = B6; };\n"


def test_cpp_expansion_bomb_stops_quickly(tmp_path: Path) -> None:
    src = tmp_path / "bomb.dts"
    src.write_text(BOMB)
    start = time.monotonic()
    line = one_line(invoke("check", src, *QEMU), "bomb.dts", "cpp")
    assert time.monotonic() - start < 5.5, line
    assert _processes_naming(str(src)) == [], "cpp's compiler (cc1) outlived the check"


def _processes_naming(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (cpp's driver runs cc1 as a child)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (proc / "stat").read_text().split(") ", 1)[1][:1]
        except (OSError, IndexError):
            continue
        if text in cmdline and state != "Z":
            found.append(cmdline)
    return found
