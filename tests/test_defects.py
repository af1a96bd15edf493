"""A print's defects (data/defects.py): geometry against NumPy, each kind changing only the
pixels its mask names, determinism by seed, and the chain's mask at the scan's size."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.data import defects, degrade

SEED = tf.constant([5, 6])
# A smooth ramp, so that "unchanged" means the photo's own value, not a flat fill's.
RAMP = tf.constant(np.tile(np.linspace(0.2, 0.7, 48, dtype=np.float32), (40, 1))[..., None])


def test_speck_and_line_masks_equal_numpy_geometry():
    centers = np.array([[5.0, 7.5], [20.2, 30.0]], np.float32)
    radii = np.array([1.5, 3.0], np.float32)
    yy, xx = np.mgrid[0:32, 0:40].astype(np.float32)
    want = np.zeros((32, 40), bool)
    for (cy, cx), r in zip(centers, radii):
        want |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    got = defects.speck_mask(32, 40, tf.constant(centers), tf.constant(radii)).numpy()[..., 0]
    np.testing.assert_array_equal(got, want)
    # A horizontal segment of half-width 1 from x=4 to x=20 on row 10: rows 9-11, x 4-20,
    # plus the round caps' pixels within 1 of the ends.
    got = defects.line_mask(32, 40, tf.constant([[10.0, 4.0]]), tf.constant([[10.0, 20.0]]),
                            tf.constant([1.0])).numpy()[..., 0]
    want = np.zeros((32, 40), bool)
    want[9:12, 4:21] = True
    want[10, 3] = want[10, 21] = True
    np.testing.assert_array_equal(got, want)


def test_bezier_segments_follow_the_curve_formula():
    p0, p1, p2 = (np.array([[a, b]], np.float32) for a, b in ((0, 0), (10, 20), (0, 40)))
    start, end = (v.numpy() for v in defects.bezier_segments(p0, p1, p2, pieces=4))
    t = np.linspace(0, 1, 5)[:, None]
    points = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
    np.testing.assert_allclose(start, points[:-1], atol=1e-5)
    np.testing.assert_allclose(end, points[1:], atol=1e-5)
    assert abs(points[2, 0] - 5.0) < 1e-6  # the middle is half-way to the control point


KINDS = {
    "specks": (lambda g, s: defects.specks(g, s, 12), (0.0, 1.0)),
    "hairs": (lambda g, s: defects.hairs(g, s, 3), (0.0, 1.0)),
    "scratches": (lambda g, s: defects.scratches(g, s, 2), (0.85, 1.0)),
    "crease": (defects.crease, (0.0, 1.0)),
    "stains": (defects.stains, (0.0, 1.0)),
    "tear": (defects.tear, (0.85, 1.0)),
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_defect_changes_only_its_mask_and_is_fixed_by_the_seed(kind):
    fn, (low, high) = KINDS[kind]
    out, mask = (v.numpy() for v in fn(RAMP, SEED))
    assert out.shape == mask.shape == (40, 48, 1)
    assert set(np.unique(mask)) <= {0.0, 1.0}
    inside = mask[..., 0] > 0
    assert 0 < inside.mean() < 0.5, inside.mean()
    np.testing.assert_array_equal(out[~inside], RAMP.numpy()[~inside])
    # A stain pulls the print toward a tone (soft edge: inside its mask some pixels barely
    # move); the fold's shoulder is darkened photo. The rest replace the photo.
    if kind not in ("stains", "crease"):
        assert np.all((out[inside] >= low) & (out[inside] <= high))
    again = fn(RAMP, SEED)[0].numpy()
    np.testing.assert_array_equal(out, again)
    assert not np.array_equal(out, fn(RAMP, tf.constant([5, 7]))[0].numpy())


def test_a_tear_takes_one_corner_and_a_crease_crosses_the_print():
    for seed in range(6):
        _, mask = defects.tear(RAMP, tf.constant([seed, 1]))
        corners = mask.numpy()[[0, 0, -1, -1], [0, -1, 0, -1], 0]
        assert corners.sum() == 1, (seed, corners)
        _, mask = defects.crease(RAMP, tf.constant([seed, 1]))
        m = mask.numpy()[..., 0] > 0
        # Edge to edge: every row, or every column, holds a piece of it.
        assert m.any(axis=1).all() or m.any(axis=0).all(), seed


def test_the_chain_gives_the_scan_and_its_defects_at_the_scans_size():
    rgb = tf.concat([RAMP, RAMP[:, ::-1], RAMP * 0.5], -1)
    every = config.DegradeConfig(dust=1, hairs=1, crease=1, stains=1, tear=1, grain_sigma=(0, 0))
    for scale in (1, 4):
        scan, mask = degrade.old_photo_and_defects(rgb, every, SEED, scale)
        assert scan.shape == mask.shape == (40 // scale, 48 // scale, 1)
        assert 0 < float(tf.reduce_mean(mask)) < 0.6
    none = config.DegradeConfig(dust=0, hairs=0, crease=0, stains=0, tear=0, grain_sigma=(0, 0))
    assert float(tf.reduce_max(degrade.old_photo_and_defects(rgb, none, SEED)[1])) == 0
    # Stains tint the print and stay out of the mask (defects.draw).
    stained = config.DegradeConfig(dust=0, hairs=0, crease=0, stains=1, tear=0)
    assert float(tf.reduce_max(degrade.old_photo_and_defects(rgb, stained, SEED)[1])) == 0
    # The defects change the scan where the mask says (the rest moves only by the blur's
    # reach), and a clean scan has none.
    a, m = degrade.old_photo_and_defects(rgb, dataclasses.replace(every, stains=0), SEED)
    b, _ = degrade.old_photo_and_defects(rgb, none, SEED)
    diff = np.abs(a.numpy() - b.numpy())[..., 0]
    assert diff[m.numpy()[..., 0] > 0].mean() > 5 * diff[m.numpy()[..., 0] == 0].mean()
    clean = config.DegradeConfig(clean=1.0, dust=1)
    assert float(tf.reduce_max(degrade.old_photo_and_defects(rgb, clean, SEED)[1])) == 0


def test_the_mask_holds_only_what_the_scan_shows():
    """Light scratches on a white print move nothing: no mask. On a dark print they show."""
    scratched = config.DegradeConfig(dust=1, dust_specks=0, hairs=0, crease=0, stains=0, tear=0,
                                     scratches=3, grain_sigma=(0, 0), vignette=0, light_leak=0,
                                     second_order=0)
    white, dark = tf.ones([40, 48, 3]), tf.fill([40, 48, 3], 0.2)
    assert float(tf.reduce_max(degrade.old_photo_and_defects(white, scratched, SEED)[1])) == 0
    assert float(tf.reduce_max(degrade.old_photo_and_defects(dark, scratched, SEED)[1])) == 1
