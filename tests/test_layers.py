"""layers.BatchNorm (TF's fused kernel) against keras.layers.BatchNormalization."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan.models import layers

import isa  # tests/isa.py


def _pair(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        ref = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
        fused = layers.BatchNorm(momentum=0.9, epsilon=1e-5)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return ref, fused


@pytest.mark.parametrize("policy,tol", [
    ("float32", 1e-5), pytest.param("mixed_bfloat16", 2e-2, marks=isa.needs_bf16_kernels)])
def test_fused_batch_norm_equals_keras(policy, tol):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(2.0, 3.0, (4, 8, 6, 5)), tf.float32)
    gamma = rng.uniform(0.5, 2, 5)
    ref, fused = _pair(policy)
    for layer in (ref, fused):
        layer.build(x.shape)
        layer.gamma.assign(gamma)  # the same random affine for both
        layer.beta.assign(np.linspace(-1, 1, 5))
    weights = tf.constant(rng.normal(size=x.shape), tf.float32)  # a loss BN does not cancel
    out, grads = [], []
    for layer in (ref, fused):
        for _ in range(3):  # three steps of moving averages
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=True)
                loss = tf.reduce_sum(tf.cast(y, tf.float32) * weights)
            grads.append(tape.gradient(loss, [x, layer.gamma, layer.beta]))
        out.append(tf.cast(y, tf.float32).numpy())
        assert y.dtype == layer.compute_dtype
    np.testing.assert_allclose(out[1], out[0], atol=tol * 3)
    # Normalized: per channel mean beta and standard deviation |gamma| (biased variance).
    np.testing.assert_allclose(out[1].mean(axis=(0, 1, 2)), np.linspace(-1, 1, 5), atol=tol * 3)
    for g_ref, g_fused in zip(grads[2], grads[5]):
        scale = np.abs(g_ref.numpy()).max()
        np.testing.assert_allclose(g_fused.numpy(), g_ref.numpy(), atol=tol * scale)
    np.testing.assert_allclose(fused.moving_mean.numpy(), ref.moving_mean.numpy(), rtol=tol)
    np.testing.assert_allclose(fused.moving_variance.numpy(), ref.moving_variance.numpy(), rtol=tol)
    assert abs(fused.moving_mean.numpy().mean() - 2.0 * (1 - 0.9 ** 3)) < 0.3  # moved toward 2
    # Inference uses the moving statistics, as Keras does.
    np.testing.assert_allclose(tf.cast(fused(x, training=False), tf.float32).numpy(),
                               tf.cast(ref(x, training=False), tf.float32).numpy(), atol=tol * 3)


def test_fused_kernel_runs_in_training_only():
    x = tf.zeros([2, 4, 4, 3])
    layer = layers.BatchNorm()
    layer.build(x.shape)

    def ops(training):
        graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
        return {op.type for op in graph.get_operations()}

    assert "FusedBatchNormV3" in ops(True)
    assert "FusedBatchNormV3" not in ops(False)
    layers.BatchNorm.fused = False
    try:
        assert "FusedBatchNormV3" not in ops(True)
    finally:
        layers.BatchNorm.fused = True
