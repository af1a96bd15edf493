"""Push-pull fill (models/fill.py): only masked pixels change, and they take their
surroundings' values (exactly on a flat photo, closely on a ramp)."""

import numpy as np
import tensorflow as tf

from colorgan.models import fill

RNG = np.random.default_rng(0)


def holes(h, w, boxes):
    m = np.zeros((1, h, w, 1), np.float32)
    for y0, y1, x0, x1 in boxes:
        m[0, y0:y1, x0:x1] = 1
    return m


def test_only_masked_pixels_change_and_a_flat_photo_fills_flat():
    image = RNG.uniform(0, 1, (1, 40, 56, 2)).astype(np.float32)
    mask = holes(40, 56, [(5, 9, 5, 30), (20, 40, 40, 56)])  # one touches two edges
    out = fill.push_pull(image, mask).numpy()
    keep = mask[..., 0] == 0
    np.testing.assert_array_equal(out[keep], image[keep])
    flat = np.full_like(image, 0.3)
    flat[mask[..., 0] > 0] = 1.0  # a bright scratch over a flat photo
    np.testing.assert_allclose(fill.push_pull(flat, mask).numpy(), 0.3, atol=1e-6)


def test_a_hole_in_a_ramp_takes_the_ramp_and_batches_fill_alone():
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (48, 1))[None, ..., None]
    mask = holes(48, 64, [(20, 28, 28, 36)])
    out = fill.push_pull(ramp, mask).numpy()
    inside = mask > 0
    # The hole's 8 columns span 0.127 of the ramp; the fill stays within a sixth of that.
    assert np.abs(out - ramp)[inside].max() < 0.02, np.abs(out - ramp)[inside].max()
    # Each photo of a batch fills from itself alone; nothing known leaves a photo as it was.
    other = RNG.uniform(0, 1, ramp.shape).astype(np.float32)
    both = fill.push_pull(np.concatenate([ramp, other]),
                          np.concatenate([mask, np.ones_like(mask)])).numpy()
    np.testing.assert_allclose(both[0], out[0], atol=1e-6)
    np.testing.assert_array_equal(both[1], other[0])
