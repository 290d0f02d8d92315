"""Text renderers on a fixed-width console, compared as whole strings."""

from __future__ import annotations

import dataclasses
import io

from rich.console import Console

from xenplan.analysis import Analysis
from xenplan.report import text


def console(width: int = 100) -> Console:
    return Console(file=io.StringIO(), width=width, color_system=None, force_terminal=False)


def printed(c: Console) -> str:
    out = c.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(out, str)
    return out


CHECK = """\
tests/report/data/board.dts  (Xen 4.22.0, arm64)
verdict: panic at domain domU2 [PAGE-003]: Failed to allocate requested static memory for domain d2.
dropped module /chosen/domU2/module@4b000000 [0x4b000000, 0x4b010000)

domains
┏━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ domain ┃ kind    ┃ status      ┃ memory  ┃ guest RAM (guest → host, size)   ┃
┡━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ domU1  │ dynamic │ constructed │ 128 MiB │ 0x40000000 → 0x70000000, 128 MiB │
│ domU2  │ static  │ failed      │ 256 MiB │ —                                │
└────────┴─────────┴─────────────┴─────────┴──────────────────────────────────┘
tests/report/data/board.dts:29: PAGE-003 error domU2 asks for 256 MiB but its banks hold 512 MiB
board,v2:final.dtb: offset 0x2c8: MOD-004 warning /chosen/domU2/module@4b000000: 100% of "a,b": 0x1 < 0x2 & done
tests/report/data/board.dts: RT-001 info pages go to the reserved list [not reached]
note: no --kernel-image: kernels assumed
Xen panics at domain domU2; 1 error (boot failures), 1 warning (settings Xen ignores), 1 info; 1 not
reached
"""


def lines(s: str) -> list[str]:
    """Rich pads table titles and wrapped lines with spaces; compare without them."""
    return [line.rstrip() for line in s.splitlines()]


def test_check(board: Analysis) -> None:
    c = console()
    text.check(c, board, board.findings)
    assert lines(printed(c)) == lines(CHECK)


def test_check_without_findings(board: Analysis) -> None:
    c = console()
    ok = dataclasses.replace(board, result=dataclasses.replace(
        board.result, outcome="boots", failed_at=None, dropped_modules=()), notes=[])
    text.check(c, ok, [])
    out = lines(printed(c))
    assert out[:2] == ["tests/report/data/board.dts  (Xen 4.22.0, arm64)", "verdict: boots"]
    assert out[-1] == "Xen boots; no findings"


EXPLAINED = """\
tests/report/data/board.dts:29: PAGE-003 error domU2 asks for 256 MiB but its banks hold 512 MiB
    node /chosen/domU2, property memory
    Xen prints: Failed to allocate requested static memory for domain d2.
    why it matters: the domain is never built and Xen stops booting.
board,v2:final.dtb: offset 0x2c8: MOD-004 warning /chosen/domU2/module@4b000000: 100% of "a,b": 0x1 < 0x2 & done
    node /chosen/domU2/module@4b000000, property reg
    second line
    why it matters: the failure shows up later, as a missing kernel.
tests/report/data/board.dts: RT-001 info pages go to the reserved list [not reached]
    why it matters: memory a static guest gives back helps nobody else; only the same domain can
    take it again (RT-002). Sizing other domains on the assumption that ballooning frees memory does
    not work.
    not reached: Xen stops before it gets here
"""


def test_show_explanations(board: Analysis) -> None:
    """--show-explanations: the node, the rest of the message, Xen's message, why the rule matters."""
    c = console()
    text.check(c, board, board.findings, explain=True)
    out = lines(printed(c))
    first = out.index(lines(EXPLAINED)[0])
    assert out[first:first + len(lines(EXPLAINED))] == lines(EXPLAINED)


def test_boots_with_errors_reads_as_one_statement(board: Analysis, examples: list[Analysis]) -> None:
    """A board that boots and still has errors: the summary says both, naming what the errors are."""
    from xenplan.report.plain import summary

    ok = dataclasses.replace(board, result=dataclasses.replace(
        board.result, outcome="boots", failed_at=None, dropped_modules=()))
    errors = [dataclasses.replace(f, severity="error") for f in board.findings[1:2]]
    errors.append(dataclasses.replace(errors[0], rule="RT-003", slug="increase-reservation-gives-heap-pages"))
    assert summary(ok, errors) == "Xen boots; 2 errors (settings Xen ignores and run-time hazards)"
    for a in examples:
        s = summary(a, a.findings)
        assert s.startswith({"boots": "Xen boots", "panic": "Xen panics", "crash": "Xen crashes",
                             "hang": "Xen hangs"}[a.result.outcome]), s


MAP = """\
tests/report/data/board.dts  (Xen 4.22.0, arm64)
verdict: panic at domain domU2 [PAGE-003]: Failed to allocate requested static memory for domain d2.
dropped module /chosen/domU2/module@4b000000 [0x4b000000, 0x4b010000)

host physical map
┏━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━┳━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ start      ┃ end        ┃ size     ┃ what        ┃ owner         ┃
┡━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━╇━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ 0x40000000 │ 0x40200000 │ 2 MiB    │ heap        │               │
│ 0x40200000 │ 0x40354000 │ 1360 KiB │ xen         │ (Xen image)   │
│ 0x48000000 │ 0x48001000 │ 4 KiB    │ module      │ (device tree) │
│ 0x70000000 │ 0x78000000 │ 128 MiB  │ inuse       │ /chosen/domU1 │
│ 0x60000000 │ 0x70000000 │ 256 MiB  │ static-free │ /chosen/domU2 │
└────────────┴────────────┴──────────┴─────────────┴───────────────┘
domU1: guest physical map (dynamic, constructed)
┏━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━┓
┃ guest start ┃ guest end  ┃ size    ┃ what   ┃ host       ┃ note     ┃
┡━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━┩
│ 0x3001000   │ 0x3011000  │ 64 KiB  │ gicd   │            │ emulated │
│ 0x38000000  │ 0x39000000 │ 16 MiB  │ gnttab │            │          │
│ 0x40000000  │ 0x48000000 │ 128 MiB │ ram    │ 0x70000000 │          │
└─────────────┴────────────┴─────────┴────────┴────────────┴──────────┘
domU2: failed, no guest map
"""


def test_memory_map(board: Analysis) -> None:
    c = console()
    text.memory_map(c, board)
    assert lines(printed(c)) == lines(MAP)


def test_memory_map_one_domain(board: Analysis) -> None:
    c = console()
    text.memory_map(c, board, "domU2")
    out = lines(printed(c))
    assert "domU1: guest physical map (dynamic, constructed)" not in out
    assert out[-1] == "domU2: failed, no guest map"


def test_narrow_console_wraps_but_keeps_every_word(board: Analysis) -> None:
    c = console(width=60)
    text.check(c, board, board.findings)
    flat = " ".join(printed(c).split())
    assert "domU2 asks for 256 MiB but its banks hold 512 MiB" in flat
    assert "[not reached]" in flat
    assert "1 error (boot failures), 1 warning (settings Xen ignores), 1 info; 1 not reached" in flat
