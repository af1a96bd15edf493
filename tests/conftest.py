"""Shared fixtures. TensorFlow gets two logical CPUs before anything starts its runtime,
so the MirroredStrategy tests can run in the same process as the rest."""

import fcntl
import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])

from colorgan import config  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than ~20 s")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


# Modules with the longest tests, longest first (docs/notes/tests.md): under pytest-xdist
# they start first, so the last minutes are short tests on both workers instead of one
# worker finishing a 2-minute test alone. Whole modules move, so module fixtures stay shared.
LONGEST_FIRST = ("test_notebook.py", "test_app_server.py", "test_archive.py", "test_training.py", "test_model_options.py",
                 "test_pretrained.py", "test_reference.py", "test_scripts.py", "test_recipes.py",
                 "test_bench.py",
                 "test_vgg_unet.py", "test_litert.py", "test_distribute.py", "test_serving.py",
                 "test_restorer.py", "test_fileio.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep order


@pytest.fixture
def info_log(caplog):
    """caplog with absl at INFO (earlier tests, TFDS and Keras imports, may have lowered
    absl's verbosity); restored afterwards."""
    from absl import logging as absl_logging
    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    with caplog.at_level("INFO"):
        yield caplog
    absl_logging.set_verbosity(before)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A workdir of the tiny preset trained for 2 steps, one for the whole run: the first
    xdist worker to ask trains it under a lock, the others read it (a fit traces a train
    step, ~5-15 s a worker). Tests read it and write elsewhere."""
    from colorgan.train import fit
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # shared by workers
    path = root / "tiny_run"
    with open(root / "tiny_run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path / "trained").exists():
            cfg = config.with_overrides(config.get_preset("tiny"), {
                "steps": 2, "log_every": 1000, "image_every": 1000})
            fit.fit(cfg, path)
            (path / "trained").touch()
    return path


@pytest.fixture
def tiny_cfg():
    """The tiny preset, quiet, on the shipped samples."""
    return config.with_overrides(config.get_preset("tiny"),
                                 {"log_every": 1000, "summary_every": 1000, "image_every": 1000})


def write_image(path, array):
    from PIL import Image
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


@pytest.fixture
def photo_folder(tmp_path):
    """A folder of small random colour images in several formats, plus bad files."""
    rng = np.random.default_rng(0)
    root = tmp_path / "photos"
    (root / "nested").mkdir(parents=True)
    for i in range(6):
        write_image(root / f"c{i}.jpg", rng.integers(0, 256, (48 + 8 * i, 64, 3)))
    write_image(root / "nested" / "p.png", rng.integers(0, 256, (40, 56, 3)))
    write_image(root / "nested" / "w.webp", rng.integers(0, 256, (40, 56, 3)))
    write_image(root / "b.bmp", rng.integers(0, 256, (40, 40, 3)))
    write_image(root / "g.gif", rng.integers(0, 256, (40, 40, 3)))
    write_image(root / "gray.jpg", rng.integers(0, 256, (40, 40)))  # grayscale: left out
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("not an image")
    (root / "truncated.jpg").write_bytes((root / "c0.jpg").read_bytes()[:100])
    (root / "notes.txt").write_text("ignored: not an image extension")
    return root


@pytest.fixture(scope="session")
def tfds_photos(tmp_path_factory):
    """A 12-image TFDS dataset prepared offline in a temp data_dir: (data_dir, images)."""
    tfds = pytest.importorskip("tensorflow_datasets")
    data_dir = tmp_path_factory.mktemp("tfds")
    images = np.random.default_rng(0).integers(0, 256, (12, 40, 48, 3)).astype(np.uint8)
    builder = tfds.dataset_builders.TfDataBuilder(
        name="colorgan_test_photos", version="1.0.0", data_dir=str(data_dir),
        split_datasets={"train": tf.data.Dataset.from_tensor_slices({"image": images})},
        features=tfds.features.FeaturesDict({"image": tfds.features.Image(shape=(40, 48, 3))}))
    builder.download_and_prepare()
    return str(data_dir), images


@pytest.fixture(scope="session")
def shards_with_gray(tmp_path_factory):
    """The val photos with a grayscale copy after every third: a stream that needs its
    gray crops left out."""
    import io

    from PIL import Image

    from colorgan.data import input_pipeline, records
    val_source = input_pipeline.open_source("samples:val")

    def items():
        for i, (name, encoded) in enumerate(records.source_items(val_source)):
            yield name, encoded
            if i % 3 == 0:
                out = io.BytesIO()
                Image.open(io.BytesIO(encoded)).convert("L").save(out, format="PNG")
                yield f"gray_{name}.png", out.getvalue()

    prefix = str(tmp_path_factory.mktemp("gray") / "mixed")
    return records.write_shards(items(), prefix, shard_mb=0.3)


@pytest.fixture(scope="session")
def plain_export(tmp_path_factory):
    """An export of an untrained tiny model without hint channels (the shipped one has them)."""
    from colorgan.models import networks
    from colorgan.serve import graph
    from colorgan.serve import savedmodel
    cfg = config.get_preset("tiny")
    colorizer = graph.Colorizer(networks.build_generator(cfg.model, 32), 32,
                                graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg)
    return str(savedmodel.export(colorizer, tmp_path_factory.mktemp("plain")))
