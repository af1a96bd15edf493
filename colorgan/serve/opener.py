"""One way to open a model for colorizing, whatever kind of path names it.

modelpath.identify says what a path is; open_model gives back one callable for every kind:
a SavedModel or LiteRT export from export.py, a training workdir or checkpoint, or
"pretrained" (the model shipped in colorgan), for which the serving graph is built in
memory exactly as export does. colorize.py, evaluate.py, the web app and bench.py all open
models here. Models may be remote (gs://...).
"""

from __future__ import annotations

from typing import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import config, fileio, modelpath, workdir
from colorgan.config_flags import as_flags
from colorgan.data import decode
from colorgan.errors import UserError
from colorgan.models import networks, pretrained
from colorgan.models import restorer as restorer_lib
from colorgan.serve import graph, litert, savedmodel
from colorgan.serve.graph import Colorizer

ColorizeFn = Callable[[np.ndarray, int], np.ndarray]
DEFAULT_MAX_PIXELS = decode.DEFAULT_MAX_PIXELS


def open_model(path: fileio.PathLike, post_processing: dict | None = None,
               render_size: int = 0, restorer: str = "", precision: str = "fp32") -> ColorizeFn:
    """Returns fn(images [1, H, W, C] float32 in [0, 1], render_size) -> RGB [1, H, W, 3].

    `path` is a SavedModel or LiteRT model (a .tflite, or an export base path) from
    export.py, a training workdir / checkpoint, or "pretrained" (the model shipped in
    colorgan); for the last two the graph is built in memory exactly as export does, with
    config.RenderConfig's defaults overridden by `post_processing` (e.g. {"flip": False}).
    An export keeps the post-processing it was exported with: asking it for other values
    is an error, not a silent change. `render_size` (0 = the model's) is checked here, once,
    against a LiteRT model's fixed size. `restorer`: make_colorizer's (an export carries
    its own, or none). `precision` "bf16" builds a workdir's or the shipped model's graph
    computing in bfloat16 (networks.precision_policy; the restorer too): faster on CPUs with
    AVX512_BF16, slower on others (docs/notes/speed.md). An export runs as it was exported.
    """
    post_processing = post_processing or {}
    if precision not in ("fp32", "bf16"):
        raise UserError(f"precision={precision!r}: choose fp32 or bf16")
    found = modelpath.identify(path)
    if precision != "fp32" and found.kind in ("tflite", "saved_model"):
        raise UserError(f"precision={precision}: {found.path} is an export, which runs in the "
                        "precision it was exported in; give pretrained, a workdir or a "
                        "checkpoint")
    if found.kind == "tflite":
        model = litert.LiteColorizer(found.path)
        _check_baked(found.path, model.post_processing, post_processing)
        model.check_render_size(render_size)
        logging.info("loaded LiteRT model %s", found.path)
        return model
    if found.kind == "saved_model":
        _check_baked(found.path, savedmodel.exported_post_processing(found.path),
                     post_processing)
        module = tf.saved_model.load(found.path)
        logging.info("loaded SavedModel %s", found.path)
    else:
        module = make_colorizer(found.path, config.RenderConfig(**post_processing),
                                restorer=restorer, precision=precision)
    return LoadedModel(module, modelpath.resolve(path))


def require_hints(model) -> None:
    """UserError (one line) unless `model` takes colour hints."""
    check = getattr(model, "check_hints", None)  # LoadedModel's, or LiteColorizer's
    if check is None:  # a bare ColorizeFn
        raise UserError("hints: this model takes none; use a SavedModel, a workdir or the "
                        "shipped model")
    check()


def require_reference(model, count: int = 1) -> None:
    """UserError (one line) unless `model` can take colour from `count` reference photos
    (several: it must choose among them)."""
    if isinstance(model, LoadedModel):
        model.check_reference(count)
    else:
        raise UserError("reference: a .tflite model takes none; use a SavedModel, a workdir "
                        "or the shipped model")


