# effteach: two commands set up, build and test everything (see README.md).
#   make book   create .venv, install, execute the notebooks, build the HTML book
#   make test   the whole test suite (sets up first if needed)
#   make lab    JupyterLab on notebooks/ (MyST .md files open as notebooks)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.effteach-installed
BUILD := build

.PHONY: setup book test lab lint clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

book: setup
	$(PY) -m effteach.tools.book --out $(BUILD)/book

lint: setup
	$(PY) -m ruff check .

test: setup lint
	@mkdir -p $(BUILD)
	$(PY) -m effteach.tools.notebooks --out $(BUILD)/ipynb
	$(PY) -m effteach.tools.assign --all --force --out $(BUILD)/assignments
	$(PY) -m effteach.tools.book --out $(BUILD)/book
	$(PY) -m pytest tests $(BUILD)/ipynb --nbval-lax --nbval-current-env \
	    --junitxml=$(BUILD)/junit.xml

lab: setup
	$(VENV)/bin/effteach lab

clean:
	rm -rf $(BUILD) book/_build
