# `make demo` runs a demo campus; `make test` is what CI runs (.ci/run calls it).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean lock wheelhouse pi-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A demo campus playing an afternoon, 15:30 to 18:30 in about 6 minutes whatever the hour;
# e.g. `make demo DEMO_ARGS="--speed 60 --start 16:50 --students 1000"`.
demo: $(STAMP)
	$(BIN)/campus-edge demo --data-dir .demo $(DEMO_ARGS)

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
	$(BIN)/python bench/live.py
	$(BIN)/python bench/readers.py
	$(BIN)/python bench/screens.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/curve.py

# The Pi's pinned dependencies (requirements/pi.in -> requirements/pi.lock, with hashes);
# `make lock UPGRADE=1` takes the newest versions instead of keeping the pins.
lock: $(STAMP)
	$(BIN)/python tools/wheelhouse.py lock $(if $(UPGRADE),--upgrade)

# One folder and .tar.gz in dist/ for installing with no network (README, "A USB stick
# for many Pis"): PLATFORM=aarch64 (the Pi, default) or x86_64; DEBS=1 adds the .debs.
PLATFORM ?= aarch64
wheelhouse: $(STAMP)
	$(BIN)/python tools/wheelhouse.py build --platform $(PLATFORM) $(if $(DEBS),--debs)

# install.sh on a bare Bookworm root (debootstrap), online and offline from a wheelhouse
# in a network namespace with no network; takes minutes, needs root; not in `make test`.
pi-check:
	tools/pi-check.sh

clean:
	rm -rf $(VENV) .demo build dist *.egg-info
