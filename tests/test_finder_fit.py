"""A defect finder trained on its own onto a restorer (train/finder_fit.py): it learns the
drawn masks, leaves the restorer and its gate as they were, survives its weights file, and
the shipped one finds the drawn defects of validation scans."""

import dataclasses

import numpy as np
import tensorflow as tf

from colorgan import config
from colorgan.data import input_pipeline
from colorgan.models import restorer as R
from colorgan.train import add_part, finder_fit

TINY = config.RestorerConfig(channels=8, blocks=1, defects=False, gate=True)


def test_a_finder_trains_onto_a_restorer_and_keeps_the_rest(tmp_path):
    """train_finder.py's path: a saved restorer, a finder trained onto it, saved with its
    card entry beside the base's."""
    tf.keras.utils.set_random_seed(1)
    base = R.Restorer(TINY)
    base = R.load(R.save(base, tmp_path / "base", {"note": "the base's card"}))  # float16
    # Many defects, so that a few steps at 32 px see some.
    cfg = config.FinderConfig(steps=40, scales=(1, 2), image_size=32, batch_size=4,
                              channels=4, learning_rate=3e-3, crop_area=(0.3, 1.0),
                              degrade=config.DegradeConfig(dust=1.0, hairs=1.0, clean=0.0))
    found, card = add_part.onto_restorer(
        lambda r, source: finder_fit.fit(r, source, cfg), "finder",
        restorer=str(tmp_path / "base"), data="samples", out=str(tmp_path / "found"),
        ship=False)
    assert card["steps"] == 40 and len(card["losses"]) == 10 and card["data"] == "samples"
    saved = R.card(tmp_path / "found")
    assert saved["note"] == "the base's card" and saved["finder"] == card
    assert np.mean(card["losses"][-3:]) < 0.8 * np.mean(card["losses"][:3]), card["losses"]
    # Added onto a restorer trained without one: the fill alone, the network as it was.
    assert found.cfg.defects and not found.cfg.mask_input
    assert found.models[1].input_shape[-1] == 3
    for mine, theirs in ((found.everything, base.everything), (found.gate, base.gate)):
        for a, b in zip(mine.get_weights(), theirs.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    # Its weights file and card round trip, mask_input included.
    back = R.load(tmp_path / "found")
    assert back.cfg == found.cfg
    scan = tf.random.stateless_uniform([1, 24, 40, 1], [1, 2], -1, 1)
    np.testing.assert_allclose(back.defects(scan, R.levels(scan)),
                               found.defects(scan, R.levels(scan)), atol=2e-2)  # float16
    # A finder onto a restorer that has one keeps its mask channel.
    again = R.with_new_finder(R.Restorer(dataclasses.replace(TINY, defects=True)), 4, 0)
    assert again.cfg.mask_input and again.models[1].input_shape[-1] == 4


def test_the_shipped_finder_finds_the_drawn_defects_of_validation_scans():
    """On the fixed scans evaluate.py --degrade uses (the first 12 validation photos at
    256 px, seed 2024), pixel precision and recall against the drawn masks: 0.36 / 0.45 when
    shipped (a finder that marks nothing scores 0 / 0, one that marks everything ~0.01 / 1)."""
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    got = finder_fit.precision_recall(R.load(), source, scale=1, limit=12)
    assert got["precision"] >= 0.3 and got["recall"] >= 0.38, got
