"""The restoring gate: its blend in the photo's restoring (1x and 2x, both ends and the
middle), its weights file, its labels and its training."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.data import input_pipeline
from colorgan.models import gate as G, restorer as R
from colorgan.serve import tiles
from colorgan.train import gate_fit

TINY = config.RestorerConfig(channels=8, blocks=1, defects=False)


@pytest.fixture(scope="module")
def gated():
    tf.keras.utils.set_random_seed(0)
    return R.Restorer(dataclasses.replace(TINY, gate=True))


def _set_probability(restorer, logit):
    """The gate's logit made `logit` for every photo (the last layer's kernel zeroed)."""
    kernel, bias = restorer.gate.get_layer("gate_logit").weights
    kernel.assign(tf.zeros_like(kernel))
    bias.assign(tf.fill(bias.shape, float(logit)))


def test_strength_snaps_its_ends_and_reads_a_centre_crop_of_any_photo(gated):
    p = tf.constant([0.0, 0.01, 0.02, 0.5, 0.98, 0.995, 1.0])
    np.testing.assert_allclose(G.snap(p), [0, 0, 0, 0.5, 1, 1, 1], atol=1e-6)
    L = tf.reshape(tf.range(600 * 300, dtype=tf.float32), [1, 600, 300, 1])
    c = G.crop(L)
    assert c.shape == (1, G.CROP, G.CROP, 1)
    assert float(c[0, 0, 0, 0]) == (600 - G.CROP) // 2 * 300 + (300 - G.CROP) // 2
    assert G.crop(L[:, :40, :50]).shape == (1, 40, 50, 1)
    for shape in ((2, 40, 50, 1), (1, 300, 700, 1)):
        scan = tf.random.stateless_uniform(shape, [1, 2], -1, 1)
        s = gated.strength(scan, R.levels(scan)).numpy()
        assert s.shape == shape[:1] and np.all((s >= 0) & (s <= 1))


@pytest.mark.parametrize("scale", [1, 2])
def test_restoring_keeps_the_gates_share_of_the_change(gated, scale):
    """Strength 0: the photo itself (1x) or its super-resolution alone (2x); 1: the
    ungated restoring; 1/2 (logit 0): the mean of the two."""
    L = tf.random.stateless_uniform([2, 40, 52, 1], [5, 6], -0.5, 0.5)  # no clipping
    model = gated.models[scale]

    def photo(restore, strength):
        return tiles.restore_photo(model, L, scale, restore, flip=False, tile=32, margin=4,
                                   strength=strength).numpy()

    restored, enlarged = photo(True, None), photo(False, None)
    assert np.max(np.abs(restored - enlarged)) > 1e-2  # the two passes differ
    for logit, want in ((-30, L.numpy() if scale == 1 else enlarged), (30, restored),
                        (0, None)):
        _set_probability(gated, logit)
        got = photo(True, gated.strength)
        if want is None:
            base = L.numpy() if scale == 1 else enlarged
            want = np.clip(base + 0.5 * (restored - base), -1, 1)
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_gate_survives_its_weights_file_and_old_cards_have_none(gated, tmp_path):
    _set_probability(gated, 0.7)
    folder = R.save(gated, tmp_path / "gated", {"note": "test"})
    back = R.load(folder)
    assert back.gate is not None
    scan = tf.random.stateless_uniform([1, 30, 40, 1], [7, 8], -1, 1)
    np.testing.assert_allclose(back.strength(scan, R.levels(scan)),
                               gated.strength(scan, R.levels(scan)), atol=1e-3)  # float16
    assert json.loads((folder / R.CARD_FILE).read_text())["model"]["gate"] is True
    R.save(R.Restorer(TINY), tmp_path / "plain", {})
    card = json.loads((tmp_path / "plain" / R.CARD_FILE).read_text())
    del card["model"]["gate"]  # a card from before the gate (the restorer of 0.4)
    (tmp_path / "plain" / R.CARD_FILE).write_text(json.dumps(card))
    plain = R.load(tmp_path / "plain")
    assert plain.gate is None
    np.testing.assert_array_equal(plain.strength(scan, R.levels(scan)), [1.0])


def test_scans_are_labelled_by_their_distance_to_the_photo_and_the_gate_learns():
    source = input_pipeline.open_source("samples:train", min_chroma=0.0)
    small = config.GateConfig(scans=8, scales=(1, 4), image_size=128, batch_size=4, epochs=1)
    clean = gate_fit.scans(source, dataclasses.replace(
        small, degrade=config.DegradeConfig(clean=1.0)))
    old = gate_fit.scans(source, dataclasses.replace(
        small, degrade=config.DegradeConfig(clean=0.0, grain_sigma=(0.05, 0.08))))
    for (x, y), (_, z), side in zip(clean, old, (128, 32)):
        assert x.shape == (4, side, side, 1) and x.dtype == np.float16
        np.testing.assert_array_equal(y, 0.0)  # a clean scan is its photo's, at any scale
        np.testing.assert_array_equal(z, 1.0)

    tf.keras.utils.set_random_seed(1)
    base = R.Restorer(TINY)
    cfg = dataclasses.replace(small, scans=32, scales=(1,), batch_size=8, epochs=25,
                              learning_rate=3e-3,
                              degrade=config.DegradeConfig(clean=0.5, grain_sigma=(0.04, 0.08)))
    trained, card = gate_fit.fit(base, source, cfg)
    assert card["scans"] == 32 and 0 < card["degraded"] < 1
    assert np.mean(card["losses"][-5:]) < 0.7 * np.mean(card["losses"][:5]), card["losses"]
    # The restorer's own weights are the base's; only the gate trained.
    for a, b in zip(trained.everything.get_weights(), base.everything.get_weights()):
        np.testing.assert_array_equal(a, b)
    # It tells the scans it saw apart by its last epoch; how it holds on photos it never
    # saw is evaluate.py's (docs/notes/restoration.md).
    assert card["accuracy"] >= 0.8, card
