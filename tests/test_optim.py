"""FusedAdam (one ResourceApplyAdam per variable) against keras.optimizers.Adam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan import optim


def _run(make_optimizer, strategy, grads, w0):
    with strategy.scope():
        var = tf.Variable(w0)
        opt = make_optimizer()
        opt.build([var])

    @tf.function
    def step(g):
        def replica(g):  # each replica holds half the gradient: their sum is g
            opt.apply_gradients([(g / strategy.num_replicas_in_sync, var)])
        strategy.run(replica, args=(g,))

    for g in grads:
        step(tf.constant(g))
    return var.numpy(), opt


@pytest.mark.parametrize("replicas", [1, 2])
def test_fused_adam_follows_keras_adam(replicas):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(6, 5)).astype(np.float32)
    grads = [rng.normal(size=(6, 5)).astype(np.float32) for _ in range(30)]
    strategy = (tf.distribute.get_strategy() if replicas == 1 else
                tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"],
                                               cross_device_ops=tf.distribute.ReductionToOneDevice()))
    want, _ = _run(lambda: keras.optimizers.Adam(1e-2, beta_1=0.5), strategy, grads, w0)
    got, opt = _run(lambda: optim.FusedAdam(1e-2, beta_1=0.5), strategy, grads, w0)
    assert np.abs(want - w0).max() > 0.1  # 30 steps of 1e-2 moved the weights
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert int(opt.iterations.numpy()) == 30
    # The slots are Adam's own: m is the gradients' exponential average.
    m = np.zeros_like(w0)
    for g in grads:
        m = 0.5 * m + 0.5 * g
    np.testing.assert_allclose(opt._momentums[0].numpy(), m, atol=1e-5)
