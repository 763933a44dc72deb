# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates the virtualenvs it needs by itself; nothing is assumed installed but python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_VERSION := 4.4.1

.PHONY: venv meltano demo test lint unit bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $@

venv: $(BIN)/.installed

$(MELTANO_VENV)/.installed:
	$(PYTHON) -m venv $(MELTANO_VENV)
	$(MELTANO_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MELTANO_VENV)/bin/python -m pip install --quiet "meltano==$(MELTANO_VERSION)"
	touch $@

meltano: $(MELTANO_VENV)/.installed

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy refiner_http tap_refiner target_refiner refiner_emulator refiner_webhooks

unit: venv
	$(BIN)/pytest -m "not meltano"

test: venv meltano lint
	MELTANO_BIN=$(abspath $(MELTANO)) $(BIN)/pytest

demo: venv meltano
	MELTANO_BIN=$(abspath $(MELTANO)) $(BIN)/python scripts/demo.py

bench: venv
	$(BIN)/python bench/tap_throughput.py --contacts 100000
	$(BIN)/python bench/target_throughput.py
	$(BIN)/python bench/target_resync.py
	$(BIN)/python bench/webhook_load.py

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano .demo output
