"""Mutation fuzzing of xenplan's inputs end to end: ``make fuzz`` or
``python benchmarks/fuzz.py --mutations 100000``.

Seeds are the examples and the hostile corpus (tests/data/hostile), as DTS
text and as the DTBs ``dtc`` makes of them. Each case mutates one seed
(bytes flipped, inserted, deleted or duplicated; 32-bit words set to edge
values; for DTS, tokens such as ``{``, ``;``, ``<``, ``&label`` inserted or
removed) and runs ``xenplan check`` on it in process, on the QEMU ``virt``
board. The outcome is counted by exit status: 0 or 1 (a verdict), 2 (an
input error: one line), 3 (an internal error: a bug), a crash (anything
escaping the CLI) or a hang (a case over ``--case-timeout`` seconds).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xenplan.cli import main  # noqa: E402

EDGE_WORDS = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xD00DFEED, 0x1, 0x2, 0x3, 0x9, 0x10000)
DTS_TOKENS = (b"{", b"}", b";", b"<", b">", b"[", b"]", b'"', b"&", b"&x", b"/delete-node/ ", b"/include/ ",
              b"#address-cells = <3>;", b"#size-cells = <0>;", b"0xffffffffffffffff", b"@", b"/", b",",
              b"\xe2\x80\x9c", b"...", b"\x00", b"\n", b"//", b"/*", b"label: ", b"= <0xffffffff>;")
BOARD = ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"]


def seeds(work: Path) -> list[tuple[str, bytes]]:
    """(suffix, bytes): every example and hostile DTS, and a DTB of each that compiles."""
    sources = sorted((ROOT / "examples").glob("*.dts")) + sorted((ROOT / "examples" / "broken").glob("*.dts"))
    sources += sorted((ROOT / "tests" / "data" / "hostile").glob("*.dts"))
    out: list[tuple[str, bytes]] = []
    dtc = shutil.which("dtc")
    for src in sources:
        text = src.read_bytes()
        if b"/include/" in text or b"#include" in text or len(text) > 16 << 10:
            continue
        out.append((".dts", text))
        if dtc is not None:
            done = subprocess.run([dtc, "-q", "-I", "dts", "-O", "dtb", str(src)], capture_output=True,
                                  check=False, timeout=20)
            if done.returncode == 0:
                out.append((".dtb", done.stdout))
    out += [(".dtb", p.read_bytes()) for p in sorted((ROOT / "tests" / "data" / "hostile").glob("*.dtb"))]
    return out


def mutate(data: bytes, suffix: str, rng: random.Random) -> bytes:
    """One to four random edits of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not buf:
            buf += bytes([rng.randrange(256)])
        kind = rng.randrange(6 if suffix == ".dtb" else 7)
        at = rng.randrange(len(buf))
        if kind == 0:
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind == 2:
            del buf[at : at + rng.randint(1, 64)]
        elif kind == 3:
            n = rng.randint(1, 256)
            buf[at:at] = buf[at : at + n]
        elif kind == 4:
            word = rng.choice(EDGE_WORDS).to_bytes(4, "big")
            at &= ~3
            buf[at : at + 4] = word
        elif kind == 5:
            del buf[at:]
        else:
            buf[at:at] = rng.choice(DTS_TOKENS)
    return bytes(buf)


class _Hang(BaseException):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Hang


def run_case(path: Path, timeout: float) -> tuple[str, str]:
    """Run ``xenplan check`` on ``path``; return (outcome, first stderr line)."""
    err = io.StringIO()
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            main(["check", str(path), *BOARD], prog_name="xenplan", standalone_mode=True)
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    except _Hang:
        return "hang", ""
    except Exception as exc:  # a crash is what this looks for
        return "crash", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    lines = err.getvalue().splitlines()
    first = lines[0] if lines else ""
    if code == 2 and len(lines) != 1:
        return "crash", f"exit 2 with {len(lines)} lines on stderr"
    return (f"exit {code}" if code in (0, 1, 2, 3) else "crash"), first


def fuzz(mutations: int, seed: int = 0, timeout: float = 30.0, budget: float | None = None) -> Iterator[
        tuple[int, str, str, bytes, str]]:
    """Yield (case number, suffix, outcome, mutant, message) for each case run."""
    rng = random.Random(seed)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="xenplan-fuzz-") as tmp:
        work = Path(tmp)
        pool = seeds(work)
        for i in range(mutations):
            if budget is not None and time.monotonic() - start > budget:
                return
            suffix, data = rng.choice(pool)
            mutant = mutate(data, suffix, rng)
            path = work / f"case{suffix}"
            path.write_bytes(mutant)
            outcome, message = run_case(path, timeout)
            yield i, suffix, outcome, mutant, message


def main_cli() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutations", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--case-timeout", type=float, default=30.0, help="seconds before a case counts as a hang")
    ap.add_argument("--budget", type=float, help="stop after this many seconds")
    ap.add_argument("--keep", type=Path, help="directory to save every mutant that crashed, hung or exited 3")
    args = ap.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    start = time.monotonic()
    done = 0
    for i, suffix, outcome, mutant, message in fuzz(args.mutations, args.seed, args.case_timeout, args.budget):
        done += 1
        counts[f"{suffix} {outcome}"] += 1
        if outcome not in ("exit 0", "exit 1", "exit 2"):
            print(f"case {i} ({suffix}): {outcome}: {message}", file=sys.stderr)
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / f"case{i}{suffix}").write_bytes(mutant)
        if done % 1000 == 0:
            print(f"{done} cases, {time.monotonic() - start:.0f} s: {dict(counts)}", file=sys.stderr, flush=True)
    wall = time.monotonic() - start
    print(json.dumps({"mutations": done, "seed": args.seed, "wall_seconds": round(wall, 1),
                      "outcomes": dict(sorted(counts.items()))}, indent=1))
    bad = sum(n for k, n in counts.items() if not k.endswith(("exit 0", "exit 1", "exit 2")))
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("XENPLAN_FUZZ", "1")
    sys.exit(main_cli())
