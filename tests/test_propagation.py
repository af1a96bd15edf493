"""models/propagation.py: the edge-aware hint propagation against a brute-force solve."""

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.models import hints, propagation


def test_link_distance_sees_a_soft_edge_whole():
    """A step of 3 blurred over 3 links: span 1 sees steps of 1, span 2 the whole 3 at the
    middle link, span 3 at the three middle links (the largest difference within reach)."""
    g = tf.constant([0, 0, 0, 1, 2, 3, 3, 3], tf.float32)[None, None, :, None]
    want = {1: [0, 0, 1, 1, 1, 0, 0], 2: [0, 1, 4, 9, 4, 1, 0], 3: [1, 4, 9, 9, 9, 4, 1]}
    for span, d in want.items():
        np.testing.assert_array_equal(propagation._link_distance(g, 2, span)[0, 0, :, 0], d)
        np.testing.assert_array_equal(
            propagation._link_distance(tf.transpose(g, [0, 2, 1, 3]), 1, span)[0, :, 0, 0], d)


def _dense_solve(guides, mask, d, decay, mu):
    """The system in propagation.solve's docstring, assembled pixel by pixel and solved
    by NumPy (one image)."""
    h, w = mask.shape
    n = h * w
    A = np.diag(1.0 / decay ** 2 + mu * mask.ravel())
    wx, wy = (t.numpy()[0, ..., 0] for t in propagation.affinities(guides))
    for (i, j), weight, (di, dj) in [((i, j), wx[i, j], (0, 1)) for i in range(h)
                                     for j in range(w - 1)] + \
                                    [((i, j), wy[i, j], (1, 0)) for i in range(h - 1)
                                     for j in range(w)]:
        p, q = i * w + j, (i + di) * w + j + dj
        A[p, p] += weight
        A[q, q] += weight
        A[p, q] -= weight
        A[q, p] -= weight
    b = (mu * mask[..., None] * d).reshape(n, -1)
    return np.linalg.solve(A, b).reshape(h, w, -1)


def test_the_solve_against_a_dense_solve():
    """Two guides (lightness with span 2, 'features' with span 1), two hints, an odd side
    (the pyramid's SAME pooling): the cascade with enough iterations equals the dense
    solution; with the shipped iteration counts it is close."""
    h, w = 12, 11
    L = tf.random.stateless_uniform([1, h, w, 1], [3, 1], -1, 1) / 0.3
    f = tf.random.stateless_normal([1, h, w, 4], [3, 2])
    guides = [(L, 2), (f, 1)]
    mask = np.zeros((h, w), np.float32)
    mask[2, 3] = mask[9, 8] = 1
    d = tf.random.stateless_normal([1, h, w, 2], [3, 3]).numpy()
    want = _dense_solve(guides, mask, d[0], 8.0, 10.0)
    got = propagation.solve(guides, tf.constant(mask[None, ..., None]), tf.constant(d), 8.0,
                            10.0, (200, 100), levels=2)
    np.testing.assert_allclose(got[0], want, atol=1e-4 * np.abs(want).max())
    quick = propagation.solve(guides, tf.constant(mask[None, ..., None]), tf.constant(d), 8.0,
                              10.0, propagation.ITERATIONS, levels=2)
    assert np.abs(quick[0] - want).max() < 0.05 * np.abs(want).max()


@pytest.fixture(scope="module")
def step_image():
    """L [1, 32, 32, 1]: dark left half, light right half, with a little noise."""
    L = np.where(np.arange(32) < 16, -0.5, 0.5).astype(np.float32)[None, None, :, None]
    L = np.broadcast_to(L, (1, 32, 32, 1))
    return tf.constant(L) + 0.01 * tf.random.stateless_normal([1, 32, 32, 1], [4, 1])


