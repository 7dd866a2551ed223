# Two commands for a fresh clone; each creates .venv/ on first use:
#   make figures   regenerate every figure into figures/ (and each claim counterexample's mixture file into
#                  figures/counterexamples/)
#   make test      run the whole test suite
VENV   := .venv
PYTHON ?= python3
STAMP  := $(VENV)/.installed

.PHONY: figures test test-fast lint bench notebooks readme clean-venv

figures: $(STAMP)
	$(VENV)/bin/mclr-sandbox figures
	$(VENV)/bin/mclr-sandbox claims --data none --counterexamples figures/counterexamples

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2 --dist worksteal -m "not slow"

# every bash block of README.md, as written, after the set-up and the distributed and diffusers extras (the suite
# runs the Python blocks)
readme: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[dev,distributed,diffusers]'
	$(VENV)/bin/python tests/run_readme_bash.py

lint: $(STAMP)
	$(VENV)/bin/ruff check sandbox tests benchmarks notebooks examples

# execute every notebook (SANDBOX_FAST=1 for the quick setting) into build/notebooks/*.ipynb, outputs included
notebooks: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[dev,notebooks]'
	mkdir -p build/notebooks
	for f in notebooks/*.py; do \
		$(VENV)/bin/jupytext --to ipynb --execute --output build/notebooks/$$(basename $$f .py).ipynb $$f || exit 1; \
	done

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/bench_score.py
	$(VENV)/bin/python benchmarks/bench_sampling.py
	$(VENV)/bin/python benchmarks/bench_spherical.py
	$(VENV)/bin/python benchmarks/bench_training.py
	$(VENV)/bin/python benchmarks/bench_ensemble.py
	$(VENV)/bin/python benchmarks/bench_load.py
	$(VENV)/bin/python benchmarks/bench_allocator.py
	$(VENV)/bin/pip install --quiet -e '.[dev,distributed]'
	$(VENV)/bin/python benchmarks/bench_sweeps.py

# torch first, pinned to the CPU build: a bare "torch" requirement would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean-venv:
	rm -rf $(VENV)
