"""The command line end to end (click's CliRunner): the examples, the exit
statuses (docs/architecture.md), rule selection, output files and the rule commands.

Every ``examples/broken/*.dts`` states its expected verdict in its header
(``Expect 4.22: outcome=... stage=... domain=... message=...; clauses``);
those lines are parsed here and compared with ``check --format json``.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from xenplan import __version__
from xenplan.checks.registry import rules
from xenplan.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOOD = sorted(EXAMPLES.glob("*.dts"))
BROKEN = sorted((EXAMPLES / "broken").glob("*.dts"))
QEMU = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def as_json(res: Result) -> Any:
    return json.loads(res.stdout)


def one_error_line(res: Result, name: str) -> str:
    """Exit 2 with exactly one line on stderr that names the input, and no traceback."""
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("xenplan: error: "), lines[0]
    assert name in lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit)
    return lines[0]


def rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


# ---------------------------------------------------------------- examples, end to end


@pytest.mark.parametrize("path", GOOD + BROKEN, ids=rel)
def test_example_check_and_map(path: Path) -> None:
    text = invoke("check", rel(path), *QEMU)
    assert text.exit_code in (0, 1), text.output
    assert "verdict: " in text.stdout
    js = invoke("check", rel(path), *QEMU, "--format", "json")
    assert js.exit_code == text.exit_code
    doc = as_json(js)
    assert doc["schema"] == "xenplan/1"
    assert doc["input"] == rel(path)
    assert doc["outcome"] in ("boots", "panic", "crash", "hang")

    m = invoke("map", rel(path), *QEMU)
    assert m.exit_code == 0, m.output
    assert "host physical map" in m.stdout
    for d in doc["domains"]:
        assert d["name"] in m.stdout
    mj = invoke("map", rel(path), *QEMU, "--format", "json")
    assert mj.exit_code == 0
    assert as_json(mj) == doc  # DESIGN: map --format json emits the same object as check


@dataclass
class Expect:
    version: str
    outcome: str
    stage: str | None = None
    domain: str | None = None
    message: str | None = None
    has_failed_at: bool = False
    statuses: dict[str, str] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)
    findings: list[tuple[str, str]] = field(default_factory=list)


EXPECT = re.compile(r'Expect (\S+): outcome=(\w+)(?: stage=(\S+) domain=(\S+) message=(null|"[^"]*"))?(.*)$')


def parse_expect(line: str) -> Expect:
    m = EXPECT.search(line)
    assert m, line
    e = Expect(version=m.group(1), outcome=m.group(2))
    if m.group(3) is not None:
        e.has_failed_at = True
        e.stage = m.group(3)
        e.domain = None if m.group(4) == "-" else m.group(4)
        e.message = None if m.group(5) == "null" else m.group(5)[1:-1]
    for clause in filter(None, (c.strip() for c in m.group(6).split(";"))):
        if clause.startswith("dropped module"):
            e.dropped = [int(x, 16) for x in re.findall(r"0x[0-9a-fA-F]+", clause)]
        elif clause.startswith("finding"):
            ids, path = re.fullmatch(r"findings? (.+) on (\S+)", clause).groups()  # type: ignore[union-attr]
            e.findings += [(i.strip(), path) for i in ids.split(",")]
        else:
            pending: list[str] = []
            for tok in (t.strip() for t in clause.split(",")):
                name, _, status = tok.partition(" ")
                pending.append(name)
                if status:
                    assert status in ("constructed", "failed", "not-reached"), clause
                    e.statuses.update(dict.fromkeys(pending, status))
                    pending = []
            assert not pending, clause
    return e


def header(path: Path) -> str:
    return path.read_text().split("*/", 1)[0]


def header_options(path: Path) -> list[str]:
    """The command line the header's "Expected verdict (xenplan check ...)" assumes."""
    m = re.search(r"\(xenplan check \.\.\. (--xen-image \S+ --fdt-address [^)\s]+)\)", header(path))
    return m.group(1).split() if m else QEMU


