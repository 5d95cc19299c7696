# The course's two commands:
#   make lab    create the environment if needed and open the course in JupyterLab
#   make test   create the environment if needed and run every test
# Other targets: notebooks (execute sources), bench, assignments, grade, site (the course as a
# website in build/site/), lock, set-repo, clean.

# The newest supported Python on the PATH (3.13, then 3.12, then 3.11; one that runs, as a pyenv
# shim may not), or PYTHON=/path/to/python. scripts/lock.py --check-python says which are supported.
ifndef PYTHON
PYTHON := $(shell for v in 3.13 3.12 3.11; do python$$v -c '' >/dev/null 2>&1 && { command -v python$$v; exit; }; done; \
            command -v python3)
endif
VENV ?= .venv
PY := $(VENV)/bin/python
# The environment's Python (.venv's once it exists) picks its pair of locks (scripts/lock.py):
# requirements/*.lock for 3.11, requirements/py3.12/ and requirements/py3.13/ for the others.
PY_VERSION := $(shell $(if $(wildcard $(PY)),$(PY),$(PYTHON)) -c 'import sys; print("%d.%d" % sys.version_info[:2])' \
                2>/dev/null)
LOCKS := requirements$(if $(filter-out 3.11,$(PY_VERSION)),/py$(PY_VERSION))
PYTEST := $(PY) -m pytest
BACKENDS := tensorflow jax torch
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg \
               --nbval-cell-timeout=600 -p no:cacheprovider

.PHONY: lab test test-suites test-repo test-lib $(addprefix test-lib-,$(BACKENDS)) test-doctest test-zoo test-notebooks \
        test-notebooks-0 test-notebooks-1 test-notebooks-2 test-assignments test-site notebooks prose \
        bench assignments grade zoo site lock set-repo course-map clean

$(PY):
	@$(PYTHON) scripts/lock.py --check-python
	$(PYTHON) -m venv $(VENV)

$(VENV)/.lab: $(PY) $(LOCKS)/lab.lock pyproject.toml
	$(PY) -m pip install -q -r $(LOCKS)/lab.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

$(VENV)/.test: $(VENV)/.lab $(LOCKS)/test.lock
	$(PY) -m pip install -q -r $(LOCKS)/test.lock
	@touch $@

# Jupyter refuses to run as root (containers, some cloud machines) unless told to.
lab: $(VENV)/.lab
	$(PY) -m ipykernel install --user --name cnn-course --display-name "CNN course (Python $(PY_VERSION))"
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

# Every check below is a job of one queue, run two at a time (`make -j2`): make starts the jobs
# in the order of TEST_JOBS, longest first, each as soon as a slot is free, so that both cores
# stay busy to the end (benchmarks/make_test.md has the times). Much of a job's time runs on one
# core (Python, XLA compiling, plotting), so two overlap well. Each job's output is printed
# when it ends. `make test-suites` runs every check but the notebooks, one after another.
TEST_JOBS := test-notebooks-1 test-lib-jax test-assignments test-notebooks-0 test-notebooks-2 \
             test-lib-tensorflow test-zoo test-site test-lib-torch test-repo test-doctest
test:
	@$(MAKE) --no-print-directory -j2 --output-sync=target $(TEST_JOBS)

test-suites: test-repo test-lib test-doctest test-zoo test-assignments test-site

# Repository checks: ruff on the Python code (pyproject.toml's [tool.ruff]), lock files, notebook
# sources vs executed copies, hygiene.
test-repo: $(VENV)/.test
	$(PY) -m ruff check course_lib scripts tests benchmarks site
	$(PYTEST) tests/repo

# course_lib's unit tests, once per Keras backend, each in its own process
# (`make test-lib BACKENDS=jax` runs one).
test-lib: $(addprefix test-lib-,$(BACKENDS))

$(addprefix test-lib-,$(BACKENDS)): test-lib-%: $(VENV)/.test
	@echo "=== course_lib tests on KERAS_BACKEND=$*"
	KERAS_BACKEND=$* $(PYTEST) tests/lib

# Every `>>>` example in course_lib's docstrings, run as a doctest (TensorFlow backend).
test-doctest: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) --doctest-modules -o testpaths= -p no:cacheprovider course_lib

# The recorded CIFAR-10 models (course_lib.zoo, data/zoo/): their recorded predictions re-checked, their
# targets met, and the first steps of a recorded run re-run from its seed (TensorFlow, which
# trained them).
test-zoo: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) tests/zoo

