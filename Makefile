# Every target creates what it needs, so a fresh clone needs only Python 3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Prefect settings for the demo live in the checkout, not in ~/.prefect.
DEMO_HOME := $(CURDIR)/.prefect-demo

.PHONY: install demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: install
	PREFECT_HOME=$(DEMO_HOME) $(BIN)/python examples/demo.py

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check prefect_census tests examples
	$(BIN)/ruff format --check prefect_census tests examples

clean:
	rm -rf $(VENV) .venv-* $(DEMO_HOME) site
