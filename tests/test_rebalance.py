"""Colour rebalancing of L1: the prior, the weights, the per-pixel lookup, the train step."""

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.data import input_pipeline
from colorgan.train import fit, losses, rebalance, train_state, train_step


def gaussian_ab(seed=0, n=4, size=32, sd=0.15):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(0.05, sd, (n, size, size, 2)), -1, 1).astype(np.float32)


def test_histogram_counts_every_pixel_in_its_bin():
    ab = np.array([[[[-1.0, -1.0], [0.0, 0.0], [0.99, -0.5], [1.0, 1.0]]]], np.float32)
    counts = rebalance.ab_histogram([(None, ab)], bins=4)
    assert counts.sum() == 4
    assert counts[0, 0] == 1 and counts[2, 2] == 1 and counts[3, 1] == 1 and counts[3, 3] == 1


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9])
def test_weights_average_to_one_and_favour_rare_colours(lam):
    counts = rebalance.ab_histogram([(None, gaussian_ab())])
    w = rebalance.weights(counts, lam, sigma=0.0)
    p = (counts / counts.sum()).reshape(-1)
    assert np.isclose((p * w).sum(), 1.0, atol=1e-5) or w.max() == rebalance.MAX_WEIGHT
    seen = p > 0
    order = np.argsort(p[seen])  # rarer colour -> larger weight
    assert np.all(np.diff(w[seen][order]) <= 1e-4)
    assert w[~seen].min() >= w[seen].max() - 1e-4


def test_weights_are_capped_where_a_colour_is_very_rare():
    counts = np.zeros((rebalance.BINS, rebalance.BINS))
    counts[11, 11] = 1e6
    counts[0, 0] = 1  # seen once
    w = rebalance.weights(counts, 0.0, sigma=0.0)
    assert w.max() == rebalance.MAX_WEIGHT and np.isfinite(w).all()
    assert 0.49 < w[11 * rebalance.BINS + 11] <= 1.0


def test_lambda_one_is_plain_l1():
    counts = rebalance.ab_histogram([(None, gaussian_ab())])
    w = rebalance.weights(counts, 1.0)
    np.testing.assert_allclose(w, 1.0, rtol=1e-6)
    target, pred = gaussian_ab(1), gaussian_ab(2)
    np.testing.assert_allclose(rebalance.weighted_l1_loss(target, pred, tf.constant(w)).numpy(),
                               losses.l1_loss(target, pred).numpy(), rtol=1e-6)


def test_pixel_weights_look_up_the_bin_of_each_pixel():
    table = np.arange(rebalance.BINS ** 2, dtype=np.float32)
    ab = gaussian_ab(3, n=1, size=8, sd=0.5)
    got = rebalance.pixel_weights(tf.constant(ab), tf.constant(table)).numpy()[..., 0]
    ia = np.clip(np.floor((ab[..., 0] + 1) / 2 * rebalance.BINS), 0, rebalance.BINS - 1)
    ib = np.clip(np.floor((ab[..., 1] + 1) / 2 * rebalance.BINS), 0, rebalance.BINS - 1)
    np.testing.assert_array_equal(got, table[(ia * rebalance.BINS + ib).astype(int)])


def test_smoothing_keeps_mass_inside_and_spreads_it():
    p = np.zeros((9, 9))
    p[4, 4] = 1.0
    s = rebalance._smooth(p, 1.0)
    assert np.isclose(s.sum(), 1.0, atol=1e-3) and s[4, 4] < 1 and s[4, 5] > 0


def test_training_with_rebalancing_is_deterministic_and_learns(tiny_cfg):
    cfg = config.with_overrides(tiny_cfg, {"rebalance": 0.5, "lambda_gan": 0.0})
    source = input_pipeline.open_source("samples")
    a = fit.colour_weights(cfg, source, limit=16).numpy()
    b = fit.colour_weights(cfg, source, limit=16).numpy()
    np.testing.assert_array_equal(a, b)
    assert a.max() > 1 > a.min()
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    state.ab_weights = tf.constant(a)
    step = train_step.make_train_step(state, cfg, strategy)
    batch = next(iter(input_pipeline.train_dataset(source, image_size=32, batch_size=4, seed=0)))
    first = float(step(batch)["g_l1"])
    for _ in range(15):
        last = float(step(batch)["g_l1"])
    assert last < first
    with pytest.raises(Exception, match="rebalance"):
        config.with_overrides(tiny_cfg, {"rebalance": 1.5})
