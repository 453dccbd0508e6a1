# xenctl: `make demo` and `make test` work on a fresh clone; each makes .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test quick lint typecheck unit bench screenshots clean

# xenctl is installed editable as a path entry (compat), not an import hook: every command starts
# 14 ms sooner; the hook's mode is the fallback for a setuptools without compat.
# scripts/setup-system installs the system packages the libvirt extra builds against (as root;
# otherwise it names them), then the venv gets xenctl with its dev tools, libvirt-python and etcd3gw.
$(STAMP): pyproject.toml scripts/setup-system
	PYTHON=$(PYTHON) scripts/setup-system
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,libvirt,etcd]' --config-settings editable_mode=compat 2>/dev/null \
		|| $(BIN)/python -m pip install --quiet -e '.[dev,libvirt,etcd]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python demo/tour.py

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check xenctl tests bench demo

typecheck: $(STAMP)
	$(BIN)/mypy xenctl

unit: $(STAMP)
	$(BIN)/pytest

# The quick loop: every check but the tests that start a real daemon, guest or browser.
quick: lint typecheck $(STAMP)
	$(BIN)/pytest -m "not heavy"

bench: $(STAMP)
	$(BIN)/python bench/run.py

# docs/screenshots/*.png, taken in chromium from a real xenctl serve on a fresh host (the README shows them).
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
