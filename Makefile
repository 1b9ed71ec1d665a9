# Two commands do all the set-up on a fresh machine:
#   make train   → venv + install, then `mlrun train` on the embedded default (MLP on digits)
#   make test    → venv + install, then the test suite
# TORCH picks the torch build (pip arguments): torch==2.13.0 by default; PyPI's Linux wheel of it is the CUDA build,
# so on a CPU-only machine use TORCH="torch --index-url https://download.pytorch.org/whl/cpu" (README: Install).
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
EXTRAS ?= dev
BIN    := $(VENV)/bin

.PHONY: setup train test test-slow smoke lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar off --upgrade pip
	$(BIN)/pip install --progress-bar off $(TORCH)
	$(BIN)/pip install --progress-bar off -e ".[$(EXTRAS)]"
	touch $@

train: setup
	$(BIN)/mlrun train

smoke: setup
	$(BIN)/mlrun train experiment=smoke

test: setup
	$(BIN)/pytest -q -n auto      # pytest-xdist: one worker per core (2 here: ~2.5 min instead of ~5)

lint: setup
	$(BIN)/lint-imports

test-slow: setup
	$(BIN)/pytest -q -rs --durations=10 -m slow || [ $$? -eq 5 ]   # 5 = none collected; -rs: why each skipped

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
