"""Mixed precision: bf16 / fp16 compute, float32 weights, outputs, losses and export."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.data import input_pipeline
from colorgan.serve import opener
from colorgan.train import fit, train_state, train_step

import isa  # tests/isa.py


def _cfg(tiny_cfg, precision, **extra):
    return config.with_overrides(tiny_cfg, {"precision": precision, **extra})


def _l1_curve(cfg, n=30):
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    step = train_step.make_train_step(state, cfg, strategy)
    batches = iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"), image_size=32,
                                                batch_size=4, seed=0))
    return state, [{k: float(v) for k, v in step(next(batches)).items()} for _ in range(n)]


@isa.needs_bf16_kernels
def test_bf16_computes_in_bf16_and_keeps_float32_at_the_edges(tiny_cfg):
    state = train_state.create_state(_cfg(tiny_cfg, "bf16"), tf.distribute.get_strategy())
    G, D = state.generator, state.discriminator
    convs = [l for l in G.layers + D.layers if isinstance(l, keras.layers.Conv2D)]
    assert convs and all(l.compute_dtype == "bfloat16" for l in convs)
    floats = [v for v in G.weights + D.weights if "int" not in str(v.dtype)]  # not counters
    assert floats and all(v.dtype == "float32" for v in floats)
    assert G(tf.zeros([1, 32, 32, 1])).dtype == tf.float32  # the ab output layer
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building


@isa.needs_bf16_kernels
def test_bf16_trains_like_fp32(tiny_cfg):
    _, fp32 = _l1_curve(_cfg(tiny_cfg, "fp32"))
    _, bf16 = _l1_curve(_cfg(tiny_cfg, "bf16"))
    assert all(np.isfinite(list(m.values())).all() for m in bf16)
    # Same weights, same data: the mean L1 of the last 10 steps within 5 % of fp32's
    # (bf16 keeps 8 bits of mantissa, so steps differ a little and the curves drift).
    a = np.mean([m["g_l1"] for m in fp32[-10:]])
    b = np.mean([m["g_l1"] for m in bf16[-10:]])
    assert abs(b - a) <= 0.05 * a, (a, b)
    assert np.mean([m["g_l1"] for m in bf16[-5:]]) < np.mean([m["g_l1"] for m in bf16[:5]])


@isa.needs_fp16_kernels
@pytest.mark.parametrize("extra", [{}, {"spectral_norm_d": True, "spectral_norm_g": True,
                                        "attention_g": 8,
                                        "attention_d": 8, "noise_channels": 1}],
                         ids=["pix2pix", "recipes"])
def test_fp16_uses_loss_scaling_and_stays_finite(tiny_cfg, extra):
    state, metrics = _l1_curve(_cfg(tiny_cfg, "fp16", **extra), n=5)
    assert isinstance(state.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert all(np.isfinite(list(m.values())).all() for m in metrics)


@isa.needs_bf16_kernels
def test_a_bf16_run_exports_in_float32(tiny_cfg, tmp_path):
    cfg = _cfg(tiny_cfg, "bf16", steps=3, checkpoint_every=3)
    result = fit.fit(cfg, tmp_path / "run")
    colorizer = opener.make_colorizer(tmp_path / "run")
    assert all(v.dtype in ("float32", "int64") for v in colorizer.generator.weights)
    images = tf.random.stateless_uniform([1, 32, 32, 3], seed=[1, 2])
    out = colorizer.colorize(images)["colorized"]
    assert out.dtype == tf.float32 and out.shape == (1, 32, 32, 3)
    # The float32 export computes what the bf16 generator computed, up to bf16 rounding.
    L = input_pipeline.to_model(images)[0]
    ab32 = colorizer.generator(L, training=False)
    ab16 = result.state.generator(L, training=False)
    assert float(tf.reduce_max(tf.abs(ab32 - ab16))) < 0.05
    assert dataclasses.asdict(cfg.train)["precision"] == "bf16"
