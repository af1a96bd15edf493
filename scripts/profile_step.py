"""Where a train step's time goes: TF profiler op self-times by op type and by network.

  .venv/bin/python scripts/profile_step.py [--preset pix2pix] [--precision bf16]
      [--batch 4] [--steps 3] [--logdir /tmp/colorgan_profile]

Traces `--steps` warm steps of a fresh state on one batch of sample photos, then reads
the trace with TensorFlow's own profiler plugin (framework_op_stats). Self-times of ops
running side by side on the inter-op threads add up to more than the wall time; the
shares are of the ops' busy time. Nothing is asserted (docs/notes/speed.md has the figures).
"""

import argparse
import collections
import glob
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402
from tensorflow.python.profiler.internal import _pywrap_profiler_plugin  # noqa: E402

from colorgan.bench import measure
from colorgan.data import input_pipeline
from colorgan.train import train_state, train_step


def part(op_name: str) -> str:
    """The network and pass an op belongs to, from its name scope."""
    name = op_name.lower()
    if "adam" in name or "resourceapply" in name:
        return "optimizer"
    net = "G" if "generator" in name else "D" if "discriminator" in name else "losses, casts"
    return f"{net} {'backward' if 'gradient_tape' in name or 'grad' in name else 'forward'}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="pix2pix")
    parser.add_argument("--precision", default="bf16")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--logdir", default="/tmp/colorgan_profile")
    args = parser.parse_args()
    cfg = measure.bench_cfg(args.preset, args.batch, args.precision)
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    step = train_step.make_train_step(state, cfg, strategy)
    batch = next(iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"), seed=0,
                                                   image_size=cfg.data.image_size, batch_size=args.batch)))
    for _ in range(3):
        step(batch)["g_l1"].numpy()
    tf.profiler.experimental.start(args.logdir)
    start = time.perf_counter()
    for _ in range(args.steps):
        step(batch)["g_l1"].numpy()
    wall = (time.perf_counter() - start) / args.steps * 1e3
    tf.profiler.experimental.stop()
    trace = sorted(glob.glob(f"{args.logdir}/**/*.xplane.pb", recursive=True),
                   key=os.path.getmtime)[-1]
    raw, ok = _pywrap_profiler_plugin.xspace_to_tools_data([trace], "framework_op_stats", {})
    if not ok:
        sys.exit(f"the profiler plugin could not read {trace}")
    table = json.loads(raw)[0]
    cols = [c["id"] for c in table["cols"]]
    by_type, by_part = collections.Counter(), collections.Counter()
    for row in table["rows"]:
        r = dict(zip(cols, [c["v"] if c else None for c in row["c"]]))
        ms = r["total_self_time"] / args.steps / 1e3
        by_type[r["type"]] += ms
        by_part[part(r["operation"])] += ms
    busy = sum(by_type.values())
    print(f"{args.preset} {args.precision} batch {args.batch}: wall {wall:.0f} ms per step "
          f"(with the profiler on), op self-time {busy:.0f} ms")
    for title, counts, n in (("op type", by_type, 16), ("network", by_part, None)):
        print(f"by {title}:")
        for key, ms in counts.most_common(n):
            print(f"  {key:40s} {ms:8.1f} ms {100 * ms / busy:5.1f} %")


if __name__ == "__main__":
    main()