class LoadedModel:
    """A SavedModel's or an in-memory Colorizer's functions as numpy calls.

    model(images, render_size): images float [B, H, W, C] in [0, 1] -> RGB [B, H, W, 3].
    """

    def __init__(self, module, path: str):
        self.module, self.path = module, path
        # Exports from before hints have no such variable: they take none.
        flag = getattr(module, "takes_hints", None)
        self.takes_hints = bool(flag.numpy()) if flag is not None else False
        scale = getattr(module, "upscale", None)  # exports from before upscaling: 1
        self.scale = int(scale.numpy()) if scale is not None else 1
        # Likewise exports from before references: none.
        flag = getattr(module, "takes_reference", None)
        self.takes_reference = bool(flag.numpy()) if flag is not None else False
        restores = getattr(module, "restores", None)
        self.restores = bool(restores.numpy()) if restores is not None else False
        self.max_pixels = DEFAULT_MAX_PIXELS

    def check_size(self, images: np.ndarray) -> None:
        """UserError when the output would pass the pixel limit (an upscale multiplies)."""
        pixels = images.shape[1] * images.shape[2] * self.scale ** 2
        if pixels > self.max_pixels:
            raise UserError(f"upscale={self.scale}: the output would have {pixels:,} pixels, "
                            f"over the limit of {self.max_pixels:,}")

    def __call__(self, images: np.ndarray, render_size: int = 0) -> np.ndarray:
        self.check_size(images)
        return self.module.colorize_at(tf.constant(images, tf.float32),
                                       tf.constant(render_size, tf.int32)).numpy()

    def defect_mask(self, images: np.ndarray) -> np.ndarray:
        """images [B, H, W, C] in [0, 1] -> the defect mask [B, H, W, 1] in {0, 1} that
        restoring fills (graph.Colorizer.find_defects); UserError for a model that finds
        none (an export, or no restorer with a finder)."""
        find = getattr(self.module, "find_defects", None)
        mask = find(images) if find is not None else None
        if mask is None:
            raise UserError(f"save_mask: the model {self.path} finds no defects (give pretrained "
                            "or a workdir with --restore, and a restorer with a defect finder)")
        return mask.numpy()

    def check_hints(self) -> None:
        if not self.takes_hints:
            raise UserError(f"hints: the model {self.path} has no hint channels (train one "
                            "with --hints)")

    def reveal(self, images: np.ndarray, render_size: int, count: int,
               seed: tuple[int, int]) -> np.ndarray:
        """`count` random patches of the images' own colour given as hints (evaluate.py)."""
        self.check_hints()
        return self.module.colorize_revealing(
            tf.constant(images, tf.float32), tf.constant(render_size, tf.int32),
            tf.constant(count, tf.int32), tf.constant(seed, tf.int32)).numpy()

    def with_points(self, image: np.ndarray, render_size: int, points: list[tuple]) -> np.ndarray:
        """One image [1, H, W, C] with user hints [(x, y, (r, g, b)), ...], x, y in [0, 1]
        and the colour in [0, 1]."""
        self.check_hints()
        self.check_size(image)
        x, y, rgb = graph.point_arrays(points)
        return self.module.colorize_points(tf.constant(image, tf.float32),
                                           tf.constant(render_size, tf.int32),
                                           x, y, rgb).numpy()


    def check_reference(self, count: int = 1) -> None:
        if not self.takes_reference:
            raise UserError(f"reference: the model {self.path} has no VGG16 encoder to match a "
                            "reference photo with (train one with --encoder=vgg16)")
        if count > 1 and getattr(self.module, "match_reference", None) is None:
            # An export from the first version with references.
            raise UserError(f"reference: the model {self.path} takes one reference photo; "
                            "re-export it (export.py) to choose among several")

    def best_reference(self, image: np.ndarray, render_size: int,
                       references: list[np.ndarray]) -> tuple[int, float]:
        """One image [1, H, W, C] and colour references [h, w, 3] (any sizes) -> (the index
        of the one whose content matches it best, its score: the share of the render it
        would colour, in [0, 1]; nan where there was one reference to choose from)."""
        self.check_reference(len(references))
        if len(references) == 1:
            return 0, float("nan")
        image, size = tf.constant(image, tf.float32), tf.constant(render_size, tf.int32)
        scores = [float(self.module.match_reference(
            image, size, tf.constant(np.asarray(r, np.float32)[None]))[0]) for r in references]
        best = int(np.argmax(scores))
        return best, scores[best]

    def with_reference(self, images: np.ndarray, render_size: int, reference: np.ndarray,
                       points: list | None = None) -> np.ndarray:
        """images [B, H, W, C] coloured from `reference` [h, w, 3] (or one per image,
        [B, h, w, 3]) where their content matches (reference.check first), with user hints
        [(x, y, (r, g, b)), ...] as with_points takes them winning where they are."""
        self.check_reference()
        if points:
            self.check_hints()
        self.check_size(images)
        reference = np.asarray(reference, np.float32)
        if reference.ndim == 3:
            reference = reference[None]
        if (len(reference) == 1 and len(images) > 1
                and getattr(self.module, "match_reference", None) is None):
            # The first exports with references take one per image; later ones match one
            # reference's features (computed once) against every image of the batch.
            reference = np.repeat(reference, len(images), axis=0)
        x, y, rgb = graph.point_arrays(points or [])
        return self.module.colorize_reference(
            tf.constant(images, tf.float32), tf.constant(render_size, tf.int32),
            tf.constant(reference), x, y, rgb).numpy()


