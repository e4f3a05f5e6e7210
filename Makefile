# `make demo` runs a demo campus; `make test` is what CI runs (.ci/run calls it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean pi-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/campus-edge demo --data-dir .demo

test: $(STAMP)
	$(BIN)/ruff check edge tests bench tools
	$(BIN)/ruff format --check edge tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check edge tests bench tools
	$(BIN)/ruff format --check edge tests bench tools
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/shape.py

bench: $(STAMP)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/readers.py
	$(BIN)/python bench/screens.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/reports.py

# install.sh on a bare Bookworm root (debootstrap), online and offline from a wheelhouse
# in a network namespace with no network; takes minutes, needs root; not in `make test`.
pi-check:
	tools/pi-check.sh

clean:
	rm -rf $(VENV) .demo build *.egg-info
