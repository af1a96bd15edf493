"""FusedAdam (one ResourceApplyAdam per variable) against keras.optimizers.Adam."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan.train import optim


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


@pytest.mark.parametrize("replicas,epsilon", [(1, 1e-7), (2, 1e-7), (1, 0.1)])
def test_fused_adam_follows_keras_adam(replicas, epsilon):
    """epsilon 0.1 against gradients ~1: where epsilon goes (outside the square root, not
    bias-corrected) changes the step by several per cent."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(6, 5)).astype(np.float32)
    grads = [rng.normal(size=(6, 5)).astype(np.float32) for _ in range(30)]
    strategy = (tf.distribute.get_strategy() if replicas == 1 else
                tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"],
                                               cross_device_ops=tf.distribute.ReductionToOneDevice()))
    want, _ = _run(lambda: keras.optimizers.Adam(1e-2, beta_1=0.5, epsilon=epsilon), strategy,
                   grads, w0)
    got, opt = _run(lambda: optim.FusedAdam(1e-2, beta_1=0.5, epsilon=epsilon), strategy,
                    grads, w0)
    assert np.abs(want - w0).max() > 0.05  # 30 steps of 1e-2 moved the weights
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert int(opt.iterations.numpy()) == 30
    # The slots are Adam's own: m is the gradients' exponential average.
    m = np.zeros_like(w0)
    for g in grads:
        m = 0.5 * m + 0.5 * g
    np.testing.assert_allclose(opt._momentums[0].numpy(), m, atol=1e-5)


def test_checkpoints_load_across_the_two(tmp_path):
    """Same slot variables: a Keras Adam checkpoint restores into FusedAdam, which then
    continues exactly as Keras Adam would."""
    rng = np.random.default_rng(1)
    w0 = rng.normal(size=(4, 3)).astype(np.float32)
    grads = [tf.constant(rng.normal(size=(4, 3)).astype(np.float32)) for _ in range(6)]
    var, opt = tf.Variable(w0), keras.optimizers.Adam(1e-2)
    for g in grads[:3]:
        opt.apply_gradients([(g, var)])
    path = tf.train.Checkpoint(var=var, opt=opt).save(str(tmp_path / "ckpt"))
    for g in grads[3:]:
        opt.apply_gradients([(g, var)])
    var2, fused = tf.Variable(np.zeros_like(w0)), optim.FusedAdam(1e-2)
    fused.build([var2])
    tf.train.Checkpoint(var=var2, opt=fused).restore(path).assert_consumed()
    assert int(fused.iterations.numpy()) == 3
    for g in grads[3:]:
        fused.apply_gradients([(g, var2)])
    np.testing.assert_allclose(var2.numpy(), var.numpy(), atol=1e-6)