def _check_baked(path: str, baked: dict, asked: dict) -> None:
    """Refuses post-processing values that differ from those an export bakes in."""
    differ = {k: v for k, v in asked.items() if baked.get(k) != v}
    if differ:
        # Settings newer than the export format go unsaid at today's default or at the value
        # an export without them works with.
        today = config.RenderConfig().post_processing()
        said = {k: v for k, v in baked.items()
                if k not in config.ADDED_SINCE or v not in (config.ADDED_SINCE[k], today[k])
                or k in differ}
        raise UserError(f"model: {path} was exported with {as_flags(said)}; leave out "
                        f"{as_flags(differ)} or re-export it with export.py")


def load_generator(path: fileio.PathLike, precision: str = "fp32"
                   ) -> tuple[keras.Model, config.Config]:
    """Workdir, checkpoint prefix, shipped-format folder or "pretrained" (the model inside
    colorgan) -> (generator with trained weights, the run's Config); its layers compute in
    `precision` (networks.POLICIES), its variables are float32 whatever it is."""
    found = modelpath.identify(path)
    if found.kind == "shipped":
        with networks.precision_policy(precision):
            return pretrained.load_shipped(found.path)
    if found.kind not in ("workdir", "checkpoint"):
        raise UserError(f"model: {found.path} is an export; give the workdir it was trained "
                        "in (or use it as it is: colorize.py, evaluate.py take exports)")
    prefix, wdir = workdir.resolve_checkpoint(found.path)
    cfg = workdir.read_config(wdir)
    with networks.precision_policy(precision):
        generator = networks.build_generator(config.generator_model(cfg),
                                             config.generator_size(cfg))
    # Only the generator is read; optimizers and D in the checkpoint are ignored on purpose.
    status = tf.train.Checkpoint(generator=generator).restore(prefix)
    status.expect_partial().assert_existing_objects_matched()
    logging.info("restored the generator from %s", prefix)
    return generator, cfg


def make_colorizer(path: fileio.PathLike, render: config.RenderConfig | None = None,
                   max_pixels: int = DEFAULT_MAX_PIXELS, restorer: str = "",
                   restorer_dtype: str | None = None, precision: str = "fp32") -> Colorizer:
    """A Colorizer from a workdir, checkpoint or shipped model, rendering as `render` says
    (None = config.RenderConfig()'s defaults; its render_size 0 = the training size).

    The training size is the scale the generator learned objects at; larger render
    sizes give it more context and detail at the risk of colours it never saw at
    that scale (DeOldify's render factor trade-off). A rendering that restores or upscales
    takes the restorer from `restorer` (a train_restorer.py workdir's restorer/ folder;
    "" = the one shipped in colorgan), its math in `restorer_dtype` (restorer.Restorer's;
    None = as `precision` says, the generator's: load_generator's).
    """
    render = render or config.RenderConfig()
    generator, cfg = load_generator(path, precision)
    if restorer_dtype is None and precision != "fp32":
        restorer_dtype = networks.POLICIES[precision]
    restoring = None
    if render.restores:
        restoring = load_restorer(restorer, restorer_dtype)
    return build_colorizer(generator, cfg, render, max_pixels, restoring)


def load_restorer(path: str = "", dtype: str | None = None) -> restorer_lib.Restorer:
    """A train_restorer.py workdir (or its restorer/ folder), "" = the one shipped in colorgan."""
    return restorer_lib.load(restorer_folder(path) if path else restorer_lib.SHIPPED, dtype)


def build_colorizer(generator: keras.Model, cfg: config.Config, render: config.RenderConfig,
                    max_pixels: int = DEFAULT_MAX_PIXELS,
                    restoring: restorer_lib.Restorer | None = None) -> Colorizer:
    """make_colorizer around weights already loaded (serve/renderings.py makes many
    renderings of one generator)."""
    image_size = cfg.data.image_size
    multiple = networks.input_multiple(cfg.model, config.generator_size(cfg))
    render_size = render.render_size or image_size
    if render_size % multiple:
        raise UserError(f"render_size={render_size} must be a multiple of {multiple} "
                        f"for a model trained at {image_size}px")
    if max_pixels < 1:
        raise UserError(f"max_pixels={max_pixels} must be positive")
    return Colorizer(generator, render_size, max_pixels, multiple, cfg.model.color_space, cfg,
                     render, restoring)


def restorer_folder(path: str) -> str:
    """A train_restorer.py workdir or its restorer/ folder -> the folder with the weights."""
    inner = fileio.join(path, "restorer")
    return inner if fileio.isfile(fileio.join(inner, restorer_lib.WEIGHTS_FILE)) else path


