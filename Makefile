# The course's two commands:
#   make lab    create the environment if needed and open the course in JupyterLab
#   make test   create the environment if needed and run every test
# Other targets: notebooks (execute sources), bench, assignments, grade, lock, set-repo, clean.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
BACKENDS := tensorflow jax torch
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg \
               --nbval-cell-timeout=600 -p no:cacheprovider

.PHONY: lab test test-repo test-lib test-zoo test-notebooks test-assignments notebooks prose bench assignments \
        grade zoo lock set-repo course-map clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else \
	  "The course needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.lab: $(PY) requirements/lab.lock pyproject.toml
	$(PY) -m pip install -q -r requirements/lab.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $@

$(VENV)/.test: $(VENV)/.lab requirements/test.lock
	$(PY) -m pip install -q -r requirements/test.lock
	@touch $@

# Jupyter refuses to run as root (containers, some cloud machines) unless told to.
lab: $(VENV)/.lab
	$(PY) -m ipykernel install --user --name cnn-course --display-name "CNN course (Python 3.11)"
	$(PY) -m jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: test-repo test-lib test-zoo test-notebooks test-assignments

# Repository checks: lock files, notebook sources vs executed copies, hygiene.
test-repo: $(VENV)/.test
	$(PYTEST) tests/repo

# course_lib's unit tests, once per Keras backend, each in its own process.
test-lib: $(VENV)/.test
	@set -e; for backend in $(BACKENDS); do \
	  echo "=== course_lib tests on KERAS_BACKEND=$$backend"; \
	  KERAS_BACKEND=$$backend $(PYTEST) tests/lib; \
	done

# The recorded CIFAR-10 models (course_lib.zoo, data/zoo/): re-evaluated on the test set, their
# targets met, and the first steps of a recorded run re-run from its seed (TensorFlow, which
# trained them).
test-zoo: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) tests/zoo

# nbval re-executes every committed notebook (TensorFlow backend).
test-notebooks: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) $(NBVAL_FLAGS) --ignore=notebooks/assignments notebooks/

# The graded assignments: student versions current, solutions full marks, untouched
# student notebooks zero, planted wrong submissions caught (tests/assignments).
test-assignments: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PYTEST) tests/assignments

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

# Grade a folder of submissions: make grade A=A1_convolution_and_pooling SUBMISSIONS=dir [OUT=scores.csv] [TIME_LIMIT=60]
grade: $(VENV)/.lab
	@test -n "$(A)" -a -n "$(SUBMISSIONS)" || \
	  (echo "usage: make grade A=A1_convolution_and_pooling SUBMISSIONS=folder [OUT=scores.csv] [TIME_LIMIT=60]" && exit 2)
	KERAS_BACKEND=tensorflow $(PY) scripts/assignments.py grade $(A) $(SUBMISSIONS) -o $(or $(OUT),scores-$(A).csv) \
	  --time-limit $(or $(TIME_LIMIT),60)

# Train (or resume) recorded CIFAR-10 models: make zoo [NAMES="resnet20 vgg16"] (default: all).
zoo: $(VENV)/.test
	KERAS_BACKEND=tensorflow $(PY) scripts/train_zoo.py $(or $(NAMES),all)

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
