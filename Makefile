PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE ?= examples/qemu-virt.dts
# Where QEMU's virt board puts Xen and the DTB (examples/qemu-virt.dts header).
BOARD ?= --xen-image 0x40200000:0x154000 --fdt-address 0x48000000

.PHONY: run test venv bench bench-big bench-plan fuzz map-picture clean

# An editable install leaves xenplan uncompiled; where PYTHONDONTWRITEBYTECODE is set,
# every run would compile it again (a third of a check's start-up), hence compileall.
# editable_mode=compat puts the checkout on sys.path with a .pth line: the default mode's
# import finder is loaded by every Python process of the venv, with pathlib and urllib.parse
# (about 10 ms of each run, which an installed xenplan does not pay).
$(BIN)/xenplan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]' --config-settings editable_mode=compat
	$(BIN)/python -m compileall -q xenplan
	touch $@

venv: $(BIN)/xenplan

run: venv
	$(BIN)/xenplan check $(EXAMPLE) $(BOARD)
	$(BIN)/xenplan map $(EXAMPLE) $(BOARD)

test: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/scale.py

# Adds 4,096 domains x 64 banks (peak memory); about a minute more.
bench-big: venv
	$(BIN)/python benchmarks/scale.py --big

# xenplan plan: placement and its simulated check, 28 to 1,024 domains on a 64 GiB board with holes.
bench-plan: venv
	$(BIN)/python benchmarks/plan.py

# Mutation fuzzing of the DTB and DTS readers through `xenplan check` (benchmarks/fuzz.py).
MUTATIONS ?= 100000
fuzz: venv
	$(BIN)/python benchmarks/fuzz.py --mutations $(MUTATIONS)

# The map pictures of qemu-virt and zcu102 (SVG, HTML, and PNGs drawn by headless Chromium) in
# out/map-picture/; docs/map-zcu102.png is refreshed from them.
map-picture: venv
	$(BIN)/python tools/map_picture.py --docs

clean:
	rm -rf $(VENV) build *.egg-info out/map-picture
