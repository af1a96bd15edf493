"""Sharded TFRecord files of encoded images: written by `make_tfrecords.py`, read as
`--data=tfrecord:GLOB` (local paths or gs://, anything tf.io.gfile reads).

Each record is a tf.train.Example with
  image  bytes  the image file's bytes, unchanged (JPEG, PNG, ... as they were found)
  name   bytes  where it came from (path relative to the source folder, or TFDS split/index)
Shards are named PREFIX-00000-of-00008.tfrecord, so `tfrecord:PREFIX-*` finds a set.

Why: a TPU or a multi-host run reads its data from cloud storage, and many small files
there are slow; a few large shards also let each input pipeline read its own files
(sharding by file: every worker sees a disjoint set of shards).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import tensorflow as tf

from colorgan.errors import UserError

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),
    "name": tf.io.FixedLenFeature([], tf.string, default_value=""),
}
SUFFIX = ".tfrecord"


def _example(name: str, data: bytes) -> bytes:
    feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
               "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def shard_name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:05d}-of-{count:05d}{SUFFIX}"


def write_shards(items: Iterable[tuple[str, bytes]], prefix: str, *, shard_mb: float = 128.0,
                 overwrite: bool = False, on_item=None) -> list[str]:
    """Writes (name, encoded bytes) items into shards of about `shard_mb` MB each.

    Shards are written under temporary names and renamed once all are complete, so an
    interrupted run leaves no set of shards that looks whole. Refuses to replace existing
    shards with this prefix unless `overwrite`. Returns the shard paths, in order.
    """
    parent = os.path.dirname(prefix) or "."
    tf.io.gfile.makedirs(parent)
    existing = tf.io.gfile.glob(f"{prefix}-*-of-*{SUFFIX}")
    if existing and not overwrite:
        raise UserError(f"--output={prefix}: {len(existing)} shard(s) exist already "
                        "(--overwrite replaces them)")
    limit = int(shard_mb * 2**20)
    temps: list[str] = []
    writer, written = None, 0
    try:
        for name, data in items:
            if writer is None or written >= limit:
                if writer is not None:
                    writer.close()
                temps.append(f"{prefix}-{len(temps):05d}.incomplete")
                writer, written = tf.io.TFRecordWriter(temps[-1]), 0
            writer.write(_example(name, data))
            written += len(data)
            if on_item is not None:
                on_item(name)
        if writer is not None:
            writer.close()
            writer = None
    except BaseException:
        if writer is not None:
            writer.close()
        for t in temps:
            if tf.io.gfile.exists(t):
                tf.io.gfile.remove(t)
        raise
    if not temps:
        raise UserError("no images to write")
    for old in existing:  # only now: a failed run above keeps the old set intact
        tf.io.gfile.remove(old)
    finals = [shard_name(prefix, i, len(temps)) for i in range(len(temps))]
    for t, f in zip(temps, finals):
        tf.io.gfile.rename(t, f, overwrite=True)
    return finals


def source_items(source) -> Iterator[tuple[str, bytes]]:
    """(name, encoded bytes) of every usable image of a data.ImageSource, in order."""
    if source.tfds_name:
        from colorgan import tfds_source
        for i, data in enumerate(tfds_source.ordered_bytes(source).as_numpy_iterator()):
            yield f"{source.tfds_split}/{i}", data
        return
    root = os.path.commonpath(source.paths) if len(source.paths) > 1 else ""
    for path in source.paths:
        with tf.io.gfile.GFile(path, "rb") as f:
            yield os.path.relpath(path, root) if root else Path(path).name, f.read()


def list_shards(pattern: str) -> list[str]:
    """The files a `tfrecord:GLOB` names, sorted; one-line UserError when there are none."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise UserError(f"--data=tfrecord:{pattern}: no files match")
    return files


def pipeline_shards(files: tuple[str, ...] | list[str],
                    input_context: tf.distribute.InputContext | None) -> list[str]:
    """This input pipeline's files: every num_input_pipelines-th, from its id (disjoint)."""
    if input_context is None or input_context.num_input_pipelines == 1:
        return list(files)
    n, i = input_context.num_input_pipelines, input_context.input_pipeline_id
    if len(files) < n:
        raise UserError(f"{len(files)} TFRecord shard(s) cannot feed {n} input pipelines; "
                        f"write at least {n} shards (make_tfrecords.py --shard_mb smaller)")
    return list(files)[i::n]


def read_images(files: list[str], *, shuffle_seed: int | None = None) -> tf.data.Dataset:
    """Encoded image bytes from the shards; with a seed the file order is shuffled and
    several files are read interleaved, else the records come in file order."""
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_seed is None:
        ds = ds.flat_map(tf.data.TFRecordDataset)
    else:
        ds = ds.shuffle(len(files), seed=shuffle_seed)
        ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                           num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.map(lambda r: tf.io.parse_single_example(r, FEATURES)["image"],
                  num_parallel_calls=tf.data.AUTOTUNE)
