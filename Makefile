# Two commands get a newcomer going on a fresh machine:
#   make train   train the makemore MLP (hand-written backward) on the bundled names
#   make test    the whole test suite (skips the `slow` cases; `make test-slow` runs them)
# Each target creates .venv and installs what it needs; nothing has to be installed by hand. `make test`
# also installs graphviz's `dot` (which renders the drawings) with apt-get when it runs as root and `dot` is
# missing; elsewhere the tests that render are skipped, with the reason printed once.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
OUT    ?= runs/names

.PHONY: train test test-slow lint bench notebooks clean help graphviz web

help:
	@echo "make train      train the makemore MLP on the bundled names (writes $(OUT)/)"
	@echo "make test       run the test suite (not the slow cases)"
	@echo "make test-slow  run only the slow cases (full 200,000-step training)"
	@echo "make lint       ruff"
	@echo "make bench      the speed benchmarks (ninjagrad vs micrograd / PyTorch)"
	@echo "make web        rebuild the studio's page from its sources and lock file (needs Node and npm)"

# Stamps record what was installed; they are remade when pyproject.toml changes.
$(VENV)/.created:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "ninjagrad needs Python >= 3.10, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	@touch $@

$(VENV)/.runtime: pyproject.toml $(VENV)/.created
	$(PIP) install -e .
	@touch $@

$(VENV)/.test: pyproject.toml $(VENV)/.runtime
	$(PIP) install -e ".[test,lint]"
	@touch $@

$(VENV)/.bench: pyproject.toml $(VENV)/.test
	$(PIP) install -e ".[bench]"
	@touch $@

# Trains anew each time (--force replaces the run in $(OUT)); `make train OUT=runs/other` keeps the last one.
train: $(VENV)/.runtime
	$(VENV)/bin/ninjagrad train -o $(OUT) --force

# graphviz's `dot`: installed where that is possible without asking (root, apt-get), else left out.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing graphviz (the dot program renders the drawings) with apt-get ..."; \
		( apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends graphviz >/dev/null ) \
		|| echo "could not install graphviz; the tests that render drawings will be skipped"; \
	else \
		echo "graphviz's dot is not installed (installing it needs root and apt-get); the tests that" \
			"render drawings will be skipped. To run them: sudo apt-get install graphviz, or brew install graphviz"; \
	fi

test: $(VENV)/.test graphviz
	$(PY) -m pytest -m "not slow" -q

test-slow: $(VENV)/.test
	$(PY) -m pytest -m slow -q

lint: $(VENV)/.test
	$(VENV)/bin/ruff check src tests benchmarks notebooks
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks

bench: $(VENV)/.bench
	$(PY) benchmarks/bench_scalar.py
	$(PY) benchmarks/bench_tensor.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_kata.py

# The studio's page ships built in src/ninjagrad/studio/static (pip users need no Node); this rebuilds it
# from the pinned lock file. tests/test_studio_build.py fails when the shipped build is older than its sources.
WEB := src/ninjagrad/studio/web
web:
	cd $(WEB) && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache
