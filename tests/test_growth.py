"""The work of a check grows linearly (or n log n) with domains, banks and findings.

Timed benchmarks live in ``benchmarks/scale.py``; here the work is counted,
not timed, so a return of quadratic behaviour fails on any machine however
loaded: every line xenplan executes (loop iterations included, as the
tracer sees each backward jump) is counted for a board of n domains and of
4n, and the counts may grow about 4x, as a whole and per function.
Sizes start past Xen's fixed tables (256 reserved banks, 32 boot modules,
32 shared regions), where growth is what it will be at thousands.
"""

from __future__ import annotations

import collections
import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xenplan
from xenplan.analysis import analyse
from xenplan.boot.result import Event, Related
from xenplan.checks import rsv
from xenplan.model.base import Range
from xenplan.report import render

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = str(Path(xenplan.__file__).parent)


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "benchmarks" / "run.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BENCH = _bench()


def lines_run(dts: str, tmp: Path) -> collections.Counter[CodeType]:
    """Lines of xenplan executed by ``analyse()`` and the text report of ``dts``, by function."""
    src, dtb = tmp / "board.dts", tmp / "board.dtb"
    src.write_text(dts)
    subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", str(dtb), str(src)], check=True)
    counts: collections.Counter[CodeType] = collections.Counter()

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            counts[frame.f_code] += 1
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        a = analyse(str(dtb), BENCH.TARGET)
        render.check("text", [a], render.Screen("file", "never"))
    finally:
        sys.settrace(old)
    return counts


def assert_grows_linearly(small: collections.Counter[CodeType], big: collections.Counter[CodeType],
                          factor: int) -> None:
    """The whole count at most ~factor x (n log n allowed), and no function above 1.5 x factor
    once it does real work (20,000 lines)."""
    total = sum(big.values()) / sum(small.values())
    assert total <= factor * 1.25, f"{total:.1f}x the lines for {factor}x the input"
    worst = [(n / max(small.get(code, 0), 1), code) for code, n in big.items() if n >= 20_000]
    bad = [f"{code.co_filename.rsplit('/xenplan/', 1)[-1]}:{code.co_firstlineno} {code.co_name} {r:.1f}x"
           for r, code in worst if r > factor * 1.5]
    assert not bad, f"super-linear for {factor}x the input: {bad}"


@pytest.mark.parametrize("family", ["clashing", "refused"])
def test_work_per_domain_is_flat(family: str, tmp_path: Path) -> None:
    def board(n: int) -> str:
        doms = BENCH.many_findings(n, 8) if family == "clashing" else BENCH.many_domains(n, 8, True)
        return str(BENCH.board(64 << 40, doms))

    small = lines_run(board(128), tmp_path)
    big = lines_run(board(512), tmp_path)
    assert_grows_linearly(small, big, 4)


def test_work_per_bank_is_flat(tmp_path: Path) -> None:
    small = lines_run(BENCH.board(64 << 40, BENCH.many_domains(48, 8, True)), tmp_path)
    big = lines_run(BENCH.board(64 << 40, BENCH.many_domains(48, 32, True)), tmp_path)
    assert_grows_linearly(small, big, 4)


KINDS = ["memreserve", "reserved", "static-heap", "static-mem", "module", "shm"]
claim = st.tuples(st.sampled_from(KINDS), st.integers(0, 12), st.integers(0, 64), st.integers(0, 24))


@given(st.lists(claim, max_size=40), st.booleans())
@settings(max_examples=200, deadline=None)
def test_sweep_finds_every_overlapping_pair(raw: list[tuple[str, int, int, int]], anchored: bool) -> None:
    """The sweep yields what comparing every pair yields, in recording order."""
    cs = [rsv.Claim(kind, f"/n{path}", f"p{i}", Range(start, size), "/d0" if kind == "module" else None)  # type: ignore[arg-type]
          for i, (kind, path, start, size) in enumerate(raw)]

    def anchor(c: rsv.Claim) -> bool:
        return c.kind in rsv.JUDGED_WITH_ANY

    want = [(cs[i], cs[j]) for i in range(len(cs)) for j in range(i + 1, len(cs))
            if (cs[i].range.overlaps(cs[j].range) or (cs[j].range.size == 0 and cs[i].range.start
                                                       < cs[j].range.start < cs[i].range.end)
                or (cs[i].range.size == 0 and cs[j].range.start < cs[i].range.start < cs[j].range.end))
            and (not anchored or anchor(cs[i]) or anchor(cs[j]))]
    got = list(rsv.overlapping_pairs(cs, anchor if anchored else None))
    assert sorted(got, key=lambda p: (cs.index(p[0]), cs.index(p[1]))) == got
    assert collections.Counter(map(repr, got)) == collections.Counter(map(repr, want))


def _names(ev: Event, c: rsv.Claim) -> bool:
    """The plain reading of "event names claim": what the index must answer."""
    return (c.path == ev.path or any(x.path == c.path for x in ev.related)
            or (c.kind == "module" and c.domain == ev.path and any(x.overlaps(c.range) for x in ev.ranges)))


@given(st.integers(0, 2**32), st.integers(1, 30))
@settings(max_examples=60, deadline=None)
def test_event_index_answers_what_a_scan_answers(seed: int, n: int) -> None:
    rnd = random.Random(seed)
    paths = [f"/n{i}" for i in range(6)] + [f"/d{i}" for i in range(3)]
    events = [Event(rule=rnd.choice(["RSV-010", "MOD-004", "DOM-020", "RSV-011"]), behaviour="PANIC",
                    message="m", path=rnd.choice([*paths, None]),
                    ranges=tuple(Range(rnd.randrange(64), rnd.randrange(1, 16)) for _ in range(rnd.randrange(3))),
                    related=tuple(Related(path=rnd.choice(paths)) for _ in range(rnd.randrange(3))))
              for _ in range(n)]
    result: Any = type("R", (), {"events": events})()
    claims = [rsv.Claim(rnd.choice(["module", "static-mem", "reserved"]), rnd.choice(paths), None,
                        Range(rnd.randrange(64), rnd.randrange(1, 16)), rnd.choice([None, "/d0", "/d1", "/d2"]))
              for _ in range(12)]
    for a in claims:
        for b in claims:
            want = any(_names(ev, a) and _names(ev, b) for ev in events)
            assert rsv.reported(result, a, b) == want
