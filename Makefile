# Two entry points on a fresh machine with Python 3.10+ and make: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# The supported (Python, Django) pairs that `make test` runs beside the main run, each in a venv
# of its own (.venv-<pair>) with its Django pinned: the oldest pair, Django 6.0, and the newest
# pair. The main run is the default .venv ($(PYTHON) with the newest Django pip picks for it;
# Python 3.11 with Django 5.2 on the project's machines), so every supported Python runs once.
# Keep this list, pyproject.toml's classifiers and Django range, and the README's requirements
# (docs/_readme_head.rst) in step: they name exactly the pairs tested here.
PAIRS := py310-dj52 py312-dj60 py313-dj61
py310-dj52 := 3.10 Django~=5.2.0
py312-dj60 := 3.12 Django~=6.0.0
py313-dj61 := 3.13 Django~=6.1.0

# Branch coverage of the main run (package and tests) may not fall below this figure, which is
# the one measured when the floor was set, rounded down. Raise it as coverage grows; the goal is
# 95. Only `make test` applies it: a partial `pytest --cov` run does not fail on it.
COVERAGE_FLOOR := 91

# An interpreter for Python X.Y: pyenv's own build first, then pythonX.Y on PATH.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null)
find_python = $(firstword $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1)) \
  $(shell command -v python$(1) 2>/dev/null))
pair_python = $(call find_python,$(word 1,$($(1))))
MISSING_PAIRS = $(foreach p,$(PAIRS),$(if $(call pair_python,$(p)),,$(p)))

# The matrix runs leave out what the main run already covers once: browser tests and coverage.
PAIR_PYTEST := -m pytest -n 2 -q -m 'not browser' -p no:cacheprovider

.PHONY: demo test lint matrix pairs-available bench stress clean \
  $(PAIRS:%=pair-%)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=25.1"
	$(PY) -m pip install --quiet -e . --group dev
	touch $(STAMP)

# A pair's venv: the test dependencies with the pair's Django; reinstalled when pyproject changes.
.venv-%/.installed: pyproject.toml
	@py="$(call pair_python,$*)"; \
	  if [ -z "$$py" ]; then echo "no Python $(word 1,$($*)) for the $* pair" >&2; exit 1; fi; \
	  echo "$$py -m venv .venv-$*"; "$$py" -m venv .venv-$*
	.venv-$*/bin/python -m pip install --quiet --upgrade "pip>=25.1"
	.venv-$*/bin/python -m pip install --quiet -e . --group test "$(word 2,$($*))"
	touch $@

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

# The whole suite: lint, types, the project's tests with branch coverage and the browser tests,
# Django's own cache conformance suite; then the tests and conformance on every supported pair.
test: pairs-available $(STAMP)
	$(PY) -m ruff check diskcache_admin tests testproject benchmarks
	$(PY) -m ruff format --check diskcache_admin tests testproject benchmarks
	$(PY) -m mypy
	$(PY) -c "import sys, django; print('main run: Python', sys.version.split()[0], 'Django', django.get_version())"
	$(PY) -m pytest -n 2 --cov --cov-report=term --cov-fail-under=$(COVERAGE_FLOOR)
	$(PY) -m tests.conformance
	@$(MAKE) --no-print-directory matrix

# Every supported pair whose interpreter is here (pyenv's, or pythonX.Y on PATH).
matrix: pairs-available $(PAIRS:%=pair-%)

# A pair without an interpreter is skipped with a message on a developer's machine; under CI it
# is a failure, before anything runs, since CI's machines have them all.
pairs-available:
	@for p in $(MISSING_PAIRS); do \
	  echo "make test: no interpreter for the $$p pair (pyenv root '$(PYENV_ROOT)', PATH):" \
	    "SKIPPING its tests and conformance run" >&2; \
	done; \
	if [ -n "$(MISSING_PAIRS)" ] && [ -n "$$CI" ]; then \
	  echo "make test: missing pairs $(MISSING_PAIRS) (required because CI is set)" >&2; exit 1; \
	fi

$(PAIRS:%=pair-%): pair-%:
	@if [ -z "$(call pair_python,$*)" ]; then exit 0; fi; \
	  $(MAKE) --no-print-directory .venv-$*/.installed && \
	  echo "== pair $*: $$(.venv-$*/bin/python -c 'import sys, django; print("Python", sys.version.split()[0], "Django", django.get_version())')" && \
	  echo ".venv-$*/bin/python $(PAIR_PYTEST)" && \
	  .venv-$*/bin/python $(PAIR_PYTEST) && \
	  echo ".venv-$*/bin/python -m tests.conformance" && \
	  .venv-$*/bin/python -m tests.conformance

lint: $(STAMP)
	$(PY) -m ruff check diskcache_admin tests testproject benchmarks
	$(PY) -m mypy

bench: $(STAMP)
	$(PY) -m benchmarks.backends

stress: $(STAMP)
	$(PY) -m benchmarks.stress --help

clean:
	rm -rf $(VENV) $(PAIRS:%=.venv-%) var .pytest_cache .mypy_cache .coverage* htmlcov
