# One entry point for people and CI. `make run` serves the demo desk; `make test` runs everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint typecheck pytest bench bench-bot lock i18n system-deps clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

## Install and run kefu with its embedded defaults: SQLite, demo data, http://127.0.0.1:8000
run: $(STAMP)
	$(BIN)/kefu demo

## Install everything (Python packages and the PostgreSQL server) and run the whole test suite
test: system-deps $(STAMP) check pytest

system-deps:
	./scripts/install-system-deps.sh

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -n auto

bench: system-deps $(STAMP)
	$(BIN)/python bench/tickets_api.py

## The bot's intent classifier on banking77 (../shared/data/banking77; BANKING77=folder to override)
BANKING77 ?= ../shared/data/banking77
bench-bot: $(STAMP)
	$(BIN)/python bench/bot_banking77.py --data $(BANKING77)

## Re-pin every dependency (runtime and dev) into requirements.lock
lock:
	$(BIN)/pip-compile --quiet --no-emit-index-url --no-emit-find-links --extra dev --strip-extras --output-file requirements.lock pyproject.toml

## Extract messages, merge them into the catalogues and compile them
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k t --no-location --sort-output -o src/kefu/locale/messages.pot src/kefu
	$(BIN)/pybabel --quiet update -i src/kefu/locale/messages.pot -d src/kefu/locale --no-fuzzy-matching
	$(BIN)/pybabel --quiet compile -d src/kefu/locale

clean:
	rm -rf $(VENV) kefu.db kefu.db-shm kefu.db-wal
