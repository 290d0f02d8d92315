"""``--imagebuilder`` and ``--uboot-script`` on the command line, and the IB lints (each fires and stays silent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from test_imagebuilder_equivalence import kernel, ramdisk

from xenplan.cli import main
from xenplan.dt.imagebuilder import load_imagebuilder, load_uboot_script

DATA = Path(__file__).resolve().parent / "data"
BOARD = DATA / "imagebuilder" / "ibread-dom0-three-domus" / "virt.dtb"
PASSTHROUGH = DATA / "imagebuilder" / "ibread-dom0-three-domus" / "rtc-passthrough.dtb"

BASE = """MEMORY_START="0x40000000"
MEMORY_END="0x50000000"
DEVICE_TREE="virt.dtb"
XEN="xen"
XEN_CMD="console=dtuart dom0_mem=512M"
DOM0_KERNEL="Image"
DOM0_RAMDISK="rootfs.cpio"
NUM_DOMUS=1
DOMU_KERNEL[0]="Image"
DOMU_MEM[0]=256
"""


def invoke(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=True)


def case(tmp: Path, extra: str = "", base: str = BASE, files: bool = True) -> Path:
    (tmp / "virt.dtb").write_bytes(BOARD.read_bytes())
    (tmp / "eth.dtb").write_bytes(PASSTHROUGH.read_bytes())
    if files:
        (tmp / "Image").write_bytes(kernel(9441284))
        (tmp / "xen").write_bytes(kernel(1114128))
        (tmp / "rootfs.cpio").write_bytes(ramdisk(3150000))
    cfg = tmp / "config"
    cfg.write_text(base + extra)
    return cfg


def rules(cfg: Path, *args: str) -> dict[str, list[dict[str, object]]]:
    r = invoke("check", "--imagebuilder", cfg, "--format", "json", *args)
    assert r.exit_code in (0, 1), r.output
    out: dict[str, list[dict[str, object]]] = {}
    for f in json.loads(r.stdout)["findings"]:
        out.setdefault(f["rule"], []).append(f)
    return out


def test_check_and_map_read_a_config(tmp_path: Path) -> None:
    cfg = case(tmp_path)
    r = invoke("check", "--imagebuilder", cfg)
    assert r.exit_code == 0, r.output
    assert "boots" in r.output and "U-Boot boots Xen at 0x41c00000" in " ".join(r.output.split())
    m = invoke("map", "--imagebuilder", cfg, "--format", "json")
    assert m.exit_code == 0, m.output
    assert "domU0" in m.output


def test_the_dialect_option_picks_upstreams_script(tmp_path: Path) -> None:
    cfg = case(tmp_path)
    xilinx = load_imagebuilder(str(cfg)).tree.find("/chosen/domU0")
    upstream = load_imagebuilder(str(cfg), dialect="upstream").tree.find("/chosen/domU0")
    assert xilinx is not None and upstream is not None
    assert xilinx.prop("vpl011").value == b""  # type: ignore[union-attr]
    assert upstream.prop("vpl011").value == (1).to_bytes(4, "big")  # type: ignore[union-attr]
    r = invoke("check", "--imagebuilder", cfg, "--imagebuilder-dialect", "upstream")
    assert r.exit_code == 0 and "upstream ImageBuilder" in r.output


def test_a_positional_input_replaces_device_tree(tmp_path: Path) -> None:
    cfg = case(tmp_path)
    (tmp_path / "virt.dtb").unlink()
    assert invoke("check", "--imagebuilder", cfg).exit_code == 2
    assert invoke("check", "--imagebuilder", cfg, BOARD).exit_code == 0


def test_files_resolve_against_imagebuilder_dir(tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    case(files)
    cfg = tmp_path / "config"
    cfg.write_text(BASE)
    assert invoke("check", "--imagebuilder", cfg).exit_code == 2
    r = invoke("check", "--imagebuilder", cfg, "--imagebuilder-dir", files)
    assert r.exit_code == 0 and "no such file" not in r.output


def test_a_missing_binary_is_a_note_naming_the_option(tmp_path: Path) -> None:
    cfg = case(tmp_path)
    (tmp_path / "Image").unlink()
    r = invoke("check", "--imagebuilder", cfg)
    assert r.exit_code in (0, 1), r.output
    assert "--assume-size DOM0_KERNEL=SIZE" in " ".join(r.output.split())
    assert "--assume-size DOMU_KERNEL[0]=SIZE" in " ".join(r.output.split())
    bi = load_imagebuilder(str(cfg), assume={"DOM0_KERNEL": 20 << 20, "DOMU_KERNEL[0]": 9441284})
    assert not any("no such file" in n for n in bi.notes)
    assert [hex(ld.addr) for ld in bi.replay.loads][:2] == ["0x40400000", "0x41800000"]
    r = invoke("check", "--imagebuilder", cfg, "--assume-size", "DOM0_KERNEL=20M", "--assume-size",
               "DOMU_KERNEL[0]=0x901004")
    assert r.exit_code == 0 and "--assume-size" not in r.output


def test_bad_inputs_are_one_line_exit_2(tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    cfg = case(tmp_path, f'DOMU_CMD[0]="$(touch {flag})"\n')
    r = invoke("check", "--imagebuilder", cfg)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "line 11" in r.stderr
    assert not flag.exists()
    script = tmp_path / "boot.source"
    script.write_text("fdt addr 0x40000000\nsource 0x40200000\n")
    r = invoke("check", "--uboot-script", script, BOARD)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "line 2" in r.stderr
    assert invoke("check", "--assume-size", "X=1").exit_code == 2
    assert invoke("check", "--imagebuilder", cfg, "--uboot-script", script).exit_code == 2
    assert invoke("check", "--imagebuilder", cfg, "--assume-size", "nonsense").exit_code == 2


def test_findings_point_at_config_lines(tmp_path: Path) -> None:
    cfg = case(tmp_path, 'DOMU_STATIC_MEM[0]="0x50000000 0x10000000"\n')
    found = rules(cfg)
    rt = found["RT-005"][0]
    assert rt["source"]["file"] == str(cfg) and rt["source"]["line"] == 11  # type: ignore[index]


def test_the_script_replay_matches_the_config(tmp_path: Path) -> None:
    cfg = case(tmp_path)
    bi = load_imagebuilder(str(cfg))
    assert bi.generated is not None
    (tmp_path / "boot.source").write_text("\n".join(t for t, _ in bi.generated.lines) + "\n")
    r = invoke("check", "--uboot-script", tmp_path / "boot.source", "--format", "json")
    assert r.exit_code == 0, r.output
    again = load_uboot_script(str(tmp_path / "boot.source"))
    assert [(ld.addr, ld.size) for ld in again.replay.loads] == [(ld.addr, ld.size) for ld in bi.replay.loads]


LINTS: list[tuple[str, str, str]] = [
    ("IB-001", 'DOMU_MEM[1]=128\n', ""),
    ("IB-002", 'DOMU_STATIC_MEM[0]="0x60000000 0x8000000"\n', 'DOMU_STATIC_MEM[0]="0x60000000 0x10000000"\n'),
    ("IB-003", 'DOMU_STATIC_MEM[0]="0x60000000 256"\nDOMU_MEM[0]=0\n',
     'DOMU_STATIC_MEM[0]="0x60000000 0x10000000"\n'),
    ("IB-004", 'DOMU_COLORS[0]="0-3"\n', ""),
    ("IB-005", 'DOMU_PASSTHROUGH_PATHS[0]="/axi/ethernet@ff0e0000"\nDOMU_PASSTHROUGH_DTB[0]="eth.dtb"\n',
     'DOMU_PASSTHROUGH_PATHS[0]="/pl031@9010000"\nDOMU_PASSTHROUGH_DTB[0]="eth.dtb"\n'),
    ("IB-006", 'DOMU_STATIC_MEM[0]="0x41000000 0x1000000"\n', 'DOMU_STATIC_MEM[0]="0x60000000 0x10000000"\n'),
    ("IB-010", 'XEN_STATIC_HEAP="0x48000000 0x8000000"\n', 'XEN_STATIC_HEAP="0x60000000 0x8000000"\n'),
    ("IB-007", 'MEMORY_END="0x41000000"\n', ""),
    ("IB-008", 'NUM_DOMUS=2\nDOMU_KERNEL[1]="Image"\nDOMU_MEM[0]=128\n', 'NUM_DOMUS=2\nDOMU_KERNEL[1]="Image"\n'
     'DOMU_MEM[1]=128\n'),
]


@pytest.mark.parametrize(("rule", "fires", "silent"), LINTS, ids=[x[0] for x in LINTS])
def test_lint_fires_and_stays_silent(tmp_path: Path, rule: str, fires: str, silent: str) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    hit = rules(case(a, fires))
    assert rule in hit
    assert all(f["source"]["file"] == str(a / "config") and f["source"]["line"] for f in hit[rule])  # type: ignore[index]
    assert rule not in rules(case(b, silent))


def test_ib_001_counts_cpupools_by_their_own_number(tmp_path: Path) -> None:
    hit = rules(case(tmp_path, 'NUM_CPUPOOLS=1\nCPUPOOL[0]="cpu@1 null"\nCPUPOOL[1]="cpu@0 credit2"\n'))
    assert [str(f["message"]).split(" is set")[0] for f in hit["IB-001"]] == ["CPUPOOL[1]"]


def test_ib_006_names_a_file_loaded_into_a_static_region(tmp_path: Path) -> None:
    hit = rules(case(tmp_path, 'DOMU_STATIC_MEM[0]="0x41000000 0x1000000"\n'))
    assert "holds files U-Boot loads there" in str(hit["IB-006"][0]["message"])


def test_ib_009_loads_over_each_other(tmp_path: Path) -> None:
    case(tmp_path)
    (tmp_path / "boot.source").write_text(
        "tftpb 0x40400000 Image\ntftpb 0x40800000 rootfs.cpio\ntftpb 0x42000000 virt.dtb\nfdt addr 0x42000000\n"
        "fdt mknod /chosen dom0\nfdt set /chosen/dom0 compatible \"multiboot,kernel\" \"multiboot,module\"\n"
        "fdt set /chosen/dom0 reg <0 0x40400000 0 0x901004>\nsetenv fdt_high 0xffffffffffffffff\n"
        "tftpb 0x41000000 xen\nbooti 0x41000000 - 0x42000000\n")
    r = invoke("check", "--uboot-script", tmp_path / "boot.source", "--format", "json")
    found = {f["rule"]: f for f in json.loads(r.stdout)["findings"]}
    assert found["IB-009"]["source"]["line"] == 2
    (tmp_path / "boot.source").write_text((tmp_path / "boot.source").read_text().replace("0x40800000", "0x41200000"))
    r = invoke("check", "--uboot-script", tmp_path / "boot.source", "--format", "json")
    assert "IB-009" not in {f["rule"] for f in json.loads(r.stdout)["findings"]}
