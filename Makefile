# Two commands for everything (see README):
#   make all   -- create the environment if missing, then execute every notebook at full settings
#   make test  -- create the environment if missing, then run all tests (notebooks in quick mode)
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: all env test notebooks clean

all: notebooks

env: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Need $(PYTHON) (Python 3.11). Install it, or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# pytest exits 5 when it collected no test: report that plainly (it still fails the run).
test: $(STAMP)
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: nothing was checked." >&2; fi; \
	exit $$status

# Executes each notebook top to bottom on a fresh kernel and saves it with its outputs.
notebooks: $(STAMP)
	@for notebook in $(NOTEBOOKS); do \
		echo "== $$notebook"; \
		LRP_QUICK=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=-1 "$$notebook" || exit 1; \
	done

clean:
	rm -rf $(VENV) images/quick models/quick .pytest_cache
