"""Write the generated part of tests/data/hostile: malformed and hostile DTBs and DTS.

Run from the repository root (``python tools/make_hostile.py``); needs
``dtc``. The hand-written ``docs-*.dts`` files there are not touched. Each
file's expected class (``verdict`` or ``error``) is in ``EXPECT`` in
tests/test_hostile.py.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "hostile"
BASE = OUT / "docs-dom0less-two-domus.dts"


def dtc(text: str) -> bytes:
    return subprocess.run(["dtc", "-q", "-I", "dts", "-O", "dtb", "-o", "-", "-"], input=text.encode(),
                          capture_output=True, check=True, timeout=60).stdout


def with_word(blob: bytes, offset: int, value: int) -> bytes:
    return blob[:offset] + struct.pack(">I", value) + blob[offset + 4 :]


def nested(depth: int) -> str:
    return "/dts-v1/;\n/ {\n" + "".join(f"n{i} {{\n" for i in range(depth)) + "};\n" * depth + "};\n"


def main() -> None:
    src = BASE.read_text()
    blob = dtc(src)
    files: dict[str, bytes | str] = {
        "truncated-half.dtb": blob[: len(blob) // 2],
        "truncated-header.dtb": blob[:20],
        "bad-magic.dtb": b"\xd0\x0d\xfe\xee" + blob[4:],
        "huge-totalsize.dtb": with_word(blob, 4, 0xFFFFFFFF),
        "struct-offset-past-end.dtb": with_word(blob, 8, 0x7FFFFFF0),
        "strings-size-huge.dtb": with_word(blob, 32, 0xFFFFFF00),
        "version-1.dtb": with_word(blob, 20, 1),
        "unknown-tag.dtb": with_word(blob, struct.unpack_from(">I", blob, 8)[0] + 8, 0x77),
        "empty.dtb": b"",
        "magic-only.dtb": b"\xd0\x0d\xfe\xed",
        "deep-nesting-70.dtb": dtc(nested(70)),
        "deep-nesting-70.dts": nested(70),
        "deep-nesting-15.dts": nested(15),
        "phandle-loop.dts": (
            "/dts-v1/;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n\tinterrupt-parent = <&a>;\n"
            "\tmemory@40000000 { device_type = \"memory\"; reg = <0x0 0x40000000 0x0 0x40000000>; };\n"
            "\ta: intc-a { interrupt-controller; #interrupt-cells = <1>; interrupt-parent = <&b>; };\n"
            "\tb: intc-b { interrupt-controller; #interrupt-cells = <1>; interrupt-parent = <&a>; };\n"
            "\tself: dev { interrupts = <5>; interrupt-parent = <&self>; clocks = <&self>; #clock-cells = <0>; };\n"
            "\tchosen {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n"
            "\t\tdomU1 { compatible = \"xen,domain\"; #address-cells = <1>; #size-cells = <1>; memory = <0 65536>;"
            " cpus = <1>; domain-cpupool = <&self>;\n"
            "\t\t\tec: evtchn@1 { compatible = \"xen,evtchn-v1\"; xen,evtchn = <0xa &ec>; };\n"
            "\t\t\tmodule@4a000000 { compatible = \"multiboot,kernel\", \"multiboot,module\";"
            " reg = <0x4a000000 0x1000000>; };\n\t\t};\n\t};\n};\n"),
        "cells-huge.dts": (
            "/dts-v1/;\n/ {\n\t#address-cells = <1000>;\n\t#size-cells = <0x7fffffff>;\n"
            "\tmemory@0 { device_type = \"memory\"; reg = <0 1 2 3>; };\n};\n"),
        "cells-zero.dts": (
            "/dts-v1/;\n/ {\n\t#address-cells = <0>;\n\t#size-cells = <0>;\n"
            "\tmemory { device_type = \"memory\"; reg = <>; };\n\tchosen { };\n};\n"),
        "unterminated-string.dts": "/dts-v1/;\n/ {\n\tmodel = \"never closed;\n};\n",
        "unbalanced-braces.dts": "/dts-v1/;\n/ {\n\tchosen {\n\t\tdomU1 { };\n};\n",
        "no-version-tag.dts": "/ { model = \"x\"; };\n",
        "binary-garbage.dts": bytes(range(256)) * 4,
        "nul-in-source.dts": "/dts-v1/;\n/ {\n\tmodel = \"a\0b\";\n};\n",
        "curly-quotes.dts": "/dts-v1/;\n/ {\n\tmodel = \u201cboard\u201d;\n};\n",
        "ellipsis.dts": "/dts-v1/;\n/ {\n\tmemory@40000000 { reg = <0x0 0x40000000 ...>; };\n};\n",
        "missing-semicolon.dts": "/dts-v1/;\n/ {\n\tchosen {\n\t\tbootargs = \"x\"\n\t};\n};\n",
        "label-undefined.dts": "/dts-v1/;\n/ {\n\tinterrupt-parent = <&nowhere>;\n};\n",
        "include-self.dts": "/dts-v1/;\n/include/ \"include-self.dts\"\n/ { };\n",
        "include-dev-zero.dts": "/dts-v1/;\n/include/ \"/dev/zero\"\n/ { };\n",
        "cpp-include-missing.dts": "#include \"nowhere.h\"\n/dts-v1/;\n/ { };\n",
        "overlay-as-base.dts": "/dts-v1/;\n/plugin/;\n&{/} { x = <1>; };\n",
        "chosen-only.dts": "/dts-v1/;\n/ {\n\tchosen { };\n};\n",
        "empty-root.dts": "/dts-v1/;\n/ { };\n",
        "reg-overflow.dts": (
            "/dts-v1/;\n/ {\n\t#address-cells = <2>;\n\t#size-cells = <2>;\n"
            "\tmemory@ffffffffffff0000 { device_type = \"memory\";"
            " reg = <0xffffffff 0xffff0000 0xffffffff 0xffffffff>; };\n"
            "\tchosen { #address-cells = <2>; #size-cells = <2>;\n"
            "\t\tdomU1 { compatible = \"xen,domain\"; #address-cells = <2>; #size-cells = <2>;"
            " memory = <0xffffffff 0xffffffff>; cpus = <0xffffffff>;\n"
            "\t\t\tmodule@0 { compatible = \"multiboot,kernel\", \"multiboot,module\";"
            " reg = <0xffffffff 0xffffffff 0xffffffff 0xffffffff>; };\n\t\t};\n\t};\n};\n"),
        "many-domains.dts": (
            "/dts-v1/;\n/ {\n\tchosen {\n\t\t#address-cells = <1>;\n\t\t#size-cells = <1>;\n"
            + "".join(f"\t\td{i} {{ compatible = \"xen,domain\"; #address-cells = <1>; #size-cells = <1>;"
                      f" memory = <0 4096>; cpus = <1>;\n\t\t\tmodule@{0x4a000000 + i * 0x1000:x} {{ compatible ="
                      f" \"multiboot,kernel\", \"multiboot,module\"; reg = <{0x4a000000 + i * 0x1000:#x}"
                      " 0x1000>; };\n\t\t};\n" for i in range(300))
            + "\t};\n};\n"),
    }
    for name, data in files.items():
        (OUT / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


if __name__ == "__main__":
    main()
