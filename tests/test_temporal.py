"""colorgan/video/temporal.py: flow, warping, occlusion, scene cuts, the filter and the warping
error, on images made here (known shifts, known flicker)."""

import numpy as np
import pytest

from colorgan import config
from colorgan.video import clips, temporal


def texture(h=64, w=96, seed=0):
    """Smooth random lightness [h, w] in [0, 100]: DIS needs texture to follow."""
    import cv2
    noise = np.random.default_rng(seed).random((h, w)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return (smooth - smooth.min()) / (smooth.max() - smooth.min()) * 80 + 10


def test_warp_follows_a_known_shift_and_flags_what_leaves_the_frame():
    image = texture()
    flow = np.zeros(image.shape + (2,), np.float32)
    flow[..., 0] = 3  # every pixel came from 3 px to its right
    warped, inside = temporal.warp(image, flow)
    np.testing.assert_allclose(warped[:, :-3], image[:, 3:], atol=1e-4)
    assert inside[:, :-3].all() and not inside[:, -3:].any()


@pytest.mark.parametrize("max_side", [0, 48])
def test_flow_recovers_a_pan_at_full_and_reduced_size(max_side):
    image = texture(96, 128)
    moved = np.roll(image, -4, axis=1)  # content moves 4 px left: moved(p) = image(p + 4)
    flow = temporal.Flow(max_side)(temporal.to_u8(moved), temporal.to_u8(image))
    assert flow.shape == (96, 128, 2)
    inner = flow[8:-8, 8:-8]
    assert abs(np.median(inner[..., 0]) - 4) < 0.3 and abs(np.median(inner[..., 1])) < 0.3


def test_occlusion_from_forward_backward_disagreement():
    h, w = 32, 48
    back = np.zeros((h, w, 2), np.float32)
    back[..., 0] = 2
    fwd = -back  # undoes it: consistent
    bad = temporal.occluded(back, fwd, boundaries=False)
    assert not bad[:, :-2].any() and bad[:, -2:].all()  # only what leaves the frame
    fwd_wrong = fwd.copy()
    fwd_wrong[:10] = 3  # disagree in the top rows
    bad = temporal.occluded(back, fwd_wrong, boundaries=False)
    assert bad[:8, :-8].all() and not bad[12:, :-8].any()
    edge = back.copy()
    edge[:, w // 2:, 0] = -2  # a motion boundary down the middle
    assert temporal.occluded(edge, -edge, boundaries=True)[:, w // 2 - 1].all()


def test_histogram_change_is_total_variation():
    dark, light = np.full((8, 8), 10.0), np.full((8, 8), 90.0)
    h = temporal.histogram
    assert temporal.histogram_change(h(dark), h(dark)) == 0
    assert temporal.histogram_change(h(dark), h(light)) == pytest.approx(1.0)
    half = np.concatenate([dark[:4], light[:4]])
    assert temporal.histogram_change(h(dark), h(half)) == pytest.approx(0.5)


def test_warping_error_of_a_known_flicker():
    """A still clip whose frames get offsets d_t: the error is mean (d_t - d_{t-1})^2."""
    L = texture()
    gray = np.repeat((L / 100)[..., None], 3, -1).astype(np.float32) * 0.8
    offsets = [0.0, 0.05, -0.02, 0.03]
    we = temporal.WarpingError()
    for d in offsets:
        we.add(L, {"flicker": gray + d, "still": gray})
    want = np.mean(np.diff(offsets) ** 2)
    result = we.result()
    assert result["flicker"] == pytest.approx(want, rel=1e-3)
    assert result["still"] < 1e-9 and we.pairs == 3


def test_warping_error_skips_a_scene_cut():
    we = temporal.WarpingError()
    a, b = np.full((16, 16), 20.0), np.full((16, 16), 80.0)
    for L in (a, a, b, b):
        we.add(L, {"v": np.repeat((L / 100)[..., None], 3, -1)})
    assert (we.pairs, we.cuts, we.cut_frames) == (2, 1, [2]) and we.result()["v"] < 1e-9


def noisy_predictions(L, frames, sigma=6.0, seed=0):
    """A still scene whose predicted ab jitters from frame to frame around (10, 20)."""
    rng = np.random.default_rng(seed)
    base = np.stack([np.full_like(L, 10.0), np.full_like(L, 20.0)], -1)
    return [base + rng.normal(0, sigma, 2).astype(np.float32) for _ in range(frames)]


def test_filter_cuts_flicker_as_the_moving_average_predicts():
    L = texture()
    keep = 0.8
    filt = temporal.TemporalFilter(config.TemporalConfig(temporal_keep=keep))
    preds = noisy_predictions(L, 60)
    out = [filt(L, ab) for ab in preds]
    step = lambda seq: np.mean([np.mean((b - a) ** 2) for a, b in zip(seq[1:], seq[2:])])  # noqa: E731
    ratio = step(out) / step(preds)
    # o_t = k o_{t-1} + (1 - k) p_t on white noise of variance s^2: var o = s^2 (1-k)/(1+k),
    # var(o_t - o_{t-1}) = (1-k)^2 (s^2 + var o) = 2 s^2 (1-k)^2 / (1+k); var(p_t - p_{t-1}) = 2 s^2.
    assert ratio == pytest.approx((1 - keep) ** 2 / (1 + keep), rel=0.5)
    assert filt.cuts == [0] and min(filt.carried[1:]) > 0.75 * keep


def test_nothing_is_carried_across_a_scene_cut():
    """The second shot comes out the same whether or not the first shot came before it."""
    from colorgan.video import film
    frames, cut = clips.two_shots((64, 48), 6)
    L, _ = film.lab_split(frames / 255, frames / 255)
    preds = noisy_predictions(L[0], len(frames))
    both = temporal.TemporalFilter(config.TemporalConfig())
    out_both = [both(l, ab) for l, ab in zip(L, preds)]
    alone = temporal.TemporalFilter(config.TemporalConfig())
    out_alone = [alone(l, ab) for l, ab in zip(L[cut:], preds[cut:])]
    assert both.cuts == [0, cut]
    for a, b in zip(out_both[cut:], out_alone):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out_both[cut], preds[cut])


def test_a_changed_pixel_keeps_its_own_colour():
    """Where the lightness no longer matches where the flow says a pixel came from (a new
    object), the L gate gives that pixel its own prediction."""
    L = texture()
    changed = L.copy()
    changed[20:40, 30:60] = 95  # a bright patch appears
    filt = temporal.TemporalFilter(config.TemporalConfig(temporal_keep=0.9))
    first = np.zeros(L.shape + (2,), np.float32)
    filt(L, first)
    second = np.full(L.shape + (2,), 40.0, np.float32)
    out = filt(changed, second)
    inside = out[24:36, 36:54]
    outside = out[50:, 5:25]
    assert np.abs(inside - 40).max() < 4  # its own colour
    # Elsewhere mostly 0.9 * 0 + 0.1 * 40 (DIS's flow wobbles near the patch's edges).
    assert np.median(np.abs(outside - 4)) < 0.5 and outside.mean() < 6


def test_none_passes_the_prediction_through():
    L = texture()
    filt = temporal.TemporalFilter(config.TemporalConfig(temporal="none"))
    preds = noisy_predictions(L, 3)
    for ab in preds:
        np.testing.assert_array_equal(filt(L, ab), ab)


def test_config_refuses_bad_values():
    from colorgan.errors import UserError
    for bad in ({"temporal": "magic"}, {"temporal_keep": 1.0}, {"temporal_gate": 0},
                {"scene_cut": 0}, {"flow_side": 8}):
        with pytest.raises(UserError, match=next(iter(bad))):
            config.TemporalConfig(**bad)
