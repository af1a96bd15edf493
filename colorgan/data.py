"""Input pipeline: image sources -> decode -> crop/flip -> (L, ab) batches.

Sources (`open_source`): a folder (recursive), the shipped samples, `tfds:NAME[:SPLIT]`,
or `tfrecord:GLOB` (shards written by make_tfrecords.py; see records.py).
A folder is scanned once: files that do not decode, and grayscale photos (which teach
a colorizer to desaturate), are left out and counted.

Training order for files is an exact function of (seed, element index): each epoch
is a stateless permutation of the file list and each element's crop and flip use a
stateless seed derived from its index. Resuming at step k therefore starts the
stream at element k * global_batch without reading the skipped images, and gives the
same batches as an uninterrupted run.

Batches: L [B, S, S, 1] in [-1, 1] and ab [B, S, S, 2] (Lab ab / 110), float32.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import tensorflow as tf
from absl import logging

from colorgan import color, fileio, imageheader, records
from colorgan.errors import UserError

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
AUTOTUNE = tf.data.AUTOTUNE
# Larger images are refused before decoding (export.py --max_pixels sets the served limit).
DEFAULT_MAX_PIXELS = 50_000_000
_SCAN_SIDE = 64  # chroma is judged on a thumbnail: cheap and just as telling


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """Images ready to stream: `paths` (files), `tfds_name` or `record_files` is set."""

    spec: str
    paths: tuple[str, ...] = ()
    tfds_name: str = ""
    tfds_split: str = "train"
    tfds_data_dir: str = ""
    tfds_image_key: str = "image"
    record_files: tuple[str, ...] = ()  # TFRecord shards
    min_chroma: float = 0.0  # streams weigh grayscale crops 0 on the fly (train_dataset)
    skipped_unreadable: int = 0
    skipped_grayscale: int = 0

    @property
    def is_stream(self) -> bool:
        """Encoded images read as a stream (TFDS, TFRecords), not known files."""
        return bool(self.tfds_name or self.record_files)

    @property
    def size(self) -> int | None:
        """Number of usable files, or None for a stream."""
        return None if self.is_stream else len(self.paths)


# ----------------------------------------------------------------------------- decoding

def decode_image(data: tf.Tensor, min_side: int = 0,
                 max_pixels: int | tf.Tensor = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """Encoded JPEG/PNG/BMP/GIF/WebP bytes -> float32 RGB [H, W, 3] in [0, 1].

    Grayscale becomes 3 equal channels, alpha is dropped, a GIF gives its first frame,
    a 16-bit PNG keeps its 16 bits. With `min_side`, a large JPEG is decoded at 1/2, 1/4
    or 1/8 scale (DCT scaling, several times faster) as long as its shorter side stays
    >= min_side. The header is checked first (`imageheader.check`): an image declaring
    more than max_pixels is refused before the decoder allocates anything.
    Raises InvalidArgumentError for bytes that are no image, or too large a one.
    """
    with tf.control_dependencies(imageheader.check(data, max_pixels)):
        data = tf.identity(data)
    is_webp, is_jpeg, is_png = (imageheader.is_webp(data), imageheader.is_jpeg(data),
                                imageheader.is_png(data))

    def webp():
        img = tf.io.decode_webp(data)  # [frames, H, W, C]: keep the first frame
        img = tf.reshape(img, tf.concat([[-1], tf.shape(img)[-3:]], 0))[0]
        img = tf.image.grayscale_to_rgb(img) if img.shape[-1] == 1 else img[..., :3]
        return tf.image.convert_image_dtype(img, tf.float32)

    def jpeg():
        if not min_side:
            return tf.image.convert_image_dtype(tf.io.decode_jpeg(data, channels=3), tf.float32)
        shape = tf.image.extract_jpeg_shape(data)
        short = tf.minimum(shape[0], shape[1])
        branches = [lambda r=r: tf.io.decode_jpeg(data, channels=3, ratio=r) for r in (1, 2, 4, 8)]
        # Largest power-of-two reduction that keeps the shorter side >= min_side.
        index = tf.reduce_sum(tf.cast(short >= min_side * tf.constant([2, 4, 8]), tf.int32))
        return tf.image.convert_image_dtype(tf.switch_case(index, branches), tf.float32)

    def png():  # uint16 keeps a 16-bit PNG's precision (an 8-bit one is scaled by 257)
        return tf.image.convert_image_dtype(tf.io.decode_png(data, channels=3, dtype=tf.uint16),
                                            tf.float32)

    def other():
        return tf.image.convert_image_dtype(
            tf.io.decode_image(data, channels=3, expand_animations=False), tf.float32)

    img = tf.case([(is_webp, webp), (is_jpeg, jpeg), (is_png, png)], default=other, exclusive=True)
    return tf.ensure_shape(img, [None, None, 3])


def load_file(path: tf.Tensor, min_side: int = 0,
              max_pixels: int | tf.Tensor = DEFAULT_MAX_PIXELS) -> tf.Tensor:
    """File path -> float32 RGB [H, W, 3] in [0, 1] (see `decode_image`)."""
    return decode_image(tf.io.read_file(path), min_side, max_pixels)


# ------------------------------------------------------------------------------ crops

def train_crop(image: tf.Tensor, size: int, seed: tf.Tensor,
               crop_area: tuple[float, float] = (0.35, 1.0)) -> tf.Tensor:
    """Random resized crop + horizontal flip, both from the stateless `seed` ([2] int).

    [H, W, 3] float in [0, 1] -> [size, size, 3] float in [0, 1].
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, extent, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=crop_seed,
        min_object_covered=0.0, aspect_ratio_range=(3 / 4, 4 / 3), area_range=crop_area,
        max_attempts=20, use_image_if_no_bounding_boxes=True)
    crop = tf.slice(image, begin, extent)
    crop = tf.image.resize(crop, [size, size], antialias=True)
    flip = tf.random.stateless_uniform([], flip_seed) < 0.5
    crop = tf.cond(flip, lambda: tf.image.flip_left_right(crop), lambda: crop)
    return tf.clip_by_value(crop, 0.0, 1.0)  # antialiased resize can overshoot slightly


