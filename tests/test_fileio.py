"""Remote workdirs: the path helpers, and a whole run (train, resume, export, load, evaluate,
--init_from) on TensorFlow's in-memory ram:// filesystem, which stands in for gs:// here.

ram:// lives as long as the process, so everything remote happens in one module fixture.
"""

import dataclasses
import io
import os
import uuid
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from colorgan import config, fileio, workdir
from colorgan.data import input_pipeline
from colorgan.errors import UserError
from colorgan.evaluate import protocol
from colorgan.models import pretrained
from colorgan.archive import files
from colorgan.serve import opener, savedmodel
from colorgan.train import fit, train_state

QUIET = {"log_every": 1000, "summary_every": 1000, "image_every": 1000}


# ------------------------------------------------------------------------------ helpers

@pytest.mark.parametrize("base, parts, want", [
    ("gs://b/run", ("ckpt",), "gs://b/run/ckpt"),
    ("gs://b/run/", ("checkpoints", "ckpt-3"), "gs://b/run/checkpoints/ckpt-3"),
    ("ram://x", ("eval", "metrics.json"), "ram://x/eval/metrics.json"),
    ("runs/demo", ("config.json",), os.path.join("runs/demo", "config.json")),
    (Path("runs") / "demo", ("tb",), os.path.join("runs", "demo", "tb")),
])
def test_join_keeps_urls_whole(base, parts, want):
    assert fileio.join(base, *parts) == want


def test_is_remote_dirname_basename():
    assert fileio.is_remote("gs://b/run") and fileio.is_remote("ram://x")
    assert fileio.is_remote("s3://b/k") and fileio.is_remote("hdfs://nn/x")
    assert not fileio.is_remote("runs/demo") and not fileio.is_remote("/abs/gs://x")
    assert not fileio.is_remote(Path("/tmp/run")) and not fileio.is_remote("C:\\runs")
    assert fileio.dirname("gs://b/run/checkpoints/ckpt-3") == "gs://b/run/checkpoints"
    assert fileio.dirname(fileio.dirname("gs://b/run/checkpoints/ckpt-3/")) == "gs://b/run"
    assert fileio.dirname("runs/demo/") == "runs" and fileio.dirname("ckpt-3") == "."
    assert fileio.basename("gs://b/export/3/") == "3" and fileio.basename("a/b.png") == "b.png"


def test_a_url_that_went_through_pathlib_is_refused():
    assert str(Path("gs://b/run")) == "gs:/b/run"  # the bug this module exists for
    with pytest.raises(ValueError, match="pathlib"):
        fileio.join(Path("gs://b/run"), "ckpt")
    with pytest.raises(ValueError, match="pathlib"):
        fileio.makedirs(Path("ram://x"))


def test_atomic_write_local_leaves_only_the_file(tmp_path):
    path = tmp_path / "config.json"
    fileio.write_text_atomic(path, "one")
    fileio.write_text_atomic(path, "two")
    assert fileio.read_text(path) == "two" and os.listdir(tmp_path) == ["config.json"]


def test_publishing_a_file_and_a_folder_locally(tmp_path):
    # A file: the permissions open() would give, the old content until the new one is whole.
    (tmp_path / "a.mp4").write_text("old")
    with fileio.publishing(tmp_path / "a.mp4") as tmp:
        assert tmp.endswith(".mp4") and os.path.dirname(tmp) == str(tmp_path)  # PyAV reads the suffix
        Path(tmp).write_text("new")
        assert (tmp_path / "a.mp4").read_text() == "old"
    assert (tmp_path / "a.mp4").read_text() == "new"
    assert (tmp_path / "a.mp4").stat().st_mode & 0o777 == fileio.FILE_MODE
    # A folder replaces an existing one whole.
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "stale.png").write_text("x")
    with fileio.publishing(tmp_path / "out", folder=True) as tmp:
        (Path(tmp) / "1.png").write_text("frame")
    assert os.listdir(tmp_path / "out") == ["1.png"]
    assert (tmp_path / "out").stat().st_mode & 0o777 == fileio.FOLDER_MODE
    assert sorted(os.listdir(tmp_path)) == ["a.mp4", "out"]  # no temporary left


