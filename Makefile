# Two commands for everything (see README):
#   make all   -- create the environment if missing, then execute every notebook at full settings
#   make test  -- create the environment if missing, then run all tests (notebooks in quick mode)
# STACK picks the software stack; each has its own venv and lock file (constraints/<stack>.txt):
#   classic (default) -- Python 3.11, TensorFlow 2.14, numpy < 2                      venv .venv
#   current           -- Python 3.13, TensorFlow 2.20 + tf_keras 2.20, numpy 2.1,
#                        ipywidgets 7.7: Google Colab's versions                      venv .venv-current
#   floors            -- Python 3.11 with every dependency at its lowest allowed version
#                        (pyproject.toml's floors; checks them)                      venv .venv-floors
# Other targets: `make lock STACK=...` re-resolves and rewrites a stack's lock file; `make colab` runs
# every notebook through its Colab first cell in a venv with Colab's versions (tools/colab.py); `make slides`
# writes a reveal.js deck of every notebook into slides/.
STACK ?= classic
ifeq ($(STACK),classic)
PYTHON_VERSION := 3.11
VENV := .venv
else ifeq ($(STACK),current)
PYTHON_VERSION := 3.13
VENV := .venv-current
# Google Colab's published versions (Python 3.13 runtime): `make lock` resolves everything else around them.
LOCK_PINS := tensorflow==2.20.* tf-keras==2.20.* numpy==2.1.* ipywidgets==7.7.*
# iNNvestigate 2.1.2's metadata (Python < 3.12, TensorFlow < 2.15, numpy < 2) is stale, not a code limit;
# its real runtime dependencies (tensorflow, numpy, matplotlib) are ours too.
STALE_METADATA := innvestigate==2.1.2
else ifeq ($(STACK),floors)
PYTHON_VERSION := 3.11
VENV := .venv-floors
else
$(error STACK must be classic, current or floors, not '$(STACK)')
endif

# pythonX.Y from PATH, else from pyenv's versions folder.
PYTHON ?= $(firstword $(foreach candidate,python$(PYTHON_VERSION) \
	$(wildcard $(HOME)/.pyenv/versions/$(PYTHON_VERSION).*/bin/python$(PYTHON_VERSION)), \
	$(shell $(candidate) -c 'print("$(candidate)")' 2>/dev/null)))
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONSTRAINTS := constraints/$(STACK).txt
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: all env test notebooks slides lock colab colab-env colab-run clean

all: notebooks

env: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@[ -n "$(PYTHON)" ] || { echo "Need Python $(PYTHON_VERSION) for STACK=$(STACK). Install it, or run: make PYTHON=/path/to/python$(PYTHON_VERSION) ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	$(if $(STALE_METADATA),$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python -c $(CONSTRAINTS) $(STALE_METADATA))
	touch $(STAMP)

# The floors stack's "lock file": every requirement of pyproject.toml at its lowest allowed version.
constraints/floors.txt: pyproject.toml tools/floors.py
	$(PYTHON) tools/floors.py > $@

# pytest exits 5 when it collected no test: report that plainly (it still fails the run).
# PYTEST_ARGS narrows a run (CI runs the floors stack on the unit tests that are not marked slow).
test: $(STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: nothing was checked." >&2; fi; \
	exit $$status

# Executes each notebook top to bottom on a fresh kernel and saves it with its outputs, without the
# progress bars a saved run would freeze at 0% (tools/clean_outputs.py). LRP_RETRAIN=1: notebooks that
# load committed models by default (06, 09) train them instead, so everything is reproduced from scratch.
notebooks: $(STAMP)
	@for notebook in $(NOTEBOOKS); do \
		echo "== $$notebook"; \
		LRP_QUICK=0 LRP_RETRAIN=1 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=-1 "$$notebook" || exit 1; \
		$(BIN)/python tools/clean_outputs.py "$$notebook" || exit 1; \
	done

# One reveal.js deck per notebook, from its committed outputs (nothing runs), in slides/ (not committed):
# open slides/<notebook>.slides.html in a browser; it loads reveal.js and MathJax from public CDNs.
slides: $(STAMP)
	$(BIN)/python tools/slides.py --decks slides

# Re-resolve the stack's dependencies from pyproject.toml (newest allowed versions, plus LOCK_PINS) in a
# scratch venv and write them to its lock file. Run it to refresh the lock, then `make test STACK=...`.
lock:
	@[ "$(STACK)" != floors ] || { echo "constraints/floors.txt is generated from pyproject.toml; nothing to lock"; exit 1; }
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[test]" $(LOCK_PINS)
	$(if $(STALE_METADATA),.venv-lock/bin/python -m pip install --quiet --no-deps --ignore-requires-python $(STALE_METADATA))
	{ echo "# Lock file of the $(STACK) stack, used by make env and CI. Refresh: make lock STACK=$(STACK)"; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS)
	rm -rf .venv-lock

# Every notebook, quick mode, through its Colab first cell, in a venv with Colab's versions (CI runs it).
# `make colab-env` only prepares that venv (CI does it beside the other venvs).
colab:
	$(MAKE) --no-print-directory STACK=current colab-run COLAB_STEP=--simulate

colab-env:
	$(MAKE) --no-print-directory STACK=current colab-run COLAB_STEP=--prepare

colab-run:
	$(PYTHON) tools/colab.py $(COLAB_STEP) --python $(PYTHON) --constraints constraints/current.txt

clean:
	rm -rf .venv .venv-current .venv-floors .venv-colab .venv-lock images/quick models/quick .pytest_cache slides .cache
