"""The interface every kind of input source implements, and the stream helpers they share.

A kind is one class: `folders.FolderSource` (a folder, or the shipped samples),
`tfds_source.TfdsSource` (`tfds:NAME[:SPLIT]`), `records.RecordSource`
(`tfrecord:GLOB`). `input_pipeline.open_source` picks the kind from the --data spec;
`input_pipeline.train_dataset` and `input_pipeline.eval_dataset` use only what is declared
here, so a new kind needs no change there.

Imports point down only: input_pipeline -> {folders, records, tfds_source} -> sources ->
decode. This module imports none of the kinds and never input_pipeline.py.
"""

from __future__ import annotations

import abc
from typing import ClassVar, Iterator

import tensorflow as tf

from colorgan.data import decode

# A dataset function run as written, without autograph: autograph rewrites each function's
# source on first use (~2.7 s per process for a training pipeline), and no pipeline function
# here branches or loops on a tensor (the Python `if`s on settings stay Python).
plain = tf.autograph.experimental.do_not_convert


class ImageSource(abc.ABC):
    """Photos ready to stream, in a fixed order.

    An item is what `load` decodes: encoded image bytes (scalar tf.string) unless a kind
    says otherwise (folders stream paths, so skipping ahead reads nothing).

    Attributes a kind sets (as dataclass fields, usually):
      spec                the --data value it came from
      min_chroma          > 0: training crops with a lower mean Lab chroma are weighed 0
                          (train_dataset then yields (L, ab, weights)); 0: no weights
      skipped_unreadable  files left out when the source was opened (folders)
      skipped_grayscale   photos left out as grayscale when it was opened (folders)
    """

    spec: str
    min_chroma: float = 0.0
    skipped_unreadable: int = 0
    skipped_grayscale: int = 0
    # True when each input pipeline reads its own part of the data (TFRecord shards): the
    # stream then depends on the number of pipelines, which a resume must keep.
    splits_by_pipeline: ClassVar[bool] = False

    @property
    @abc.abstractmethod
    def size(self) -> int | None:
        """Number of usable photos, or None for a stream of unknown length."""

    @property
    def is_stream(self) -> bool:
        """Encoded images read as a stream (TFDS, TFRecords), not known files."""
        return self.size is None

    @property
    def names(self) -> tuple[str, ...]:
        """A name per photo in `ordered_items` order where known (file paths), else ()."""
        return ()

    @abc.abstractmethod
    def ordered_items(self) -> tf.data.Dataset:
        """Every item once, in the source's own order (for evaluation)."""

    @abc.abstractmethod
    def elements(self, *, seed: int, start: int, shuffle_buffer: int, batch_size: int,
                 input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
        """This input pipeline's (element index int64, item) pairs from element `start` on,
        forever, in an order fixed by `seed`.

        The element index seeds each crop, so it must be the same whatever `start` was:
        elements(seed, start=k) is the tail of elements(seed, start=0) from its k-th
        element. `batch_size` is global; `pipeline_slice` keeps a pipeline's share of each.
        """

    def load(self, item: tf.Tensor, min_side: int = 0) -> tf.Tensor:
        """Item -> float32 RGB [H, W, 3] in [0, 1]; a JPEG at reduced scale down to min_side."""
        return decode.decode_image(item, min_side)

    def ordered_images(self, min_side: int = 0) -> tf.data.Dataset:
        """`ordered_items`, decoded: float32 RGB [H, W, 3] in [0, 1], once, in order."""
        return self.ordered_items().map(plain(lambda item: self.load(item, min_side)),
                                        num_parallel_calls=tf.data.AUTOTUNE)

    def named_bytes(self) -> Iterator[tuple[str, bytes]]:
        """(name, encoded bytes) of every photo in order, for make_tfrecords.py.

        This default is for kinds whose items are bytes; it names them by position."""
        for i, data in enumerate(self.ordered_items().as_numpy_iterator()):
            yield str(i), data


# ---------------------------------------------------------------------- shared helpers

def permuted_elements(count: int, seed: int, start: int) -> tf.data.Dataset:
    """(element index, position in [0, count)) from `start` on, forever.

    Epoch e is a stateless permutation of the positions from (seed, e): an exact function
    of the element index, so starting at `start` reads nothing before it.
    """
    epoch0, offset = divmod(start, count)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order)

    positions = tf.data.Dataset.counter(epoch0).flat_map(plain(epoch)).skip(offset)
    return tf.data.Dataset.zip(tf.data.Dataset.counter(start), positions)


def pipeline_slice(elements: tf.data.Dataset, batch_size: int,
                   input_context: tf.distribute.InputContext | None) -> tf.data.Dataset:
    """Keeps this input pipeline's contiguous share of every global batch.

    For streams that every pipeline reads whole: the replicas of one step then together
    see exactly the global batch one device would, in order.
    """
    if input_context is None or input_context.num_input_pipelines == 1:
        return elements
    share = batch_size // input_context.num_input_pipelines
    lo = input_context.input_pipeline_id * share
    hi = lo + share
    return elements.filter(plain(lambda i, _: (i % batch_size >= lo) & (i % batch_size < hi)))
