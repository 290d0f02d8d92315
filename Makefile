PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EXAMPLE ?= examples/qemu-virt.dts

.PHONY: run test venv bench clean

$(BIN)/xenplan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

venv: $(BIN)/xenplan

run: venv
	-$(BIN)/xenplan check $(EXAMPLE)
	$(BIN)/xenplan map $(EXAMPLE)

test: venv
	$(BIN)/python -m pytest

bench: venv
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
