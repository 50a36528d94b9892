# Two commands do all the set-up on a machine with Python 3.11 and git:
#   make run    create .venv if missing, then open the app on the embedded LLR default
#   make test   create .venv if missing (with test extras), then run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
PORT   ?= 8501

.PHONY: run test solve bench lint clean-venv

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(TSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
	@touch $@ $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --server.port $(PORT) --server.headless true --browser.gatherUsageStats false

solve: $(STAMP)
	$(PY) -m optimiser solve --out out/default

test: $(TSTAMP)
	$(PY) -m ruff check optimiser tests app.py benchmarks
	$(PY) -m pytest -q

bench: $(TSTAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
