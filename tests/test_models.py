import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan.config import ModelConfig
from colorgan.models import networks


def expected_generator_params(size, base, cin=1, cout=2):
    """Trainable parameters of the U-Net from its description, layer by layer."""
    levels = int(np.log2(size))
    widths = [min(base * 2 ** i, 8 * base) for i in range(levels)]
    total, prev = 0, cin
    for i, w in enumerate(widths):
        plain = i in (0, levels - 1)  # conv + bias, no norm
        total += 16 * prev * w + (w if plain else 2 * w)  # kernel + (bias | gamma, beta)
        prev = w
    for up, i in enumerate(range(levels - 2, -1, -1)):
        total += 16 * prev * widths[i] + 2 * widths[i]  # transposed kernel + BN gamma, beta
        prev = 2 * widths[i]  # after the skip concat
    return total + 16 * prev * cout + cout


def expected_discriminator_params(f, cin=3):
    convs = [(cin, f, True), (f, 2 * f, False), (2 * f, 4 * f, False), (4 * f, 8 * f, False),
             (8 * f, 1, True)]
    return sum(16 * a * b + (b if bias else 4 * b) for a, b, bias in convs)  # BN: 4 per channel


def test_generator_at_paper_size_has_the_paper_parameter_count():
    g = networks.build_generator(ModelConfig(base_filters=64), 256)
    trainable = sum(int(np.prod(v.shape)) for v in g.trainable_variables)
    assert trainable == expected_generator_params(256, 64)
    assert 54.3e6 < trainable < 54.5e6  # pix2pix's 54.4 M
    assert len([l for l in g.layers if l.name.endswith("_conv") and "down" in l.name]) == 8


@pytest.mark.parametrize("size,base", [(32, 8), (64, 16), (128, 8)])
def test_generator_shapes_and_depth_follow_size(size, base):
    g = networks.build_generator(ModelConfig(base_filters=base), size)
    x = tf.random.normal([2, size, size, 1])
    y = g(x, training=False)
    assert y.shape == (2, size, size, 2)
    assert np.abs(y.numpy()).max() < 1  # tanh
    trainable = sum(int(np.prod(v.shape)) for v in g.trainable_variables)
    assert trainable == expected_generator_params(size, base)
    bottleneck = g.get_layer(f"down{networks.generator_levels(size) - 1}_act").output
    assert tuple(bottleneck.shape[1:3]) == (None, None)
    probe = keras.Model(g.input, bottleneck)
    assert probe(x).shape[1:3] == (1, 1)
    # Fully convolutional: twice the size works too.
    assert g(tf.zeros([1, 2 * size, 2 * size, 1])).shape == (1, 2 * size, 2 * size, 2)


def test_generator_init_is_normal_0_02():
    g = networks.build_generator(ModelConfig(base_filters=64), 64)
    kernel = g.get_layer("down2_conv").kernel.numpy()
    assert abs(kernel.mean()) < 1e-3 and abs(kernel.std() - 0.02) < 1e-3


def test_bottleneck_signal_survives_at_batch_one():
    """Batch norm over a 1x1 map at batch 1 outputs its bias whatever the input (pix2pix's
    known flaw); with no norm there, the bottleneck must still tell two inputs apart."""
    g = networks.build_generator(ModelConfig(base_filters=8, dropout=0.0), 32)
    inner = keras.Model(g.input, g.get_layer("down4_act").output)
    a = inner(tf.random.normal([1, 32, 32, 1], seed=1), training=True).numpy()
    b = inner(tf.random.normal([1, 32, 32, 1], seed=2), training=True).numpy()
    assert a.shape == (1, 1, 1, 64)
    assert np.abs(a - b).max() > 1e-3


@pytest.mark.parametrize("size", [32, 64, 256])
def test_discriminator_output_size_from_formula(size):
    d = networks.build_discriminator(ModelConfig(disc_filters=8))
    out = d([tf.zeros([1, size, size, 1]), tf.zeros([1, size, size, 2])])
    n = size // 8 - 2  # three stride-2 convs, then two 4x4 valid convs on 1-padded maps
    assert out.shape == (1, n, n, 1)


def test_discriminator_parameters():
    d = networks.build_discriminator(ModelConfig(disc_filters=64))
    assert d.count_params() == expected_discriminator_params(64)


def test_discriminator_receptive_field_is_70():
    # RF = 1 + sum((k - 1) * stride product before the layer) over its five 4x4 convs.
    strides = [2, 2, 2, 1, 1]
    jumps = np.cumprod([1] + strides[:-1])
    rf = 1 + sum(3 * j for j in jumps)
    assert rf == 70
    d = networks.build_discriminator(ModelConfig(disc_filters=8))
    L = tf.random.normal([1, 256, 256, 1])
    ab = tf.random.normal([1, 256, 256, 2])
    with tf.GradientTape() as tape:
        tape.watch([L, ab])
        logit = d([L, ab], training=False)[0, 15, 15, 0]
    gL, gab = tape.gradient(logit, [L, ab])
    grad = np.abs(gL.numpy()[0, :, :, 0]) + np.abs(gab.numpy()[0]).sum(-1)
    rows, cols = np.nonzero(grad.sum(1))[0], np.nonzero(grad.sum(0))[0]
    assert rows.max() - rows.min() + 1 == rf
    assert cols.max() - cols.min() + 1 == rf


def test_dropout_is_identity_at_inference_and_consistent_across_replicas():
    layer = networks.ReplicaConsistentDropout(0.5, seed=7)
    x = tf.ones([4, 3, 3, 2])
    layer.build(x.shape)
    np.testing.assert_array_equal(layer(x, training=False), x)
    whole = layer(x, training=True).numpy()
    kept = whole != 0
    assert 0.3 < kept.mean() < 0.7 and np.allclose(whole[kept], 2.0)
    # Two replicas of 2 examples at the same call count draw the same masks.
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"],
                                              cross_device_ops=tf.distribute.ReductionToOneDevice())
    with strategy.scope():
        replicated = networks.ReplicaConsistentDropout(0.5, seed=7)
        replicated.build(x.shape)
    halves = strategy.experimental_distribute_values_from_function(
        lambda ctx: x[2 * ctx.replica_id_in_sync_group:2 * ctx.replica_id_in_sync_group + 2])
    out = strategy.run(tf.function(lambda v: replicated(v, training=True)), args=(halves,))
    joined = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
    np.testing.assert_array_equal(joined, whole)
    assert int(replicated.calls.numpy()) == 1
