"""LiteRT (TFLite) models for fast CPU colorizing: export and inference.

The .tflite holds the generator and the colour post-processing at one render size,
L [1, s, s, 1] in [-1, 1] -> ab [1, s, s, 2] (mirror averaging, guided filter and gain
included), and runs on XNNPACK. A hint model's also has `colour_hints`: L and hint maps
[1, s, s, 3] -> ab, the hints propagated as the SavedModel does (the maps are made in
TensorFlow around it: graph.point_maps, graph.revealed_maps). Decoding, Lab, resizing and
the join with the full-resolution L stay in TensorFlow (graph.prepare / finish: the
SavedModel's own code), since TFLite's builtin ops have no antialiased resize. Beside it,
colorgan_litert.json names the colour space, render size, post-processing and quantization.

A model that restores or upscales (--restore, --upscale) also has restorer.tflite: the
restorer at its scale, [1, h, w, 3] (restorer.model_input; 4 channels where it reads
the defect mask, Restorer.reads_mask) -> L [1, s h, s w, 1], any h, w (all builtin ops:
conv, add, depth_to_space, leaky relu, bilinear resize); a restorer with a defect finder, finder.tflite too ([1, h, w, 2] ->
logits), and one with a restoring gate, gate.tflite ([1, h, w, 3] -> logit [1, 1]). The
levels, the tiles (serve/tiles.py, run eagerly around the interpreters), the fill, the
gate's blend and the mirror averaging stay in TensorFlow, so the LiteRT model restores the
same tiles as the SavedModel.

  EXPORT_DIR/<version>/model.tflite, [restorer.tflite, [finder.tflite,] [gate.tflite,]]
  colorgan_litert.json
  (export.py --format=tflite)
"""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import color, config, fileio, modelpath
from colorgan.data import decode
from colorgan.errors import UserError
from colorgan.models import defect_finder, gate as gate_lib, restorer as restorer_lib
from colorgan.serve import graph, savedmodel, tiles

FILE = modelpath.TFLITE_FILE
RESTORER_FILE = "restorer.tflite"
FINDER_FILE = "finder.tflite"
GATE_FILE = "gate.tflite"
META = "colorgan_litert.json"
QUANTIZE = ("none", "fp16", "dynamic")


def convert(colorizer: graph.Colorizer, quantize: str = "none") -> bytes:
    """The colorizer's generator + post-processing at its render size, as .tflite bytes.
    A hint model's file has two signatures, `colour` (L -> ab, its first subgraph) and
    `colour_hints` (L and hint maps [1, s, s, 3] -> ab: G with the hints, then the
    edge-aware propagation, as the SavedModel's serving_hints; the weights are shared,
    +4.5 MB of 80); any other model's has one, which the converter names
    `serving_default` (it takes functions' names only when there are several).

    quantize: none (fp32), fp16 (weights stored as fp16, computed in fp32) or dynamic
    (int8 weights, activations quantized on the fly).
    """
    if quantize not in QUANTIZE:
        raise UserError(f"quantize={quantize!r} is unknown; choose one of {QUANTIZE}")
    size = int(colorizer.render_size)
    L_spec = tf.TensorSpec([1, size, size, 1], tf.float32, name="L")

    # The functions' names are the signatures' keys.
    def colour(L):
        return {"ab": colorizer._chroma(L, size)}

    def colour_hints(L, hint_maps):
        return {"ab": colorizer._chroma(L, size, hint_maps)}

    fns = [tf.function(colour, input_signature=[L_spec], autograph=False)]
    if colorizer.hints:
        fns.append(tf.function(colour_hints, autograph=False, input_signature=[
            L_spec, tf.TensorSpec([1, size, size, 3], tf.float32, name="hint_maps")]))
    return _convert(fns, colorizer, quantize)


def convert_restorer(colorizer: graph.Colorizer) -> bytes:
    """The colorizer's restorer at its upscale, [1, h, w, 3 (4 when it reads the mask)] ->
    [1, s h, s w, 1], as .tflite bytes with float32 weights (0.9 MB: quantizing it saves nothing
    worth its error)."""
    model = colorizer.restorer.models[colorizer.scale]
    return _convert_model(model, "L", model.input_shape[-1])


def convert_finder(colorizer: graph.Colorizer) -> bytes:
    """The restorer's defect finder, the scan's L and its stretch [1, h, w, 2] (h, w
    multiples of 8: tiles.find_tiled pads) -> logits [1, h, w, 1], as .tflite bytes."""
    return _convert_model(colorizer.restorer.finder, "logits", 2)