def eval_crop(image: tf.Tensor, size: int) -> tf.Tensor:
    """Shorter side to `size`, then the centre square: [H, W, 3] -> [size, size, 3]."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = size / tf.reduce_min(shape)
    new = tf.maximum(tf.cast(tf.round(shape * scale), tf.int32), size)
    image = tf.image.resize(image, new, antialias=True)
    top, left = (new[0] - size) // 2, (new[1] - size) // 2
    return tf.clip_by_value(image[top:top + size, left:left + size, :], 0.0, 1.0)


def to_model(rgb: tf.Tensor, color_space: str = "lab") -> tuple[tf.Tensor, tf.Tensor]:
    """[..., S, S, 3] RGB in [0, 1] -> (L [..., S, S, 1], ab [..., S, S, 2]) model range.

    With color_space="yuv" the pair is (Y, UV) instead (`color.SPACES`).
    """
    return color.get_space(color_space).to_model(rgb)


# ---------------------------------------------------------------------------- sources

def list_image_files(folder: str | os.PathLike) -> list[str]:
    """Sorted image files under `folder`, recursively, by extension (case-insensitive)."""
    root = Path(folder)
    if not root.exists():
        raise UserError(f"--data: {folder} does not exist")
    if root.is_file():
        return [str(root)] if root.suffix.lower() in IMAGE_EXTENSIONS else []
    return sorted(str(p) for p in root.rglob("*")
                  if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _samples_folder(split: str) -> Path:
    if split not in ("train", "val"):
        raise UserError(f"--data: samples:{split} is unknown; use samples or samples:val")
    return SAMPLES_DIR / split


def scan_files(paths: list[str], min_chroma: float) -> tuple[list[str], int, int]:
    """Decodes every file once (in parallel) and sorts it out.

    Returns (usable paths in input order, number unreadable, number grayscale).
    Grayscale means mean Lab chroma < min_chroma; min_chroma <= 0 keeps them all.
    """
    if not paths:
        return [], 0, 0

    def probe(index, path):
        image = tf.image.resize(load_file(path, _SCAN_SIDE), [_SCAN_SIDE, _SCAN_SIDE])
        return index, color.mean_chroma(color.rgb_to_lab(image))

    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), tf.constant(paths)))
    ds = ds.map(probe, num_parallel_calls=AUTOTUNE).ignore_errors().batch(256)
    ok, gray = [], 0
    start = time.time()
    for indices, chroma in ds.as_numpy_iterator():
        for i, c in zip(indices, chroma):
            if c >= min_chroma:
                ok.append(int(i))
            else:
                gray += 1
    ok.sort()
    unreadable = len(paths) - len(ok) - gray
    logging.info("scanned %d files in %.1fs: %d usable, %d unreadable, %d grayscale",
                 len(paths), time.time() - start, len(ok), unreadable, gray)
    return [paths[i] for i in ok], unreadable, gray


def open_source(spec: str, *, min_chroma: float = 3.0, tfds_data_dir: str = "") -> ImageSource:
    """Resolves a --data value to an ImageSource, scanning folders.

    Raises UserError (one line naming the problem) for a missing path, a folder
    without usable images, or a TFDS dataset that is not available.
    """
    if spec.startswith("tfds:"):
        from colorgan import tfds_source  # tensorflow_datasets is slow to import
        return tfds_source.open_tfds(spec, data_dir=tfds_data_dir, min_chroma=min_chroma)
    if spec.startswith("tfrecord:"):
        files = records.list_shards(spec[len("tfrecord:"):])
        return ImageSource(spec=spec, record_files=tuple(files), min_chroma=min_chroma)
    if spec == "samples" or spec.startswith("samples:"):
        folder = _samples_folder(spec.partition(":")[2] or "train")
    elif fileio.is_remote(spec):  # folders are walked with pathlib, which cannot read gs://
        raise UserError(f"--data={spec}: image folders must be local; for gs:// write "
                        "TFRecords (make_tfrecords.py) and use --data='tfrecord:gs://.../train-*'")
    else:
        folder = Path(spec).expanduser()
    files = list_image_files(folder)
    if not files:
        raise UserError(f"--data: no image files ({', '.join(IMAGE_EXTENSIONS)}) under {folder}")
    usable, unreadable, gray = scan_files(files, min_chroma)
    if unreadable or gray:
        logging.warning("%s: skipped %d unreadable and %d grayscale of %d files",
                        folder, unreadable, gray, len(files))
    if not usable:
        raise UserError(f"--data: no usable colour image under {folder} "
                        f"({unreadable} unreadable, {gray} grayscale of {len(files)} files)")
    return ImageSource(spec=spec, paths=tuple(usable), skipped_unreadable=unreadable,
                       skipped_grayscale=gray)


def _split_folders(spec: str) -> tuple[Path, Path] | None:
    """(FOLDER/train, FOLDER/val or FOLDER/validation) when a folder is laid out that way."""
    if spec == "samples" or spec.startswith(("samples:", "tfds:", "tfrecord:")) \
            or fileio.is_remote(spec):
        return None
    root = Path(spec).expanduser()
    for name in ("val", "validation"):
        if (root / "train").is_dir() and (root / name).is_dir():
            return root / "train", root / name
    return None


def train_spec(spec: str) -> str:
    """The images to train on: FOLDER/train when FOLDER also has a val/ split, else spec."""
    split = _split_folders(spec)
    return str(split[0]) if split else spec


def default_eval_spec(spec: str) -> str:
    """The images to show progress on when --eval_data is not given."""
    if spec in ("samples", "samples:train"):
        return "samples:val"
    if spec.startswith("tfds:"):
        name = spec.split(":")[1]
        return f"tfds:{name}:validation"
    split = _split_folders(spec)
    return str(split[1]) if split else spec


# --------------------------------------------------------------------------- datasets

def _element_stream(num_files: int, seed: int, start: int) -> tf.data.Dataset:
    """(element index, file index) from `start` on, forever; epoch e is a fixed permutation."""
    epoch0, offset = divmod(start, num_files)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_files, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order)

    files = tf.data.Dataset.counter(epoch0).flat_map(epoch).skip(offset)
    return tf.data.Dataset.zip(tf.data.Dataset.counter(start), files)


def train_dataset(source: ImageSource, *, image_size: int, batch_size: int, seed: int,
                  crop_area: tuple[float, float] = (0.35, 1.0), start_index: int = 0,
                  input_context: tf.distribute.InputContext | None = None,
                  shuffle_buffer: int = 2048, input_noise: float = 0.0,
                  color_space: str = "lab") -> tf.data.Dataset:
    """Endless training batches of (L [b, S, S, 1], ab [b, S, S, 2]) (or Y, UV: `to_model`);
    from a TFDS or TFRecord stream with min_chroma > 0, (L, ab, weights [b]) where weight 0
    marks a grayscale crop (the train step leaves it out of every loss).

    batch_size is global; with an `input_context` each input pipeline yields its
    replicas' share, per-replica batches in order, so the replicas of one step
    together see exactly the global batch a single device would.
    `start_index` = elements already consumed (step * global batch) when resuming.
    TFRecord shards are instead split by file between input pipelines (each reads its
    own, disjoint set), and resume skips start_index / pipelines records in each: exact
    per pipeline, but batches differ from a run with another number of pipelines.
    `input_noise` > 0 adds N(0, sigma^2) to L (then clips to [-1, 1]), drawn per element
    from its stateless seed: the same noise whatever the replica layout.
    """
    per_replica = batch_size
    lo, hi = 0, batch_size
    if input_context is not None:
        per_replica = input_context.get_per_replica_batch_size(batch_size)
        share = batch_size // input_context.num_input_pipelines
        lo = input_context.input_pipeline_id * share
        hi = lo + share

    if source.tfds_name:
        from colorgan import tfds_source
        elements = tfds_source.element_stream(source, seed=seed, start=start_index,
                                              shuffle_buffer=shuffle_buffer)
    elif source.record_files:
        files = records.pipeline_shards(source.record_files, input_context)
        pipelines = input_context.num_input_pipelines if input_context else 1
        pipeline = input_context.input_pipeline_id if input_context else 0
        local_start = start_index // pipelines
        stream = records.read_images(files, shuffle_seed=seed).shuffle(
            shuffle_buffer, seed=seed).repeat().skip(local_start)
        # Element indices (for crop seeds) interleave the pipelines': distinct across them.
        indices = tf.data.Dataset.counter(local_start).map(lambda c: c * pipelines + pipeline)
        elements = tf.data.Dataset.zip(indices, stream)
        lo, hi = 0, batch_size  # the shards are split already: no element filter
    else:
        paths = tf.constant(source.paths)
        elements = _element_stream(len(source.paths), seed, start_index).map(
            lambda i, f: (i, paths[f]))
    if (lo, hi) != (0, batch_size):  # keep this pipeline's slice of every global batch
        elements = elements.filter(lambda i, _: (i % batch_size >= lo) & (i % batch_size < hi))

    min_side = 2 * image_size  # room for a crop of 35% area at full resolution

    # Folders were sorted out by the scan; a stream's grayscale crops are weighed 0 instead
    # of filtered: a filter would shift the stream against the resume skip and against
    # the other pipelines' slices of each global batch.
    weigh = source.is_stream and source.min_chroma > 0

    def load(index, item):
        image = decode_image(item, min_side) if source.is_stream else load_file(item, min_side)
        element_seed = tf.stack([tf.constant(seed, tf.int64), index])
        crop = train_crop(image, image_size, element_seed, crop_area)
        noise = tf.zeros([0], tf.float32)  # no noise: an empty placeholder costs nothing
        if input_noise > 0:
            noise_seed = tf.random.experimental.stateless_fold_in(element_seed, 1)
            noise = input_noise * tf.random.stateless_normal([image_size, image_size, 1], noise_seed)
        weight = tf.ones([])
        if weigh:
            weight = tf.cast(color.mean_chroma(color.rgb_to_lab(crop)) >= source.min_chroma,
                             tf.float32)
        return crop, noise, weight

    def finish(crops, noise, weights):
        L, ab = to_model(crops, color_space)  # colour maths on whole batches: vectorized
        if input_noise > 0:
            L = tf.clip_by_value(L + noise, -1.0, 1.0)
        return (L, ab, weights) if weigh else (L, ab)

    ds = elements.map(load, num_parallel_calls=AUTOTUNE)
    ds = ds.batch(per_replica, drop_remainder=True)
    ds = ds.map(finish, num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def eval_dataset(source: ImageSource, *, image_size: int, batch_size: int,
                 limit: int | None = None, color_space: str = "lab") -> tf.data.Dataset:
    """One pass over the source in order, centre crops: (L, ab) batches, last one partial."""
    color.get_space(color_space)  # a bad name fails here, not inside a traced map
    if source.tfds_name:
        from colorgan import tfds_source
        ds = tfds_source.ordered_bytes(source).map(
            lambda b: decode_image(b, image_size), num_parallel_calls=AUTOTUNE)
    elif source.record_files:
        ds = records.read_images(list(source.record_files)).map(
            lambda b: decode_image(b, image_size), num_parallel_calls=AUTOTUNE)
    else:
        ds = tf.data.Dataset.from_tensor_slices(list(source.paths)).map(
            lambda p: load_file(p, image_size), num_parallel_calls=AUTOTUNE)
    if limit is not None:
        ds = ds.take(limit)
    ds = ds.map(lambda im: eval_crop(im, image_size), num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).map(lambda rgb: to_model(rgb, color_space)).prefetch(AUTOTUNE)
