"""The old-photo restorer: a scan's lightness -> clean lightness at 1x, 2x or 4x its size.

One trunk at the scan's resolution (EDSR-style residual blocks, no normalization), one head
per scale (pixel shuffle, twice for 4x: depth_to_space converts to LiteRT), each predicting
a residual over the bilinear upscale of the scan. Computing at the scan's size is what
makes 4x of a 1 MP scan affordable on a CPU (docs/notes/restoration.md).

The input has three channels (four when it reads the defect mask, `Restorer.reads_mask`):
  0  the scan's lightness (Lab L / 50 - 1)
  1  the same, stretched so the photo's 0.5 and 99.5 percentiles (`levels`) map to -1 and
     1: a faded print's black lift and white cut are global, and a local network cannot
     see them, so the stretch is measured on the whole photo (once, before any tiling)
     and handed to the network.
  2  the mode: 1 = restore an old photo (grain, blur, fade, JPEG), 0 = only
     super-resolve a clean one. A fade cannot be told from a photo's own tones, so a
     network that always restores shifts the tones of clean photos (-4 dB at 2x in a
     first run); the user says which it is (--restore, or --upscale alone).
  3  with RestorerConfig.defects: the mask of the print's defects, filled in channel 0
     (models/fill.py) from around them; the defect finder (models/defect_finder.py) draws it.
     A finder added later onto a restorer trained without one (train_finder.py,
     RestorerConfig.mask_input False) fills channel 0 and leaves the network as it was.

Weights ship as float16 in colorgan/weights/restorer/ (restorer.npz + restorer.json,
`save` / `load`); a damaged or mismatched file is one UserError naming it.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import shutil
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from colorgan import config, fileio
from colorgan.errors import UserError
from colorgan.models import defect_finder, fill, gate as gate_lib
from colorgan.models.pretrained import assign_weights, read_npz

SCALES = config.RESTORER_SCALES
SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "restorer"
WEIGHTS_FILE = "restorer.npz"
CARD_FILE = "restorer.json"
PERCENTILES = (0.005, 0.995)
# More of a photo than dust and scratches cover (the drawn masks of 256^2 scans of the 178
# samples:train and 46 samples:val photos reach 3-4 % at most, a torn corner included): a
# mask over it is the photo's own texture (keep_most).
MAX_COVER = 0.25
_LEVELS_SIDE = 256  # levels() reads a copy no larger than this: percentiles need no detail


def receptive_radius(cfg: config.RestorerConfig) -> int:
    """Scan pixels on each side that one output pixel depends on (rounded up): the first
    conv, two per block, the trunk's last, the upsampling convs and the bilinear base, each
    reaching one pixel at its own resolution. Tiles keep this margin (serve/tiles.py)."""
    return 2 * cfg.blocks + 4


class PixelShuffle(keras.layers.Layer):
    """[B, H, W, C * r^2] -> [B, H r, W r, C] (depth_to_space; a LiteRT builtin)."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return tf.nn.depth_to_space(x, self.factor)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class BilinearUp(keras.layers.Layer):
    """[B, H, W, C] -> [B, H s, W s, C], bilinear (half-pixel centres, as UpSampling2D's),
    on shapes known only at run time (inside the tiles' while loop)."""

    def __init__(self, factor: int, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return tf.image.resize(x, tf.shape(x)[1:3] * self.factor, method="bilinear")

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def levels(scan: tf.Tensor) -> tf.Tensor:
    """scan [B, H, W, 1] in [-1, 1] -> [B, 2]: its 0.5 and 99.5 percentiles, read from a
    copy shrunk by a whole factor to under 512 px on its longer side (area-averaged: grain
    does not move them)."""
    shape = tf.shape(scan)[1:3]
    factor = tf.maximum(1, tf.reduce_max(shape) // _LEVELS_SIDE)
    small = tf.image.resize(scan, tf.maximum(shape // factor, 1), method="area")
    flat = tf.sort(tf.reshape(small, [tf.shape(scan)[0], -1]), axis=1)
    n = tf.cast(tf.shape(flat)[1] - 1, tf.float32)
    index = tf.cast(tf.round(n * tf.constant(PERCENTILES)), tf.int32)
    return tf.gather(flat, index, axis=1)


def keep_most(mask: tf.Tensor) -> tf.Tensor:
    """mask [B, H, W, 1] -> the same, emptied for each photo where it covers more than
    MAX_COVER, with one line on stderr: what the finder takes for defects there is the
    photo itself (snow, a page of text, a starry sky), and filling it would erase it."""
    cover = tf.reduce_mean(mask, axis=[1, 2, 3])
    over = cover > MAX_COVER

    def warn():
        percent = tf.cast(tf.round(100.0 * tf.reduce_max(cover)), tf.int32)
        with tf.control_dependencies([tf.print(
                "colorgan: the defect finder marks", percent, "% of the photo; its defects "
                "are left as they are (it is most likely the photo's own texture)",
                output_stream=sys.stderr)]):
            return tf.constant(True)

    warned = tf.cond(tf.reduce_any(over), warn, lambda: tf.constant(False))
    with tf.control_dependencies([warned]):
        return tf.where(over[:, None, None, None], tf.zeros_like(mask), mask)


def model_input(scan: tf.Tensor, lv: tf.Tensor, restore: bool = True,
                mask: tf.Tensor | None = None) -> tf.Tensor:
    """scan [B, H, W, 1] in [-1, 1], its levels [B, 2] -> the network's input [B, H, W, 3]
    (module docstring; `restore` is the mode), and with a defect mask [B, H, W, 1] a fourth
    channel, the mask (a restorer that reads it: Restorer.reads_mask)."""
    lo, hi = lv[:, None, None, :1], lv[:, None, None, 1:]
    # A flat photo (hi - lo small) is not stretched into noise: at most 5x.
    stretched = (scan - lo) / tf.maximum(hi - lo, 0.4) * 2.0 - 1.0
    mode = tf.fill(tf.shape(scan), 1.0 if restore else 0.0)
    parts = [scan, tf.clip_by_value(stretched, -1.5, 1.5), mode]
    return tf.concat(parts + ([] if mask is None else [mask]), axis=-1)


class Restorer:
    """The restorer's layers, and one keras.Model per scale that shares them.

    `models[s]`: input [B, h, w, 3, or 4 when reads_mask] (model_input) -> L [B, s h, s w, 1]
    in about [-1, 1]. `finder`: the defect finder, or None.
    `everything` holds all the layers once (for weights, checkpoints and counting).
    `dtype` is the layers' Keras dtype policy: None (float32) or "mixed_bfloat16" (float32
    weights, bfloat16 math: bench.py's bf16 figures); the output is float32 either way.
    """

    def __init__(self, cfg: config.RestorerConfig, dtype: str | None = None):
        self.cfg = cfg
        c = cfg.channels

        def conv(width, name, scale=1.0):
            init = keras.initializers.VarianceScaling(2.0 * scale * scale, "fan_in",
                                                      "truncated_normal")
            return keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=init,
                                       name=name, dtype=dtype)

        # With defects, a fourth channel: the mask of the defects filled in the scan (not
        # for a finder added onto a restorer trained without it: mask_input False).
        inputs = keras.Input((None, None, 4 if self.reads_mask else 3), name="scan")
        x = first = conv(c, "first")(inputs)
        for i in range(cfg.blocks):
            y = keras.layers.ReLU(name=f"block{i}_relu", dtype=dtype)(conv(c, f"block{i}_a")(x))
            x = keras.layers.Add(name=f"block{i}_add", dtype=dtype)(
                [x, conv(c, f"block{i}_b", 0.1)(y)])
        trunk = keras.layers.Add(name="trunk_add", dtype=dtype)([first, conv(c, "trunk_out")(x)])
        outputs = []
        for s in SCALES:
            y = trunk
            for k in range(int(math.log2(s))):
                y = PixelShuffle(2, name=f"x{s}_shuffle{k}", dtype=dtype)(
                    conv(4 * c, f"x{s}_up{k}")(y))
                y = keras.layers.LeakyReLU(0.2, name=f"x{s}_act{k}", dtype=dtype)(y)
            residual = conv(1, f"x{s}_out", 0.1)(y)
            base = inputs[..., :1]
            if s > 1:
                base = BilinearUp(s, name=f"x{s}_base")(base)
            # The base and the sum stay float32 under bf16 (Keras casts the residual up).
            outputs.append(keras.layers.Add(name=f"x{s}", dtype="float32")([base, residual]))
        self.everything = keras.Model(inputs, outputs, name="restorer")
        self.models = {s: keras.Model(inputs, out, name=f"restorer_x{s}")
                       for s, out in zip(SCALES, outputs)}
        self.finder = defect_finder.build(cfg.finder_channels, dtype) if cfg.defects else None
        self.gate = gate_lib.build() if cfg.gate else None

    @property
    def reads_mask(self) -> bool:
        """Whether the network reads the defect mask as its fourth input channel."""
        return self.cfg.defects and self.cfg.mask_input

    @property
    def variables(self) -> list:
        """Every weight: the restorer's layers, then the defect finder's, then the gate's."""
        parts = [p for p in (self.finder, self.gate) if p is not None]
        return list(self.everything.variables) + [v for p in parts for v in p.variables]

    def strength(self, scan: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
        """How much of restoring whole photos scan [B, H, W, 1] with levels lv [B, 2] keep,
        [B] in [0, 1] (models/gate.py); all 1 without a gate."""
        if self.gate is None:
            return tf.ones(tf.shape(scan)[:1])
        return gate_lib.strength(self.gate(gate_lib.gate_input(scan, lv)))

    def defects(self, scan: tf.Tensor, lv: tf.Tensor, training: bool = False) -> tf.Tensor:
        """The finder's logits [B, H, W, 1] for scan [B, H, W, 1] with levels lv [B, 2] (it
        sees the scan and its stretch, not the mode)."""
        return defect_finder.logits(self.finder, model_input(scan, lv)[..., :2],
                                    training=training)

    def found(self, scan: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
        """What the finder marks [B, H, W, 1] in {0, 1} (probability >= 0.5) in scan
        [B, H, W, 1] with levels lv: pixel by pixel, so it can run in tiles."""
        return defect_finder.marks(self.defects(scan, lv))

    def mask_of(self, scan: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
        """The defect mask [B, H, W, 1] in {0, 1} that restoring fills: `found`, emptied
        for a photo where it would cover more than MAX_COVER (keep_most)."""
        return keep_most(self.found(scan, lv))

    def __call__(self, scan: tf.Tensor, scale: int, restore: bool = True,
                 lv: tf.Tensor | None = None, training: bool = False,
                 mask: tf.Tensor | None = None) -> tf.Tensor:
        """scan [B, h, w, 1] in [-1, 1] -> [B, s h, s w, 1]; `restore` False only
        super-resolves; `lv` = levels(scan) unless given (tiles pass their whole photo's).

        A restorer with defects fills the pixels of `mask` [B, h, w, 1] (default: the
        finder's, where restoring; none when only super-resolving) from around them
        (models/fill.py) and restores the filled scan, with the mask beside it where the
        network reads one (reads_mask). The levels are the scan's own, defects included:
        a fill does not move them."""
        if scale not in self.models:
            raise UserError(f"upscale={scale}: choose {', '.join(map(str, SCALES))}")
        lv = levels(scan) if lv is None else lv
        if self.finder is None:
            return self.models[scale](model_input(scan, lv, restore), training=training)
        if mask is None:
            mask = self.mask_of(scan, lv) if restore else tf.zeros_like(scan)
        filled = fill.push_pull(scan, mask)
        return self.models[scale](
            model_input(filled, lv, restore, mask if self.reads_mask else None),
            training=training)


def mirror_average(restore, scan: tf.Tensor) -> tf.Tensor:
    """(restore(scan) + the mirror image of restore(scan's mirror image)) / 2: the
    rendering's mirror averaging (RenderConfig.flip) for the lightness. +0.18 dB at clean x4
    on samples:val (all four flips: +0.27, at twice the cost again)."""
    return (restore(scan) + restore(scan[:, :, ::-1])[:, :, ::-1]) / 2.0


def save(restorer: Restorer, out_dir: str | Path, card: dict) -> Path | str:
    """Writes restorer.npz (float16) and restorer.json (architecture + `card`) to out_dir,
    each published whole (fileio.publishing)."""
    out_dir = fileio.fspath(out_dir)
    fileio.makedirs(out_dir)
    arrays = {v.path: v.numpy().astype(np.float16) for v in restorer.variables}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    fileio.write_bytes_atomic(fileio.join(out_dir, WEIGHTS_FILE), buf.getvalue())
    text = json.dumps({**card, "model": restorer.cfg.model_fields()}, indent=2, sort_keys=True)
    fileio.write_text_atomic(fileio.join(out_dir, CARD_FILE), text + "\n")
    return Path(out_dir) if not fileio.is_remote(out_dir) else out_dir


def save_onto(restorer: Restorer, base: str | Path, out_dir: str | Path, key: str,
              entry: dict) -> Path | str:
    """Saves `restorer`, the restorer saved at `base` with a part added (train_gate.py's
    gate, train_finder.py's finder), to out_dir: base's card with `entry` under `key`."""
    kept = {k: v for k, v in card(base).items() if k != "model"}
    return save(restorer, out_dir, {**kept, key: entry})


def ship(folder: str | Path) -> None:
    """Copies a saved restorer folder's two files into the package (SHIPPED), published
    whole (fileio.publishing): train_restorer.py, train_gate.py and train_finder.py --ship."""
    with fileio.publishing(SHIPPED, folder=True) as tmp:
        for name in (WEIGHTS_FILE, CARD_FILE):
            shutil.copy(Path(folder) / name, Path(tmp) / name)


def load(path: str | Path = SHIPPED, dtype: str | None = None) -> Restorer:
    """A saved restorer folder (default: the shipped one) -> Restorer with its weights
    (`dtype`: Restorer's). A missing, damaged or mismatched file is one UserError naming it."""
    path = fileio.fspath(path)
    card_path, weights_path = fileio.join(path, CARD_FILE), fileio.join(path, WEIGHTS_FILE)
    if not fileio.isfile(card_path) or not fileio.isfile(weights_path):
        raise UserError(f"{path} holds no restorer ({CARD_FILE} and {WEIGHTS_FILE}); "
                        "`make restorer` trains one")
    try:
        model = json.loads(fileio.read_text(card_path))["model"]
        # A card from before defects has none (the restorer shipped with 0.4).
        cfg = config.RestorerConfig(channels=int(model["channels"]), blocks=int(model["blocks"]),
                                    defects=bool(model.get("defects", False)),
                                    finder_channels=int(model.get("finder_channels", 16)),
                                    gate=bool(model.get("gate", False)),
                                    mask_input=bool(model.get("mask_input", True)))
        if tuple(model["scales"]) != SCALES:
            raise ValueError(f"scales {model['scales']}")
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{card_path} cannot be read ({type(e).__name__}: {e}); it is "
                        "damaged, reinstall colorgan or retrain") from None
    restorer = Restorer(cfg, dtype)
    arrays = read_npz(weights_path)
    arrays32 = {k: v.astype(np.float32) for k, v in arrays.items()}
    for part in (restorer.everything, restorer.finder, restorer.gate):
        if part is not None:
            assign_weights(part, arrays32, weights_path)
    bad = [k for k, v in arrays.items() if not np.all(np.isfinite(v))]
    if bad:
        raise UserError(f"{weights_path}: {bad[0]} is not finite; it is damaged, reinstall "
                        "colorgan or retrain")
    return restorer


def _with_fresh(restorer: Restorer, part: str, seed: int, **changes) -> Restorer:
    """A copy of `restorer` with its config `changes`: a fresh `part` ("gate" or "finder"),
    initialized from `seed`, and every other part's weights copied."""
    keras.utils.set_random_seed(seed)
    out = Restorer(dataclasses.replace(restorer.cfg, **changes))
    for name in ("everything", "finder", "gate"):
        mine, theirs = getattr(out, name), getattr(restorer, name)
        if name != part and mine is not None and theirs is not None:
            mine.set_weights(theirs.get_weights())
    return out


def with_new_gate(restorer: Restorer, seed: int) -> Restorer:
    """A copy of `restorer` (its weights) with a fresh gate, initialized from `seed`: what
    train/gate_fit.py trains."""
    return _with_fresh(restorer, "gate", seed, gate=True)


def with_new_finder(restorer: Restorer, channels: int, seed: int) -> Restorer:
    """A copy of `restorer` (its weights, its gate) with a fresh defect finder of `channels`,
    initialized from `seed`: what train/finder_fit.py trains. A restorer trained with a
    finder keeps its mask channel; one trained without gets the fill alone."""
    mask_input = restorer.cfg.mask_input if restorer.cfg.defects else False
    return _with_fresh(restorer, "finder", seed, defects=True, finder_channels=channels,
                       mask_input=mask_input)


def average_into(restorer: Restorer, other: Restorer) -> None:
    """Sets `restorer`'s weights to the mean of its own and `other`'s (same architecture):
    the weight averaging of RestorerConfig.average_from."""
    for v, o in zip(restorer.variables, other.variables, strict=True):
        v.assign((v + o) / 2.0)


def card(path: str | Path = SHIPPED) -> dict:
    """The restorer.json beside the weights (architecture, training and metrics)."""
    return json.loads(fileio.read_text(fileio.join(fileio.fspath(path), CARD_FILE)))
