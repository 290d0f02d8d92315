"""load(): format detection, overlays in order, and clean refusals."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import xenplan.dt
from xenplan.dt import load
from xenplan.dt.tree import Tree
from xenplan.errors import InputError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "dt"
OVERLAY = FIXTURES / "overlay"
CORPUS = Path(__file__).parent.parent / "data" / "corpus"
RPI5_OVERLAY = CORPUS / "xen-troops_rpi5_domD-direct-map-2-static-banks.dtso"
HAS_DTC = shutil.which("dtc") is not None
needs_dtc = pytest.mark.skipif(not HAS_DTC, reason="dtc not installed")

ROUTES = [pytest.param("0", marks=needs_dtc, id="dtc"), pytest.param("1", id="dtlib")]


@pytest.fixture(params=ROUTES)
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("XENPLAN_NO_DTC", request.param)
    return "dtlib" if request.param == "1" else "dtc"


def test_package_exports_load() -> None:
    assert xenplan.dt.load is load
    assert "Loading device trees" in (xenplan.dt.__doc__ or "")


def test_dts(route: str) -> None:
    tree = load(str(FIXTURES / "features.dts"))
    assert tree.file == str(FIXTURES / "features.dts")
    assert tree.find("/chosen/domU1") is not None
    assert tree.find("/__symbols__") is None  # no overlays: compiled without -@


def test_dtb_detected_by_magic_whatever_the_name(tmp_path: Path, dtc_compile: object) -> None:
    blob = dtc_compile(FIXTURES / "features.dts")  # type: ignore[operator]
    disguised = tmp_path / "board.dts"
    disguised.write_bytes(blob)
    tree = load(str(disguised))
    assert tree.dtb_size == len(blob)
    assert tree.root.properties["model"].source.offset is not None  # type: ignore[union-attr]


def test_corrupt_dtb_is_an_input_error(tmp_path: Path, dtc_compile: object) -> None:
    blob = dtc_compile(FIXTURES / "features.dts")  # type: ignore[operator]
    cut = tmp_path / "cut.dtb"
    cut.write_bytes(blob[:100])
    with pytest.raises(InputError) as info:
        load(str(cut))
    assert info.value.file == str(cut)


def test_missing_file() -> None:
    with pytest.raises(InputError, match="cannot read") as info:
        load(str(FIXTURES / "no-such-board.dts"))
    assert info.value.file.endswith("no-such-board.dts")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        load(str(tmp_path))


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    src = tmp_path / "secret.dts"
    src.write_text("/dts-v1/;\n/ {\n};\n")
    src.chmod(0)
    with pytest.raises(InputError, match="cannot read"):
        load(str(src))


@pytest.mark.parametrize("path", [OVERLAY / "domains.dtso", RPI5_OVERLAY], ids=["fixture", "rpi5"])
def test_overlay_source_alone_is_refused(route: str, path: Path) -> None:
    with pytest.raises(InputError, match=r"is an overlay \(/plugin/\); give it with --overlay") as info:
        load(str(path))
    assert info.value.file == str(path)
    lines = path.read_text().splitlines()
    assert info.value.line is not None and "/plugin/" in lines[info.value.line - 1]
    assert "\n" not in str(info.value)


@needs_dtc
def test_compiled_overlay_alone_is_refused(tmp_path: Path) -> None:
    blob = tmp_path / "domains.dtbo"
    subprocess.run(["dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(blob),
                    str(OVERLAY / "domains.dtso")], check=True, timeout=60)
    with pytest.raises(InputError, match="is an overlay"):
        load(str(blob))


@needs_dtc
def test_overlays_apply_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENPLAN_NO_DTC", "0")
    tree = load(str(OVERLAY / "base.dts"), [str(OVERLAY / "domains.dtso"), str(OVERLAY / "second.dtso")])
    dom = tree.find("/chosen/domU1")
    assert dom is not None and dom.has("direct-map") and dom.has("vpl011")
    assert tree.find("/__symbols__") is not None  # the base was compiled with -@
    # second.dtso targets a label domains.dtso defines: the other order fails.
    with pytest.raises(InputError, match="domU1") as info:
        load(str(OVERLAY / "base.dts"), [str(OVERLAY / "second.dtso"), str(OVERLAY / "domains.dtso")])
    assert info.value.file == str(OVERLAY / "second.dtso")


def test_non_overlay_given_as_overlay(route: str) -> None:
    with pytest.raises(InputError, match="is not an overlay") as info:
        load(str(OVERLAY / "base.dts"), [str(OVERLAY / "not-an-overlay.dts")])
    assert info.value.file == str(OVERLAY / "not-an-overlay.dts")


def test_fallback_dts_overlay_needs_dtc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    with pytest.raises(InputError, match="needs dtc") as info:
        load(str(OVERLAY / "base.dts"), [str(OVERLAY / "domains.dtso")])
    assert info.value.file == str(OVERLAY / "domains.dtso")


@needs_dtc
def test_fallback_base_with_compiled_overlay(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without dtc a DTS base still takes DTBO overlays, with the same result."""
    blob = tmp_path / "domains.dtbo"
    subprocess.run(["dtc", "-q", "-@", "-I", "dts", "-O", "dtb", "-o", str(blob),
                    str(OVERLAY / "domains.dtso")], check=True, timeout=60)
    results = []
    for flag in ("0", "1"):
        monkeypatch.setenv("XENPLAN_NO_DTC", flag)
        tree = load(str(OVERLAY / "base.dts"), [str(blob)])
        results.append(([(n.path, [(p.name, p.value) for p in n.properties.values()])
                         for n in tree.walk()], tree.dtb_size))
    assert results[0] == results[1]


