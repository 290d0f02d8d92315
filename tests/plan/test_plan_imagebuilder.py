"""A plan written as an ImageBuilder config, read back by xenplan's ImageBuilder reader (which follows
``uboot-script-gen`` line for line): the modules land where the plan put them, every domain gets the
banks the plan chose, and Xen boots it with no config lint."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from xenplan.cli import main
from xenplan.dt.imagebuilder import load_imagebuilder
from xenplan.ibrun import assume_sizes

ROOT = Path(__file__).resolve().parent.parent.parent
SPEC = ROOT / "examples" / "plan-qemu.toml"
BOARD = ROOT / "xenplan" / "data" / "boards" / "qemu-virt.dts"
SIZES = {"XEN": "0x154000", "DOMU_KERNEL[0]": "22M", "DOMU_RAMDISK[0]": "11M", "DOMU_KERNEL[1]": "22M",
         "DOMU_KERNEL[2]": "432K"}


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


@pytest.fixture(scope="module")
def plan_and_readback(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, str]:  # type: ignore[type-arg]
    d = tmp_path_factory.mktemp("ib")
    code, out = _run("plan", "--spec", str(SPEC), "--board", "qemu-virt", "--format", "json")
    assert code == 0, out
    plan = json.loads(out)
    code, out = _run("plan", "--spec", str(SPEC), "--board", "qemu-virt", "--format", "imagebuilder",
                     "-o", str(d / "config"))
    assert code == 0, out
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(d / "board.dtb"), str(BOARD)], check=True)
    sizes = [a for k, v in SIZES.items() for a in ("--assume-size", f"{k}={v}")]
    code, out = _run("check", "--imagebuilder", str(d / "config"), *sizes, "--format", "json")
    assert code in (0, 1), out
    return plan, json.loads(out), (d / "config").read_text()


def test_the_config_boots_without_a_lint(plan_and_readback: tuple[dict, dict, str]) -> None:  # type: ignore[type-arg]
    _, check, _ = plan_and_readback
    assert check["outcome"] == "boots"
    assert [f["rule"] for f in check["findings"] if f["rule"].startswith("IB-") or f["severity"] == "error"] == []


def test_banks_and_modules_are_the_plans(plan_and_readback: tuple[dict, dict, str]) -> None:  # type: ignore[type-arg]
    plan, check, _ = plan_and_readback
    built = {d["name"]: d for d in check["domains"]}
    for i, dom in enumerate(plan["domains"]):
        got = built[f"domU{i}"]
        want = sorted((int(b["host"], 16), int(b["size"], 16)) for b in dom["banks"])
        assert sorted((int(b["host"], 16), int(b["size"], 16)) for b in got["banks"]) == want, dom["name"]



def test_modules_land_where_the_plan_put_them(plan_and_readback: tuple[dict, dict, str],  # type: ignore[type-arg]
                                              tmp_path: Path) -> None:
    plan, _, config = plan_and_readback
    (tmp_path / "config").write_text(config)
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(tmp_path / "board.dtb"), str(BOARD)],
                   check=True)
    boot = load_imagebuilder(str(tmp_path / "config"), None, assume_sizes([f"{k}={v}" for k, v in SIZES.items()]),
                             None)
    for i, dom in enumerate(plan["domains"]):
        node = boot.tree.find(f"/chosen/domU{i}")
        assert node is not None
        loaded = {}
        for child in node.children:
            reg = child.prop("reg")
            kind = "kernel" if child.is_compatible("multiboot,kernel") else "ramdisk" if child.is_compatible(
                "multiboot,ramdisk") else None
            if reg is not None and kind is not None:
                cells = reg.u32s()
                loaded[kind] = (cells[0] << 32 | cells[1], cells[2] << 32 | cells[3])
        for m in dom["modules"]:
            assert loaded[m["kind"]][0] == int(m["start"], 16), (dom["name"], m["kind"])


def test_memory_end_keeps_imagebuilders_free_step(plan_and_readback: tuple[dict, dict, str]) -> None:  # type: ignore[type-arg]
    """uboot-script-gen refuses a window whose end is not 2 MiB past the last file ("not enough memory")."""
    _, check, config = plan_and_readback
    end = int(next(line for line in config.splitlines() if line.startswith("MEMORY_END=")).split('"')[1], 16)
    dtb = next(n for n in check["notes"] if "the DTB at" in n)
    dtb_at = int(dtb.split("the DTB at ")[1].split()[0], 16)
    assert end == dtb_at + (4 << 20)
