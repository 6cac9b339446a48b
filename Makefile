# Two entry points on a fresh machine with Python 3.10+ and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint pytest conformance bench stress clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# The whole suite: lint, types, the project's tests and Django's own cache conformance suite.
test: $(STAMP)
	$(PY) -m ruff check diskcache_admin tests testproject benchmarks
	$(PY) -m ruff format --check diskcache_admin tests testproject benchmarks
	$(PY) -m mypy
	$(PY) -m pytest -n 2 --cov --cov-report=term
	$(PY) -m tests.conformance

lint: $(STAMP)
	$(PY) -m ruff check diskcache_admin tests testproject benchmarks
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m benchmarks.backends

stress: $(STAMP)
	$(PY) -m benchmarks.stress --help

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .coverage* htmlcov
