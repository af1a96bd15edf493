"""Prints made and aged unevenly (data/prints.py) and the second-order scan
(degrade.sinc_kernel, degrade's second order): against formulas and SciPy."""

import math

import numpy as np
import pytest
import tensorflow as tf
from scipy import special

from colorgan import config
from colorgan.data import degrade, prints


@pytest.mark.parametrize("level", [0.15, 0.45, 0.85])
def test_a_halftone_keeps_a_flat_areas_gray_in_dots_of_its_period(level):
    flat = tf.fill([96, 96, 1], level)
    out = prints.halftone(flat, 6.0, math.radians(45)).numpy()[..., 0]
    assert np.all(np.isclose(out, prints.INK) | np.isclose(out, prints.PAPER))  # nothing else
    inner = out[12:-12, 12:-12]  # the box average reaches past the edges
    assert abs(inner.mean() - level) < 0.03, inner.mean()
    # The screen's period: unturned, the dots repeat every 6 px (but for a spot value on a
    # rank's edge, where float rounding of the cosine decides), and near mid-gray not every 3.
    square = prints.halftone(flat, 6.0, 0.0).numpy()[12:-12, 12:-12, 0]
    assert (square[6:] != square[:-6]).mean() < 0.02
    if level == 0.45:
        assert (square[3:] != square[:-3]).mean() > 0.2


def test_vignette_and_light_leak_are_their_formulas():
    gray = tf.fill([21, 41, 1], 0.5)
    v = prints.vignette(gray, 0.4, tf.constant([0.5, 0.5])).numpy()[..., 0]
    assert abs(v[10, 20] - 0.5) < 1e-6  # the centre is untouched
    np.testing.assert_allclose(v[[0, 0, -1, -1], [0, -1, 0, -1]], 0.5 * 0.6, atol=1e-6)
    np.testing.assert_allclose(v[10, 0], 0.5 * (1 - 0.4 * 400 / (100 + 400)), atol=1e-6)
    leak = prints.light_leak(gray, 0.5, 3, 0.1).numpy()[..., 0]  # from the left edge
    np.testing.assert_allclose(leak[:, 0], 0.5 + 0.5 * 0.5, atol=1e-6)
    np.testing.assert_allclose(leak[5, 20], 0.5 + 0.5 * 0.5 * math.exp(-0.5 / 0.1), atol=1e-6)
    assert np.all(np.diff(leak[0]) < 0)  # fading away from the edge


def test_sinc_kernel_is_the_circular_low_pass():
    k = degrade.sinc_kernel(11, 1.2).numpy()
    y, x = np.mgrid[-5:6, -5:6].astype(np.float64)
    r = np.hypot(x, y)
    r[5, 5] = 1
    want = 1.2 * special.j1(1.2 * r) / (2 * np.pi * r)
    want[5, 5] = 1.2 ** 2 / (4 * np.pi)
    np.testing.assert_allclose(k, want / want.sum(), rtol=1e-4, atol=1e-7)
    assert k.min() < 0  # negative lobes: it rings


def test_the_second_order_and_new_families_stay_deterministic_and_in_shape():
    rgb = tf.random.stateless_uniform([48, 64, 3], [1, 2])
    every = config.DegradeConfig(second_order=1, vignette=1, light_leak=1, halftone=1)
    for scale in (1, 2):
        a, m = degrade.old_photo_and_defects(rgb, every, tf.constant([7, 8]), scale)
        assert a.shape == m.shape == (48 // scale, 64 // scale, 1)
        # A scan file: 8 bits in [0, 1], though the sinc rings past both.
        assert 0 <= float(tf.reduce_min(a)) and float(tf.reduce_max(a)) <= 1
        np.testing.assert_allclose(a * 255, np.round(a * 255), atol=1e-3)
    # Inside a graph too (tf.data), as the training and the evaluation run it; the seed
    # fixes the scan.
    ds = tf.data.Dataset.from_tensors(rgb).map(
        lambda x: degrade.old_photo(x, every, tf.constant([7, 8])))
    graph = next(iter(ds)).numpy()
    np.testing.assert_array_equal(graph, next(iter(ds)).numpy())
    assert graph.shape == (48, 64, 1)
    # The second order changes the scan; without the new steps the first round's draws give
    # the scan they gave before it (the new steps draw from seeds of their own).
    off = config.DegradeConfig(second_order=0, vignette=0, light_leak=0)
    on = config.DegradeConfig(second_order=1, vignette=0, light_leak=0)
    a = degrade.old_photo(rgb, off, tf.constant([7, 8]))
    b = degrade.old_photo(rgb, on, tf.constant([7, 8]))
    assert np.abs(a.numpy() - b.numpy()).mean() > 0.005
    with pytest.raises(Exception, match=r"halftone=2 must be in \[0, 1\]"):
        config.DegradeConfig(halftone=2)


def test_a_keyed_photo_is_its_tone_curve_and_keyed_batches_keep_truth_and_scan_together():
    x = np.random.default_rng(0).uniform(0, 1, (6, 7, 3)).astype(np.float32)
    dark = prints.key(tf.constant(x), tf.constant(False), 2.0, 0.5).numpy()
    light = prints.key(tf.constant(x), tf.constant(True), 2.0, 0.5).numpy()
    np.testing.assert_allclose(dark, x ** 2 * 0.5, atol=1e-6)
    np.testing.assert_allclose(light, 1 - (1 - x) ** 2 * 0.5, atol=1e-6)
    # In the restorer's batches the truth is keyed before its scan is made: with every photo
    # keyed, the clean scan (clean=1) is the keyed truth's lightness, downscaled.
    from colorgan.data import input_pipeline
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    batches = {}
    for keyed in (0.0, 1.0):
        ds = input_pipeline.train_dataset(
            source, image_size=32, batch_size=4, seed=1, shuffle_buffer=8,
            old_photo=config.DegradeConfig(clean=1.0, keyed=keyed), scale=1)
        batches[keyed] = next(iter(ds))
    scan, L = batches[1.0][0].numpy(), batches[1.0][1].numpy()
    assert np.abs(scan - L).max() < 2.5 / 255 * 2  # the 8-bit clean scan of the keyed truth
    assert np.abs(batches[1.0][1].numpy() - batches[0.0][1].numpy()).mean() > 0.05
