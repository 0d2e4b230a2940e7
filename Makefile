# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo serve test lint bench clean

# (Re)install whenever the project metadata changes; otherwise nothing to do.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)  ## API + dashboard + simulated London fleet on http://127.0.0.1:8000
	$(BIN)/skyshare demo

serve: $(STAMP)
	$(BIN)/skyshare serve

test: lint  ## the whole suite, as CI runs it
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/skyshare bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
