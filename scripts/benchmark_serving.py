"""Latency of the exported serving_default vs the bare generator (issue target: <= 1.5x).

  python scripts/benchmark_serving.py [--repeats 15] [--megapixels 1.0]

Untrained pix2pix-size generator (256^2, base 64, 8 levels): latency does not depend
on the weights. Prints medians and the ratio; nothing is asserted (speed is noisy here).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from colorgan import config
from colorgan.bench import measure
from colorgan.models import networks
from colorgan.serve import graph  # noqa: E402
from colorgan.serve import savedmodel
from colorgan.config import ModelConfig  # noqa: E402


def timed(fn, repeats):
    fn()  # warm-up: tracing, allocator
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times), max(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--render_size", type=int, default=256)
    parser.add_argument("--flip", action=argparse.BooleanOptionalAction, default=True,
                        help="the default rendering's mirror pass (a second generator run)")
    args = parser.parse_args()

    generator = networks.build_generator(ModelConfig(base_filters=64), 256)
    render = config.RenderConfig(flip=args.flip)
    colorizer = graph.Colorizer(generator, args.render_size, graph.DEFAULT_MAX_PIXELS, 256,
                                render=render)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = tf.saved_model.load(str(savedmodel.export(colorizer, tmp)))
    serve = loaded.signatures["serving_default"]

    w = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    h = int(round(w * 3 / 4))
    img = measure.synthetic_photo(w, h)
    jpeg = measure.jpeg_bytes(img)
    request = tf.constant([jpeg])

    bare = tf.function(lambda x: generator(x, training=False))
    x = tf.random.normal([1, args.render_size, args.render_size, 1])
    g_med, g_min, g_max = timed(lambda: bare(x).numpy(), args.repeats)
    s_med, s_min, s_max = timed(lambda: serve(image_bytes=request)["colorized_png_bytes"].numpy(),
                                args.repeats)
    floats = tf.constant(img[None].astype(np.float32) / 255)
    colorize = loaded.signatures["colorize"]
    c_med, _, _ = timed(lambda: colorize(images=floats)["colorized"].numpy(), args.repeats)
    png = tf.function(lambda x: tf.io.encode_png(x, compression=1))
    p_med, _, _ = timed(lambda: png(tf.constant(img)).numpy(), args.repeats)
    print(f"input: {w}x{h} JPEG ({len(jpeg) / 1e3:.0f} kB), render size {args.render_size}, "
          f"rendering {render.post_processing()} (the bare generator runs once)")
    print(f"bare generator {args.render_size}^2: median {g_med * 1e3:.1f} ms "
          f"(min {g_min * 1e3:.1f}, max {g_max * 1e3:.1f})")
    print(f"serving_default end to end:  median {s_med * 1e3:.1f} ms "
          f"(min {s_min * 1e3:.1f}, max {s_max * 1e3:.1f})")
    print(f"colorize signature, same image as float32 (no decode/encode): median {c_med * 1e3:.1f} ms")
    print(f"PNG encode of the input alone (zlib level 1): median {p_med * 1e3:.1f} ms")
    print(f"ratio serving_default / bare generator (medians): {s_med / g_med:.2f}x   target <= 1.5x")
    print(f"ratio colorize / bare generator (medians): {c_med / g_med:.2f}x")


if __name__ == "__main__":
    main()
