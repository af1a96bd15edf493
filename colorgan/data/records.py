"""Sharded TFRecord files of encoded images: written by `make_tfrecords.py`, read as
`--data=tfrecord:GLOB` (local paths or gs://, anything tf.io.gfile reads).

Each record is a tf.train.Example with
  image  bytes  the image file's bytes, unchanged (JPEG, PNG, ... as they were found)
  name   bytes  where it came from (path relative to the source folder, or TFDS split/index)
Shards are named PREFIX-00000-of-00008.tfrecord, so `tfrecord:PREFIX-*` finds a set.

Why: a TPU or a multi-host run reads its data from cloud storage, and many small files
there are slow; a few large shards also let each input pipeline read its own files
(sharding by file: every worker sees a disjoint set of shards).

`RecordSource` is the `tfrecord:GLOB` kind of `sources.ImageSource`.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterable, Iterator

import tensorflow as tf

from colorgan.data import sources
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
        raise UserError(f"prefix={prefix}: {len(existing)} shard(s) exist already "
                        "(overwrite replaces them)")
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


def source_items(source: sources.ImageSource) -> Iterator[tuple[str, bytes]]:
    """(name, encoded bytes) of every usable photo of a source, in order (what to write)."""
    return source.named_bytes()


def list_shards(pattern: str) -> list[str]:
    """The files a `tfrecord:GLOB` names, sorted; one-line UserError when there are none."""
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise UserError(f"source=tfrecord:{pattern}: no files match")
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
    return ds.map(sources.plain(lambda r: tf.io.parse_single_example(r, FEATURES)["image"]),
                  num_parallel_calls=tf.data.AUTOTUNE)


@dataclasses.dataclass(frozen=True)
class RecordSource(sources.ImageSource):
    """A set of shards; items are encoded image bytes.

    Each input pipeline reads its own shards (`pipeline_shards`), so the stream a
    pipeline sees depends on the number of pipelines (`splits_by_pipeline`).
    """

    spec: str
    record_files: tuple[str, ...]
    min_chroma: float = 0.0
    skipped_unreadable: int = 0
    skipped_grayscale: int = 0
    splits_by_pipeline = True  # a ClassVar in the base: not a field

    @property
    def size(self) -> None:
        return None  # counting would read every shard

    def ordered_items(self) -> tf.data.Dataset:
        return read_images(list(self.record_files))

    def elements(self, *, seed, start, shuffle_buffer, batch_size, input_context):
        """Resume skips start / pipelines records of this pipeline's own stream: exact per
        pipeline, but batches differ from a run with another number of pipelines."""
        del batch_size  # the shards are split already: no slice of each global batch
        files = pipeline_shards(self.record_files, input_context)
        pipelines = input_context.num_input_pipelines if input_context else 1
        pipeline = input_context.input_pipeline_id if input_context else 0
        local_start = start // pipelines
        stream = read_images(files, shuffle_seed=seed).shuffle(
            shuffle_buffer, seed=seed).repeat().skip(local_start)
        # Element indices (for crop seeds) interleave the pipelines': distinct across them.
        indices = tf.data.Dataset.counter(local_start).map(
            sources.plain(lambda c: c * pipelines + pipeline))
        return tf.data.Dataset.zip(indices, stream)


def open_records(spec: str, *, min_chroma: float = 0.0) -> RecordSource:
    """'tfrecord:GLOB' -> RecordSource; one-line UserError when nothing matches."""
    files = list_shards(spec[len("tfrecord:"):])
    return RecordSource(spec=spec, record_files=tuple(files), min_chroma=min_chroma)
