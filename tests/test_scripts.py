"""The entry scripts as a user runs them: subprocesses, exit codes, files on disk."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tensorflow as tf

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["--log_every=1000", "--image_every=1000"]


def run(*args, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if " error: " in line]


def test_train_on_missing_path_exits_2_with_one_line(tmp_path):
    missing = tmp_path / "no_such_folder"
    proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}", f"--data={missing}")
    assert proc.returncode == 2, proc.stderr
    assert error_lines(proc.stderr) == [f"train.py: error: --data: {missing} does not exist"]
    assert "Traceback" not in proc.stderr


def test_train_on_folder_without_images_exits_2(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not a jpeg")
    proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}",
               f"--data={tmp_path / 'photos'}")
    assert proc.returncode == 2
    assert len(error_lines(proc.stderr)) == 1 and "no usable colour image" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_train_tiny_writes_checkpoint_and_events_then_resumes(tmp_path):
    workdir = tmp_path / "run"
    proc = run("train.py", "--preset=tiny", "--steps=3", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-3")
    assert list((workdir / "tb").glob("events.out.tfevents.*"))
    assert (workdir / "sample_sheet.png").stat().st_size > 0
    assert "step 3/3" in proc.stderr and "img/s" in proc.stderr and "ETA" in proc.stderr
    proc = run("train.py", "--preset=tiny", "--steps=5", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0
    assert "resuming at step 3 of 5" in proc.stderr
    assert tf.train.latest_checkpoint(str(workdir / "checkpoints")).endswith("ckpt-5")


def test_sigterm_saves_a_checkpoint_and_a_rerun_resumes(tmp_path):
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
    proc = run("train.py", "--preset=tiny", f"--steps={saved + 2}", f"--workdir={workdir}", *QUIET)
    assert proc.returncode == 0 and f"resuming at step {saved} of {saved + 2}" in proc.stderr


def test_bad_flag_value_is_one_line(tmp_path):
    proc = run("train.py", "--preset=nope", f"--workdir={tmp_path}")
    assert proc.returncode == 2
    assert error_lines(proc.stderr) == [
        "train.py: error: --preset='nope' is unknown; choose one of ['demo', 'pix2pix', 'tiny']"]
    proc = run("train.py", "--preset=tiny", "--image_size=48", f"--workdir={tmp_path}")
    assert proc.returncode == 2 and "image_size=48" in proc.stderr
    assert "Traceback" not in proc.stderr