def convert_gate(colorizer: graph.Colorizer) -> bytes:
    """The restorer's gate, gate.gate_input [1, h, w, 3] -> logit [1, 1], as .tflite bytes."""
    return _convert_model(colorizer.restorer.gate, "logit", 3)


def _convert_model(model, output: str, channels: int) -> bytes:
    fn = tf.function(lambda x: {output: model(x)},
                     input_signature=[tf.TensorSpec([1, None, None, channels], tf.float32,
                                                    name="x")],
                     autograph=False)
    # The variables' tf.Variable handles: the converter freezes what the trackable holds
    # (a keras.Model passed here leaves them as VAR_HANDLEs, read as NaN at run time).
    holder = tf.Module()
    holder.variables_ = [v.value for v in model.variables]
    return _convert([fn], holder, "none")


def _convert(fns: list, trackable, quantize: str) -> bytes:
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [fn.get_concrete_function() for fn in fns], trackable)
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantize == "fp16":
            converter.target_spec.supported_types = [tf.float16]
    return converter.convert()


def writer(quantize: str = "none"):
    """A savedmodel.export writer: model.tflite and its colorgan_litert.json in `folder`."""
    def write(colorizer: graph.Colorizer, folder: str) -> None:
        model = convert(colorizer, quantize)
        fileio.makedirs(folder)
        extra = {}
        if colorizer.restorer is not None:
            fileio.write_bytes_atomic(fileio.join(folder, RESTORER_FILE),
                                      convert_restorer(colorizer))
            finder = colorizer.restorer.finder is not None
            if finder:
                fileio.write_bytes_atomic(fileio.join(folder, FINDER_FILE),
                                          convert_finder(colorizer))
            gate = colorizer.restorer.gate is not None
            if gate:
                fileio.write_bytes_atomic(fileio.join(folder, GATE_FILE),
                                          convert_gate(colorizer))
            extra = {"restorer_tile": colorizer.tile, "restorer_margin": colorizer.margin,
                     "finder": finder, "gate": gate}
        savedmodel.write_render_file(colorizer, fileio.join(folder, META),
                                     color_space=colorizer.color_space,
                                     render_size=int(colorizer.render_size), quantize=quantize,
                                     hints=bool(colorizer.hints), **extra)
        fileio.write_bytes_atomic(fileio.join(folder, FILE), model)  # last: the export is whole
        logging.info("LiteRT model: %.1f MB (%s)", len(model) / 1e6, quantize)
    write.marker = FILE  # what savedmodel.export looks for in the other versions
    return write


def _interpreter(model: bytes, threads: int):
    """LiteRT's interpreter (ai-edge-litert), else TensorFlow's deprecated tf.lite one."""
    try:
        from ai_edge_litert.interpreter import Interpreter  # optional: the [litert] extra
    except ImportError:  # the [litert] extra is not installed
        Interpreter = tf.lite.Interpreter
    return Interpreter(model_content=model, num_threads=threads)


