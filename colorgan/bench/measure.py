"""Speed figures: train step, input pipeline and serving, as medians over repeats.

Every figure is a dict {"figure", "preset", "precision", "size", "batch", "median", "unit",
"runs"}; bench.py prints one JSON line per figure and a table. Untrained models: speed
does not depend on the weights.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import tensorflow as tf

from PIL import Image

from colorgan import config
from colorgan.data import input_pipeline, memcache
from colorgan.errors import UserError
from colorgan.models import networks, vgg_unet
from colorgan.serve import graph, litert, opener, savedmodel
from colorgan.train import train_state, train_step, validation
from colorgan.video import clips, film, temporal


def _median_rate(fn: Callable[[], object], count: int, repeats: int, warmup: int) -> list[float]:
    """Runs fn `warmup` times, then `repeats` x `count` times: items per second per repeat."""
    for _ in range(warmup):
        fn()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            fn()
        rates.append(count / (time.perf_counter() - start))
    return rates


def _figure(name: str, preset: str, precision: str, size: int, batch: int, runs: list[float],
            unit: str, scale: float = 1.0) -> dict:
    runs = [r * scale for r in runs]
    return {"figure": name, "preset": preset, "precision": precision, "size": size,
            "batch": batch, "median": round(statistics.median(runs), 3), "unit": unit,
            "runs": [round(r, 3) for r in runs]}


def bench_cfg(preset: str, batch_size: int | None = None, precision: str = "fp32") -> config.Config:
    overrides = {"precision": precision, "strategy": "default"}
    if batch_size:
        overrides["batch_size"] = batch_size
    return config.with_overrides(config.get_preset(preset), overrides)


def _train_step(cfg: config.Config):
    """A fresh state's traced train step on the default strategy."""
    strategy = tf.distribute.get_strategy()
    return train_step.make_train_step(train_state.create_state(cfg, strategy), cfg, strategy)


def _gflop(fn, *shapes) -> float:
    """GFLOP of one call of fn on float32 inputs of `shapes` (TF's graph profiler: 2 per
    multiply-add, from the layer shapes)."""
    graph = tf.function(fn, autograph=False).get_concrete_function(
        *[tf.TensorSpec(s, tf.float32) for s in shapes]).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops / 1e9


def train_gflop_per_image(cfg: config.Config) -> float:
    """The useful work of one train step per image, in GFLOP.

    Issue 16's convention: 3 x (G + 3 D) forward FLOPs (G's forward; D on the real pair
    and on the fake pair for D's loss and for G's loss; backward = 2 x forward, input and
    weight gradients). L1-only runs have no D; a frozen VGG16 encoder has no backward, so
    its forward counts once. pix2pix at 256^2: 3 x (12.0 + 3 x 6.3) -> 92.7 GFLOP.
    An upper bound: the step runs D on the fake pair once for both losses, and the pass
    back through D for G's loss needs input gradients only (3 G + 7 D: 80 GFLOP there).
    """
    size = cfg.data.image_size
    G = networks.build_generator(config.generator_model(cfg), size)
    g = _gflop(lambda L: G(L, training=True), [1, size, size, 1])
    d = 0.0
    if cfg.loss.lambda_gan > 0:
        D = networks.build_discriminator(cfg.model, size)
        d = _gflop(lambda L, ab: D([L, ab], training=True), [1, size, size, 1], [1, size, size, 2])
    frozen = 0.0
    if cfg.model.encoder == "vgg16" and cfg.train.train_encoder == "never":
        encoder = G.get_layer(vgg_unet.ENCODER)
        frozen = _gflop(lambda x: encoder(x, training=False), [1, size, size, 3])
    return 3 * (g + 3 * d) - 2 * frozen


def matmul_roof(precision: str, repeats: int, n: int = 2048) -> dict:
    """GFLOP/s of an n^3 matmul in fp32 or bf16: the machine's practical peak for dense
    math in that precision, measured in the same run as the steps it is compared with."""
    dtype = {"fp32": tf.float32, "bf16": tf.bfloat16, "fp16": tf.float16}[precision]
    a = tf.random.normal([n, n], dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    mm = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[:1, :1], tf.float32)),
                     autograph=False)
    rates = _median_rate(lambda: mm().numpy(), 3, repeats, warmup=2)
    return _figure("matmul_roof", "-", precision, n, 1, rates, "GFLOP/s", 2 * n ** 3 / 1e9)


def with_roof(fig: dict, gflop_per_image: float, roof: dict | None) -> dict:
    """A train figure plus its useful GFLOP/s and, with a roof, the fraction of it."""
    fig = {**fig, "gflop_per_image": round(gflop_per_image, 2),
           "gflops": round(fig["median"] * gflop_per_image, 1)}
    if roof is not None:
        fig["roof_fraction"] = round(fig["gflops"] / roof["median"], 3)
    return fig


