# The two user commands: `make reproduce` and `make test`.
# Each builds its own virtual environment in .venv/ and installs what it needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCALE  ?= quick
OUT    ?= results

.PHONY: reproduce test test-fast venv data clean mutate

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.py pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(VENV)/.installed

# Debian's Fashion-MNIST is the embedded data set for the MLP/CNN experiments.
# Installed with apt-get when that is usable; otherwise we say how, and go on.
data:
	@if [ -d /usr/share/datasets/fashion-mnist ] || [ -n "$$SHB_DATA" ]; then \
	  true; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } || \
	  echo "note: could not install dataset-fashion-mnist; MLP/CNN experiments need --data-dir or SHB_DATA"; \
	else \
	  echo "note: Fashion-MNIST not found; run 'sudo apt-get install dataset-fashion-mnist' or set SHB_DATA"; \
	fi

# SCALE=medium runs the offline experiment at its medium scale (the paper's four horizons, sized for an hour on two
# idle cores), its fit variant (registry least_scale: only from medium) and every part without a medium scale at
# quick (experiments/registry.py, FALLBACK).
reproduce: venv data
	$(BIN)/shb reproduce --scale $(SCALE) --out $(OUT)

# The whole suite on every core (pytest-xdist; --dist loadfile: a test file's shared set-up, such as the one run
# of the proofs, is computed once, on the worker that runs the file), then the tests marked serial, alone.
TEST_WORKERS ?= auto
PARALLEL := -n $(TEST_WORKERS) --dist loadfile

test: venv data
	$(BIN)/python -m pytest -q $(PARALLEL) -m "not serial" tests
	$(BIN)/python -m pytest -q -m serial tests

# About a minute: every test not marked slow (no real runs, new processes, derivations, proofs or wheel).
test-fast: venv data
	$(BIN)/python -m pytest -q $(PARALLEL) -m "not slow" tests

# Mutation testing of the NQM math (docs/mutation.md): cosmic-ray, installed here only, mutates
# numeric/nqm/{checks,dynamics,adjoint,montecarlo,schedules}.py in place, one mutant at a time, and runs
# the fast NQM tests against each. Takes hours: leave this checkout alone meanwhile.
# Report: .mutate/report.txt. MUTATE_ARGS: --resume goes on with interrupted sessions, --recheck runs the
# survivors again against the current tests, --only nqm_checks ... restricts the modules.
mutate: venv
	$(BIN)/pip install --quiet 'cosmic-ray==8.7.0'
	$(BIN)/python tests/mutation/run.py $(MUTATE_ARGS)

clean:
	rm -rf $(VENV) $(OUT) *.egg-info .pytest_cache .hypothesis .mutate