@pytest.mark.parametrize("spread", config.HINT_SPREADS)
def test_a_hint_fills_its_region_and_stops_at_the_edge(step_image, spread):
    """One hint (a correction of +0.5 in a) in the dark half: the dark half moves most of
    the way, the light half (a lightness step of 1 away) under 2 % of it (the cascade's
    coarse levels, where the step is pooled, leave ~1 % there)."""
    ab = tf.zeros([1, 32, 32, 2])
    maps = hints.from_points(tf.shape(step_image), tf.constant([0.25]), tf.constant([0.5]),
                             tf.constant([[0.5, 0.0]]), 3)
    out = propagation.propagate(step_image, maps, ab, spread=spread).numpy()[0, ..., 0]
    assert out[:, :16].mean() > 0.3, out[:, :16].mean()
    assert abs(out[:, 16:]).max() < 0.01, abs(out[:, 16:]).max()


def test_the_fill_band_gives_a_region_its_hints_colour_not_a_faded_one(step_image):
    """region's fill band: one hint (+0.5 in a) makes most of the dark half exactly +0.5
    (measured 88 %; the plain solve, as a reference's dense maps get it, fades: 0.2 % there
    and a lower mean); two hints of opposite colour give every pixel a blend within them
    (x / phi is their weighted mean); the light half stays untouched either way."""
    ab = tf.zeros([1, 32, 32, 2])
    one = hints.from_points(tf.shape(step_image), tf.constant([0.25]), tf.constant([0.5]),
                            tf.constant([[0.5, 0.0]]), 3)
    filled, plain = (propagation.propagate(step_image, one, ab, spread="region", dense=dense)
                     .numpy()[0, ..., 0] for dense in (False, True))
    assert (np.abs(filled[:, :16] - 0.5) < 1e-3).mean() > 0.7
    assert (np.abs(plain[:, :16] - 0.5) < 1e-3).mean() < 0.1
    assert filled[:, :16].mean() > plain[:, :16].mean() + 0.03
    assert np.abs(filled[:, 16:]).max() < 0.01 and np.abs(plain[:, 16:]).max() < 0.01
    two = hints.from_points(tf.shape(step_image), tf.constant([0.1, 0.4]),
                            tf.constant([0.2, 0.8]), tf.constant([[0.5, 0.0], [-0.5, 0.0]]), 3)
    out = propagation.propagate(step_image, two, ab, spread="region").numpy()[0, ..., 0]
    assert out[:, :16].min() >= -0.5 - 1e-4 and out[:, :16].max() <= 0.5 + 1e-4
    assert out[:, :16].max() > 0.45 and out[:, :16].min() < -0.45  # each hint holds its own


def test_wide_spreads_an_agreed_tint_through_a_soft_edge_and_nothing_else():
    """A soft edge (lightness -0.1 to +0.1 over 4 px), hints left of it: `region` stops
    every hint there. `wide`'s shade pass carries a tint (+0.2 in a: 22 Lab units) that two
    hints far apart agree on across it (69 % of it on the far side, measured), but not a
    lone tint, two tints that disagree (+0.2 in a, +0.2 in b), nor a new colour both agree
    on (+0.9: 99 Lab units, past shade_size). Every case fills the hints' side."""
    row = np.clip((np.arange(32) - 14) / 4, 0, 1) * 0.2 - 0.1
    L = (tf.constant(np.broadcast_to(row.astype(np.float32)[None, None, :, None], (1, 32, 32, 1)))
         + 0.005 * tf.random.stateless_normal([1, 32, 32, 1], [4, 1]))
    ab = tf.zeros([1, 32, 32, 2])
    cases = {"lone tint": ([0.5], [[0.2, 0.0]]),
             "agreed tint": ([0.15, 0.85], [[0.2, 0.0], [0.2, 0.0]]),
             "tints apart": ([0.15, 0.85], [[0.2, 0.0], [0.0, 0.2]]),
             "agreed new colour": ([0.15, 0.85], [[0.9, 0.0], [0.9, 0.0]])}
    far = {}
    for case, (ys, colours) in cases.items():
        maps = hints.from_points(tf.shape(L), tf.constant([0.2] * len(ys)), tf.constant(ys),
                                 tf.constant(colours), 3)
        size = np.abs(colours).sum(1).mean()
        for spread in ("region", "wide"):
            out = propagation.propagate(L, maps, ab, spread=spread).numpy()[0]
            near = np.abs(out[:, :14]).sum(-1) / size
            assert near.mean() > 0.95, (case, spread, near.mean())
            far[case, spread] = np.abs(out[:, 18:]).sum(-1).mean() / size
    assert far["agreed tint", "wide"] > 0.4, far
    assert max(v for k, v in far.items() if k != ("agreed tint", "wide")) < 0.02, far


