# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo serve test lint browser bench clean

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

test: lint browser  ## the whole suite, as CI runs it
	$(BIN)/python -m pytest

# The dashboard's tests run the page in Chromium: Debian's, installed here where we may
# (as root, with apt-get); without one they skip, saying so.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  echo "installing Debian's chromium for the dashboard's browser tests" && \
	  { apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 \
	    && apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	echo "no Chromium: the dashboard's browser tests will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/skyshare bench all

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