# nbval re-executes every committed notebook (TensorFlow backend), in three groups that
# `make test` can run side by side: 00-09, 10-19, and the rest (20 on).
NOTEBOOKS_0 := $(wildcard notebooks/0[0-9]_*.ipynb)
NOTEBOOKS_1 := $(wildcard notebooks/1[0-9]_*.ipynb)
NOTEBOOKS_2 := $(filter-out $(NOTEBOOKS_0) $(NOTEBOOKS_1),$(wildcard notebooks/*.ipynb))
test-notebooks: test-notebooks-0 test-notebooks-1 test-notebooks-2

test-notebooks-0 test-notebooks-1 test-notebooks-2: test-notebooks-%: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) $(NBVAL_FLAGS) $(NOTEBOOKS_$*)

# The graded assignments: student versions current, solutions full marks, untouched
# student notebooks zero, planted wrong submissions caught (tests/assignments).
test-assignments: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) tests/assignments

# The website (site/build.py builds it; tests/site): every page, link, anchor and image; no
# assignment solution or hidden test; every page opened in headless Chromium (Debian's `chromium`,
# which .ci/run installs): no console error, no request that leaves the site, math typeset, search.
test-site: site
	$(PYTEST) tests/site

# Execute the jupytext sources into the committed .ipynb files, recording timings.
notebooks: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PY) scripts/notebooks.py build $(NB)

# Copy edited Markdown (prose only) into the committed .ipynb files, outputs kept, no execution.
prose: $(VENV)/.test
	$(PY) scripts/notebooks.py prose $(NB)

# Execute every notebook and write benchmarks/notebooks.{csv,md} and the README's runtimes.
bench: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PY) scripts/notebooks.py build

# Regenerate the assignments' student versions (committed) and autograders (build/).
assignments: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PY) scripts/assignments.py build $(A)

# Grade a folder of submissions in bubblewrap's sandbox (Debian: apt-get install bubblewrap):
# make grade A=A1_convolution_and_pooling SUBMISSIONS=dir [OUT=scores.csv] [TIME_LIMIT=60] [NO_ISOLATION=1]
# Writes OUT and one feedback file per submission in OUT's stem + -feedback/. NO_ISOLATION=1 runs
# submissions without the sandbox: development machines and trusted notebooks only.
grade: $(VENV)/.lab
	@test -n "$(A)" -a -n "$(SUBMISSIONS)" || \
	  (echo "usage: make grade A=A1_convolution_and_pooling SUBMISSIONS=folder [OUT=scores.csv] [TIME_LIMIT=60] [NO_ISOLATION=1]" && exit 2)
	@test -n "$(NO_ISOLATION)" || command -v bwrap >/dev/null || \
	  (echo "make grade needs bubblewrap (bwrap) to sandbox each submission: install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap), or add NO_ISOLATION=1 on a development machine with trusted notebooks only." && exit 2)
	KERAS_BACKEND=tensorflow $(PY) -I scripts/assignments.py grade $(A) $(SUBMISSIONS) -o $(or $(OUT),scores-$(A).csv) \
	  --time-limit $(or $(TIME_LIMIT),60) $(if $(NO_ISOLATION),--no-isolation)

# Train (or resume) recorded CIFAR-10 models: make zoo [NAMES="resnet20 vgg16"] (default: all).
zoo: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PY) scripts/train_zoo.py $(or $(NAMES),all)

# The course as a static website in build/site/: the committed notebooks with their outputs (never
# executed), the assignments' student pages, the README's setup sections, built offline. Open
# build/site/index.html, or serve it: python -m http.server -d build/site
site: $(VENV)/.test
	$(PY) site/build.py

# Re-create the locks of every supported Python from pyproject.toml (scripts/lock.py says how);
# `$(PYTHON) scripts/lock.py --derive` re-creates only those of 3.12 and 3.13.
lock:
	$(PYTHON) scripts/lock.py

set-repo: $(VENV)/.test
	@test -n "$(URL)" || (echo "usage: make set-repo URL=https://github.com/OWNER/REPO" && exit 2)
	$(PY) scripts/notebooks.py set-repo $(URL)

# Rewrites the README's course map and concept map (notebooks/concepts.csv), and checks the latter.
course-map: $(VENV)/.test
	$(PY) scripts/notebooks.py course-map

clean:
	rm -rf $(VENV) data/cache build .pytest_cache