def train_speed(cfg: config.Config, preset: str, steps: int, repeats: int) -> dict:
    """Images/s of the train step alone, on one fixed batch of real photos."""
    step = _train_step(cfg)
    batch = next(iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"),
                                                   image_size=cfg.data.image_size,
                                                   batch_size=cfg.train.batch_size, seed=0)))
    rates = _median_rate(lambda: step(batch)["g_l1"].numpy(), steps, repeats, warmup=2)
    return _figure("train", preset, cfg.train.precision, cfg.data.image_size,
                   cfg.train.batch_size, rates, "img/s", cfg.train.batch_size)


def short_run_l1(cfg: config.Config, preset: str, steps: int) -> dict:
    """Mean L1 (model range) over the last quarter of a `steps`-step run from the seed's
    initial weights on the seed's sample stream: compares precisions on one trajectory."""
    step = _train_step(cfg)
    it = iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"),
                                           image_size=cfg.data.image_size,
                                           batch_size=cfg.train.batch_size, seed=cfg.train.seed))
    l1 = [float(step(next(it))["g_l1"]) for _ in range(steps)]
    tail = l1[-max(1, steps // 4):]
    return _figure("l1_short_run", preset, cfg.train.precision, cfg.data.image_size,
                   cfg.train.batch_size, [statistics.fmean(tail)], "L1")


def pipeline_speed(cfg: config.Config, preset: str, batches: int, repeats: int) -> list[dict]:
    """Images/s the input pipeline delivers (decode, crop, flip, Lab) from the samples,
    decoding every photo each time ("input_pipeline") and from the in-memory cache of
    decoded photos that training uses when they fit ("input_pipeline_cached")."""
    out = []
    source = input_pipeline.open_source("samples")
    cached = memcache.cache_in_memory(source, input_pipeline.decode_side(cfg.data.image_size),
                                      cfg.data.cache_mb)
    for name, src in (("input_pipeline", source), ("input_pipeline_cached", cached)):
        if name.endswith("cached") and src is source:  # --cache_mb=0, or they do not fit
            continue
        ds = input_pipeline.train_dataset(src, image_size=cfg.data.image_size,
                                          batch_size=cfg.train.batch_size, seed=0)
        it = iter(ds)
        rates = _median_rate(lambda: next(it)[0].numpy(), batches, repeats, warmup=3)
        out.append(_figure(name, preset, "fp32", cfg.data.image_size, cfg.train.batch_size,
                           rates, "img/s", cfg.train.batch_size))
    return out


def time_to_quality(cfg: config.Config, preset: str, budget_s: float, eval_every: int,
                    thresholds: tuple[float, ...] = (0.5, 1.0)) -> dict:
    """Seconds of training from scratch until samples:val PSNR (evaluate.py's protocol,
    256^2 crops, default rendering; LPIPS off) first reaches grayscale + each threshold dB.

    The preset's GAN step at its image size, seed and batch (no phase or size schedule),
    on the cached samples, its first trace included; validated every `eval_every` steps,
    validation time not counted (nor building the cache, ~1 s).
    Stops at the last threshold or after `budget_s` s of training. The figure's "median"
    is the seconds to the last threshold (None if not reached); "curve" lists
    (step, training seconds, PSNR) at every validation.
    """
    if eval_every < 1 or budget_s <= 0:
        raise UserError(f"time to quality: eval_every={eval_every} and budget_s={budget_s} "
                        "must be positive")
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    step = train_step.make_train_step(state, cfg, strategy)
    batches = iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"),
                                                image_size=cfg.data.image_size,
                                                batch_size=cfg.train.batch_size, seed=cfg.train.seed,
                                                crop_area=cfg.data.crop_area, cache_mb=cfg.data.cache_mb))
    validate = validation.Validator(cfg, input_pipeline.open_source("samples:val", min_chroma=0),
                                    use_lpips=False)
    seconds, curve, reached, gray = 0.0, [], {}, None
    done = 0
    while seconds < budget_s and len(reached) < len(thresholds):
        start = time.perf_counter()
        for _ in range(eval_every):
            out = step(next(batches))
        float(out["g_l1"])  # waits for the last step
        seconds += time.perf_counter() - start
        done += eval_every
        result = validate(state.generator)
        psnr, gray = result["colorgan"]["psnr"], result["grayscale_baseline"]["psnr"]
        curve.append((done, round(seconds, 1), round(psnr, 3)))
        for t in thresholds:
            if t not in reached and psnr >= gray + t:
                reached[t] = seconds
    last = reached.get(thresholds[-1])
    fig = {"figure": "time_to_quality", "preset": preset, "precision": cfg.train.precision,
           "size": cfg.data.image_size, "batch": cfg.train.batch_size,
           "median": None if last is None else round(last, 1), "unit": "s", "runs": []}
    fig.update({f"s_to_plus_{t}dB": (round(reached[t], 1) if t in reached else None)
                for t in thresholds})
    fig.update({"grayscale_psnr": round(gray, 3), "curve": curve, "budget_s": budget_s})
    return fig


