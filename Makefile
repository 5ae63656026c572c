# Two commands do all the set-up on a fresh machine:
#   make run   installs Modelport into .venv and serves it on http://127.0.0.1:5000
#              (no PyTorch: the built-in models ship as ONNX files; `pip install -e '.[train]'`
#              to train or export them again)
#   make test  installs it with the test tools (Chromium and PostgreSQL via apt when missing)
#              and runs every check, with a throwaway PostgreSQL server for the store tests
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
PYTEST_ARGS ?=

.PHONY: run dev test lint format install install-dev system-packages clean

run: install
	$(BIN)/modelport serve --host $(HOST) --port $(PORT)

dev: install
	$(BIN)/modelport serve --dev --host $(HOST) --port $(PORT)

test: install-dev system-packages
	BIN=$(BIN) scripts/run-tests.sh $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(VENV)/.installed-run
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

install-dev: $(VENV)/.installed-dev
$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[train,keras,dev]'
	touch $@ $(VENV)/.installed-run

system-packages:
	@command -v chromium >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		&& command -v wrk >/dev/null 2>&1 && ls /usr/share/fonts/truetype/dejavu >/dev/null 2>&1 \
		&& { command -v nginx || test -x /usr/sbin/nginx; } >/dev/null 2>&1 \
		&& command -v systemd-analyze >/dev/null 2>&1 \
		|| scripts/install-system-packages.sh

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
