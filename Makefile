# The few verbs people use. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS := subscriber,beacon,langchain,dev
# The local BigQuery stand-in for the integration tests lives in its own venv: its pins
# (sqlglot<30.12, grpcio-tools<1.81) clash with ours, and it needs numpy without declaring it.
# DuckDB stays on 1.x: under 2.x bqemulator 1.4.0 answers 500 to any insert after a
# tabledata.list (a fetchone() leaves a result open on its one connection).
BQEMULATOR_VENV ?= .venv-bqemulator
BQEMULATOR_PACKAGES := bqemulator==1.4.0 numpy==2.4.6 duckdb==1.5.6

.PHONY: setup setup-bench setup-test demo test test-fast lint format bench generate bundle clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "il-audit needs Python 3.11+ (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

$(BQEMULATOR_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(BQEMULATOR_VENV)
	$(BQEMULATOR_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BQEMULATOR_VENV)/bin/python -m pip install --quiet $(BQEMULATOR_PACKAGES)
	@touch $@

# The benchmarks' peers (Segment, PostHog) and py-spy: the `bench` extra, never a dependency.
$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[$(EXTRAS),bench]'
	@touch $@

# `demo` needs only the package; `test` also needs the BigQuery stand-in's venv and the
# `bench` extra (a quick run of each benchmark checks that they still work).
setup: $(VENV)/.installed

setup-bench: $(VENV)/.bench-installed

setup-test: $(VENV)/.installed $(VENV)/.bench-installed $(BQEMULATOR_VENV)/.installed

demo: setup
	$(VENV)/bin/il-audit demo

# Coverage starts before pytest so that modules pytest plugins import early are measured;
# the Python processes the tests start (the function, the CLI) are measured too
# (pyproject.toml: patch = ["subprocess"]), each in its own data file: combined here.
test: setup-test
	$(PY) -m coverage erase
	$(PY) -m coverage run -m pytest --durations=30
	$(PY) -m coverage combine --quiet
	$(PY) -m coverage report

# The edit-run loop: the unit tests, the seed API and the layout rules, without the Pub/Sub
# emulator, the BigQuery stand-in, browsers or child processes (markers in pyproject.toml);
# under 2 minutes on a 2-core machine. CI runs `make test`, the whole suite.
FAST_TESTS := tests/unit tests/compat tests/test_architecture.py tests/test_test_hygiene.py \
	tests/test_cost_model.py
FAST_MARKERS := not emulator and not standin and not browser and not subprocess

test-fast: setup
	$(PY) -m pytest -q $(FAST_TESTS) -m "$(FAST_MARKERS)"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Every benchmark, ours and the peers in the same run, results written to benchmarks/README.md.
# soak.py takes about 18 minutes: the pull worker with a discard sink for 10, into DuckDB for 5,
# then a million rows twice through the DuckDB sink (time-ordered and random ids).
bench: setup-bench
	$(PY) benchmarks/publisher_bench.py --write
	$(PY) benchmarks/subscriber_bench.py --write
	$(PY) benchmarks/pull_bench.py --write
	$(PY) benchmarks/profile_bench.py --write
	$(PY) benchmarks/soak.py --write
	$(PY) benchmarks/retrieval_bench.py --write

# Regenerate infra/terraform's derived files (schemas, tables.tf, views/, views.tf) after
# changing the row models or il_audit/sql, docs/settings.md with the beacon doc's settings
# table after changing a setting, and docs/privacy.md's inventory after changing a view or
# a personal-data tag; a test fails while any of them is out of date.
generate: setup
	$(VENV)/bin/il-audit infra terraform --module infra/terraform
	$(VENV)/bin/il-audit schema settings --write
	$(VENV)/bin/il-audit schema privacy --write

# The subscriber function's deployable source, which infra/terraform zips and uploads.
bundle: setup
	$(VENV)/bin/il-audit function bundle --out build/function-bundle

clean:
	rm -rf $(VENV) $(BQEMULATOR_VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
