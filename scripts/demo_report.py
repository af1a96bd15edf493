"""The last lines of `make demo`: the score before and after the fine-tune, on every
validation photo and on those the best checkpoint was not chosen by:
  python scripts/demo_report.py --before=runs/demo/eval_before --after=runs/demo/eval \
      --chosen_on=23 --workdir=runs/demo

--before and --after are evaluate.py output folders of the same photos (their
per_image.csv rows in the same order). The fine-tune keeps its best generator by
validation PSNR on the first --chosen_on photos (train.py --eval_limit); the score on the
rest is the one that choice never saw.
"""

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np

# per_image.csv's columns that the report gives, and how (lower is better for LPIPS).
COLUMNS = (("psnr", "PSNR", "{:.2f} dB"), ("lpips", "LPIPS", "{:.3f}"))


def read_rows(folder: Path) -> list[dict]:
    with (folder / "per_image.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def means(rows: list[dict]) -> dict:
    out = {}
    for key, _, _ in COLUMNS:
        values = [float(r[key]) for r in rows if r.get(key) not in (None, "", "nan")]
        out[key] = float(np.mean(values)) if values else None
    return out


def line(label: str, before: list[dict], after: list[dict]) -> str:
    b, a = means(before), means(after)
    parts = [f"{name} {fmt.format(b[k])} -> {fmt.format(a[k])}" for k, name, fmt in COLUMNS
             if b[k] is not None and a[k] is not None]
    return f"{label} ({len(before)} photos): " + ", ".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--chosen_on", type=int, default=0,
                        help="photos the best checkpoint was chosen by (the first N)")
    parser.add_argument("--workdir", type=Path, help="the fine-tune's workdir (its best.json)")
    args = parser.parse_args(argv)
    try:
        before, after = read_rows(args.before), read_rows(args.after)
    except OSError as e:
        print(f"demo_report.py: error: {e}", file=sys.stderr)
        return 2
    names = [r.get("image") for r in before]
    if names != [r.get("image") for r in after]:
        print("demo_report.py: error: --before and --after scored different photos",
              file=sys.stderr)
        return 2
    print("demo: " + line("samples:val, before -> after the fine-tune", before, after))
    n = args.chosen_on
    if 0 < n < len(before):
        print("demo: " + line("of which never used to choose the checkpoint", before[n:],
                              after[n:]))
    # workdir.BEST_DIR / validation.BEST_FILE, spelt out: importing them starts TensorFlow.
    best = args.workdir / "best" / "best.json" if args.workdir else None
    if best and best.is_file():
        kept = json.loads(best.read_text())
        what = "the model it started from" if kept["step"] == 0 else f"step {kept['step']}"
        print(f"demo: kept {what} (validation {kept['metric']} {kept['value']:.2f} on the "
              f"first {n} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