def synthetic_photo(width: int, height: int) -> np.ndarray:
    """uint8 RGB [height, width, 3]: smooth colour gradients plus noise, so JPEG and PNG
    sizes are photo-like rather than trivially compressible."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width] / width
    img = np.stack([np.sin(9 * xx), np.cos(7 * yy), xx * yy], -1) * 100 + 128
    return np.clip(img + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _colorizer(cfg: config.Config) -> graph.Colorizer:
    """The preset's (untrained) generator in the serving graph, default rendering."""
    size = cfg.data.image_size
    generator = networks.build_generator(cfg.model, size)
    return graph.Colorizer(generator, size, graph.DEFAULT_MAX_PIXELS,
                           networks.input_multiple(cfg.model, size), cfg.model.color_space)


PHOTO_SIZES = (("256x256", (256, 256)), ("1MP", (1155, 866)))


def serving_latency(cfg: config.Config, preset: str, repeats: int) -> list[dict]:
    """Milliseconds: the bare generator at its render size (batch 1), then a request to
    the exported serving_default (PNG out) and serving_jpeg for a 256^2 and a 1 MP JPEG."""
    colorizer = _colorizer(cfg)
    size = cfg.data.image_size
    L = tf.random.uniform([1, size, size, 1], -1, 1)
    bare = tf.function(lambda x: colorizer.generator(x, training=False), autograph=False)
    rates = _median_rate(lambda: bare(L).numpy(), 1, repeats, warmup=2)
    out = [_figure("generator_bare", preset, "fp32", size, 1, [1e3 / r for r in rates], "ms")]
    with tempfile.TemporaryDirectory() as tmp:
        signatures = tf.saved_model.load(str(savedmodel.export(colorizer, tmp))).signatures
    for label, (w, h) in PHOTO_SIZES:
        request = tf.constant([jpeg_bytes(synthetic_photo(w, h))])
        for name, key in (("serving_default", "colorized_png_bytes"),
                          ("serving_jpeg", "colorized_jpeg_bytes")):
            fn = signatures[name]
            rates = _median_rate(lambda: fn(image_bytes=request)[key].numpy(), 1, repeats,
                                 warmup=2)
            out.append(_figure(f"{name}_{label}", preset, "fp32", size, 1,
                               [1e3 / r for r in rates], "ms"))
    return out


RESTORE_SIZES = (("restore_1MP", 1, (1155, 866)), ("x4_0.25MP_to_4MP", 4, (577, 433)),
                 ("x4_1MP_to_16MP", 4, (1155, 866)))
RESTORE_DTYPES = {"fp32": None, "bf16": "mixed_bfloat16"}


def restore_latency(repeats: int, precisions: tuple[str, ...] = ("fp32",),
                    lite: bool = True, restorer: str = "") -> list[dict]:
    """Seconds: the shipped colorizer with the shipped restorer (or the one at `restorer`,
    a folder: its figures carry "restorer") (serve/tiles.py) on a gray photo: restore +
    colour of a 1 MP scan, and x4 upscales (restore off) to 4 and 16 MP. bf16 runs the
    restorer's math in bfloat16 (the colorizer stays float32); other precisions are not
    measured here. `lite`: the same through a LiteRT export (model.tflite +
    restorer.tflite; figure names end in _tflite)."""
    out = []
    named = {"restorer": restorer} if restorer else {}
    for name, scale, (w, h) in RESTORE_SIZES:
        render = config.RenderConfig(restore=scale == 1, upscale=scale)
        gray = np.repeat(synthetic_photo(w, h).mean(-1, keepdims=True), 3, -1) / 255.0
        images = tf.constant(gray[None], tf.float32)
        for precision in (p for p in precisions if p in RESTORE_DTYPES):
            colorizer = opener.make_colorizer("pretrained", render, restorer=restorer,
                                              restorer_dtype=RESTORE_DTYPES[precision])
            rates = _median_rate(lambda: colorizer.colorize_at(images, tf.constant(0)).numpy(),
                                 1, repeats, warmup=1)
            out.append(_figure(name, "shipped", precision, w * scale, 1,
                               [1 / r for r in rates], "s") | named)
        if lite:
            with tempfile.TemporaryDirectory() as tmp:
                path = savedmodel.export(opener.make_colorizer("pretrained", render,
                                                               restorer=restorer), tmp,
                                         writer=litert.writer())
                model = litert.LiteColorizer(path + "/" + litert.FILE)
                rates = _median_rate(lambda: model.colorize_at(gray[None].astype(np.float32)),
                                     1, repeats, warmup=1)
            out.append(_figure(f"{name}_tflite", "shipped", "fp32", w * scale, 1,
                               [1 / r for r in rates], "s") | named)
    return out


