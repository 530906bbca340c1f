# Everyday targets; `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CODE := $(wildcard services tests bench)
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo up test test-kafka lint format typecheck schemas bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Marchwarden with its dev tools

demo: $(STAMP) ## The main job: embedded stack + compressed scenario + summary
	$(BIN)/marchwarden demo

up: $(STAMP) ## Run the embedded stack (tansu + Faust worker + chDB) until Ctrl-C
	$(BIN)/marchwarden up

test: $(STAMP) ## Run the test suite on embedded tansu and chDB
	$(BIN)/pytest -q $(PYTEST_ARGS)

test-kafka: $(STAMP) ## Run the integration suite on Apache Kafka (jars from Maven Central)
	$(BIN)/pytest -q --broker=kafka $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)

format: $(STAMP) ## Apply ruff formatting and fixes
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

typecheck: $(STAMP) ## mypy --strict on the package
	$(BIN)/mypy

schemas: $(STAMP) ## Regenerate schemas/json from the contracts
	$(BIN)/marchwarden schemas --out schemas/json

bench: $(STAMP) ## Run the benchmarks and write docs/benchmarks.md
	$(BIN)/python -m bench.run

clean: ## Remove the local data directory and caches
	rm -rf .marchwarden .pytest_cache .mypy_cache .ruff_cache
