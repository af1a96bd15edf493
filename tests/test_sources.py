"""Input sources as types: every kind keeps the `sources.ImageSource` contract, a new kind
is one class, and the source modules import no cycle."""

import dataclasses
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from colorgan.data import decode, input_pipeline, records, sources

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["folder", "tfrecord", "tfds"])
def opened(request, tmp_path):
    """(source, the images it holds as float32 [H, W, 3] in [0, 1], whether in that order)."""
    if request.param == "tfds":
        data_dir, images = request.getfixturevalue("tfds_photos")
        src = input_pipeline.open_source("tfds:colorgan_test_photos", tfds_data_dir=data_dir)
        return src, [im / 255 for im in images], False  # TFDS keeps its own (hashed) order
    folder = input_pipeline.open_source(str(request.getfixturevalue("photo_folder")))
    expected = [decode.load_file(p).numpy() for p in folder.paths]
    if request.param == "folder":
        return folder, expected, True
    # Small shards, so the set has several: the order must survive the file boundaries.
    shards = records.write_shards(records.source_items(folder), str(tmp_path / "rec" / "x"),
                                  shard_mb=0.01)
    assert len(shards) > 2
    return input_pipeline.open_source(f"tfrecord:{tmp_path}/rec/x-*"), expected, True


def test_each_kind_reads_its_photos_once_in_its_order(opened):
    src, expected, in_order = opened
    assert isinstance(src, sources.ImageSource)
    assert src.is_stream == (src.size is None)
    got = list(src.ordered_images().as_numpy_iterator())
    assert len(got) == len(expected)
    if in_order:
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
    else:  # each output is exactly one of the inputs, each input once
        matches = [next(i for i, e in enumerate(expected)
                        if e.shape == g.shape and np.abs(g - e).max() < 1e-6) for g in got]
        assert sorted(matches) == list(range(len(expected)))


def test_elements_from_start_are_the_tail_of_elements_from_zero(opened):
    src = opened[0]
    kw = dict(seed=3, shuffle_buffer=16, batch_size=4, input_context=None)
    straight = list(src.elements(start=0, **kw).take(17).as_numpy_iterator())
    resumed = list(src.elements(start=13, **kw).take(4).as_numpy_iterator())  # past epoch 1
    assert [int(i) for i, _ in straight] == list(range(17))
    assert [(int(i), item) for i, item in resumed] == [(int(i), item) for i, item in straight[13:]]
    other = list(src.elements(start=0, **{**kw, "seed": 4}).take(17).as_numpy_iterator())
    assert [item for _, item in other] != [item for _, item in straight]
    image = src.load(tf.constant(straight[0][1])).numpy()  # an item loads as a photo
    assert image.ndim == 3 and image.shape[-1] == 3 and 0 <= image.min() <= image.max() <= 1


# ----------------------------------------------------------- a new kind is one class

@dataclasses.dataclass(frozen=True)
class ListSource(sources.ImageSource):
    """Photos held in memory as encoded bytes: the whole of a new kind."""

    spec: str
    encoded: tuple[bytes, ...]
    min_chroma: float = 0.0

    @property
    def size(self):
        return len(self.encoded)

    def ordered_items(self):
        return tf.data.Dataset.from_tensor_slices(list(self.encoded))

    def elements(self, *, seed, start, shuffle_buffer, batch_size, input_context):
        encoded = tf.constant(self.encoded)
        stream = sources.permuted_elements(len(self.encoded), seed, start).map(
            lambda i, k: (i, encoded[k]))
        return sources.pipeline_slice(stream, batch_size, input_context)


def _png(array):
    out = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def test_a_new_kind_drives_train_and_eval_datasets():
    rng = np.random.default_rng(0)
    photos = [rng.integers(0, 256, (40, 48, 3)) for _ in range(4)]
    grays = [np.repeat(rng.integers(0, 256, (40, 48, 1)), 3, axis=-1) for _ in range(2)]
    src = ListSource("list", tuple(_png(p) for p in photos + grays))

    batches = list(input_pipeline.eval_dataset(src, image_size=32, batch_size=4).as_numpy_iterator())
    assert [L.shape[0] for L, _ in batches] == [4, 2]
    crops = [input_pipeline.eval_crop(tf.constant(p / 255, tf.float32), 32) for p in photos + grays]
    np.testing.assert_allclose(np.concatenate([L for L, _ in batches]),
                               input_pipeline.to_model(tf.stack(crops))[0].numpy(), atol=1e-5)

    L, ab = next(iter(input_pipeline.train_dataset(src, image_size=16, batch_size=3, seed=0)))
    assert L.shape == (3, 16, 16, 1) and ab.shape == (3, 16, 16, 2)
    # With min_chroma the batches carry weights: over one epoch (6 elements), the gray two weigh 0.
    weighing = dataclasses.replace(src, min_chroma=3.0)
    (_, _, w1), (_, _, w2) = input_pipeline.train_dataset(weighing, image_size=16, batch_size=3,
                                                          seed=0).take(2)
    assert sorted(np.concatenate([w1, w2]).tolist()) == [0, 0, 1, 1, 1, 1]


# ------------------------------------------------------- import order (circles: test_layout)

# One process for the three orders (one TensorFlow start, not three, ~5 s each): colorgan's
# modules are dropped from sys.modules before each order, so each order runs every colorgan
# module's top level again from the module named first (TensorFlow stays loaded, and a
# circle among colorgan's modules does not involve it).
IMPORT_ORDERS = """
import importlib, sys
modules = ("sources", "records", "tfds_source", "folders")
for first in ("sources", "records", "tfds_source"):
    for name in [m for m in sys.modules if m == "colorgan" or m.startswith("colorgan.")]:
        del sys.modules[name]
    for m in [first] + [m for m in modules if m != first] + ["input_pipeline"]:
        importlib.import_module("colorgan.data." + m)
    print("imported", first, "first", flush=True)
"""


def test_each_source_module_imports_first():
    done = subprocess.run([sys.executable, "-c", IMPORT_ORDERS], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[:3] == [f"imported {m} first" for m in
                                           ("sources", "records", "tfds_source")]
