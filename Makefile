# Two commands do all the set-up on a machine with Python 3.11 and git:
#   make run    create .venv if missing, then open the app on the embedded LLR default
#               (on 127.0.0.1 only; `make serve` serves a network, with a sign-in: README, Security)
#   make test   create .venv if missing (with test extras), then run the whole test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
# axe-core (the accessibility checker the browser test runs on the rendered pages), from npm
AXE    := .tools/node_modules/axe-core/axe.min.js
PORT   ?= 8501

.PHONY: run serve test test-fast solve bench lint clean-venv

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
	$(PY) -m optimiser app --port $(PORT)

# Serve the app to a network: LLR_APP_PASSWORD=... make serve HOSTS="192.168.1.20 bedplanner.local"
# (or behind a signing-in proxy: LLR_APP_TRUSTED_USER_HEADER and LLR_APP_PROXY_SECRET; README, Security)
serve: $(STAMP)
	$(PY) -m optimiser app --network --port $(PORT) $(foreach h,$(HOSTS),--host $(h))

solve: $(STAMP)
	$(PY) -m optimiser solve --out out/default

$(AXE):
	npm install --silent --no-audit --no-fund --prefix .tools axe-core@4

test: $(TSTAMP) $(AXE)
	$(PY) -m ruff check optimiser tests app.py benchmarks
	$(PY) -m pytest -q

test-fast: $(TSTAMP)
	$(PY) -m ruff check optimiser tests app.py benchmarks
	$(PY) -m pytest -q -m "not slow and not browser"

bench: $(TSTAMP)
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
