# Every target creates what it needs, so a fresh clone needs only Python 3 and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Prefect settings for the demo live in the checkout, not in ~/.prefect.
DEMO_HOME := $(CURDIR)/.prefect-demo

# The support matrix: each cell is a venv built from the pin file
# `constraints/CELL.txt`, and `make test` runs the whole suite in every cell.
CELLS := p3-latest p3-oldest p2-pydantic2 p2-pydantic1
# A cell's pytest is stopped after this many seconds, so that a hung test fails
# the run instead of holding it.
CELL_TIMEOUT ?= 900
# Extra pytest arguments for every cell, such as PYTEST_ARGS='-x -k flows'.
PYTEST_ARGS ?=
# The newest cell, p3-latest, lives in the default venv, which `make demo` uses
# too. It alone runs the end-to-end tests (a real Prefect 3 server and Chromium)
# and the benchmark harness in its quick mode; the other cells deselect them.
FULL_CELL := p3-latest
FULL_EXTRAS := test,bench,e2e,docs
OTHER_CELLS := $(filter-out $(FULL_CELL),$(CELLS))

.PHONY: install demo test test-fast docs bench lint clean

install: $(VENV)/.installed

# A changed pin file rebuilds its venv from scratch, so no old package stays.
$(VENV)/.installed: pyproject.toml constraints/$(FULL_CELL).txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r constraints/$(FULL_CELL).txt -e '.[$(FULL_EXTRAS)]'
	touch $@

.venv-%/.installed: constraints/%.txt pyproject.toml
	rm -rf .venv-$*
	$(PYTHON) -m venv .venv-$*
	.venv-$*/bin/pip install --quiet --upgrade pip
	.venv-$*/bin/pip install --quiet -r constraints/$*.txt -e '.[test]'
	touch $@

# The demo uses a temporary local Prefect API, never a server or Cloud
# workspace configured in the environment.
demo: install
	env -u PREFECT_API_URL -u PREFECT_API_KEY PREFECT_HOME=$(DEMO_HOME) \
		$(BIN)/python examples/demo.py

# Every cell runs, even after one fails, with a Prefect home (and so a database)
# of its own; the target fails if any cell failed, pytest's exit code 5 (no
# tests collected) included.
test: install $(OTHER_CELLS:%=.venv-%/.installed)
	@failed=""; \
	for cell in $(CELLS); do \
		if [ $$cell = $(FULL_CELL) ]; then \
			python=$(BIN)/python; marks=""; \
		else \
			python=.venv-$$cell/bin/python; marks="not e2e and not bench"; \
		fi; \
		home=$$(mktemp -d); \
		start=$$(date +%s); \
		echo "== $$cell: $$($$python -c 'import prefect, pydantic; print("prefect", prefect.__version__, "pydantic", pydantic.VERSION)')"; \
		PREFECT_HOME=$$home timeout $(CELL_TIMEOUT) \
			$$python -m pytest -p no:cacheprovider -m "$$marks" $(PYTEST_ARGS); \
		status=$$?; \
		rm -rf $$home; \
		echo "== $$cell: pytest exit code $$status after $$(( $$(date +%s) - start )) s"; \
		if [ $$status -ne 0 ]; then failed="$$failed $$cell"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "Failed cells:$$failed" >&2; exit 1; fi

# The newest Prefect 3 only, in the default venv.
test-fast: install
	@home=$$(mktemp -d); \
	PREFECT_HOME=$$home $(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS); \
	status=$$?; rm -rf $$home; exit $$status

# The docs site, built the way CI checks it.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The full benchmark: rewrites docs/benchmarks.md and docs/images/fanout.png.
bench: install
	$(BIN)/python -m benchmarks.run

lint: install
	$(BIN)/pip install --quiet ruff
	$(BIN)/ruff check prefect_census tests examples benchmarks
	$(BIN)/ruff format --check prefect_census tests examples benchmarks

clean:
	rm -rf $(VENV) .venv-* $(DEMO_HOME) site
