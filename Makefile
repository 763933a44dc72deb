# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates the virtualenvs it needs by itself; nothing is assumed installed but python3.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MELTANO_VENV := .venv-meltano
MELTANO := $(MELTANO_VENV)/bin/meltano
MELTANO_VERSION := 4.4.1

.PHONY: venv meltano demo test lint unit bench clean generate

# The project with the webhooks and postgres extras, the emulator (a development dependency with its own
# distribution in emulator/) and the dev tools, all editable in one virtualenv.
$(BIN)/.installed: pyproject.toml emulator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e ".[webhooks,postgres]" -e ./emulator --group dev
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
	$(BIN)/mypy refiner_stores refiner_http refiner_serving refiner_api tap_refiner target_refiner emulator/refiner_emulator refiner_webhooks scripts

unit: venv
	$(BIN)/pytest -m "not meltano"

# The Meltano tests (tests/meltano, marker `meltano`) need MELTANO_BIN; it is always set here.
test: venv meltano lint
	MELTANO_BIN=$(abspath $(MELTANO)) MELTANO_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/pytest

demo: venv meltano
	MELTANO_BIN=$(abspath $(MELTANO)) MELTANO_SEND_ANONYMOUS_USAGE_STATS=false $(BIN)/python scripts/demo.py

# Regenerate what is derived from the plugins' --about (tests fail when these drift).
generate: venv
	$(BIN)/python scripts/hub_definitions.py
	$(BIN)/python scripts/readme_settings.py

bench: venv
	$(BIN)/python bench/tap_throughput.py --contacts 100000
	$(BIN)/python bench/target_throughput.py
	$(BIN)/python bench/target_resync.py
	$(BIN)/python bench/webhook_load.py
	$(BIN)/python bench/pacing_backends.py

clean:
	rm -rf $(VENV) $(MELTANO_VENV) .meltano .demo output .cache .target-refiner
