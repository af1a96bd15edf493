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
    config.addinivalue_line("markers", "agreement: asserts that two computations agree "
                            "(AGREEMENT; `make test-agreement` runs them on AVX2 kernels)")
    warnings.filterwarnings("ignore", category=DeprecationWarning)


# Modules with the longest tests, longest first (docs/notes/tests.md): under pytest-xdist
# they start first, so the last minutes are short tests on both workers instead of one
# worker finishing a 2-minute test alone. Whole modules move, so module fixtures stay shared.
LONGEST_FIRST = ("test_notebook.py", "test_app_server.py", "test_archive.py", "test_training.py", "test_model_options.py",
                 "test_pretrained.py", "test_reference.py", "test_scripts.py", "test_recipes.py",
                 "test_bench.py",
                 "test_vgg_unet.py", "test_litert.py", "test_distribute.py", "test_serving.py",
                 "test_restorer.py", "test_fileio.py")


# Tests that assert two computations agree where the CPU's kernels could tell them apart:
# batch element against batch element or a lone call, graph against eager, an export or a
# fresh process against memory, tiles against the whole, resume against a straight run, two
# replicas against one, colorgan against an oracle at a tight tolerance. `.ci/run` runs them
# again under ONEDNN_MAX_CPU_ISA=AVX2 (`make test-agreement`) on a CPU with AVX-512, so a
# tolerance that holds only on AVX-512 kernels fails there too (docs/notes/tests.md lists
# what each asserts and the spread measured). tests/test_layout.py checks each name exists.
AGREEMENT = (
    "test_reference.py::test_a_view_of_the_same_photo_colours_it_and_noise_leaves_the_automatic_colour",
    "test_archive.py::test_the_stages_give_colorize_at_exactly_and_batches_within_a_level",
    "test_hints.py::test_a_hint_model_starts_as_the_model_it_came_from",
    "test_pretrained.py::test_shipped_format_round_trip_keeps_outputs_and_leaves_out_vgg",
    "test_pretrained.py::test_init_from_starts_at_the_source_models_loss",
    "test_degrade.py::test_old_photo_is_fixed_by_its_seed_and_sized_by_the_scale",
    "test_degrade.py::test_blur_equals_scipy_with_reflected_edges",
    "test_training.py::test_weight_zero_examples_are_left_out_of_the_step",
    "test_training.py::test_two_replicas_match_one",
    "test_training.py::test_resumed_run_ends_where_an_uninterrupted_one_does",
    "test_fid.py::test_features_do_not_depend_on_batching_or_input_dtype",
    "test_restorer.py::test_tiled_equals_untiled_and_a_short_margin_shows_seams",
    "test_render.py::test_flip_averages_the_mirror_images_prediction",
    "test_render.py::test_in_memory_models_take_the_given_flags_over_the_defaults",
    "test_serving.py::test_fresh_process_load_matches_in_memory",
    "test_fileio.py::test_export_to_ram_loads_back_and_matches",
    "test_vgg_unet.py::test_grayscale_input_matches_the_vgg_trunk_on_gray_rgb",
    "test_layers.py::test_fused_batch_norm_equals_keras",
    "test_recipes.py::test_spectral_norm_of_a_transposed_conv",
    "test_model_options.py::test_yuv_matches_skimage_and_round_trips",
    "test_model_options.py::test_model_input_is_the_first_channel_of_to_model",
    "test_validation.py::test_validation_equals_evaluate_py_on_the_same_checkpoint",
)


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files keep order
    agreement = set(AGREEMENT)
    for item in items:
        if f"{item.path.name}::{getattr(item, 'originalname', item.name)}" in agreement:
            item.add_marker("agreement")


# COLORGAN_TEST_CPU=FILE: each test's CPU seconds (this process and the subprocesses it
# waited for; a module fixture's set-up counts in its first test) appended to FILE as
# "seconds<TAB>test id" lines: wall-time durations under xdist count the other workers'
# load, CPU time does not (docs/notes/tests.md).
CPU_LOG = os.environ.get("COLORGAN_TEST_CPU")


def _cpu_seconds() -> float:
    import resource
    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                   resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = _cpu_seconds() if CPU_LOG else 0.0
    yield
    if CPU_LOG:
        with open(CPU_LOG, "a") as out:  # one short line per write: workers do not tear it
            out.write(f"{_cpu_seconds() - start:.2f}\t{item.nodeid}\n")


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
