# Two commands do everything on a fresh machine:
#   make demo   set up, train the demo preset on the shipped photos, write the sample sheet
#   make test   set up, run the test suite
# TF=gpu (tensorflow[and-cuda]) or TF=tensorflow (plain build) instead of the lean CPU build.
PYTHON ?= python3
TF ?= cpu
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(TF)
WORKDIR ?= runs/demo
PYTEST_ARGS ?=

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(TF),test]'
	touch $@

demo: setup
	$(BIN)/python train.py --preset=demo --workdir=$(WORKDIR)
	@echo "sample sheet: $(WORKDIR)/sample_sheet.png   TensorBoard: $(BIN)/tensorboard --logdir $(WORKDIR)/tb"

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