class LiteColorizer:
    """colorize_at(images [B, H, W, C] in [0, 1], render_size) -> RGB [B, H, W, 3], numpy;
    the same contract as graph.Colorizer.colorize_at, on a .tflite. A hint model's also
    has with_points and reveal (opener.LoadedModel's); none takes a reference photo."""

    def __init__(self, path: str, threads: int | None = None):
        self.path = path
        meta_path = fileio.join(fileio.dirname(path), META)
        if not fileio.isfile(path):
            raise UserError(f"model: {path} does not exist")
        if not fileio.isfile(meta_path):
            raise UserError(f"model: {path} has no {META} beside it (export it with "
                            "export.py --format=tflite)")
        self.meta = json.loads(fileio.read_text(meta_path))
        self.post_processing = config.RenderConfig.baked(self.meta, meta_path)
        if not {"render_size", "color_space"} <= set(self.meta):
            raise UserError(f"model: {meta_path} lacks render_size or color_space")
        self.size = int(self.meta["render_size"])
        self.space = color.get_space(self.meta["color_space"])
        threads = threads or os.cpu_count() or 1
        # Interpreters are not thread-safe, and batch runners call from threads
        # (archive/stream.py, Beam): one call at a time through either.
        self.lock = threading.RLock()
        self.interpreter = _interpreter(fileio.read_bytes(path), threads)
        self.interpreter.allocate_tensors()
        # Signature runners only (raw set_tensor / invoke beside a runner fails: the runner
        # holds views of the interpreter's buffers). Models without hints, and every export
        # from before LiteRT hints, have one signature (`serving_default`) and no "hints"
        # entry.
        keys = list(self.interpreter.get_signature_list())
        if not keys:
            raise UserError(f"model: {path} has no signatures; export it again with "
                            "export.py --format=tflite")
        self._plain = self.interpreter.get_signature_runner(
            "colour" if "colour" in keys else keys[0])
        self.takes_hints = bool(self.meta.get("hints")) and "colour_hints" in keys
        self._hinted = (self.interpreter.get_signature_runner("colour_hints")
                        if self.takes_hints else None)
        self.takes_reference = False  # the match's ops are not all LiteRT builtins (notes)
        render = self.post_processing
        self.scale = int(render.get("upscale", 1))
        self.restores = bool(render.get("restore")) or self.scale > 1  # video/film.py reads it
        self.restorer = None
        if self.restores:
            restorer_path = fileio.join(fileio.dirname(path), RESTORER_FILE)
            if not fileio.isfile(restorer_path):
                raise UserError(f"model: {meta_path} restores or upscales but {restorer_path} "
                                "is missing; export it again")
            if not {"restorer_tile", "restorer_margin"} <= set(self.meta):
                raise UserError(f"model: {meta_path} lacks restorer_tile or restorer_margin; "
                                "export it again")
            self.restorer = _interpreter(fileio.read_bytes(restorer_path), threads)
            # Exports from before defects have no finder, from before the gate no gate.
            self.finder = self._part(path, meta_path, "finder", FINDER_FILE, threads)
            self.gate = self._part(path, meta_path, "gate", GATE_FILE, threads)
            self._shapes = {}
            # A finder added onto a restorer trained without one fills, and the restorer
            # reads 3 channels (RestorerConfig.mask_input).
            channels = self.restorer.get_input_details()[0]["shape_signature"][-1]
            self._mask_channel = int(channels) == 4
        # Traced once per input shape: in eager mode the full-resolution steps of a 1 MP
        # photo cost ~30 ms more. No autograph (prepare / finish use tf.cond themselves):
        # after other models' graphs in one process (bench.py), autograph once called the
        # 1-argument lambda with _finish's 2 arguments.
        images_spec = tf.TensorSpec([None, None, None, None], tf.float32)
        self._prepare = tf.function(lambda x: graph.prepare(x, self.size, self.space),
                                    input_signature=[images_spec], autograph=False)
        self._finish = tf.function(
            lambda L, ab: graph.finish(L, ab, self.space),
            input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32),
                             tf.TensorSpec([None, None, None, 2], tf.float32)],
            autograph=False)

    def _part(self, path: str, meta_path: str, key: str, name: str, threads: int):
        """The interpreter of the restorer's part `key` (file `name` beside `path`), or None
        where the export has none; missing where the meta names it: one UserError."""
        if not self.meta.get(key):
            return None
        part_path = fileio.join(fileio.dirname(path), name)
        if not fileio.isfile(part_path):
            raise UserError(f"model: {meta_path} has a {key} but {part_path} is missing; "
                            "export it again")
        return _interpreter(fileio.read_bytes(part_path), threads)

    def _per_image(self, runner, **batch: np.ndarray) -> np.ndarray:
        """A signature's ab [B, s, s, 2] for inputs [B, ...] (the .tflite takes one image),
        one call at a time."""
        batch = {k: np.asarray(v, np.float32) for k, v in batch.items()}
        with self.lock:
            return np.concatenate([runner(**{k: v[i:i + 1] for k, v in batch.items()})["ab"]
                                   for i in range(len(batch["L"]))])

    def _restore_window(self, x: tf.Tensor) -> tf.Tensor:
        """restorer.model_input [B, h, w, 3 or 4] -> [B, s h, s w, 1] through restorer.tflite."""
        with self.lock:
            return self._invoke(self.restorer, x)

    def _found(self, window: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
        """restorer.Restorer.found through finder.tflite: a window [B, h, w, 1] (h, w
        multiples of 8) and its photo's levels -> what the finder marks, [B, h, w, 1]."""
        x = restorer_lib.model_input(window, lv)[..., :2]
        with self.lock:
            return defect_finder.marks(self._invoke(self.finder, x))

    def _strength(self, L: tf.Tensor, lv: tf.Tensor) -> tf.Tensor:
        """restorer.Restorer.strength through gate.tflite: a whole photo's L [B, H, W, 1] and
        its levels -> [B] in [0, 1]."""
        with self.lock:
            return gate_lib.strength(self._invoke(self.gate, gate_lib.gate_input(L, lv)))

    def _invoke(self, it, x: tf.Tensor) -> tf.Tensor:
        x = np.asarray(x, np.float32)
        index = it.get_input_details()[0]["index"]
        if self._shapes.get(id(it)) != x.shape[1:]:  # a photo's windows share one shape
            it.resize_tensor_input(index, [1, *x.shape[1:]])
            it.allocate_tensors()
            self._shapes[id(it)] = x.shape[1:]
        out = []
        for one in x:
            it.set_tensor(index, one[None])
            it.invoke()
            out.append(it.get_tensor(it.get_output_details()[0]["index"])[0])
        return tf.constant(np.stack(out))

    def _restore(self, L: tf.Tensor) -> tf.Tensor:
        """graph.Colorizer.restore around the interpreter (eager: the tiles' loop runs in
        Python)."""
        render = self.post_processing
        find = None
        if self.finder is not None:  # as graph.Colorizer._defect_mask
            remove = bool(render["restore"]) and render["defects"] == "remove"

            def find(L, lv):
                return tiles.defect_mask(self._found, L, lv, remove)
        strength = None if self.gate is None else self._strength
        return tiles.restore_photo(self._restore_window, L, self.scale, bool(render["restore"]),
                                   bool(render["flip"]), int(self.meta["restorer_tile"]),
                                   int(self.meta["restorer_margin"]), find=find,
                                   strength=strength, mask_channel=self._mask_channel)

    def check_render_size(self, render_size: int) -> None:
        if int(render_size) not in (0, self.size):
            raise UserError(f"render_size={int(render_size)}: this LiteRT model renders at "
                            f"{self.size} only (export another with --render_size)")

    def lightness(self, images) -> tuple[tf.Tensor, tf.Tensor]:
        """images [B, H, W, C] in [0, 1] -> (L [B, s H, s W, 1], L [B, r, r, 1]): the
        (restored) lightness at full size and at the render size (graph.Colorizer's)."""
        pixels = images.shape[1] * images.shape[2] * self.scale ** 2
        if pixels > decode.DEFAULT_MAX_PIXELS:
            raise UserError(f"upscale={self.scale}: the output would have {pixels:,} pixels, "
                            f"over the limit of {decode.DEFAULT_MAX_PIXELS:,}")
        L_full, L_small = self._prepare(tf.constant(images, tf.float32))
        if self.restorer is not None:  # graph.Colorizer._lightness
            L_full = self._restore(L_full)
            L_small = tf.image.resize(L_full, [self.size, self.size], antialias=True)
        return L_full, L_small

    def chroma(self, L_small) -> np.ndarray:
        """L [B, r, r, 1] -> ab [B, r, r, 2] (the .tflite's colour, post-processed)."""
        return self._per_image(self._plain, L=L_small)

    def finish(self, L_full, ab) -> tf.Tensor:
        """L [B, H, W, 1] and ab [B, r, r, 2] -> RGB [B, H, W, 3] in [0, 1]."""
        return self._finish(L_full, tf.constant(ab, tf.float32))

    def colorize_at(self, images, render_size: int = 0) -> np.ndarray:
        self.check_render_size(render_size)
        L_full, L_small = self.lightness(images)
        return self.finish(L_full, self.chroma(L_small)).numpy()

    def check_hints(self) -> None:
        if not self.takes_hints:
            raise UserError(f"hints: the LiteRT model {self.path} takes none (a hint model "
                            "exported before LiteRT hints: export it again with export.py "
                            "--format=tflite; a model without hint channels: train one with "
                            "--hints)")

    def with_points(self, image, render_size: int, points: list[tuple]) -> np.ndarray:
        """One image [1, H, W, C] in [0, 1] with user hints [(x, y, (r, g, b)), ...], x, y
        in [0, 1] -> RGB [1, s H, s W, 3]: opener.LoadedModel.with_points on the .tflite's
        colour_hints signature."""
        self.check_hints()
        self.check_render_size(render_size)
        L_full, L_small = self.lightness(image)
        x, y, rgb = graph.point_arrays(points)
        maps = graph.point_maps(L_small, x, y, rgb, self.space)
        return self.finish(L_full, self._per_image(self._hinted, L=L_small,
                                                   hint_maps=maps)).numpy()

    def reveal(self, images, render_size: int, count: int, seed: tuple[int, int]) -> np.ndarray:
        """`count` random patches of the images' own colour given as hints: evaluate.py
        --hints=N, as graph.Colorizer.colorize_revealing picks them."""
        self.check_hints()
        self.check_render_size(render_size)
        L_full, L_small = self.lightness(images)
        maps = graph.revealed_maps(tf.constant(images, tf.float32), tf.constant(self.size),
                                   self.space, tf.constant(seed, tf.int32),
                                   tf.constant(count, tf.int32))
        return self.finish(L_full, self._per_image(self._hinted, L=L_small,
                                                   hint_maps=maps)).numpy()

    __call__ = colorize_at  # open_model's ColorizeFn; .scale tells callers the output size
