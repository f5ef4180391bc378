# The two Quick-start commands. Both create .venv on first use (pip, pinned
# versions from requirements.txt) and reuse it afterwards.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
# make test's pytest workers (xdist): one more than the cores, since a worker that waits on a stage's subprocess
# or a timed wait leaves its core to the others (2 cores: 3 workers took 584 s of pytest, 2 workers 682 s); each
# test file stays in one worker (--dist loadfile), so its module fixtures are built once. TEST_WORKERS=0 runs
# the suite in this process, one test after another. --no-loadscope-reorder keeps tests/conftest.py's order
# (longest files first): xdist's default sorts files by their number of tests, which started the one-test DVC
# round trip 400 s into a 568 s run, so that it ran alone at the end.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))
# Idle OpenMP threads sleep instead of spinning: with 2 threads on a 2-core machine that also runs another job,
# spinning threads made a training step 16x slower here (4.0 s against 0.21 s; README, Devices).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: run sweep seeds test venv clean-results

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@# -qq: the machine's pip configuration names find-links folders that do not all exist, and -q
	@# still prints hundreds of harmless "Location ... is ignored" warnings; errors still show.
	@# --no-compile, then compileall -j 0: pip byte-compiles every installed file on one core (74 of its 198 CPU
	@# seconds here); compileall does the same work on every core. The .pyc files of all that runs are there, so no
	@# process compiles at import (this machine sets PYTHONDONTWRITEBYTECODE=1: it would, every time).
	@# A file some package ships that does not compile is skipped, as pip skips it. Skipped too: the packages'
	@# own test suites and pip/setuptools, which nothing imports at run time (3,900 of 14,700 files: 63 → 45 CPU s).
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -qq --no-compile -r requirements.txt
	$(BIN)/python -m compileall -qq -j 0 -x '/tests?/|/site-packages/(pip|setuptools)/' $(VENV)/lib || true
	$(BIN)/python -m pip install --disable-pip-version-check -qq --no-deps --no-build-isolation -e .
	touch $(STAMP)

## run: set up, then run the whole default study (real MNIST, CPU) with Snakemake
run: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES)

## sweep: the default study plus params.yaml's λ × β sweep (the frontier figure and the choice of setting)
sweep: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile workflow/frontier.yaml

## seeds: the default study plus params.yaml's training-seeds replicates and their table (results/seeds/report)
seeds: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/snakemake --cores $(CORES) --configfile workflow/seeds.yaml

## test: set up, then run the test suite
test: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		$(PYTEST_ARGS)

clean-results:
	rm -rf results .snakemake

## dvc.yaml: regenerate the DVC stages from the stage table (workflow/stage_table.py; after changing sweep lists, stages or a list's length)
dvc.yaml: $(wildcard workflow/*.py) params.yaml $(wildcard hyperman/*.py hyperman/*/*.py) | $(STAMP)
	$(BIN)/python workflow/pipeline.py dvc-yaml > dvc.yaml.tmp && mv dvc.yaml.tmp dvc.yaml
