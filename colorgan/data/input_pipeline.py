"""Input pipeline: an image source -> decode -> crop/flip -> (L, ab) batches.

Sources (`open_source`): a folder (recursive), the shipped samples, `tfds:NAME[:SPLIT]`,
or `tfrecord:GLOB` (shards written by make_tfrecords.py). Each kind is one class behind
`sources.ImageSource` (folders.py, tfds_source.py, records.py); the batching here uses
only that interface.

Training order is an exact function of (seed, element index): each element's crop and
flip use a stateless seed derived from its index, and every kind can start its stream
at any element. Resuming at step k therefore starts at element k * global_batch and
gives the same batches as an uninterrupted run.

Batches: L [B, S, S, 1] in [-1, 1] and ab [B, S, S, 2] (Lab ab / 110), float32.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from colorgan import color, fileio
from colorgan.config import DegradeConfig
from colorgan.data import degrade, folders, memcache, prints, records, tfds_source  # tfds: on use
from colorgan.errors import UserError
from colorgan.data.sources import ImageSource, plain

AUTOTUNE = tf.data.AUTOTUNE


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


def decode_side(image_size: int) -> int:
    """The shorter side training photos are decoded at (at least): room for a crop of 35 %
    of the area at full resolution."""
    return 2 * image_size


def to_model(rgb: tf.Tensor, color_space: str = "lab") -> tuple[tf.Tensor, tf.Tensor]:
    """[..., S, S, 3] RGB in [0, 1] -> (L [..., S, S, 1], ab [..., S, S, 2]) model range.

    With color_space="yuv" the pair is (Y, UV) instead (`color.SPACES`).
    """
    return color.get_space(color_space).to_model(rgb)


# ---------------------------------------------------------------------------- sources

def open_source(spec: str, *, min_chroma: float = 3.0, tfds_data_dir: str = "") -> ImageSource:
    """Resolves a --data value to an ImageSource, scanning folders.

    Streams (tfds:, tfrecord:) keep min_chroma to weigh grayscale crops 0 on the fly;
    a folder's scan leaves its grayscale photos out instead.
    Raises UserError (one line naming the problem) for a missing path, a folder
    without usable images, or a TFDS dataset that is not available.
    """
    if spec.startswith("tfds:"):
        return tfds_source.open_tfds(spec, data_dir=tfds_data_dir, min_chroma=min_chroma)
    if spec.startswith("tfrecord:"):
        return records.open_records(spec, min_chroma=min_chroma)
    return folders.open_folder(spec, min_chroma=min_chroma)


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
        name, _ = tfds_source.parse_spec(spec)  # keeps a ':x.y.z' version
        return f"tfds:{name}:validation"
    split = _split_folders(spec)
    return str(split[1]) if split else spec


# --------------------------------------------------------------------------- datasets

def train_dataset(source: ImageSource, *, image_size: int, batch_size: int, seed: int,
                  crop_area: tuple[float, float] = (0.35, 1.0), start_index: int = 0,
                  input_context: tf.distribute.InputContext | None = None,
                  shuffle_buffer: int = 2048, input_noise: float = 0.0,
                  color_space: str = "lab", cache_mb: float = 0.0,
                  old_photo: DegradeConfig | None = None, scale: int = 1,
                  with_defects: bool = False) -> tf.data.Dataset:
    """Endless training batches of (L [b, S, S, 1], ab [b, S, S, 2]) (or Y, UV: `to_model`);
    from a source with min_chroma > 0 (the TFDS and TFRecord streams), (L, ab, weights [b])
    where weight 0 marks a grayscale crop (the train step leaves it out of every loss).

    batch_size is global; with an `input_context` each input pipeline yields its
    replicas' share, per-replica batches in order, so the replicas of one step
    together see exactly the global batch a single device would.
    `start_index` = elements already consumed (step * global batch) when resuming.
    A kind that `splits_by_pipeline` (TFRecord shards, split by file) instead gives each
    pipeline its own disjoint stream (`records.RecordSource.elements`).
    `input_noise` > 0 adds N(0, sigma^2) to L (then clips to [-1, 1]), drawn per element
    from its stateless seed: the same noise whatever the replica layout.
    `cache_mb` > 0: a folder's photos are decoded once into memory when they fit
    (`memcache.cache_in_memory`); the batches are the same bit for bit.
    `old_photo`: each batch starts with the crops' old-photo scans (data/degrade.py) as
    L [b, S / scale, S / scale, 1] in the model range, drawn from the element's seed like
    the crop (exact resume, any replica layout): (scan, L, ab[, weights]). Lab only.
    `with_defects` (with `old_photo`): the scans' defect masks follow them,
    [b, S / scale, S / scale, 1] in {0, 1} (degrade.old_photo_and_defects):
    (scan, mask, L, ab[, weights]).
    """
    if with_defects and old_photo is None:
        raise UserError("with_defects: the defect masks come with old-photo scans (old_photo)")
    if old_photo is not None and (color_space != "lab" or image_size % scale):
        raise UserError(f"old-photo batches need color_space=lab and an image_size divisible "
                        f"by scale={scale} (got {color_space}, {image_size})")
    per_replica = batch_size
    if input_context is not None:
        per_replica = input_context.get_per_replica_batch_size(batch_size)
    min_side = decode_side(image_size)
    source = memcache.cache_in_memory(source, min_side, cache_mb)
    elements = source.elements(seed=seed, start=start_index, shuffle_buffer=shuffle_buffer,
                               batch_size=batch_size, input_context=input_context)

    # Folders were sorted out by the scan (their min_chroma is 0); a stream's grayscale crops
    # are weighed 0 instead of filtered: a filter would shift the stream against the resume
    # skip and against the other pipelines' slices of each global batch.
    weigh = source.min_chroma > 0

    def load(index, item):
        image = source.load(item, min_side)
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
        scan = mask = tf.zeros([0], tf.float32)
        if old_photo is not None and old_photo.keyed > 0:  # the truth itself dark or light
            k = tf.random.stateless_uniform(
                [4], tf.random.experimental.stateless_fold_in(element_seed, 3))
            crop = tf.cond(k[0] < old_photo.keyed,
                           lambda: prints.key(crop, k[1] < 0.5, 1.3 + 1.2 * k[2],
                                              0.45 + 0.55 * k[3]),
                           lambda: crop)
        if old_photo is not None:
            scan_seed = tf.random.experimental.stateless_fold_in(element_seed, 2)
            scan, mask = degrade.old_photo_and_defects(crop, old_photo, scan_seed, scale)
            scan = scan * 2.0 - 1.0
        return crop, noise, weight, scan, mask

    def finish(crops, noise, weights, scans, masks):
        L, ab = to_model(crops, color_space)  # colour maths on whole batches: vectorized
        if input_noise > 0:
            L = tf.clip_by_value(L + noise, -1.0, 1.0)
        batch = (L, ab, weights) if weigh else (L, ab)
        if with_defects:
            return (scans, masks, *batch)
        return (scans, *batch) if old_photo is not None else batch

    ds = elements.map(plain(load), num_parallel_calls=AUTOTUNE)
    ds = ds.batch(per_replica, drop_remainder=True)
    ds = ds.map(plain(finish), num_parallel_calls=AUTOTUNE)
    return ds.prefetch(AUTOTUNE)


def eval_dataset(source: ImageSource, *, image_size: int, batch_size: int,
                 limit: int | None = None, color_space: str = "lab") -> tf.data.Dataset:
    """One pass over the source in order, centre crops: (L, ab) batches, last one partial."""
    color.get_space(color_space)  # a bad name fails here, not inside a traced map
    ds = source.ordered_images(image_size)  # JPEGs decoded no smaller than the crop
    if limit is not None:
        ds = ds.take(limit)
    ds = ds.map(plain(lambda im: eval_crop(im, image_size)), num_parallel_calls=AUTOTUNE)
    return ds.batch(batch_size).map(plain(lambda rgb: to_model(rgb, color_space))).prefetch(
        AUTOTUNE)