def test_publishing_leaves_nothing_on_an_error(tmp_path):
    for folder in (False, True):
        with pytest.raises(KeyboardInterrupt):
            with fileio.publishing(tmp_path / "x" / "new", folder=folder) as tmp:
                Path(tmp, "f").write_text("half") if folder else Path(tmp).write_text("half")
                raise KeyboardInterrupt
        assert os.listdir(tmp_path / "x") == []


def test_publishing_remote():
    root = f"ram://publish-{uuid.uuid4().hex}"
    fileio.write_text_atomic(fileio.join(root, "m.json"), "a longer old text")
    with pytest.raises(RuntimeError):
        with fileio.publishing(fileio.join(root, "m.json")) as tmp:
            fileio.write_text_atomic(tmp, "half")
            raise RuntimeError
    assert fileio.read_text(fileio.join(root, "m.json")) == "a longer old text"
    with fileio.publishing(fileio.join(root, "export"), folder=True) as tmp:
        assert tmp == fileio.join(root, "export")  # in place: a folder rename would copy all
        fileio.write_text_atomic(fileio.join(tmp, "saved_model.pb"), "pb")
    assert sorted(fileio.listdir(root)) == ["export", "m.json"]


def test_ram_round_trip_and_listdir():
    root = f"ram://fileio-{uuid.uuid4().hex}"
    assert fileio.listdir(root) == [] and not fileio.exists(root)
    fileio.makedirs(fileio.join(root, "sub"))
    fileio.write_text_atomic(fileio.join(root, "a.txt"), "old and longer")
    fileio.write_text_atomic(fileio.join(root, "a.txt"), "ü")  # a plain ram:// write appends
    assert fileio.read_text(fileio.join(root, "a.txt")) == "ü"
    assert sorted(fileio.listdir(root)) == ["a.txt", "sub"]
    assert fileio.isfile(fileio.join(root, "a.txt")) and not fileio.isfile(fileio.join(root, "sub"))
    assert fileio.isdir(fileio.join(root, "sub"))


def test_remote_image_folder_and_colorize_output_are_one_line_errors():
    with pytest.raises(UserError, match="tfrecord:gs://"):
        input_pipeline.open_source("gs://bucket/photos")
    with pytest.raises(UserError, match="local folder"):
        files.colorize_files(lambda x, r: x, ["x.jpg"], "gs://bucket/out")


# ------------------------------------------------------------------ a run on ram://

def _with_train(cfg, **kw):
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **kw))


def _checkpoint_values(run: str) -> dict:
    reader = tf.train.load_checkpoint(fileio.join(run, workdir.CHECKPOINT_DIR))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()
            if "OBJECT_GRAPH" not in n and "save_counter" not in n}


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """Everything remote, in a temp cwd (to catch any "ram:" folder made by pathlib):
    a straight 4-step run, the same run stopped at 2 and resumed, an export, an evaluation."""
    cwd = tmp_path_factory.mktemp("cwd")
    root = f"ram://colorgan-{uuid.uuid4().hex}"
    cfg = _with_train(config.with_overrides(config.get_preset("tiny"), QUIET),
                      steps=4, checkpoint_every=100)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        straight = fit.fit(cfg, fileio.join(root, "straight"))
        first = fit.fit(_with_train(cfg, steps=2), fileio.join(root, "run"))
        resumed = fit.fit(cfg, fileio.join(root, "run"))
        colorizer = opener.make_colorizer(fileio.join(root, "run"))
        exported = savedmodel.export(colorizer, fileio.join(root, "export"))
        model = opener.open_model(fileio.join(root, "export"))  # the base path
        source = input_pipeline.open_source("samples:val", min_chroma=0.0)
        metrics = protocol.evaluate(model, source, fileio.join(root, "eval"), size=32,
                                    limit=2, batch_size=2, use_lpips=False, sheet_rows=2)
    return dict(root=root, cwd=cwd, cfg=cfg, straight=straight, first=first, resumed=resumed,
                colorizer=colorizer, exported=exported, metrics=metrics)


