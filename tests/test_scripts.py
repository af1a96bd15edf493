"""The entry scripts as a user runs them: one subprocess smoke test per script for the
wiring (exit code, the main output on disk, a bad path or flag as one line and exit 2),
and SIGTERM, which only a process can receive. What the scripts' library calls do is
tested in-process beside each module (test_training, test_inference, test_evaluation,
test_records, test_bench)."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.train import fit
from colorgan.video import clips, container

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--log_every=1000", "--image_every=1000"]


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if " error: " in line]


def assert_one_line_error(proc, want=None, words=""):
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = error_lines(proc.stderr)
    assert len(lines) == 1 and words in lines[0], lines
    if want is not None:
        assert lines == [want]
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """train.py --preset=tiny --steps=2: (finished process, workdir)."""
    workdir = tmp_path_factory.mktemp("tiny") / "run"
    return run("train.py", "--preset=tiny", "--steps=2", f"--workdir={workdir}", *QUIET), workdir


@pytest.fixture(scope="module")
def exported(trained):
    """export.py on that workdir: (finished process, export base path)."""
    _, workdir = trained
    export = workdir.parent / "export"
    return run("export.py", f"--workdir={workdir}", f"--export_dir={export}"), export


def test_train_py(trained, tmp_path):
    proc, workdir = trained
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-2")
    assert "step 2/2" in proc.stderr and "img/s" in proc.stderr and "ETA" in proc.stderr
    missing = tmp_path / "no_such_folder"
    proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}", f"--data={missing}")
    assert_one_line_error(proc, f"train.py: error: --data: {missing} does not exist")


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_a_rerun_resumes(tmp_path, info_log):
    workdir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "train.py", "--preset=tiny", "--steps=100000", "--log_every=1",
         "--checkpoint_every=100000", "--image_every=100000", f"--workdir={workdir}"],
        cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    for line in proc.stderr:  # wait until training is under way
        if "step 5/100000" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 128 + signal.SIGTERM, rest[-2000:]
    assert "checkpoint saved" in rest
    saved = int(tf.train.latest_checkpoint(str(workdir / "checkpoints")).rsplit("-", 1)[1])
    assert saved >= 5
    # The rerun is the library's resume (in-process: one TensorFlow start less).
    cfg = config.with_overrides(config.get_preset("tiny"), {
        "steps": saved + 2, "log_every": 1000, "image_every": 1000})
    result = fit.fit(cfg, workdir)
    assert result.step == saved + 2 and result.stopped_by_signal is None
    assert f"resuming at step {saved} of {saved + 2}" in info_log.text


def test_export_py(exported, tmp_path):
    proc, export = exported
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == str(export / "1")
    assert (export / "1" / "saved_model.pb").is_file()
    proc = run("export.py", f"--workdir={tmp_path / 'nope'}", f"--export_dir={tmp_path / 'e'}")
    assert_one_line_error(proc, words=f"--workdir: {tmp_path / 'nope'} does not exist")


def test_colorize_py(exported, tmp_path):
    from PIL import Image
    _, export = exported
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
                    ).save(photos / "a.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    frames, _ = clips.two_shots((48, 32), 3)
    clips.write(photos / "clip.mp4", frames)
    proc = run("colorize.py", f"--model={export}", f"--output_dir={tmp_path / 'out'}", str(photos))
    assert proc.returncode == 1, proc.stderr[-2000:]  # broken.jpg failed, a.png did not
    out = tmp_path / "out"
    assert [line.split(": ")[:2] for line in proc.stdout.splitlines()] == [
        ["colorize.py", "failed"],
        ["colorize.py", f"2 written in {out}, 1 failed (recorded in {out / 'colorgan_manifest.jsonl'})"],
    ] and "broken.jpg" in proc.stdout
    assert Image.open(tmp_path / "out" / "a.png").size == (50, 30)
    assert container.probe(tmp_path / "out" / "clip.mp4").frames == 6
    assert "frames/s" in proc.stderr and "new shots at frames [3]" in proc.stderr
    proc = run("colorize.py", f"--model={export}", "--temporal_keep=1.5", str(photos))
    assert_one_line_error(proc, "colorize.py: error: --temporal_keep=1.5 must be in [0, 1)")
    proc = run("colorize.py", f"--model={tmp_path / 'nope'}", f"--output_dir={tmp_path / 'o'}", "x.jpg")
    assert_one_line_error(proc, f"colorize.py: error: --model: {tmp_path / 'nope'} does not exist "
                          "(give 'pretrained', a workdir, a checkpoint, an export or a .tflite)")


def test_evaluate_py_on_a_video(exported, tmp_path):
    _, export = exported
    frames, _ = clips.two_shots((48, 32), 3)
    clips.write(tmp_path / "clip.mkv", frames)
    proc = run("evaluate.py", f"--model={export}", f"--data={tmp_path / 'clip.mkv'}",
               f"--output_dir={tmp_path / 'eval'}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert result["frames"] == 6 and result["scene_cuts"] == [3]
    assert set(result["warping_error"]) == {"none", "flow", "truth", "input"}
    assert set(result["colour_psnr"]) == {"none", "flow", "grayscale"}
    assert (tmp_path / "eval" / "strip.png").is_file()
    proc = run("evaluate.py", f"--model={export}", f"--data={tmp_path / 'nope.mp4'}",
               f"--output_dir={tmp_path / 'e2'}")
    assert_one_line_error(proc, f"evaluate.py: error: --data: {tmp_path / 'nope.mp4'} does not exist")


def test_evaluate_py(exported, tmp_path):
    _, export = exported
    out = tmp_path / "eval"
    # --nolpips, --nofid: LPIPS and FID/KID are tested in-process (test_evaluation.py,
    # test_fid.py; fid.py's own run there builds Inception in a process): here their flags
    # are wiring. FID here cost ~9 s of CPU (Inception's build and run).
    proc = run("evaluate.py", f"--model={export}", "--data=samples:val", "--limit=4", "--size=32",
               "--nolpips", "--nofid", f"--output_dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "metrics.json").read_text())
    assert result["n"] == 4 and "fid_protocol" not in result
    for row in ("colorgan", "grayscale_baseline"):
        assert result[row]["psnr"] > 10 and "fid" not in result[row]
        assert result[row]["lpips"] is None
    assert (out / "per_image.csv").is_file() and (out / "comparison.png").stat().st_size > 0
    assert "img/s" in proc.stderr
    (tmp_path / "empty").mkdir()
    proc = run("evaluate.py", f"--model={export}", f"--data={tmp_path / 'empty'}",
               f"--output_dir={tmp_path / 'out'}", "--nofid")
    assert_one_line_error(proc, words="no image files")


def test_make_tfrecords_py(tmp_path):
    prefix = tmp_path / "records" / "val"
    proc = run("make_tfrecords.py", "--data=samples:val", f"--output={prefix}", "--shard_mb=0.5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    shards = sorted(p.name for p in prefix.parent.iterdir())
    assert len(shards) >= 2 and shards[0] == f"val-00000-of-{len(shards):05d}.tfrecord"
    assert "img/s" in proc.stderr and "46/46" in proc.stderr  # the script's progress bar
    again = run("make_tfrecords.py", "--data=samples:val", f"--output={prefix}")
    assert_one_line_error(again, words="exist already")
    missing = run("make_tfrecords.py", f"--data={tmp_path / 'nope'}", f"--output={prefix}")
    assert_one_line_error(missing, words="--data: ")  # before TensorFlow's start
    assert missing.stderr.rstrip().endswith("nope does not exist")


def test_bench_py(tmp_path):
    out = tmp_path / "bench.jsonl"
    proc = run("bench.py", "--presets=tiny", "--figures=pipeline", "--repeats=1", "--steps=1",
               f"--output={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = [json.loads(line) for line in out.read_text().splitlines()]
    assert [f["figure"] for f in figures] == ["machine", "input_pipeline", "input_pipeline_cached"]
    assert figures[0]["cores"] >= 1 and figures[0]["tensorflow"] == tf.__version__
    assert proc.stdout.splitlines()[:3] == out.read_text().splitlines()  # stdout too
    assert "| input_pipeline | tiny | fp32 | 32 | 4 |" in proc.stdout
    proc = run("bench.py", "--presets=tiny", "--figures=nope")
    assert_one_line_error(proc, words="--figures: unknown ['nope']")
