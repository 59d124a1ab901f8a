# `make demo`: create .venv, install (CPU torch first), train LMF with the recommended MS-Mix setting on the
# built-in data (into outputs/lmf-msmix-recommended, written over by the next `make demo`).
# `make test`: the test suite (CI runs exactly this after the same install).
# `make docs`: the documentation site into site/, strict (a broken link or reference fails; not with
# --quiet, which hides the warnings that strict mode counts).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test docs

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,docs]"
	touch $@

demo: setup
	$(VENV)/bin/accelerate launch trainer/run.py --augmentation msmix:stop_gradient_per_sample_sal \
		--output_dir outputs/lmf-msmix-recommended --overwrite_output_dir

# One OpenMP thread unless the caller sets OMP_NUM_THREADS (`make test OMP_NUM_THREADS=2`, or in the
# environment). One is the default: tests fork processes (accelerate's debug launcher, datasets.map
# workers), which is unsafe once an OpenMP pool has run with more threads, and compare features bit for
# bit across 1 and 2 processes. Those tests fork from fresh processes started with OMP_NUM_THREADS=1 and
# pin the thread count of the runs they compare, so the suite passes with other counts too.
OMP_NUM_THREADS ?= 1
test: setup
	OMP_NUM_THREADS=$(OMP_NUM_THREADS) $(PY) -m pytest -q -rs tests

docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
