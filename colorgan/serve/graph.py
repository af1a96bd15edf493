"""The serving graph: a generator plus everything around it, as one tf.Module that
savedmodel.export writes for TF Serving and opener.open_model runs in memory.

The graph does all pre- and post-processing itself (decode, Lab, resize,
recombine, encode), so serving cannot drift from training. Signatures:

  serving_default  image_bytes [None] string (JPEG/PNG/BMP/GIF/WebP, gray, RGB or RGBA)
                   -> colorized_png_bytes [None] string, each at its input's full size
  serving_jpeg     the same -> colorized_jpeg_bytes (quality 95, no chroma subsampling)
  colorize         images [B, H, W, C] float32 in [0, 1], C = 1, 3 or 4
                   -> colorized [B, s H, s W, 3] float32 in [0, 1] (s = the baked upscale)
  serving_hints    image_bytes [1], hint_x, hint_y [N], hint_color [N] (#rrggbb)
                   -> colorized_png_bytes [1] (a hint model only)
  serving_reference image_bytes [1], reference_bytes [1] (a colour photo, any size)
                   -> colorized_png_bytes [1] (a model with the VGG16 encoder only)

Colour comes from the generator run on L resized to render_size x render_size; its ab
is upsampled to the input's size and joined with the input's own full-resolution L,
so every detail of the luminance survives (only the chroma is low-resolution, which
the eye forgives). Before upsampling, the colour is post-processed as the export's
config.RenderConfig says (baked in at export): averaged with the mirror image's,
guided-filtered along L's edges (serve/chroma.py) and scaled by chroma_gain.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from colorgan import color, config
from colorgan.data import decode
from colorgan.errors import UserError
from colorgan.models import correspondence, hints, networks, propagation
from colorgan.models import restorer as restorer_lib
from colorgan.serve import chroma, tiles

DEFAULT_MAX_PIXELS = decode.DEFAULT_MAX_PIXELS
JPEG_QUALITY = 95
GRAY_REFERENCE = "reference: the photo is gray; a reference must be in colour"


def _to_rgb(images: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] with C in {1, 3, 4} -> [B, H, W, 3]; gray is replicated, alpha dropped."""
    channels = tf.shape(images)[-1]
    tf.debugging.assert_equal(
        tf.reduce_any(tf.equal(channels, [1, 3, 4])), True,
        message="images must have 1 (gray), 3 (RGB) or 4 (RGBA) channels")
    return tf.cond(tf.equal(channels, 1),
                   lambda: tf.repeat(images[..., :1], 3, axis=-1),
                   lambda: images[..., :3])


def full_lightness(images: tf.Tensor, space: color.ColorSpace) -> tf.Tensor:
    """images [B, H, W, C] in [0, 1] -> the input channel (L or Y) [B, H, W, 1] in [-1, 1]."""
    return space.model_input(tf.clip_by_value(_to_rgb(images), 0.0, 1.0))


def prepare(images: tf.Tensor, size: tf.Tensor, space: color.ColorSpace):
    """images [B, H, W, C] in [0, 1] -> (L [B, H, W, 1], L [B, size, size, 1]), in [-1, 1]:
    the input channel (L or Y) at full resolution and at the render size."""
    L_full = full_lightness(images, space)
    return L_full, tf.image.resize(L_full, tf.stack([size, size]), antialias=True)


