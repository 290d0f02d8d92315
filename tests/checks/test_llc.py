"""Rule tests for LLC (LLC cache colouring): each fires fixture yields exactly its rule at the
expected node, and the clean fixture (the fix applied) is silent for that rule."""

from __future__ import annotations

from pathlib import Path

from rulecases import rule_tests

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "llc"


CASES = [
    ("LLC-001", "/chosen/domU1"),
    ("LLC-002", "/chosen/domU1"),
    ("LLC-003", "/chosen/domU1"),
    ("LLC-004", "/chosen/domU2"),
]


test_fires, test_clean = rule_tests("llc", CASES)


def test_llc003_refuses_a_colour_the_cache_does_not_have(tmp_path: Path) -> None:
    """With 32 colours known (llc-size=2M llc-nr-ways=16), colour 32 or a 33rd colour makes
    ``domain_set_llc_colors_from_str()`` fail: the LLC-003 panic (measured: colour-beyond)."""
    import xenplan

    target = xenplan.build_target(xen_version="4.22", xen_image="0x40200000:0x154000", fdt_address="0x48000000",
                                  kconfig=["LLC_COLORING=y"])
    clean = (FIXTURES / "LLC-004-clean.dts").read_text()
    for colours, rule in (("30-33", "LLC-003"), ("0-32", "LLC-003"), ("28-31", None)):
        tree = tmp_path / f"c{colours}.dts"
        tree.write_text(clean.replace('"2-5"', f'"{colours}"'))
        failed = xenplan.analyse(str(tree), target).result.failed_at
        assert (failed.rule if failed is not None else None) == rule
