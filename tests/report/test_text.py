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
error   PAGE-003 (static-over-allocation) tests/report/data/board.dts:29: /chosen/domU2: domU2 asks
for 256 MiB but its banks hold 512 MiB
warning MOD-004 (module-dropped) board,v2:final.dtb: offset 0x2c8: /chosen/domU2/module@4b000000:
100% of "a,b": 0x1 < 0x2 & done
second line
info    RT-001 (static-page-freed-to-reserved-list) pages go to the reserved list  [not reached: Xen
stops earlier]
note: no --kernel-image: kernels assumed
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
    ok = dataclasses.replace(board, result=board.result.model_copy(
        update={"outcome": "boots", "failed_at": None, "dropped_modules": ()}), notes=[])
    text.check(c, ok, [])
    out = lines(printed(c))
    assert out[:2] == ["tests/report/data/board.dts  (Xen 4.22.0, arm64)", "verdict: boots"]
    assert out[-1] == "no findings"


def test_hang_has_no_message(board: Analysis) -> None:
    from xenplan.boot.result import FailedAt

    hung = board.result.model_copy(update={"outcome": "hang", "dropped_modules": (),
                                           "failed_at": FailedAt(stage="domain", domain="domU2", rule="ALLOC-007")})
    c = console()
    c.print(text.verdict(dataclasses.replace(board, result=hung)))
    assert lines(printed(c))[1] == "verdict: hang at domain domU2 [ALLOC-007] (Xen never finishes)"


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
    assert "[not reached: Xen stops earlier]" in flat
