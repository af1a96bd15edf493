"""cli.run: library errors, which name config fields, reach the user naming flags."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from colorgan import cli

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_FLAGS = {"data", "eval_data", "render_size", "image_size", "model", "output"}


@pytest.mark.parametrize("message, shown", [
    ("source: runs/x does not exist", "--data: runs/x does not exist"),
    ("source=tfds:nope: no such dataset", "--data=tfds:nope: no such dataset"),
    ("eval_source: runs/x does not exist", "--eval_data: runs/x does not exist"),
    ("render_size=30 must be a multiple of 8", "--render_size=30 must be a multiple of 8"),
    ("image_size=48: must be a power of two", "--image_size=48: must be a power of two"),
    ("model: runs/x does not exist", "--model: runs/x does not exist"),
    # Not a flag of this script, or not a leading name: left as the library wrote it.
    ("strategy=tpu: no TPU found", "strategy=tpu: no TPU found"),
    ("runs/x has no checkpoint yet (train first)", "runs/x has no checkpoint yet (train first)"),
    ("sources differ: a, b", "sources differ: a, b"),
    ("gs://b/x: not found", "gs://b/x: not found"),
])
def test_flag_message_names_the_flag_of_a_leading_field(message, shown):
    assert cli.flag_message(message, SCRIPT_FLAGS) == shown


def test_flag_message_takes_a_scripts_own_renames():
    assert cli.flag_message("prefix=r/train: 2 shard(s) exist already", SCRIPT_FLAGS,
                            {"prefix": "output"}) == "--output=r/train: 2 shard(s) exist already"


def test_run_prints_a_field_error_as_one_line_naming_the_flag(tmp_path):
    # A stand-in for train.py: its flags, and a main that fails the way the library does.
    script = tmp_path / "train.py"
    script.write_text(
        "from colorgan import cli, config_flags\n"
        "from absl import flags\n"
        "from colorgan.errors import UserError\n"
        "config_flags.define(flags.FLAGS)\n"
        "def main(argv):\n"
        "    raise UserError('source: photos/ does not exist')\n"
        "cli.run(main)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    assert [line for line in proc.stderr.splitlines() if "error" in line] == [
        "train.py: error: --data: photos/ does not exist"]


def test_require_local_refuses_a_missing_path_and_passes_names_that_are_no_paths(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "ckpt-3.index").write_bytes(b"")
    for spec in (None, "", "pretrained", "samples", "samples:val", "tfds:cifar10",
                 "gs://bucket/photos", str(tmp_path / "run"), str(tmp_path / "ckpt-3"),
                 str(tmp_path / "*.index")):
        cli.require_local("data", spec)
    with pytest.raises(cli.UserError, match=r"^model: .*nope does not exist \(give 'pretrained'"):
        cli.require_local("model", str(tmp_path / "nope"), cli.MODEL_HINT)
    with pytest.raises(cli.UserError, match=r"^data: .*\*.jpg does not exist$"):
        cli.require_local("data", str(tmp_path / "*.jpg"))
