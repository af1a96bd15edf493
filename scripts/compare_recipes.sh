#!/usr/bin/env bash
# The README's recipe comparisons: each option trained for the same wall-clock budget on
# the shipped photos (the demo preset otherwise; PRESET=base compares the base preset's
# candidates instead), then evaluated on the val split.
#   bash scripts/compare_recipes.sh [BUDGET_SECONDS=240] [OUT=runs/compare] [RECIPE...]
#   PRESET=base PRECISION=bf16 bash scripts/compare_recipes.sh 600 runs/compare_base
# Run it on an otherwise idle machine: the budget is wall-clock time. A recipe whose
# eval/metrics.json exists is skipped (delete its folder to redo it); the table lists
# every recipe that has results, so recipes can be run in several sittings.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=${1:-240}
OUT=${2:-runs/compare}
shift $(( $# < 2 ? $# : 2 ))
PY=${PY:-.venv/bin/python}
PRESET=${PRESET:-demo}
PRECISION=${PRECISION:-fp32}
if [[ $PRESET == base ]]; then
# Each names its GAN weight: the base preset is gan_128, and this table chose it.
declare -A RECIPES=(
  [l1_128]="--lambda_gan=0"  # L1 only, 128 px, VGG16 encoder frozen
  [gan_128]="--lambda_gan=1"  # + PatchGAN (vanilla): the base preset
  [rebalance]="--lambda_gan=0 --rebalance=0.5"  # L1 with Zhang et al.'s colour rebalancing
  [finetune_late]="--lambda_gan=1 --train_encoder=after:200"
  [gan_64]="--lambda_gan=1 --image_size=64"
  [progressive]="--lambda_gan=1 --size_schedule=64:700,128:rest"  # half the budget at 64 px
  [gan_128_seed1]="--lambda_gan=1 --seed=1"
)
ORDER="l1_128 gan_128 rebalance finetune_late gan_64 progressive gan_128_seed1"
else
declare -A RECIPES=(
  [pix2pix]=""
  [lsgan]="--gan_loss=lsgan"
  [hinge]="--gan_loss=hinge"
  [spectral_norm_d]="--spectral_norm_d"
  [spectral_norm_gd]="--spectral_norm_d --spectral_norm_g"
  [self_attention]="--attention_g=16 --attention_d=16"
  [ttur_d4x]="--d_learning_rate=8e-4"
  [nogan]="--schedule=g:200,d:50,gan:rest"
  [progressive]="--size_schedule=32:200,64:rest"
  [input_noise]="--input_noise=0.05"
  [perceptual]="--lambda_perceptual=1"
  [yuv]="--color_space=yuv"
  [z_noise]="--noise_channels=1"
  [resnet_encoder]="--encoder=resnet50v2 --encoder_weights=none"
  [pix2pix_seed1]="--seed=1"  # the default again with other weights and data order: the noise
)
ORDER="pix2pix lsgan hinge spectral_norm_d spectral_norm_gd self_attention ttur_d4x nogan progressive input_noise perceptual yuv z_noise resnet_encoder pix2pix_seed1"
fi
for name in ${@:-$ORDER}; do
  if [[ -z ${RECIPES[$name]+set} ]]; then
    echo "compare_recipes.sh: error: unknown recipe '$name' (one of: $ORDER)" >&2; exit 2
  fi
  if [[ -f $OUT/$name/eval/metrics.json ]]; then echo "$name: done already"; continue; fi
  # shellcheck disable=SC2086
  $PY train.py --preset="$PRESET" --steps=100000 --time_budget="$BUDGET" --log_every=50 \
    --precision="$PRECISION" --workdir="$OUT/$name" ${RECIPES[$name]}
  $PY evaluate.py --model="$OUT/$name" --data=samples:val --output_dir="$OUT/$name/eval"
done
$PY - "$OUT" $ORDER <<'PYEOF'
import json, re, sys
from pathlib import Path
out, names = Path(sys.argv[1]), sys.argv[2:]
rows = ["| recipe | steps in budget | PSNR ↑ | SSIM ↑ | LPIPS ↓ | CF | ΔCF ↓ | chroma ratio "
        "| FID ↓ | KID×10³ ↓ |", "|---|---|---|---|---|---|---|---|---|---|"]
def fid_kid(m):  # "–" where metrics.json predates FID/KID, ran with --nofid or had too few photos
    fid = "–" if m.get("fid") is None else f"{m['fid']:.1f}"
    kid = "–" if m.get("kid") is None else f"{m['kid'] * 1e3:.1f} ± {m['kid_std'] * 1e3:.1f}"
    return f"{fid} | {kid}"
for name in names:
    if not (out / name / "eval" / "metrics.json").exists():
        continue
    m = json.loads((out / name / "eval" / "metrics.json").read_text())["colorgan"]
    step = max(int(p.name.split("-")[1].split(".")[0])
               for p in (out / name / "checkpoints").glob("ckpt-*.index"))
    rows.append(f"| {name} | {step} | {m['psnr']:.2f} | {m['ssim']:.3f} | {m['lpips']:.3f} | "
                f"{m['colourfulness']:.1f} | {m['delta_colourfulness']:.1f} | {m['chroma_ratio']:.2f} | "
                f"{fid_kid(m)} |")
table = "\n".join(rows)
(out / "table.md").write_text(table + "\n")
print(table)
PYEOF
