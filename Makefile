# Two commands do all the set-up on a fresh machine:
#   make train   → venv + install, then `mlrun train` on the embedded default (MLP on digits)
#   make test    → venv + install, then the test suite
# TORCH picks the torch build: the default is the CPU wheel; `make test TORCH=torch` takes PyPI's newest (CUDA).
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
EXTRAS ?= dev
BIN    := $(VENV)/bin

.PHONY: setup train test test-slow smoke clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[$(EXTRAS)]"
	touch $@

train: setup
	$(BIN)/mlrun train

smoke: setup
	$(BIN)/mlrun train experiment=smoke

test: setup
	$(BIN)/pytest -q

test-slow: setup
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]   # 5 = no slow tests collected

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
