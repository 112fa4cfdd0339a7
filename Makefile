# Start here (see README):
#   make lab   -- create the environment if missing, then open JupyterLab on notebooks/ (committed models loaded;
#                 make lab LECTURE=1: lecture mode)
#   make all   -- create the environment if missing, then execute every notebook at full settings (models retrained)
#   make test  -- create the environment if missing, then run all tests (notebooks in quick mode)
# STACK picks the software stack; each has its own venv and lock file (constraints/<stack>.txt, docs/setup.md):
#   current (default) -- Python 3.11, 3.12 or 3.13 (the newest found), TensorFlow 2.20 + tf_keras 2.20,
#                        numpy 2.1: Google Colab's TensorFlow and numpy                          venv .venv
#   classic           -- Python 3.11, TensorFlow 2.14, numpy < 2: iNNvestigate's declared versions  venv .venv-classic
#   floors            -- Python 3.11, the classic stack with every dependency at its lowest allowed version
#                        (pyproject.toml's floors; checks them)                                  venv .venv-floors
# PYTHON=/path/to/python and VENV=folder override the choice (CI tests the current stack on two Pythons).
# Other targets: `make lock STACK=...` re-resolves and rewrites a stack's lock file; `make colab` runs
# every notebook through its Colab first cell in a venv with Colab's versions (tools/colab.py); `make slides`
# writes a reveal.js deck of every notebook into slides/.
STACK ?= current
ifeq ($(STACK),current)
PYTHON_VERSIONS := 3.13 3.12 3.11
VENV ?= .venv
# Google Colab's published TensorFlow and numpy: `make lock` resolves everything else around them.
LOCK_PINS := tensorflow==2.20.* tf-keras==2.20.* numpy==2.1.*
# iNNvestigate 2.1.2's metadata (Python < 3.12, TensorFlow < 2.15, numpy < 2) is stale, not a code limit;
# its real runtime dependencies (tensorflow, numpy, matplotlib) are ours too.
STALE_METADATA := innvestigate==2.1.2
EXTRA := current
else ifeq ($(STACK),classic)
PYTHON_VERSIONS := 3.11
VENV ?= .venv-classic
EXTRA := classic
else ifeq ($(STACK),floors)
PYTHON_VERSIONS := 3.11
VENV ?= .venv-floors
EXTRA := classic
else
$(error STACK must be current, classic or floors, not '$(STACK)')
endif

# pythonX.Y from PATH, else from pyenv's versions folder; empty if neither runs.
find_python = $(firstword $(foreach candidate,python$(1) \
	$(wildcard $(HOME)/.pyenv/versions/$(1).*/bin/python$(1)), \
	$(shell $(candidate) -c 'print("$(candidate)")' 2>/dev/null)))
# The first of the stack's Pythons found (for the current stack the newest), else python3 if it is one of them.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach version,$(PYTHON_VERSIONS),$(call find_python,$(version))) \
	$(shell python3 -c 'import sys; print("python3" if "%d.%d" % sys.version_info[:2] in "$(PYTHON_VERSIONS)".split() else "")' 2>/dev/null))
endif
comma := ,
space := $() $()
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CONSTRAINTS := constraints/$(STACK).txt
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: all env lab test notebooks slides lock colab colab-env colab-run clean

all: notebooks

env: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@[ -n "$(PYTHON)" ] || { echo "No Python $(subst $(space),$(comma)$(space),$(PYTHON_VERSIONS)) found for STACK=$(STACK)."; \
		echo "Install one (python.org; apt install python3-venv; brew install python@3.13; pyenv install 3.13),"; \
		echo "or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "$(PYTHON) cannot create a venv:"; \
		echo "install its venv module (Debian/Ubuntu: apt install python3-venv) and run make again."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[$(EXTRA),test]"
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

# JupyterLab on notebooks/ from the environment, every notebook loading the committed models (LRP_RETRAIN=0);
# LECTURE=1 adds lecture mode (fewer images where a notebook names a lecture size). LAB_ARGS passes options
# on, e.g. make lab LAB_ARGS="--no-browser --port=8890". JupyterLab prints the URL to open.
LECTURE ?= 0
lab: $(STAMP)
	@echo "Opening JupyterLab on notebooks/ (committed models$(if $(filter 1,$(LECTURE)),$(comma) lecture mode)). Open the"
	@echo "http://localhost:... URL it prints below in a browser; stop it with Ctrl+C."
	@LRP_RETRAIN=0 LRP_LECTURE=$(LECTURE) $(BIN)/jupyter lab --notebook-dir=notebooks $(LAB_ARGS)

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

# Re-resolve the stack's dependencies from pyproject.toml (newest allowed versions, plus LOCK_PINS) on every
# Python the stack accepts and write them to its lock file (tools/lock.py). Then run `make test STACK=...`.
# Resolve with the oldest patch release of each Python you can: some releases need a later one (soupsieve 4.1.4
# refuses Debian 12's Python 3.11.2), so by default Python 3.11 is Debian's /usr/bin/python3.11 where it exists.
LOCK_PYTHONS ?= $(foreach version,$(PYTHON_VERSIONS),$(version)=$(firstword $(wildcard /usr/bin/python$(version)) \
	$(call find_python,$(version))))
lock:
	@[ "$(STACK)" != floors ] || { echo "constraints/floors.txt is generated from pyproject.toml; nothing to lock"; exit 1; }
	$(PYTHON) tools/lock.py --stack $(STACK) --pin $(LOCK_PINS) --no-deps $(STALE_METADATA) --python $(LOCK_PYTHONS)

# Every notebook, quick mode, through its Colab first cell, in a venv with Colab's versions (CI runs it).
# `make colab-env` only prepares that venv (CI does it beside the other venvs).
colab:
	$(MAKE) --no-print-directory STACK=current colab-run COLAB_STEP=--simulate

colab-env:
	$(MAKE) --no-print-directory STACK=current colab-run COLAB_STEP=--prepare

colab-run:
	$(PYTHON) tools/colab.py $(COLAB_STEP) --python $(PYTHON) --constraints constraints/current.txt

clean:
	rm -rf .venv .venv-classic .venv-floors .venv-colab .venv-py311 images/quick models/quick .pytest_cache slides .cache
