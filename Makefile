# ShopBot developer tasks. `make` alone lists them.
# Everything runs from a virtualenv in $(VENV), created and filled by `make install`.

VENV ?= .venv
PYTHON ?= python3
PYTEST_ARGS ?=
PRESET ?= marketplace

BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
UV_VERSION ?= 0.13.9
.PHONY: help install test lint format demo migrate bench clean locales lock

help: ## list the targets
	@echo "ShopBot: make TARGET"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z]+):.*## (.*)/  \1\t\2/' | expand -t 12

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when the lock changes (or the venv is new): every dependency, transitive
# ones too, at the version and with the hashes in requirements-dev.lock; then ShopBot itself.
$(STAMP): pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

# The lock files from pyproject.toml's pins: requirements.lock (what the bot runs on, for the
# Dockerfile) and requirements-dev.lock (with the dev tools, for make install and CI). Run
# after changing a dependency in pyproject.toml; commit both.
LOCK_ARGS = pyproject.toml --universal --python-version 3.11 --generate-hashes --no-header --quiet
lock: | $(BIN)/python ## regenerate requirements.lock and requirements-dev.lock (with hashes)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	echo "# make lock: every dependency of ShopBot (pyproject.toml), pinned and hashed. Do not edit." > requirements.lock
	$(BIN)/uv pip compile $(LOCK_ARGS) >> requirements.lock
	echo "# make lock: ShopBot and its dev tools (pyproject.toml [dev]), pinned and hashed. Do not edit." > requirements-dev.lock
	$(BIN)/uv pip compile $(LOCK_ARGS) --extra dev >> requirements-dev.lock

install: $(STAMP) ## create the venv and install ShopBot with its dev tools
	@$(BIN)/python -c "from bot.i18n import compile_catalogs; compile_catalogs()"

locales: install ## extract the texts to translate and update the ru/uk/en catalogs
	$(BIN)/pybabel extract -F babel.cfg -k _ -k __ -k lazy_gettext -o locales/messages.pot --no-location --sort-output --omit-header .
	for lang in ru uk en; do \
	  if [ -f locales/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update -N --no-fuzzy-matching -i locales/messages.pot -d locales -l $$lang; \
	  else \
	    $(BIN)/pybabel init -i locales/messages.pot -d locales -l $$lang; \
	  fi; \
	done

# Two workers (pytest-xdist) on the two cores CI has; each worker has its own databases.
TEST_WORKERS ?= 2

test: install ## run the tests (PostgreSQL/Redis ones need TEST_POSTGRES_URL/TEST_REDIS_URL)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install ## ruff format, then ruff check --fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

demo: install ## the whole order flow through the bot and the emulator (PRESET=platform too)
	$(BIN)/python -m bot demo --preset $(PRESET)

migrate: install ## bring DATABASE_URL to the newest schema
	$(BIN)/python -m bot migrate

bench: install ## apply, direct statements, tap, pumps, sweep, API, documents, ledger, returns, operations, Mini App, redraws, stock (bench/RESULTS.md)
	$(BIN)/python bench/bench_apply.py
	$(BIN)/python bench/bench_direct.py
	$(BIN)/python bench/bench_payments.py
	$(BIN)/python bench/bench_tap.py
	$(BIN)/python bench/bench_pump.py
	$(BIN)/python bench/bench_mail.py
	$(BIN)/python bench/bench_sweep.py
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_list.py
	$(BIN)/python bench/bench_documents.py
	$(BIN)/python bench/bench_ledger.py
	$(BIN)/python bench/bench_returns.py
	$(BIN)/python bench/bench_operations.py
	$(BIN)/python bench/bench_desk.py
	$(BIN)/python bench/bench_redraws.py
	$(BIN)/python bench/bench_stock.py

clean: ## remove the venv, caches, build output and data/
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build dist *.egg-info data
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