def named_rules(path: Path) -> set[str]:
    m = re.search(r"^ \* Rule: (.*?)(?:^ \*\s*$)", header(path), re.M | re.S)
    assert m, f"{path.name}: no 'Rule:' paragraph"
    return set(re.findall(r"\b[A-Z]+-\d{3}\b", m.group(1)))


BROKEN_CASES = [(p, parse_expect(line)) for p in BROKEN
                for line in header(p).splitlines() if "Expect " in line and "outcome=" in line]


def test_every_broken_example_states_a_verdict() -> None:
    assert {p for p, _ in BROKEN_CASES} == set(BROKEN)


@pytest.mark.parametrize(("path", "exp"), BROKEN_CASES, ids=[f"{p.stem}-{e.version}" for p, e in BROKEN_CASES])
def test_broken_example_verdict(path: Path, exp: Expect) -> None:
    res = invoke("check", rel(path), *header_options(path), "--xen-version", exp.version, "--format", "json")
    doc = as_json(res)
    assert doc["outcome"] == exp.outcome
    if exp.has_failed_at:
        assert doc["failed_at"] is not None
        assert doc["failed_at"]["stage"] == exp.stage
        assert doc["failed_at"]["domain"] == exp.domain
        assert doc["failed_at"]["message"] == exp.message
    elif exp.outcome == "boots":
        assert doc["failed_at"] is None
    status = {d["name"]: d["status"] for d in doc["domains"]}
    for name, want in exp.statuses.items():
        assert status.get(name) == want, (name, status)
    assert sorted(int(m["start"], 16) for m in doc["dropped_modules"]) == sorted(exp.dropped)
    fired = {(f["rule"], f["path"]) for f in doc["findings"]}
    for want in exp.findings:
        assert want in fired


@pytest.mark.parametrize("path", BROKEN, ids=rel)
def test_broken_example_exits_1_with_its_rule(path: Path) -> None:
    exp = next(e for p, e in BROKEN_CASES if p == path and e.version == "4.22")
    opts = header_options(path)
    res = invoke("check", rel(path), *opts, "--format", "json")
    doc = as_json(res)
    fired = {f["rule"] for f in doc["findings"]}
    named = named_rules(path)
    assert fired & named, f"none of {sorted(named)} among {sorted(fired)}"
    if doc["failed_at"] is not None:
        assert doc["failed_at"]["rule"] in named
    if exp.outcome == "boots":
        # the mistake is a run-time hazard (a warning): exit 1 only when warnings count
        assert res.exit_code == 0
        assert invoke("check", rel(path), *opts, "--fail-on", "warning").exit_code == 1
    else:
        assert res.exit_code == 1


def test_good_boards_boot_on_their_own_command_line() -> None:
    for path in GOOD:
        m = re.search(r"xenplan check \S+ (--xen-image \S+ --fdt-address \S+)", header(path))
        assert m, path.name
        doc = as_json(invoke("check", rel(path), *m.group(1).split(), "--format", "json"))
        assert doc["outcome"] == "boots", path.name
        assert all(d["status"] == "constructed" for d in doc["domains"]), path.name
        assert doc["dropped_modules"] == [], path.name


# ---------------------------------------------------------------- exit statuses


QEMU_VIRT = "examples/qemu-virt.dts"
MISMATCH = "examples/broken/memory-mismatch.dts"


def test_exit_0_with_only_warnings() -> None:
    doc = as_json(invoke("check", QEMU_VIRT, *QEMU, "--format", "json"))
    assert doc["findings"] and {f["severity"] for f in doc["findings"]} <= {"warning", "info"}
    assert invoke("check", QEMU_VIRT, *QEMU).exit_code == 0
    assert invoke("check", QEMU_VIRT, *QEMU, "--fail-on", "error").exit_code == 0
    assert invoke("check", QEMU_VIRT, *QEMU, "--fail-on", "warning").exit_code == 1
    assert invoke("check", QEMU_VIRT, *QEMU, "--fail-on", "info").exit_code == 1


