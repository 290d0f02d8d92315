"""LLC colouring against the real Xen: verdicts and the coloured heap, colour by colour.

``tests/data/llc/<case>@<version>.log`` is the console of a Xen release built
with ``CONFIG_LLC_COLORING`` booting ``<case>.dts`` on QEMU ``virt`` with
1 GiB; ``<case>@<version>.json`` is what its tracing lines said about the
coloured heap (``tests/data/llc/README.md``). The log is the judge of the
verdict (a panic and its message, or a finished dom0less boot); the JSON of
the pages: every colour's free pages once ``end_boot_allocator()`` has
filled the coloured heap, and again after the last domain Xen built.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
from pathlib import Path
from typing import Any

import pytest

import xenplan
from xenplan.boot import llc
from xenplan.boot.replay import colour

DATA = Path(__file__).resolve().parent.parent / "data" / "llc"
LOGS = sorted(DATA.glob("*@*.log"))


def _verdict(text: str) -> tuple[str, str | None]:
    lines = [line.removeprefix("(XEN) ").rstrip() for line in text.splitlines()]
    panic = next((lines[i + 1] for i, line in enumerate(lines[:-1]) if re.fullmatch(r"Panic on CPU \d+:", line)),
                 None)
    if panic is not None:
        return "panic", panic
    assert any(re.fullmatch(r"Freed \d+kB init memory\.", x) for x in lines), "neither a panic nor a finished boot"
    return "boots", None


def _analyse(log: Path, record: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[list[int]]]:
    """xenplan on the case with the recorded placement; the coloured heap's free-page
    vectors it built (the first is the heap as set up, the list is then lowered in place)."""
    seen: list[list[int]] = []
    counts = colour.colour_counts

    def keep(ranges: Any, n: int) -> list[int]:
        out = counts(ranges, n)
        seen.extend([list(out), out])
        return out

    monkeypatch.setattr(llc, "colour_counts", keep)
    case = log.name.split("@")[0]
    xen, fdt = record["xen_image"], record["fdt"]
    target = xenplan.build_target(xen_version=record["version"], xen_image=f"{xen[0]:#x}:{xen[1]:#x}",
                                  fdt_address=f"{fdt[0]:#x}:{fdt[1]:#x}", kconfig=["LLC_COLORING=y"])
    return xenplan.analyse(str(DATA / f"{case}.dts"), target), seen


@pytest.mark.parametrize("log", LOGS, ids=[p.stem for p in LOGS])
def test_verdict_and_coloured_heap_match_the_real_xen(log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record = json.loads(log.with_suffix(".json").read_text()) if log.with_suffix(".json").exists() else None
    outcome, panic = _verdict(log.read_text())
    if record is None:  # no heap tracing in the log: the verdict only
        m = re.search(r"MODULE\[0\]: (\w+) - (\w+) Xen", log.read_text())
        f = re.search(r"MODULE\[1\]: (\w+) - (\w+) Device Tree", log.read_text())
        assert m is not None and f is not None
        version = re.search(r"Xen version (\d+\.\d+\.\d+)", log.read_text())
        assert version is not None
        xs, xe, fs, fe = (int(x, 16) for x in (*m.groups(), *f.groups()))
        record = {"version": version.group(1), "xen_image": [xs, xe + 1 - xs], "fdt": [fs, fe + 1 - fs]}
    analysis, seen = _analyse(log, record, monkeypatch)
    result = analysis.result
    assert result.outcome == outcome
    if panic is not None:
        assert result.failed_at is not None and result.failed_at.message == panic
        rules = {"Failed to allocate requested domain memory": "LLC-004", "Could not set up domain": "LLC-004",
                 "LLC coloring and static memory": "LLC-001", "Error initializing LLC coloring": "LLC-003"}
        assert result.failed_at.rule == next(r for k, r in rules.items() if panic.startswith(k))
    if "free" in record:
        assert seen, "the coloured heap was not replayed"
        assert seen[0] == record["free"]
        assert seen[1] == record["free_after"]
        window = [n for n in result.notes if "Xen's image moves to" in n]
        start, end = record["xen_window"]
        assert window and f"[{start:#x}, {end:#x})" in window[0]


def test_the_recordings_cover_a_fit_and_a_page_short_of_it() -> None:
    """Each capacity edge is recorded on both sides: the same tree with one page more fails."""
    names = {p.name.split("@")[0] for p in LOGS}
    for fit in ("edge-fit", "shared-fit", "size-ways-fit"):
        assert fit in names and fit.replace("-fit", "-short") in names


PAGES = sorted((DATA / "pages").glob("*.json.gz"))


@pytest.mark.parametrize("trace", PAGES, ids=[p.name.removesuffix(".json.gz") for p in PAGES])
def test_every_coloured_page_is_the_one_xen_handed_out(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Host pages, page by page: the domains' requests as the replay makes them (colour
    list and page count, in order), issued one page at a time with Xen's pick
    (the first colour of the list with the most free pages) and each colour's
    list order (``nth_page``), give the very pages the traced Xen handed out."""
    recorded = json.loads(gzip.decompress(trace.read_bytes()))
    mfns = list(itertools.accumulate(recorded["mfn_deltas"]))
    case = trace.name.removesuffix(".json.gz")
    record = json.loads((DATA / f"{case}.json").read_text())
    requests: list[tuple[list[int], int]] = []
    splits: list[colour.ColourSplit] = []
    take, split = colour.take_pages, colour.split_regions

    def keep_take(free: list[int], colours: Any, pages: int) -> int:
        requests.append((list(colours), pages))
        return take(free, colours, pages)

    def keep_split(regions: Any, buddy: int) -> colour.ColourSplit:
        splits.append(split(regions, buddy))
        return splits[-1]

    monkeypatch.setattr(llc, "take_pages", keep_take)
    monkeypatch.setattr(llc, "split_regions", keep_split)
    _analyse(DATA / f"{case}@{record['version']}.log", record, monkeypatch)
    n = len(record["free"])
    free, handed, out = list(record["free"]), [0] * n, []
    for order, pages in requests:
        for _ in range(pages):
            best, most = None, 0
            for c in dict.fromkeys(order):
                if free[c] > most:
                    best, most = c, free[c]
            if best is None:
                break
            free[best] -= 1
            out.append(colour.nth_page(splits[0].coloured, best, n, handed[best]))
            handed[best] += 1
    assert out == mfns