def point_arrays(points: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User hints [(x, y, (r, g, b)), ...] (hints.read_points) -> x, y [N] and rgb [N, 3],
    float32: colorize_points' and point_maps' inputs (N = 0: none)."""
    x = np.array([p[0] for p in points], np.float32)
    y = np.array([p[1] for p in points], np.float32)
    return x, y, np.array([p[2] for p in points], np.float32).reshape(-1, 3)


def point_maps(L_small: tf.Tensor, x: tf.Tensor, y: tf.Tensor, rgb: tf.Tensor,
               space: color.ColorSpace) -> tf.Tensor:
    """User hints (Colorizer.colorize_points': x, y [N] in [0, 1], sRGB [N, 3] in [0, 1])
    -> hint maps [B, s, s, 3] at the side s of L [B, s, s, 1]."""
    size = tf.shape(L_small)[1]
    _, ab = space.to_model(tf.clip_by_value(rgb, 0.0, 1.0))
    # A 3-pixel patch at the 128 px the shipped model trained at, in proportion elsewhere.
    side = tf.maximum(1, (3 * size + 64) // 128)
    return hints.from_points(tf.shape(L_small), x, y, ab, side)


def revealed_maps(images: tf.Tensor, size: tf.Tensor, space: color.ColorSpace,
                  seed: tf.Tensor, count: tf.Tensor) -> tf.Tensor:
    """images [B, H, W, C] in [0, 1] -> hint maps [B, size, size, 3] revealing `count`
    random patches of their own colour at the render size (hints.simulate; `seed` [2]
    picks them): Zhang et al.'s measure, evaluate.py --hints=N."""
    rgb = tf.image.resize(tf.clip_by_value(_to_rgb(images), 0.0, 1.0), tf.stack([size, size]),
                          antialias=True)
    _, ab_small = space.to_model(rgb)
    return hints.simulate(ab_small, seed, count=count)


def finish(L_full: tf.Tensor, ab_small: tf.Tensor, space: color.ColorSpace) -> tf.Tensor:
    """The full-resolution L joined with the colour upsampled to it -> RGB [B, H, W, 3]:
    the output keeps every detail of the photo's own lightness."""
    return space.to_rgb(L_full, tf.image.resize(ab_small, tf.shape(L_full)[1:3]))


class _Untracked:
    """Holds objects where tf.Module's tracking (and so tf.saved_model.save) does not look."""

    def __init__(self, **objects):
        self.__dict__.update(objects)


class Colorizer(tf.Module):
    """A generator plus the graph around it. Exportable with `tf.saved_model.save`."""

    def __init__(self, generator: keras.Model, render_size: int, max_pixels: int,
                 multiple: int, color_space: str = "lab", cfg: config.Config | None = None,
                 render: config.RenderConfig | None = None,
                 restorer: restorer_lib.Restorer | None = None, tile: int = 192):
        super().__init__(name="colorizer")
        # Python values, so a traced graph holds only the steps that are on.
        self.render = render or config.RenderConfig()
        self.post_processing = self.render.post_processing()  # written beside the SavedModel
        # The Keras models stay out of the module's tracking (`_Untracked`): tracked, each
        # Keras 3 variable was saved a second time beside the tf.Variable it wraps (the
        # shipped model's export held 158 MB for 79 MB of weights). The session loader that
        # TF Serving and saved_model_cli use only finds variables the module tracks itself,
        # so these lists are what an export saves. In the order of generator.variables:
        # --init_from reads them back by position.
        self._models = _Untracked(generator=generator, restorer=None)
        self.generator_variables = [v.value for v in generator.variables]
        self.cfg = cfg  # written beside the SavedModel by export()
        self.render_size = tf.constant(render_size, tf.int32)
        self.max_pixels = tf.constant(max_pixels, tf.int64)
        self.multiple = multiple  # the generator's input sides must be multiples of this
        self.color_space = color_space
        self.space = color.get_space(color_space)
        # Saved with the export (a variable), so a loaded SavedModel can say whether it
        # takes hints.
        self.hints = networks.takes_hints(generator)  # Python: traced graphs differ
        self.takes_hints = tf.Variable(self.hints, trainable=False, name="takes_hints")
        # Likewise whether a reference photo can be matched (it needs the VGG16 encoder).
        self.matches = networks.encoder_features(generator, None) is not None
        self.takes_reference = tf.Variable(self.matches, trainable=False,
                                           name="takes_reference")
        if not self.matches:
            # Nothing to match with. tf.saved_model.save traces every tf.function of the
            # module: without these a tiny export loads 837 MB, not 865-903 MB.
            self.colorize_reference = self.serve_reference = self.match_reference = None
            self._encoder = self._regions = None
        if not self.hints:
            self._generate_hinted = None
        # The old-photo restorer, when the rendering restores or upscales (baked in, as the
        # rest of the rendering): its variables listed like the generator's, so an export
        # carries it.
        self.tile = tile
        if self.render.restores:
            if restorer is None:
                raise UserError("restore/upscale: this model has no restorer")
            if color_space != "lab":
                raise UserError(f"restore/upscale: the restorer works on Lab lightness; this "
                                f"model colours in {color_space}")
            self._models.restorer = restorer
            self.restorer_variables = [v.value for v in restorer.variables]
            self.margin = restorer_lib.receptive_radius(restorer.cfg)
            self.tile = max(tile, 4 * self.margin)  # a deep custom restorer needs wider windows
        self.scale = self.render.upscale
        # Saved with the export, so a loaded SavedModel can size its outputs (pixel limit).
        self.upscale = tf.Variable(self.scale, trainable=False, name="upscale")
        self.restores = tf.Variable(self.restorer is not None, trainable=False,
                                    name="restores")

    @property
    def generator(self) -> keras.Model:
        return self._models.generator

    @property
    def restorer(self) -> restorer_lib.Restorer | None:
        """The old-photo restorer the rendering runs, else None."""
        return self._models.restorer

    # Every tf.function here is plain graph code (autograph=False): nothing branches or
    # loops on a tensor in Python (tf.cond, tf.map_fn, tf.while_loop are written out), and
    # autograph's source rewriting cost ~3.5 s of a fresh process's export (speed.md).
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32)], autograph=False)
    def colorize_at(self, images, render_size):
        """images [B, H, W, C] in [0, 1], render side (0 = default) -> RGB [B, H, W, 3]."""
        size = self._size(render_size)
        L_full, L_small = self._lightness(images, size)
        return finish(L_full, self._chroma(L_small, size), self.space)

    # colorize_at in three stages, so that a batch runner (archive/stream.py) can prepare and
    # finish photos of any size in threads around one generator call on a batch of them:
    # finish_at(*lightness_at(x, r)) with chroma_at between is colorize_at(x, r) exactly.
    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32)], autograph=False)
    def lightness_at(self, images, render_size):
        """images [B, H, W, C] in [0, 1] -> (L [B, s H, s W, 1], L [B, r, r, 1]) in [-1, 1]:
        the (restored) lightness at full size and at the render side r."""
        return self._lightness(images, self._size(render_size))

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
                 autograph=False)
    def chroma_at(self, L_small):
        """L [B, r, r, 1] in [-1, 1] -> the post-processed colour [B, r, r, 2] (no hints)."""
        return self._chroma(L_small, tf.shape(L_small)[1])

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32),
                                  tf.TensorSpec([None, None, None, 2], tf.float32)],
                 autograph=False)
    def finish_at(self, L_full, ab_small):
        """L [B, H, W, 1] and colour [B, r, r, 2] -> RGB [B, H, W, 3] in [0, 1]."""
        return finish(L_full, ab_small, self.space)

    def _lightness(self, images, size):
        """prepare(), with the lightness restored (and upscaled) first where the rendering
        says so: the colour is then predicted from the restored lightness."""
        L_full, L_small = prepare(images, size, self.space)
        if self.restorer is None:
            return L_full, L_small
        L_full = self.restore(L_full)
        return L_full, tf.image.resize(L_full, tf.stack([size, size]), antialias=True)

    def restore(self, L):
        """Model-range L [B, H, W, 1] -> restored L [B, s H, s W, 1] (s = upscale), in
        tiles (serve/tiles.py), clipped to [-1, 1]."""
        find = None if self.restorer.finder is None else self._defect_mask
        strength = None if self.restorer.gate is None else self.restorer.strength
        return tiles.restore_photo(self.restorer.models[self.scale], L, self.scale,
                                   self.render.restore, self.render.flip, self.tile, self.margin,
                                   find=find, strength=strength,
                                   mask_channel=self.restorer.reads_mask)

    def _defect_mask(self, L, lv):
        """L [B, H, W, 1], its levels -> the mask restoring fills (tiles.defect_mask)."""
        return tiles.defect_mask(self.restorer.found, L, lv,
                                 self.render.restore and self.render.defects == "remove")

    def find_defects(self, images) -> tf.Tensor | None:
        """images [B, H, W, C] in [0, 1] -> the defect mask [B, H, W, 1] in {0, 1} that
        restoring fills (empty with defects=keep), or None where nothing is found (no
        restoring, or a restorer without a finder). Eager, outside the export: it serves
        colorize.py --save_mask, a check of what was touched."""
        if self.restorer is None or self.restorer.finder is None or not self.render.restore:
            return None
        L = full_lightness(tf.constant(images, tf.float32), self.space)
        return self._defect_mask(L, restorer_lib.levels(L))

    def _chroma(self, L_small, size, hint_maps=None, reference_maps=None):
        """L [B, s, s, 1] in [-1, 1] (and a hint model's hint maps [B, s, s, 3], and dense
        hints from a reference photo [B, s, s, 3]: _reference_maps) -> the post-processed
        colour [B, s, s, 2], float32."""
        if self.render.flip:  # one generator call on twice the batch
            both_h = None if hint_maps is None else tf.concat(
                [hint_maps, hint_maps[:, :, ::-1]], 0)
            both = self._generate(tf.concat([L_small, L_small[:, :, ::-1]], 0), both_h)
            n = tf.shape(L_small)[0]
            ab = (tf.cast(both[:n], tf.float32) + tf.cast(both[n:, :, ::-1], tf.float32)) / 2
        else:
            ab = tf.cast(self._generate(L_small, hint_maps), tf.float32)
        if self.render.chroma_smooth > 0:
            radius = tf.cast(tf.round(tf.cast(size, tf.float32) * self.render.chroma_smooth),
                             tf.int32)
            ab = chroma.guided_filter(L_small, ab, tf.maximum(radius, 1))
        gain = self.render.chroma_gain
        ab = ab * gain if gain != 1 else ab
        # Hints and references act after the mirror, smoothing and gain, so a hinted pixel
        # ends at its hint (propagated inside G, a hint came out x1.11: 50 hints 28.44 dB,
        # here 28.92). G sees only the user's hints (it learnt sparse patches, not dense maps).
        hinted = hint_maps is not None and self.hints
        if not hinted and reference_maps is None:
            return ab
        regions = self._regions(L_small) if self.matches else None
        if reference_maps is not None:  # dense: the plain solve, blended by confidence
            ab = propagation.propagate(L_small, reference_maps, ab, regions,
                                       self.render.hint_spread, dense=True)
        if hinted:  # then the user's clicks on top: they win where they are, filling regions
            ab = propagation.propagate(L_small, hint_maps, ab, regions, self.render.hint_spread)
        return ab

    def _reference_maps(self, L_small, reference):
        """L [B, s, s, 1] in [-1, 1] and reference photos [B or 1, h, w, C] in [0, 1] (any
        size and aspect) -> dense hints [B, s, s, 3]: each reference's ab warped to its target by
        correspondence.match, and the gated confidence as the mask.

        The reference is resized to about the matched target's area, keeping its aspect
        (sides multiples of 16, so relu5_3's grid is whole), so objects appear at a like
        scale."""
        size = tf.shape(L_small)[1]
        # The match costs (cells)^2: at most MATCH_SIDE px (64^2 cells, a 67 MB matrix);
        # a larger render is matched at that side and its colours upsampled.
        side = tf.minimum(size, correspondence.MATCH_SIDE)
        L_match = tf.image.resize(L_small, tf.stack([side, side]), antialias=True)
        rgb = tf.clip_by_value(_to_rgb(reference), 0.0, 1.0)
        hw = tf.cast(tf.shape(rgb)[1:3], tf.float32)
        scale = tf.cast(side, tf.float32) / tf.sqrt(hw[0] * hw[1])
        sides = tf.maximum(16, tf.cast(tf.round(hw * scale / 16), tf.int32) * 16)
        rgb = tf.clip_by_value(tf.image.resize(rgb, sides, antialias=True), 0.0, 1.0)
        # A gray reference has no colour to give: its mask is 0 (the automatic colour stays).
        colourful = tf.cast(color.mean_chroma(color.rgb_to_lab(rgb)) >= correspondence.MIN_CHROMA,
                            tf.float32)[:, None, None, None]
        L_ref, ab_ref = self.space.to_model(rgb)
        target = correspondence.describe(self._encoder(L_match))
        source = correspondence.describe(self._encoder(L_ref))
        ab_grid = tf.image.resize(ab_ref, tf.shape(source)[1:3], method="area")
        warped, confidence = correspondence.match(target, source, ab_grid)
        grid = tf.stack([size, size])
        return tf.concat([tf.image.resize(warped, grid),
                          correspondence.gate(tf.image.resize(confidence, grid)) * colourful],
                         -1)

    # G and its encoder as functions, each traced once and called by every signature: a
    # Keras call builds ~0.4 s of graph, G is called by six signatures, and an export
    # traces each twice (its save traces them again). Measured: docs/notes/speed.md.
    def _generate(self, L, hint_maps=None):
        """G's ab for L [B, H, W, 1] (and a hint model's hint maps): networks.colorize."""
        if hint_maps is None or not self.hints:  # a model without hints ignores them
            return self._generate_plain(L)
        return self._generate_hinted(L, hint_maps)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
                 autograph=False)
    def _generate_plain(self, L):
        return networks.colorize(self.generator, L)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32),
                                  tf.TensorSpec([None, None, None, 3], tf.float32)],
                 autograph=False)
    def _generate_hinted(self, L, hint_maps):
        return networks.colorize(self.generator, L, hint_maps)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
                 autograph=False)
    def _regions(self, L):
        return networks.region_features(self.generator, L)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 1], tf.float32)],
                 autograph=False)
    def _encoder(self, L):
        return networks.encoder_features(self.generator, L)

    def _size(self, render_size):
        size = tf.where(render_size > 0, render_size, self.render_size)
        return (size + self.multiple - 1) // self.multiple * self.multiple  # round up

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([2], tf.int32)], autograph=False)
    def colorize_revealing(self, images, render_size, count, seed):
        """Like colorize_at, with `count` random patches of the images' own colour given as
        hints (hints.simulate at the render size; `seed` picks them): evaluate.py --hints=N.
        A model without hint channels ignores them."""
        size = self._size(render_size)
        L_full, L_small = self._lightness(images, size)
        maps = revealed_maps(images, size, self.space, seed, count)
        return finish(L_full, self._chroma(L_small, size, maps), self.space)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def colorize_points(self, images, render_size, x, y, rgb):
        """One image [1, H, W, C] with user hints: points x, y [N] in [0, 1] of its width and
        height, each asking for the sRGB colour rgb [N, 3] in [0, 1] there (only its
        chroma counts: the photo keeps its lightness)."""
        size = self._size(render_size)
        L_full, L_small = self._lightness(images, size)
        maps = self._point_maps(L_small, x, y, rgb)
        return finish(L_full, self._chroma(L_small, size, maps), self.space)

    def _point_maps(self, L_small, x, y, rgb):
        return point_maps(L_small, x, y, rgb, self.space)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def colorize_reference(self, images, render_size, reference, x, y, rgb):
        """images [B, H, W, C] and one colour reference photo per image [B, h, w, C], or
        one for them all [1, h, w, C] (any size and aspect), both in [0, 1], and user hints as
        colorize_points takes them (N = 0 for none; a hint model's; the same for every
        image) -> RGB [B, H, W, 3]: the reference's colours where its content matches, the
        hints' where they are, the automatic colour elsewhere. A gray reference (mean chroma
        below correspondence.MIN_CHROMA once resized) gives nothing: its image keeps the
        automatic colour (serve_reference refuses one; exemplar.check before a call)."""
        size = self._size(render_size)
        L_full, L_small = self._lightness(images, size)
        maps = self._reference_maps(L_small, reference)
        points = None
        if self.hints:  # a model without hint channels has no use for them
            batch = tf.shape(L_small)[0]
            points = tf.cond(tf.size(x) > 0,
                             lambda: tf.tile(self._point_maps(L_small, x, y, rgb),
                                             [batch, 1, 1, 1]),
                             lambda: hints.none(L_small))
        return finish(L_full, self._chroma(L_small, size, points, maps), self.space)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32),
                                  tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([None, None, None, None], tf.float32)],
                 autograph=False)
    def match_reference(self, images, render_size, reference):
        """How well each image's content matches its reference photo (as
        colorize_reference takes them) -> [B] in [0, 1]: the mean of the gated confidence,
        i.e. the share of the render the reference would colour (0 for a gray one). Picks
        the reference a photo or a film's shot takes among several (opener.best_reference)."""
        _, L_small = self._lightness(images, self._size(render_size))
        return tf.reduce_mean(self._reference_maps(L_small, reference)[..., 2], axis=[1, 2])

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, None], tf.float32,
                                                name="images")], autograph=False)
    def colorize(self, images):
        return {"colorized": self.colorize_at(images, tf.constant(0, tf.int32))}

    def _check_pixels(self, pixels):
        """pixels: the input's; its output has scale^2 times as many."""
        return tf.debugging.assert_less_equal(
            pixels * self.scale * self.scale, self.max_pixels,
            message="image (times upscale^2) has more pixels than max_pixels set at export")

    def _one_image(self, image_bytes):
        """Encoded bytes -> the colorized image as uint8 [H, W, 3]."""
        # InvalidArgument for bytes that are no image, and for any whose header declares
        # more than max_pixels (checked before the decoder allocates: imageheader.py).
        image = decode.decode_image(image_bytes, max_pixels=self.max_pixels)
        shape = tf.shape(image, out_type=tf.int64)
        with tf.control_dependencies([self._check_pixels(shape[0] * shape[1])]):
            out = self.colorize_at(image[None], tf.constant(0, tf.int32))[0]
        return tf.image.convert_image_dtype(out, tf.uint8, saturate=True)

    def _one_png(self, image_bytes):
        # zlib level 1: a 1 MP photo encodes in ~60 ms instead of ~400 ms at the default
        # level 6, for ~10 % more bytes (measured; docs/notes/serving.md).
        return tf.io.encode_png(self._one_image(image_bytes), compression=1)

    def _one_jpeg(self, image_bytes):
        # 4:4:4: chroma subsampling would halve the colour resolution we just predicted.
        return tf.io.encode_jpeg(self._one_image(image_bytes), quality=JPEG_QUALITY,
                                 chroma_downsampling=False)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
                 autograph=False)
    def serve_bytes(self, image_bytes):
        # Images in one request differ in size, so they are colorized one by one.
        pngs = tf.map_fn(self._one_png, image_bytes, fn_output_signature=tf.string)
        return {"colorized_png_bytes": pngs}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.string, name="image_bytes"),
                                  tf.TensorSpec([None], tf.float32, name="hint_x"),
                                  tf.TensorSpec([None], tf.float32, name="hint_y"),
                                  tf.TensorSpec([None], tf.string, name="hint_color")],
                 autograph=False)
    def serve_hints(self, image_bytes, hint_x, hint_y, hint_color):
        """One photo and user hints -> PNG: points hint_x, hint_y in [0, 1] of its width
        and height (from the top left), each asking for the sRGB hex colour hint_color
        there. Exported only for a hint model (serving_hints)."""
        n = tf.shape(hint_x)[0]
        checks = [tf.debugging.assert_equal(tf.shape(hint_y)[0], n,
                                            message="hint_x, hint_y, hint_color differ in length"),
                  tf.debugging.assert_equal(tf.shape(hint_color)[0], n,
                                            message="hint_x, hint_y, hint_color differ in length"),
                  tf.debugging.assert_less_equal(n, hints.MAX_POINTS,
                                                 message=f"at most {hints.MAX_POINTS} hints")]
        image = decode.decode_image(image_bytes[0], max_pixels=self.max_pixels)
        shape = tf.shape(image, out_type=tf.int64)
        with tf.control_dependencies([self._check_pixels(shape[0] * shape[1]), *checks]):
            out = self.colorize_points(image[None], tf.constant(0, tf.int32), hint_x, hint_y,
                                       hex_to_rgb(hint_color))[0]
        png = tf.io.encode_png(tf.image.convert_image_dtype(out, tf.uint8, saturate=True),
                               compression=1)
        return {"colorized_png_bytes": png[None]}

    @tf.function(input_signature=[tf.TensorSpec([1], tf.string, name="image_bytes"),
                                  tf.TensorSpec([1], tf.string, name="reference_bytes")],
                 autograph=False)
    def serve_reference(self, image_bytes, reference_bytes):
        """One photo and a colour reference photo (any size and aspect) -> PNG, coloured
        from the reference where their content matches. Exported only for a model with the
        VGG16 encoder (serving_reference)."""
        image = decode.decode_image(image_bytes[0], max_pixels=self.max_pixels)
        reference = decode.decode_image(reference_bytes[0], max_pixels=self.max_pixels)
        shape = tf.shape(image, out_type=tf.int64)
        none = tf.zeros([0], tf.float32)
        # As exemplar.check measures it (the whole photo), so the two refuse the same ones.
        colourful = tf.debugging.assert_greater_equal(
            color.mean_chroma(color.rgb_to_lab(reference)), correspondence.MIN_CHROMA,
            message=GRAY_REFERENCE)
        with tf.control_dependencies([self._check_pixels(shape[0] * shape[1]), colourful]):
            out = self.colorize_reference(image[None], tf.constant(0, tf.int32), reference[None],
                                          none, none, tf.zeros([0, 3], tf.float32))[0]
        png = tf.io.encode_png(tf.image.convert_image_dtype(out, tf.uint8, saturate=True),
                               compression=1)
        return {"colorized_png_bytes": png[None]}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="image_bytes")],
                 autograph=False)
    def serve_jpeg(self, image_bytes):
        jpegs = tf.map_fn(self._one_jpeg, image_bytes, fn_output_signature=tf.string)
        return {"colorized_jpeg_bytes": jpegs}


def hex_to_rgb(colors: tf.Tensor) -> tf.Tensor:
    """sRGB hex strings [N] ("#e02020" or "e02020") -> [N, 3] float in [0, 1];
    InvalidArgument for anything else."""
    digits = tf.strings.regex_replace(colors, "^#", "")
    check = tf.debugging.assert_equal(
        tf.strings.regex_full_match(digits, "[0-9a-fA-F]{6}"), True,
        message="hint_color must be sRGB hex, #rrggbb")
    with tf.control_dependencies([check]):
        codes = tf.strings.unicode_decode(digits, "UTF-8").to_tensor(shape=[None, 6])
    # '0'-'9' are 48-57, 'A'-'F' 65-70, 'a'-'f' 97-102.
    nibble = tf.where(codes <= 57, codes - 48, tf.where(codes >= 97, codes - 87, codes - 55))
    return tf.cast(nibble[:, 0::2] * 16 + nibble[:, 1::2], tf.float32) / 255.0