def test_include_dirs_reach_the_compiler(route: str) -> None:
    tree = load(str(FIXTURES / "with-cpp.dts"), include_dirs=[str(FIXTURES / "inc")])
    assert tree.find("/chosen/domU1/module@50000000") is not None


def test_corpus_dts_load(route: str) -> None:
    for path in sorted(CORPUS.glob("*.dts")):
        if path.name.startswith("zephyr-"):
            continue
        tree = load(str(path))
        assert tree.root.children and tree.dtb_size, path.name


# --- any input gives a tree or an InputError -----------------------------------

_FEATURES = (FIXTURES / "features.dts").read_bytes()
_TOKENS = [b"{", b"}", b";", b"=", b"<", b">", b"[", b"]", b'"', b"'", b"&", b"/", b":", b"\n",
           b"/delete-node/ ", b"/include/ ", b"/bits/ ", b"/memreserve/ ", b"&{/", b"\\",
           b"/*", b"//", b'#include "x.h"\n', b"/plugin/;", b"phandle = <1>;", b"\xff"]


def _load_bytes(data: bytes, no_dtc: str) -> None:
    """Hypothesis runs many examples per test, so the environment is set by hand here."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "fuzz.dts")
        with open(path, "wb") as f:
            f.write(data)
        old = os.environ.get("XENPLAN_NO_DTC")
        os.environ["XENPLAN_NO_DTC"] = no_dtc
        try:
            assert isinstance(load(path), Tree)
        except InputError as exc:
            assert "\n" not in str(exc)
        finally:
            if old is None:
                del os.environ["XENPLAN_NO_DTC"]
            else:
                os.environ["XENPLAN_NO_DTC"] = old


_edits = st.lists(
    st.tuples(st.integers(0, len(_FEATURES)), st.integers(0, 6), st.sampled_from(_TOKENS)),
    min_size=1, max_size=3,
)


def _mutate(edits: list[tuple[int, int, bytes]]) -> bytes:
    data = bytearray(_FEATURES)
    for pos, cut, token in edits:
        data[pos : pos + cut] = token
    return bytes(data)


@pytest.mark.parametrize("no_dtc", ROUTES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=_edits)
def test_mutated_source_loads_or_fails_cleanly(no_dtc: str, edits: list[tuple[int, int, bytes]]) -> None:
    _load_bytes(_mutate(edits), no_dtc)


@pytest.mark.parametrize("no_dtc", ROUTES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_load_or_fail_cleanly(no_dtc: str, data: bytes) -> None:
    _load_bytes(data, no_dtc)


def test_reference_before_the_root_node_is_an_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """dtlib looks a label up in a tree that does not exist yet; dtc says the label is not found."""
    src = tmp_path / "early-ref.dts"
    src.write_text("/dts-v1/;\n&foo { x; };\n/ { };\n")
    monkeypatch.setenv("XENPLAN_NO_DTC", "1")
    with pytest.raises(InputError, match="label or path 'foo' not found"):
        load(str(src))