@pytest.fixture
def in_cwd(remote, monkeypatch):
    """The tests below run in the fixture's cwd too, which must stay empty."""
    monkeypatch.chdir(remote["cwd"])
    return remote


def test_training_writes_the_workdir_remotely(remote):
    run = fileio.join(remote["root"], "run")
    assert sorted(fileio.listdir(run)) == ["checkpoints", "config.json", "sample_sheet.png", "tb"]
    assert workdir.read_config(run) == remote["cfg"]
    assert any(n.startswith("events.out.tfevents") for n in fileio.listdir(fileio.join(run, "tb")))
    assert remote["resumed"].sheet == fileio.join(run, "sample_sheet.png")
    assert Image.open(io.BytesIO(fileio.read_bytes(remote["resumed"].sheet))).format == "PNG"


def test_a_remote_run_resumes_and_ends_where_a_straight_one_does(remote):
    assert remote["first"].step == 2 and remote["resumed"].step == 4
    state = tf.train.get_checkpoint_state(fileio.join(remote["root"], "run", "checkpoints"))
    assert [p.rsplit("-", 1)[1] for p in state.all_model_checkpoint_paths] == ["2", "4"]
    a = _checkpoint_values(fileio.join(remote["root"], "straight"))
    b = _checkpoint_values(fileio.join(remote["root"], "run"))
    assert a.keys() == b.keys() and len(a) > 10
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-7, err_msg=name)


def test_export_to_ram_loads_back_and_matches(in_cwd):
    remote = in_cwd
    exported = remote["exported"]
    assert exported == fileio.join(remote["root"], "export", "1")
    assert fileio.isfile(fileio.join(exported, "saved_model.pb"))
    assert pretrained.read_config(fileio.join(remote["root"], "export")).model == remote["cfg"].model
    assert savedmodel.next_version(fileio.join(remote["root"], "export")) == 2
    loaded = tf.saved_model.load(exported)
    images = tf.random.uniform([1, 40, 48, 3], seed=1)
    want = remote["colorizer"].colorize(images)["colorized"].numpy()
    got = loaded.signatures["colorize"](images=images)["colorized"].numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(UserError, match="exists"):
        savedmodel.export(remote["colorizer"], fileio.join(remote["root"], "export"), version=1)


def test_evaluate_writes_its_outputs_remotely(remote):
    out = fileio.join(remote["root"], "eval")
    assert sorted(fileio.listdir(out)) == ["comparison.png", "metrics.json", "per_image.csv"]
    assert '"n": 2' in fileio.read_text(fileio.join(out, "metrics.json"))
    assert remote["metrics"]["n"] == 2
    assert len(fileio.read_text(fileio.join(out, "per_image.csv")).splitlines()) == 3


def test_init_from_a_remote_workdir_and_export(in_cwd):
    remote = in_cwd
    cfg = remote["cfg"]
    want = [v.numpy() for v in remote["colorizer"].generator.variables]
    for spec in ("run", "export"):
        state = train_state.create_state(cfg, tf.distribute.get_strategy())
        pretrained.init_from(fileio.join(remote["root"], spec), cfg, state.generator,
                             state.discriminator)
        for a, b in zip(state.generator.variables, want):
            np.testing.assert_array_equal(a.numpy(), b)


def test_no_url_became_a_local_folder(remote):  # last: after every test that uses it
    # Path("ram://x/run") is the local "ram:/x/run": the old bug left a "ram:" folder here.
    assert os.listdir(remote["cwd"]) == []