def test_consensus_counts_agreeing_hints_far_away():
    """Two hints a half-side apart score 1 with the same correction, exp(-1/2) with
    corrections one `agree` apart and ~0 at 1.5; one hint, or two within reach, 0."""
    def score(points, colours):
        maps = hints.from_points(tf.constant([1, 64, 64, 3]), tf.constant([p[0] for p in points]),
                                 tf.constant([p[1] for p in points]), tf.constant(colours), 3)
        mask = maps[..., 2:]
        s = propagation.consensus(maps[..., :2], mask, agree=0.2, reach=0.25).numpy()
        return [float(s[0, int(y * 64), int(x * 64), 0]) for x, y in points]

    assert score([(0.25, 0.5)], [[0.2, 0.1]]) == [0.0]
    assert score([(0.25, 0.5), (0.75, 0.5)], [[0.2, 0.1], [0.2, 0.1]]) == [1.0, 1.0]
    np.testing.assert_allclose(score([(0.25, 0.5), (0.75, 0.5)], [[0.2, 0.1], [0.2, 0.3]]),
                               [np.exp(-0.5)] * 2, rtol=2e-3)  # TF32 matmuls on a GPU
    assert max(score([(0.25, 0.5), (0.75, 0.5)], [[0.2, 0.1], [0.2, 0.4]])) < 1e-4
    assert score([(0.25, 0.5), (0.4, 0.5)], [[0.2, 0.1], [0.2, 0.1]]) == [0.0, 0.0]


@pytest.mark.parametrize("spread", config.HINT_SPREADS)
def test_no_hints_give_the_colour_back_bit_for_bit(step_image, spread):
    """A batch of two, one with hints and one without: the one without comes back exactly
    (features on), also while the other's agreeing hints run `wide`'s shade pass; a hint
    map of zeros costs nothing in colour."""
    L = tf.concat([step_image, step_image[:, ::-1]], 0)
    # Image 0's automatic colour is gray (its hints' tint then agrees); image 1's is random.
    ab = tf.concat([tf.zeros([1, 32, 32, 2]),
                    tf.random.stateless_uniform([1, 32, 32, 2], [5, 1], -0.8, 0.8)], 0)
    # Two hints far apart asking for the same tint: `wide` spreads it further than `region`.
    maps = hints.from_points(tf.constant([1, 32, 32, 3]), tf.constant([0.2, 0.8]),
                             tf.constant([0.2, 0.8]), tf.constant([[0.2, 0.1], [0.2, 0.1]]), 3)
    maps = tf.concat([maps, tf.zeros_like(maps)], 0)
    features = tf.random.stateless_normal([2, 4, 4, 8], [5, 4])
    out = propagation.propagate(L, maps, ab, features, spread).numpy()
    np.testing.assert_array_equal(out[1], ab[1].numpy())
    assert np.abs(out[0]).max() > 0.01
    other = propagation.propagate(L, maps, ab, features, "region" if spread == "wide" else "wide")
    assert np.abs(out[0] - other[0].numpy()).max() > 0.01


def test_the_spreads_are_the_configs():
    assert set(propagation.SPREADS) == set(config.HINT_SPREADS)
    assert config.RenderConfig().hint_spread in propagation.SPREADS