def test_exit_1_on_errors() -> None:
    assert invoke("check", MISMATCH, *QEMU).exit_code == 1


@pytest.fixture
def truncated_dtb(tmp_path: Path, dtc_compile: Callable[[Path | str], bytes]) -> Path:
    blob = dtc_compile(ROOT / "tests" / "report" / "data" / "board.dts")
    p = tmp_path / "cut.dtb"
    p.write_bytes(blob[: len(blob) // 2])
    return p


BAD_INPUTS: dict[str, Callable[[Path], Path]] = {
    "dts-syntax": lambda d: _write(d / "syntax.dts", "/dts-v1/;\n/ { foo = <1 ;\n};\n"),
    "missing": lambda d: d / "missing.dts",
    "directory": lambda d: _mkdir(d / "boards.d"),
    "overlay-without-base": lambda d: _write(d / "lonely.dtso", "/dts-v1/;\n/plugin/;\n&{/} { x = <1>; };\n"),
    "empty": lambda d: _write(d / "empty.dtb", ""),
    "garbage": lambda d: _write(d / "garbage.dtb", "\x00\x01not a device tree at all" * 10),
}


def _write(p: Path, text: str) -> Path:
    p.write_text(text)
    return p


def _mkdir(p: Path) -> Path:
    p.mkdir()
    return p


@pytest.mark.parametrize("command", ["check", "map"])
@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line(tmp_path: Path, kind: str, command: str) -> None:
    path = BAD_INPUTS[kind](tmp_path)
    one_error_line(invoke(command, path, *QEMU), path.name)


@pytest.mark.parametrize("command", ["check", "map"])
def test_truncated_dtb_exits_2_with_one_line(truncated_dtb: Path, command: str) -> None:
    line = one_error_line(invoke(command, truncated_dtb, *QEMU), truncated_dtb.name)
    assert "truncated" in line


def test_bad_input_among_good_ones(tmp_path: Path) -> None:
    missing = tmp_path / "gone.dts"
    one_error_line(invoke("check", QEMU_VIRT, missing, *QEMU, "--format", "json"), missing.name)


@pytest.mark.parametrize(("args", "option"), [
    (["--xen-version", "5.9"], "--xen-version"),
    (["--xen-version", "four"], "--xen-version"),
    (["--xen-image", "0x40200000"], "--xen-image"),
    (["--xen-image", "zz:0x1000"], "--xen-image"),
    (["--fdt-address", "nowhere"], "--fdt-address"),
    (["--kconfig", "DEBUG=maybe"], "--kconfig"),
    (["--format", "yaml"], "--format"),
    (["--arch", "riscv"], "--arch"),
])
def test_usage_error_exits_2(args: list[str], option: str) -> None:
    res = invoke("check", QEMU_VIRT, *args)
    assert res.exit_code == 2, res.output
    assert res.stderr.startswith("xenplan: error:") and option in res.stderr
    assert "Traceback" not in res.output
    assert res.stdout == ""


@pytest.mark.parametrize("args", [["--xen-image", "0x40200000"], ["--fdt-address", "nowhere"]])
def test_usage_error_names_the_option(args: list[str]) -> None:
    res = invoke("check", QEMU_VIRT, *args)
    assert args[0] in res.stderr


def test_usage_error_is_one_line() -> None:
    res = invoke("check", QEMU_VIRT, "--xen-version", "5.9")
    assert len(res.stderr.splitlines()) == 1


def test_no_input_is_a_usage_error() -> None:
    assert invoke("check").exit_code == 2


def test_internal_error_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    import xenplan.boot

    def boom(system: object) -> None:
        raise RuntimeError("frame table on fire\nsecond line")

    monkeypatch.setattr(xenplan.boot, "simulate", boom)
    res = invoke("check", QEMU_VIRT, *QEMU)
    assert res.exit_code == 3
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("xenplan: internal error: RuntimeError: frame table on fire")
    assert "--debug" in lines[0]
    assert "Traceback" not in res.output

    res = invoke("map", QEMU_VIRT, *QEMU)
    assert res.exit_code == 3

    res = invoke("check", QEMU_VIRT, *QEMU, "--debug")
    assert isinstance(res.exception, RuntimeError)


# ---------------------------------------------------------------- selection


def rules_of(*args: str) -> list[str]:
    res = invoke("check", QEMU_VIRT, *QEMU, "--format", "json", *args)
    return sorted({f["rule"] for f in as_json(res)["findings"]})


def test_qemu_virt_has_several_rt_findings() -> None:
    assert {"RT-001", "RT-002", "RT-003"} <= set(rules_of())


@pytest.mark.parametrize("key", ["RT-002", "rt-002", "static-domain-cannot-grow"])
def test_select_by_id_and_slug(key: str) -> None:
    assert rules_of("--select", key) == ["RT-002"]


def test_select_by_prefix() -> None:
    every = rules_of()
    assert rules_of("--select", "RT") == [r for r in every if r.startswith("RT-")]
    assert rules_of("--select", "RT-") == [r for r in every if r.startswith("RT-")]
    assert rules_of("--select", "SMEM") == []


def test_select_several() -> None:
    assert rules_of("--select", "RT-002,RT-003") == ["RT-002", "RT-003"]
    assert rules_of("--select", "RT-002", "--select", "RT-003") == ["RT-002", "RT-003"]


@pytest.mark.parametrize("key", ["RT-002", "static-domain-cannot-grow"])
def test_ignore_by_id_and_slug(key: str) -> None:
    assert rules_of("--ignore", key) == [r for r in rules_of() if r != "RT-002"]


def test_ignore_by_prefix_and_select_with_ignore() -> None:
    assert not any(r.startswith("RT-") for r in rules_of("--ignore", "RT"))
    assert rules_of("--select", "RT", "--ignore", "RT-001") == [r for r in rules_of("--select", "RT")
                                                                 if r != "RT-001"]


def test_selection_never_changes_the_verdict_and_sets_the_exit_status() -> None:
    full = invoke("check", MISMATCH, *QEMU, "--format", "json")
    cut = invoke("check", MISMATCH, *QEMU, "--format", "json", "--ignore", "PAGE-003")
    assert full.exit_code == 1 and cut.exit_code == 0
    a, b = as_json(full), as_json(cut)
    assert "PAGE-003" not in {f["rule"] for f in b["findings"]}
    for key in ("outcome", "failed_at", "domains", "host_map", "dropped_modules"):
        assert a[key] == b[key]


# ---------------------------------------------------------------- formats and output


def test_json_with_two_inputs_is_an_array() -> None:
    res = invoke("check", QEMU_VIRT, MISMATCH, *QEMU, "--format", "json")
    docs = as_json(res)
    assert isinstance(docs, list)
    assert [d["input"] for d in docs] == [QEMU_VIRT, MISMATCH]
    assert res.exit_code == 1
    assert isinstance(as_json(invoke("check", QEMU_VIRT, *QEMU, "--format", "json")), dict)


def test_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    res = invoke("check", MISMATCH, *QEMU, "--format", "json", "-o", out)
    assert res.exit_code == 1
    assert res.stdout == ""
    assert json.loads(out.read_text())["outcome"] == "panic"


def test_output_file_text_has_no_escape_codes(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    assert invoke("check", MISMATCH, *QEMU, "--output", out).exit_code == 1
    body = out.read_text()
    assert "verdict: panic" in body and "\x1b[" not in body


@pytest.mark.parametrize("fmt", ["sarif", "github", "junit"])
def test_ci_formats_end_to_end(fmt: str, tmp_path: Path) -> None:
    res = invoke("check", MISMATCH, QEMU_VIRT, *QEMU, "--format", fmt)
    assert res.exit_code == 1
    if fmt == "sarif":
        run = as_json(res)["runs"][0]
        assert {r["ruleId"] for r in run["results"]} >= {"PAGE-003", "RT-002"}
    elif fmt == "github":
        assert any(line.startswith("::error file=examples/broken/memory-mismatch.dts,line=")
                   for line in res.stdout.splitlines())
    else:
        import xml.etree.ElementTree as ET

        root = ET.fromstring(res.stdout.encode())
        assert [s.get("name") for s in root.findall("testsuite")] == [MISMATCH, QEMU_VIRT]


def test_map_svg_to_file(tmp_path: Path) -> None:
    out = tmp_path / "map.svg"
    res = invoke("map", QEMU_VIRT, *QEMU, "--format", "svg", "-o", out)
    assert res.exit_code == 0 and res.stdout == ""
    assert out.read_text().lstrip().startswith("<svg")


def test_map_one_domain() -> None:
    res = invoke("map", QEMU_VIRT, *QEMU, "--domain", "static-vm")
    assert res.exit_code == 0
    assert "static-vm: guest physical map" in res.stdout
    assert "linux: guest physical map" not in res.stdout


def test_map_unknown_domain_exits_2() -> None:
    res = invoke("map", QEMU_VIRT, *QEMU, "--domain", "domU9")
    assert res.exit_code == 2
    assert "domU9" in res.stderr
    assert "Traceback" not in res.output


# ---------------------------------------------------------------- version, help, rules


def test_version() -> None:
    res = invoke("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"xenplan, version {__version__}"


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["check", "--help"], ["map", "--help"]])
def test_help_shows_examples(args: list[str]) -> None:
    res = invoke(*args)
    assert res.exit_code == 0
    assert "Examples:" in res.stdout
    assert "xenplan check board.dts" in res.stdout


def test_rules_json_lists_every_rule() -> None:
    res = invoke("rules", "--format", "json")
    assert res.exit_code == 0
    listed = as_json(res)
    reg = list(rules())
    assert [r["id"] for r in listed] == [r.id for r in reg]
    assert len({r["id"] for r in listed}) == len(listed)
    for item, r in zip(listed, reg, strict=False):
        assert {"id", "slug", "severity", "since", "until", "xen_src", "xen_message", "docs"} <= set(item)
        assert (item["slug"], item["severity"], item["since"], item["until"], item["xen_src"],
                item["xen_message"], item["docs"]) == (r.slug, r.severity(), r.since, r.until, r.xen_src,
                                                       r.xen_message, r.docs)
        assert item["severity"] in ("error", "warning", "info")


def test_rules_text() -> None:
    res = invoke("rules")
    assert res.exit_code == 0
    for r in rules():
        assert r.id in res.stdout


def flat(s: str) -> str:
    return " ".join(s.split())


@pytest.mark.parametrize("key", ["SMEM-013", "smem-013", "static-mem-size-mismatch"])
def test_rule_explains_itself(key: str) -> None:
    res = invoke("rule", key)
    assert res.exit_code == 0
    out = flat(res.stdout)
    r = next(r for r in rules() if r.id == "SMEM-013")
    assert "SMEM-013" in out and r.slug in out
    assert r.xen_message and flat(r.xen_message) in out
    for heading in ("What Xen does", "Why it matters", "Example", "Fix"):
        assert heading in out


def test_unknown_rule_exits_2() -> None:
    res = invoke("rule", "NOPE")
    assert res.exit_code == 2
    assert res.stderr.splitlines() == ["xenplan: error: no rule 'NOPE' (see `xenplan rules`)"]


def test_module_entry_point() -> None:
    import sys

    done = subprocess.run([sys.executable, "-m", "xenplan", "--version"], check=False, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0
    assert __version__ in done.stdout


def test_kernel_image_that_xen_cannot_load(tmp_path: Path) -> None:
    bad = tmp_path / "vmlinux.txt"
    bad.write_bytes(b"this is not a kernel image" * 10)
    res = invoke("check", QEMU_VIRT, "--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000",
                 "--kernel-image", f"linux={bad}", "--format", "json")
    assert res.exit_code == 1
    doc = json.loads(res.stdout)
    assert doc["failed_at"]["message"] == "Could not set up domain linux (rc = -22)"
