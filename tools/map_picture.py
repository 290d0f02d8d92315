"""Render the map pictures of the example boards and screenshot them: ``make map-picture``.

For qemu-virt and zcu102: ``xenplan map --format svg`` and ``--format html``
into ``out/map-picture/``, then headless Chromium draws each SVG to a PNG
of the SVG's own size, so a person can look at what a browser shows.
``--docs`` also copies the zcu102 PNG to ``docs/map-zcu102.png``, the one
the README shows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out" / "map-picture"
BOARDS = {
    "qemu-virt": ["--xen-image", "0x40200000:0x154000", "--fdt-address", "0x48000000"],
    "zcu102": ["--xen-image", "0x5a00000:0x160000", "--fdt-address", "0x5c00000"],
}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def screenshot(browser: str, svg: Path, png: Path) -> None:
    """One PNG of the SVG at its own width and height."""
    head = svg.read_text(encoding="utf-8")[:400]
    m = re.search(r'<svg [^>]*width="(\d+)" height="(\d+)"', head)
    if m is None:
        raise SystemExit(f"{svg}: no width and height on the <svg> element")
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=1", f"--screenshot={png}",
                    f"--window-size={m.group(1)},{m.group(2)}", svg.resolve().as_uri()],
                   check=True, capture_output=True, timeout=120)


def main() -> None:
    browser = chromium()
    OUT.mkdir(parents=True, exist_ok=True)
    for name, opts in BOARDS.items():
        for fmt in ("svg", "html"):
            subprocess.run([sys.executable, "-m", "xenplan", "map", f"examples/{name}.dts", *opts,
                            "--format", fmt, "-o", str(OUT / f"{name}.{fmt}")], check=True, cwd=ROOT)
        if browser is None:
            print("no chromium: SVG and HTML written, no PNG", file=sys.stderr)
            continue
        screenshot(browser, OUT / f"{name}.svg", OUT / f"{name}.png")
        print(OUT / f"{name}.png")
    if "--docs" in sys.argv and browser is not None:
        shutil.copyfile(OUT / "zcu102.png", ROOT / "docs" / "map-zcu102.png")


if __name__ == "__main__":
    main()