def tflite_latency(cfg: config.Config, preset: str, repeats: int,
                   quantize: tuple[str, ...] = ("none", "fp16", "dynamic")) -> list[dict]:
    """Milliseconds per photo (float RGB in, RGB out, colorize.py's work minus the file
    I/O) of the SavedModel's colorize_at and of LiteRT models, at 256^2 and 1 MP."""
    colorizer = _colorizer(cfg)
    models_ = {}
    with tempfile.TemporaryDirectory() as tmp:
        saved = tf.saved_model.load(str(savedmodel.export(colorizer, tmp + "/saved")))
        models_["savedmodel"] = lambda x: saved.colorize_at(x, tf.constant(0)).numpy()
        for q in quantize:
            path = savedmodel.export(colorizer, tmp + "/" + q, writer=litert.writer(q))
            models_[f"tflite_{q}"] = litert.LiteColorizer(path + "/" + litert.FILE).colorize_at
    out = []
    for label, (w, h) in PHOTO_SIZES:
        image = synthetic_photo(w, h)[None].astype(np.float32) / 255
        for name, fn in models_.items():
            rates = _median_rate(lambda: fn(image), 1, repeats, warmup=2)
            out.append(_figure(f"colorize_{label}_{name}", preset, "fp32", cfg.data.image_size,
                               1, [1e3 / r for r in rates], "ms"))
    return out


VIDEO_SIZE = (640, 480)  # 480p


def video_speed(cfg: config.Config, preset: str, frames: int, repeats: int,
                size: tuple[int, int] = VIDEO_SIZE) -> list[dict]:
    """Frames per second of colorize.py's work on a 480p H.264 clip with audio (decode,
    the preset's generator in the default rendering, encode), frame by frame and with
    --temporal=flow; then the temporal filter alone (ms per frame)."""
    colorizer = _colorizer(cfg)

    def model(images, render_size):
        return colorizer.colorize_at(tf.constant(images, tf.float32),
                                     tf.constant(render_size, tf.int32)).numpy()

    out = []
    truth, _ = clips.two_shots(size, max(frames // 2, 2))
    name = f"{size[1]}p"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "clip.mp4"
        clips.write(src, truth, fps=24)
        for method in config.TEMPORAL_METHODS[::-1]:  # none first: flow's cost shows beside it
            run = lambda: film.colorize_video(  # noqa: E731
                model, src, Path(tmp) / "out.mp4",
                temporal=config.TemporalConfig(temporal=method))
            rates = _median_rate(run, 1, repeats, warmup=1)
            out.append(_figure(f"video_{name}_{method}", preset, "fp32", cfg.data.image_size, 8,
                               rates, "frames/s", scale=len(truth)))
    frames_f = truth.astype(np.float32) / 255
    L, ab = film.lab_split(frames_f, frames_f)

    def filter_all():
        f = temporal.TemporalFilter(config.TemporalConfig())
        for l, a in zip(L, ab):
            f(l, a)

    rates = _median_rate(filter_all, 1, repeats, warmup=1)
    out.append(_figure(f"temporal_filter_{name}", preset, "fp32", cfg.data.image_size, 1,
                       [1e3 / (r * len(truth)) for r in rates], "ms"))
    return out


def table(figures: list[dict]) -> str:
    rows = ["| figure | preset | precision | size | batch | median | unit | useful GFLOP/s |",
            "|---|---|---|---|---|---|---|---|"]
    for f in figures:
        if f["figure"] == "time_to_quality":
            value = ", ".join(f"+{k[len('s_to_plus_'):-2]} dB: "
                              + ("—" if v is None else f"{v:.0f}")
                              for k, v in f.items() if k.startswith("s_to_plus_"))
            value += f" (budget {f['budget_s']:.0f})"
        elif f["median"] is None:
            value = "—"
        else:
            value = f"{f['median']:.4f}" if f["unit"] == "L1" else f"{f['median']:.1f}"
        useful = f"{f['gflops']:.0f}" if "gflops" in f else ""
        if "roof_fraction" in f:
            useful += f" ({100 * f['roof_fraction']:.0f} % of the matmul roof)"
        rows.append(f"| {f['figure']} | {f['preset']} | {f['precision']} | {f['size']} | "
                    f"{f['batch']} | {value} | {f['unit']} | {useful} |")
    return "\n".join(rows)
