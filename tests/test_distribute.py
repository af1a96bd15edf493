"""Strategies: multi-worker with two real processes, TPU failure, auto choice, batch sizes."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from colorgan import config
from colorgan.errors import UserError
from colorgan.train import distribute, fit

ROOT = Path(__file__).resolve().parents[1]

# Trains the tiny preset on the samples under the strategy named in argv[3] and saves
# every weight of G and D (and the step) to argv[2].
DRIVER = """
import sys
import numpy as np
from absl import logging
from colorgan import config
from colorgan.train import fit
logging.set_verbosity(logging.INFO)
cfg = config.with_overrides(config.get_preset("tiny"), {
    "steps": 3, "batch_size": 4, "checkpoint_every": 2, "strategy": sys.argv[3],
    "cpu_devices": 2})  # used by "mirrored" only
result = fit.fit(cfg, sys.argv[1])
s = result.state
np.savez(sys.argv[2], step=s.step.numpy(),
         **{f"w{i}": v.numpy() for i, v in enumerate(s.generator.weights + s.discriminator.weights)})
"""


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env.update(PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2", **extra)
    return env


@pytest.mark.slow
def test_two_workers_train_in_step_and_only_the_chief_writes(tmp_path, info_log):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    workdir = tmp_path / "run"
    hosts = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        tmp = tmp_path / f"tmp{i}"
        tmp.mkdir()
        conf = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": i}}
        procs.append(subprocess.Popen(
            [sys.executable, str(driver), str(workdir), str(tmp_path / f"w{i}.npz"),
             "multi_worker"],
            env=_env(TF_CONFIG=json.dumps(conf), TMPDIR=str(tmp)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    assert "2 replica(s)" in outs[0] and "a worker: the chief writes" in outs[1]

    w0, w1 = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(w0["step"]) == int(w1["step"]) == 3
    for key in w0.files:
        np.testing.assert_array_equal(w0[key], w1[key], err_msg=key)

    # Exactly one checkpoint directory (the chief's), with the saves of steps 2 and 3;
    # the worker's temporary checkpoints are gone.
    ckpt_dirs = {p.parent for p in tmp_path.rglob("checkpoint")}
    assert ckpt_dirs == {workdir / "checkpoints"}
    assert sorted(p.name for p in (workdir / "checkpoints").glob("*.index")) == [
        "ckpt-2.index", "ckpt-3.index"]
    assert not any((tmp_path / "tmp1").iterdir()) and not any((tmp_path / "tmp0").iterdir())
    assert (workdir / "sample_sheet.png").exists() and (workdir / "config.json").exists()

    # The two workers compute exactly what one process computes with two replicas
    # (MirroredStrategy over two logical CPUs) on the same global batch of 4; that run is
    # checked against a single replica in test_training.py. (Compared with one replica
    # directly, 3 Adam steps leave ~1e-2 relative differences in a few small bias vectors
    # whose gradients are near zero: Adam divides float noise by its own magnitude.)
    # In this process (two logical CPUs, tests/conftest.py): one TensorFlow start less.
    cfg = config.with_overrides(config.get_preset("tiny"), {
        "steps": 3, "batch_size": 4, "checkpoint_every": 2, "strategy": "mirrored",
        "cpu_devices": 2, "log_every": 1000, "image_every": 1000})
    single = fit.fit(cfg, tmp_path / "single").state
    assert "2 replica(s)" in info_log.text
    weights = single.generator.weights + single.discriminator.weights
    assert int(single.step.numpy()) == 3 and len(weights) == len(w0.files) - 1
    for i, v in enumerate(weights):
        np.testing.assert_allclose(w0[f"w{i}"], v.numpy(), rtol=1e-6, atol=1e-9, err_msg=f"w{i}")


def test_tpu_without_a_tpu_is_one_line():
    with pytest.raises(UserError, match="^strategy=tpu: no TPU found"):
        distribute.make_strategy(config.TrainConfig(strategy="tpu"))


def test_multi_worker_without_tf_config_is_one_line(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserError, match="needs TF_CONFIG"):
        distribute.make_strategy(config.TrainConfig(strategy="multi_worker"))
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(UserError, match="TF_CONFIG is not valid"):
        distribute.make_strategy(config.TrainConfig(strategy="multi_worker"))


def test_auto_picks_from_the_environment(monkeypatch):
    for var in ("TF_CONFIG", "TPU_NAME", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(var, raising=False)
    auto = config.TrainConfig(strategy="auto")
    assert distribute.resolve_name(auto) == "default"  # no GPU, TPU or cluster here
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert distribute.resolve_name(auto) == "default"  # a one-task cluster is one machine
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                                                "task": {"type": "chief", "index": 0}}))
    assert distribute.resolve_name(auto) == "multi_worker"
    monkeypatch.delenv("TF_CONFIG")
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")
    assert distribute.resolve_name(auto) == "tpu"
    assert distribute.resolve_name(config.TrainConfig(strategy="mirrored")) == "mirrored"


class _Replicas:
    def __init__(self, n):
        self.num_replicas_in_sync = n


@pytest.mark.parametrize("batch,per_replica,replicas,expected", [
    (16, 0, 1, 16), (16, 0, 4, 16), (16, 3, 4, 12), (1, 8, 8, 64)])
def test_global_batch(batch, per_replica, replicas, expected):
    cfg = config.TrainConfig(batch_size=batch, per_replica_batch_size=per_replica)
    assert distribute.global_batch_size(cfg, _Replicas(replicas)) == expected


def test_global_batch_must_split():
    with pytest.raises(UserError, match="does not split over 4 replicas"):
        distribute.global_batch_size(config.TrainConfig(batch_size=6), _Replicas(4))
