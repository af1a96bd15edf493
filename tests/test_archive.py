"""Colorizing archives: the manifest, the streaming runner, resume after SIGKILL, bad files,
a full disk, Ctrl-C, and the Beam pipeline giving colorize.py's bytes (colorgan/archive,
colorgan/beam). The tree test runs the scripts as a user would, on a tiny untrained export."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagefiles as F
from colorgan.archive import files, manifest, stream
from colorgan.data import folders
from colorgan.errors import UserError
from colorgan.serve import opener, stages

ROOT = Path(__file__).resolve().parents[1]
GOOD, BAD = 300, 20
RESUMING = files.TreeConfig(manifest="auto")  # colorize.py's default; library calls keep none


def photos_from_samples(count: int, seed: int = 0):
    """`count` (name, RGB uint8) crops of the shipped photos, 32-64 px a side."""
    paths = folders.list_image_files(folders.SAMPLES_DIR)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = np.asarray(Image.open(paths[i % len(paths)]).convert("RGB"))
        h, w = rng.integers(32, 65, 2)
        y, x = rng.integers(0, image.shape[0] - h), rng.integers(0, image.shape[1] - w)
        yield f"p{i:03d}", image[y:y + h, x:x + w]


def bad_files(folder: Path) -> dict[str, str]:
    """20 files colorgan must refuse, 4 of each kind -> {name: a word its reason holds}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = F.encode(np.zeros((40, 40, 3), np.uint8), "JPEG")
    kinds = {
        "unreadable": (lambda p: p.symlink_to(folder / "nowhere.jpg"), "No such file"),
        "truncated": (lambda p: p.write_bytes(good[:len(good) // 2]), "JPEG"),
        "text": (lambda p: p.write_bytes(b"not a photo\n" * 20), "not"),
        "bomb": (lambda p: p.write_bytes(F.webp_lossless_bomb()), "max_pixels"),
        "huge": (lambda p: p.write_bytes(F.png_bomb()), "max_pixels"),
    }
    expected = {}
    for kind, (make, word) in kinds.items():
        for i in range(BAD // len(kinds)):
            suffix = {"bomb": ".webp", "huge": ".png"}.get(kind, ".jpg")
            path = folder / f"{kind}{i}{suffix}"
            make(path)
            expected[path.name] = word
    return expected


def run_script(args, **kw):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != manifest.NAME}


@pytest.fixture(scope="module")
def tree(tmp_path_factory, plain_export):
    """A tree of 300 photos (PNG and JPEG in three folders) and 20 bad files, and its output
    from one uninterrupted colorize.py run."""
    root = tmp_path_factory.mktemp("archive")
    src = root / "tree"
    for i, (name, image) in enumerate(photos_from_samples(GOOD)):
        folder = src / ("a", "b/c", "d")[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        fmt = "PNG" if i % 2 else "JPEG"
        (folder / f"{name}.{fmt.lower().replace('jpeg', 'jpg')}").write_bytes(F.encode(image, fmt))
    expected = bad_files(src / "bad")
    clean = root / "clean"
    proc = run_script(["colorize.py", f"--model={plain_export}", str(src),
                       f"--output_dir={clean}"])
    log = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1, log  # the bad files failed
    return src, clean, expected, log


def test_tree_killed_midway_resumes_to_the_same_bytes_writing_each_photo_once(tree, tmp_path,
                                                                             plain_export):
    src, clean, expected, log = tree
    assert f"{GOOD} written in {clean}, {BAD} failed" in log
    out = tmp_path / "out"
    record = out / manifest.NAME
    proc = run_script(["colorize.py", f"--model={plain_export}", str(src), f"--output_dir={out}"])
    while proc.poll() is None:  # kill it once a third of the tree is recorded
        if record.exists() and record.read_bytes().count(b'"done"') > GOOD // 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "finished before it could be killed"
    lines = record.read_text().splitlines()
    done_before = {json.loads(line)["output"] for line in lines[1:]
                   if json.loads(line)["status"] == "done"}
    assert 0 < len(done_before) < GOOD
    stamps = {p: os.stat(p).st_mtime_ns for p in done_before}

    rerun = run_script(["colorize.py", f"--model={plain_export}", str(src),
                        f"--output_dir={out}"])
    log = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 1, log
    assert f"{GOOD - len(done_before)} written in {out}, {len(done_before)} kept" in log
    # Every photo once (no NAME_2, no temporary left), byte for byte the uninterrupted run's;
    # what the killed run finished was not written again.
    assert outputs(out) == outputs(clean)
    assert {p: os.stat(p).st_mtime_ns for p in done_before} == stamps
    records = [json.loads(line) for line in record.read_text().splitlines()[1:]]
    assert len(records) == len({r["input"] for r in records}) == GOOD + BAD
    failed = {Path(r["input"]).name: r["reason"] for r in records if r["status"] == "failed"}
    assert sorted(failed) == sorted(expected)
    for name, word in expected.items():
        assert word in failed[name], (name, failed[name])


def test_beam_on_two_workers_gives_colorize_py_bytes(tree, tmp_path, plain_export):
    pytest.importorskip("apache_beam")
    src, clean, expected, _ = tree
    out = tmp_path / "beam"
    proc = run_script(["-m", "colorgan.beam", f"--input={src}", f"--output_dir={out}",
                       f"--model={plain_export}", "--runner=DirectRunner",
                       "--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    log = proc.communicate(timeout=600)[0]
    assert proc.returncode == 1, log[-3000:]
    assert f"{GOOD} written in {out}, {BAD} failed" in log
    from colorgan.beam import pipeline
    beam_out = outputs(out)
    del beam_out[pipeline.RESULTS]
    assert beam_out == outputs(clean)
    rows = pipeline.read_results(str(out))
    failed = {Path(r["input"]).name: r["reason"] for r in rows if r["status"] == "failed"}
    assert sorted(failed) == sorted(expected)
    assert all(r["bytes"] == len((out / Path(r["output"]).relative_to(out)).read_bytes())
               for r in rows if r["status"] == "done")


def test_beam_options_reach_beam_for_each_runner():
    pytest.importorskip("apache_beam")
    from apache_beam.options.pipeline_options import (FlinkRunnerOptions, GoogleCloudOptions,
                                                      PipelineOptions, SparkRunnerOptions,
                                                      StandardOptions)
    from colorgan.beam.__main__ import parse
    args, rest = parse(["--input=gs://b/photos/**.jpg", "--output_dir=gs://b/out",
                        "--runner=DataflowRunner", "--project=p", "--region=europe-west1",
                        "--temp_location=gs://b/tmp", "--batch=4"])
    assert (args.input, args.output_dir, args.batch) == (["gs://b/photos/**.jpg"], "gs://b/out", 4)
    options = PipelineOptions(rest)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("p", "europe-west1",
                                                                  "gs://b/tmp")
    _, rest = parse(["--input=x", "--output_dir=y", "--runner=FlinkRunner",
                     "--flink_master=host:8081"])
    assert PipelineOptions(rest).view_as(FlinkRunnerOptions).flink_master == "host:8081"
    _, rest = parse(["--input=x", "--output_dir=y", "--runner=SparkRunner",
                     "--spark_master_url=spark://host:7077"])
    assert PipelineOptions(rest).view_as(SparkRunnerOptions).spark_master_url == \
        "spark://host:7077"


def test_beam_plan_names_outputs_as_colorize_py_names_them(tmp_path):
    pytest.importorskip("apache_beam")
    from colorgan.beam import pipeline
    for rel in ("x.jpg", "x.png", "d/y.jpg", "notes.txt"):
        (tmp_path / "in" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "in" / rel).write_bytes(b"")
    (tmp_path / "in" / "out").mkdir()
    (tmp_path / "in" / "out" / "old.png").write_bytes(b"")  # an earlier output: no input
    out = str(tmp_path / "in" / "out")
    pairs = pipeline.plan([str(tmp_path / "in")], out, "png")
    assert [(Path(i).relative_to(tmp_path / "in").as_posix(), Path(o).relative_to(out).as_posix())
            for i, o in pairs] == [("d/y.jpg", "d/y.png"), ("x.jpg", "x.png"),
                                   ("x.png", "x_png.png")]
    glob_pairs = pipeline.plan([str(tmp_path / "in" / "*.jpg")], out, "jpg")
    assert [Path(o).name for _, o in glob_pairs] == ["x.jpg"]
    with pytest.raises(UserError, match="no such file"):
        pipeline.plan([str(tmp_path / "none*.jpg")], out, "png")
    with pytest.raises(UserError, match="an input folder lies in it"):
        pipeline.plan([str(tmp_path / "in")], str(tmp_path / "in"), "png")


# ----------------------------------------------------------------- in process, fast

@pytest.fixture(scope="module")
def small_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    for name, image in photos_from_samples(12, seed=1):
        (root / "in" / f"{name}.png").parent.mkdir(parents=True, exist_ok=True)
        (root / "in" / f"{name}.png").write_bytes(F.encode(image, "PNG"))
    return root / "in"


@pytest.fixture(scope="module")
def model(plain_export):
    return opener.open_model(plain_export)


def test_the_stages_give_colorize_at_exactly_and_batches_within_a_level(model, small_tree):
    from colorgan.data.imagefiles import read_image
    st = stages.of(model)
    assert st.split
    images = [read_image(p)[None] for p in sorted(small_tree.iterdir())[:4]]
    prepared = [st.prepare(x) for x in images]
    ab = st.chroma(np.concatenate([np.asarray(s) for _, s in prepared]))
    for i, (x, (L_full, L_small)) in enumerate(zip(images, prepared)):
        alone = st.finish(L_full, st.chroma(np.asarray(L_small)))
        np.testing.assert_array_equal(alone, model(x))  # split == colorize_at, bit for bit
        batched = st.finish(L_full, ab[i:i + 1])
        assert np.abs(np.round(batched * 255) - np.round(alone * 255)).max() <= 1


def test_output_folder_inside_the_tree_is_no_input_and_a_rerun_keeps_everything(
        model, small_tree, tmp_path):
    import shutil
    tree = tmp_path / "in"
    shutil.copytree(small_tree, tree)
    out = tree / "colour"
    report = files.colorize_files(model, [str(tree)], out, tree=RESUMING)
    assert len(report.written) == 12 and not report.failed
    again = files.colorize_files(model, [str(tree)], out, tree=RESUMING)  # outputs: no inputs
    assert (again.kept, again.written, again.failed) == (12, [], [])
    # Into the input folder itself: the manifest tells the outputs apart.
    inside = files.colorize_files(model, [str(out)], out, tree=RESUMING)
    assert (len(inside.written), inside.failed) == (0, [])
    with pytest.raises(UserError, match="other settings.*fmt='png'"):
        files.colorize_files(model, [str(tree)], out, "jpg", tree=RESUMING)

    class Retrained:  # another model at another path: its outputs are not the kept ones
        path, scale = str(tmp_path / "retrained"), 1
    with pytest.raises(UserError, match="other settings.*model="):
        files.colorize_files(Retrained(), [str(tree)], out, tree=RESUMING)
    # A photo named (or globbed) in the output folder is an input all the same.
    named = files.colorize_files(model, [str(out / report.written[0].name)], out)
    assert [p.name for p in named.written] == [f"{report.written[0].stem}_colorized.png"]


def test_a_model_fingerprint_changes_with_its_files(tmp_path):
    (tmp_path / "export" / "1" / "variables").mkdir(parents=True)
    weights = tmp_path / "export" / "1" / "variables" / "variables.data"
    weights.write_bytes(b"1234")
    before = files._fingerprint(str(tmp_path / "export"))
    assert files._fingerprint(str(tmp_path / "export")) == before
    weights.write_bytes(b"12345")  # a re-export
    assert files._fingerprint(str(tmp_path / "export")) != before
    (tmp_path / "ckpt-3.index").write_bytes(b"i")  # a checkpoint prefix: its own files
    (tmp_path / "ckpt-3.data-00000-of-00001").write_bytes(b"d")
    one = files._fingerprint(str(tmp_path / "ckpt-3"))
    (tmp_path / "ckpt-3.index").write_bytes(b"ii")
    assert files._fingerprint(str(tmp_path / "ckpt-3")) not in ("", one)
    # The shipped model (its folder has a config.json, as a workdir has): its files.
    from colorgan.models import pretrained
    assert len(files._fingerprint(str(pretrained.SHIPPED))) == 16
    # A workdir: its latest checkpoint's files, not what is written beside them.
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text("{}")
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (run / "checkpoints" / "ckpt-1.index").write_bytes(b"i")
    (run / "checkpoints" / "ckpt-1.data-00000-of-00001").write_bytes(b"d")
    trained = files._fingerprint(str(run))
    (run / "colorized").mkdir()
    (run / "colorized" / "a.png").write_bytes(b"p")
    assert files._fingerprint(str(run)) == trained
    (run / "checkpoints" / "ckpt-2.index").write_bytes(b"i")  # trained on
    (run / "checkpoints" / "ckpt-2.data-00000-of-00001").write_bytes(b"d")
    (run / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "ckpt-2"\n')
    assert files._fingerprint(str(run)) != trained


def test_a_full_disk_stops_with_one_line_and_the_rerun_finishes(model, small_tree, tmp_path,
                                                                monkeypatch):
    real = stream.fileio.write_bytes_atomic
    calls = []

    def filling(path, data):
        calls.append(path)
        if len(calls) > 5:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(stream.fileio, "write_bytes_atomic", filling)
    out = tmp_path / "out"
    with pytest.raises(UserError, match="disk full: .*No space left on device.*rerun") as e:
        files.colorize_files(model, [str(small_tree)], out, tree=RESUMING)
    assert "\n" not in str(e.value)
    written = sorted(p.name for p in out.glob("*.png"))
    assert len(written) == 5 and not list(out.glob(".*"))  # nothing half-written
    monkeypatch.setattr(stream.fileio, "write_bytes_atomic", real)
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(manifest.Manifest, "_append_lines",  # the manifest's own "planned"
                        lambda self, records: (_ for _ in ()).throw(full))
    with pytest.raises(UserError, match="^disk full: .*rerun to continue$"):
        files.colorize_files(model, [str(small_tree)], out, tree=RESUMING)
    monkeypatch.undo()
    report = files.colorize_files(model, [str(small_tree)], out, tree=RESUMING)
    assert (report.kept, len(report.written), report.failed) == (5, 7, [])
    clean = files.colorize_files(model, [str(small_tree)], tmp_path / "clean")
    assert outputs(out) == outputs(tmp_path / "clean") and len(clean.written) == 12


def test_ctrl_c_leaves_nothing_half_written_and_the_rerun_continues(model, small_tree,
                                                                   tmp_path, monkeypatch):
    real = stream.encode_image
    count = []

    def interrupting(rgb, fmt):
        count.append(1)
        if len(count) == 4:
            raise KeyboardInterrupt
        return real(rgb, fmt)

    monkeypatch.setattr(stream, "encode_image", interrupting)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        files.colorize_files(model, [str(small_tree)], out, tree=RESUMING)
    monkeypatch.setattr(stream, "encode_image", real)
    assert not list(out.glob(".*"))
    _, records = manifest.read(out / manifest.NAME)
    done = [r for r in records.values() if r["status"] == "done"]
    assert 0 < len(done) < 12 and all(Path(r["output"]).is_file() for r in done)
    report = files.colorize_files(model, [str(small_tree)], out, tree=RESUMING)
    assert report.kept + len(report.written) == 12 and not report.failed


def test_manifest_drops_a_torn_line_and_refuses_a_second_run(tmp_path):
    path = tmp_path / manifest.NAME
    with manifest.Manifest(path, {"fmt": "png"}) as m:
        m.add({"input": "/a.jpg", "status": "failed", "reason": "x", "seconds": 0.1})
        with pytest.raises(UserError, match="another run"):
            manifest.Manifest(path, {"fmt": "png"})
    with path.open("a") as f:
        f.write('{"input": "/b.jpg", "sta')  # a power cut mid-line
    m = manifest.Manifest(path, {"fmt": "png"})
    assert list(m.records) == ["/a.jpg"]
    m.add({"input": "/c.jpg", "status": "failed", "reason": "y", "seconds": 0.1})
    m.close()
    assert [json.loads(line).get("input") for line in path.read_text().splitlines()] == \
        [None, "/a.jpg", "/c.jpg"]
    path.write_bytes(b"hello\nworld")  # no manifest, and no newline at its end: left whole
    with pytest.raises(UserError, match="not a colorgan manifest"):
        manifest.Manifest(path, {})
    assert path.read_bytes() == b"hello\nworld"


def test_a_manifest_from_before_per_photo_settings_reads_as_its_first_line(tmp_path):
    out = tmp_path / "a.png"
    out.write_bytes(b"x" * 5)
    path = tmp_path / manifest.NAME
    path.write_text(json.dumps({"settings": {"fmt": "png"}}) + "\n" + json.dumps(
        {"input": "/in/a.jpg", "status": "done", "output": str(out), "bytes": 5}) + "\n")
    with manifest.Manifest(path, {"fmt": "png"}) as m:
        assert m.done("/in/a.jpg")["output"] == str(out) and m.other("/in/a.jpg") is None
    with manifest.Manifest(path, {"fmt": "jpg"}) as m:  # now written with ids, read again
        record = m.other("/in/a.jpg")
        assert m.done("/in/a.jpg") is None and m.changes(record) == "fmt='png', now 'jpg'"
    known, records = manifest.read(path)
    assert list(known.values()) == [{"fmt": "png"}]  # jpg made nothing: not kept
    assert records["/in/a.jpg"]["settings"] == manifest.settings_id({"fmt": "png"})


def test_a_photo_of_another_folder_never_takes_an_earlier_output_name(model, small_tree,
                                                                      tmp_path):
    photos = sorted(small_tree.iterdir())
    for folder, photo in (("a", photos[0]), ("b", photos[1])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "p.png").write_bytes(photo.read_bytes())
    out = tmp_path / "out"
    files.colorize_files(model, [str(tmp_path / "a" / "p.png")], out, tree=RESUMING)
    first = (out / "p.png").read_bytes()
    report = files.colorize_files(model, [str(tmp_path / "b" / "p.png")], out, tree=RESUMING)
    assert len(report.written) == 1 and report.written[0].name != "p.png"
    assert (out / "p.png").read_bytes() == first
    _, records = manifest.read(out / manifest.NAME)
    assert sorted(Path(r["output"]).name for r in records.values()) == sorted(
        ["p.png", report.written[0].name])


def test_a_grown_tree_keeps_earlier_outputs_and_odd_names_are_recorded(model, small_tree,
                                                                      tmp_path):
    tree = tmp_path / "in"
    tree.mkdir()
    first = sorted(small_tree.iterdir())[0]
    (tree / "a.png").write_bytes(first.read_bytes())
    odd = tree / os.fsdecode(b"caf\xe9.png")  # not UTF-8, as in old Latin-1 archives
    odd.write_bytes(first.read_bytes())
    out = tmp_path / "out"
    report = files.colorize_files(model, [str(tree)], out, tree=RESUMING)
    assert sorted(p.name for p in report.written) == sorted(["a.png", odd.name])
    kept = (out / "a.png").stat().st_mtime_ns
    (tree / "a.jpg").write_bytes(F.encode(np.zeros((40, 40, 3), np.uint8), "JPEG"))
    # a.jpg sorts first and would take out/a.png; the earlier output keeps its name.
    again = files.colorize_files(model, [str(tree)], out, tree=RESUMING)
    assert (again.kept, [p.name for p in again.written]) == (2, ["a_jpg.png"])
    assert (out / "a.png").stat().st_mtime_ns == kept
    _, records = manifest.read(out / manifest.NAME)
    assert records[os.path.abspath(odd)]["status"] == "done"


def test_a_file_too_large_for_any_photo_is_refused_unread(tmp_path):
    from colorgan.data.imagefiles import max_file_bytes, read_image
    path = tmp_path / "film.jpg"
    with path.open("wb") as f:  # sparse: 2 MiB that take no disk
        f.truncate(2 << 20)
    assert max_file_bytes(1000) < 2 << 20 < max_file_bytes()
    with pytest.raises(ValueError, match="larger than any image of at most 1,000 pixels"):
        read_image(path, max_pixels=1000)


def test_beam_handler_turns_a_failing_photo_into_a_row_and_keeps_the_batch(monkeypatch):
    pytest.importorskip("apache_beam")
    from colorgan.beam import pipeline

    class Stages:  # L -> ab = L; a photo whose L is 7 fails the colour stage
        split = True
        def prepare(self, x):
            if x.max() == 9:
                raise ValueError("too large")
            return x, x

        def chroma(self, L):
            if (L == 7).any():
                raise ValueError("cannot colour")
            return L * 2

        def finish(self, L_full, ab):
            return L_full + ab

    photos = [("a", "A", np.full((1, 1, 1), 1.0)), ("b", "B", np.full((1, 1, 1), 7.0)),
              ("c", "C", np.full((1, 1, 1), 9.0)), ("d", "D", np.full((1, 1, 1), 2.0))]
    handler = pipeline.ColorizerHandler(pipeline.Job(batch=4))
    rows = {p: (None if rgb is None else float(rgb.ravel()[0]), reason)
            for p, _, rgb, _, reason in handler.run_inference(photos, Stages())}
    assert rows == {"a": (3.0, None), "b": (None, "cannot colour"), "c": (None, "too large"),
                    "d": (6.0, None)}
