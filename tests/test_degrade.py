"""Old-photo degradations (data/degrade.py) against NumPy/SciPy/Pillow references and
formulas, and the whole chain's determinism by seed."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import ndimage
from skimage import color as skcolor

from colorgan import config
from colorgan.data import degrade
from colorgan.errors import UserError

RNG = np.random.default_rng(0)
GRAY = RNG.uniform(0, 1, (32, 40, 1)).astype(np.float32)


def test_gaussian_kernel_is_the_bivariate_normal():
    k = degrade.gaussian_kernel(15, 1.5, 1.5, 0.3).numpy()
    g = np.exp(-0.5 * (np.arange(-7, 8) / 1.5) ** 2)
    np.testing.assert_allclose(k, np.outer(g, g) / np.outer(g, g).sum(), atol=1e-6)
    # Anisotropic: a quarter turn swaps the axes; the sum stays 1.
    a = degrade.gaussian_kernel(15, 2.5, 0.8, 0.0).numpy()
    b = degrade.gaussian_kernel(15, 2.5, 0.8, np.pi / 2).numpy()
    np.testing.assert_allclose(a, b.T, atol=1e-6)
    assert abs(a.sum() - 1) < 1e-5 and a[7, 0] > a[0, 7]  # wide along x (columns)


def test_blur_equals_scipy_with_reflected_edges():
    k = degrade.gaussian_kernel(7, 1.2, 0.7, 0.5)
    want = ndimage.correlate(GRAY[..., 0], k.numpy(), mode="mirror")
    np.testing.assert_allclose(degrade.blur(tf.constant(GRAY), k)[..., 0], want, atol=1e-5)


def test_downscale_area_is_the_block_mean():
    got = degrade.downscale(tf.constant(GRAY), 4, "area").numpy()
    want = GRAY.reshape(8, 4, 10, 4, 1).mean(axis=(1, 3))
    assert got.shape == (32 // 4, 40 // 4, 1)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_fade_is_its_formula():
    got = degrade.fade(tf.constant(GRAY), 0.1, 0.8, 1.3).numpy()
    np.testing.assert_allclose(got, 0.1 + 0.7 * GRAY ** 1.3, rtol=1e-5)


@pytest.mark.parametrize("poisson", [False, True])
@pytest.mark.parametrize("clump", [0.0, 1.0])
def test_grain_has_its_sigma_and_is_fixed_by_the_seed(poisson, clump):
    flat = tf.fill([256, 256, 1], 0.5)
    seed = tf.constant([3, 4])
    a = degrade.grain(flat, 0.05, seed, poisson=poisson, clump=clump).numpy()
    np.testing.assert_array_equal(a, degrade.grain(flat, 0.05, seed, poisson=poisson,
                                                   clump=clump).numpy())
    assert not np.array_equal(a, degrade.grain(flat, 0.05, tf.constant([3, 5]),
                                               poisson=poisson, clump=clump).numpy())
    # Gaussian: sigma; Poisson with peak 1 / sigma^2 at gray 0.5: sigma * sqrt(0.5).
    want = 0.05 * (np.sqrt(0.5) if poisson else 1.0)
    assert abs(a.mean() - 0.5) < 0.003 and abs(a.std() - want) / want < 0.08, a.std()
    # Clumped grain is correlated between neighbours; white grain is not.
    r = np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert (r > 0.5) if clump else (abs(r) < 0.05), r


def test_jpeg_matches_pillow_and_loses_more_at_low_quality():
    photo = ndimage.gaussian_filter(RNG.uniform(0, 1, (64, 64)), 2)[..., None].astype(np.float32)
    photo = (photo - photo.min()) / (photo.max() - photo.min())
    u8 = np.round(photo[..., 0] * 255).astype(np.uint8)
    photo = u8[..., None].astype(np.float32) / 255  # both encoders start from these 8 bits
    err = {}
    for q in (20, 90):
        buf = io.BytesIO()
        Image.fromarray(u8).save(buf, format="JPEG", quality=q)
        pil = np.asarray(Image.open(buf), np.float32) / 255
        ours = degrade.jpeg(tf.constant(photo), q).numpy()[..., 0]
        err[q] = np.abs(ours - photo[..., 0]).mean()
        # libjpeg either way, with other DCT and rounding choices: where the artefacts are
        # large, far nearer Pillow's result than the photo (at 90 both are rounding-sized).
        if q == 20:
            assert np.abs(ours - pil).mean() < 0.3 * err[q], (np.abs(ours - pil).mean(), err[q])
    assert err[20] > 2 * err[90] > 0


def test_toned_lightness_is_the_toned_prints_L():
    rgb = RNG.uniform(0, 1, (8, 8, 3)).astype(np.float32)
    for matrix in (degrade.SEPIA, degrade.CYAN):
        toned = np.clip(rgb @ matrix.T, 0, 1)
        want = skcolor.rgb2lab(toned)[..., :1] / 100
        got = degrade.toned_lightness(tf.constant(rgb), matrix).numpy()
        np.testing.assert_allclose(got, want, atol=2e-4)


def test_old_photo_is_fixed_by_its_seed_and_sized_by_the_scale():
    rgb = tf.constant(RNG.uniform(0, 1, (64, 48, 3)).astype(np.float32))
    cfg = config.DegradeConfig()
    fn = tf.function(degrade.old_photo, reduce_retracing=True)
    a = fn(rgb, cfg, tf.constant([1, 2]), 4).numpy()
    assert a.shape == (16, 12, 1) and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, degrade.old_photo(rgb, cfg, tf.constant([1, 2]), 4).numpy())
    others = [degrade.old_photo(rgb, cfg, tf.constant([1, s]), 4).numpy() for s in (3, 4)]
    assert all(not np.array_equal(a, o) for o in others)
    # Inside tf.data with a per-element seed, as training will use it.
    ds = tf.data.Dataset.range(2).map(lambda i: degrade.old_photo(rgb, cfg, tf.stack([i, 7]), 2))
    assert [x.shape for x in ds] == [(32, 24, 1)] * 2


def test_the_config_refuses_bad_ranges():
    with pytest.raises(UserError, match="blur_sigma=3.0,1.0 must be low <= high"):
        config.DegradeConfig(blur_sigma=(3.0, 1.0))
    with pytest.raises(UserError, match=r"tone=1.5 must be in \[0, 1\]"):
        config.DegradeConfig(tone=1.5)


def test_old_photo_batches_resume_exactly_and_split_across_replicas():
    from colorgan.data import input_pipeline as ip
    src = ip.open_source("samples")
    kw = dict(image_size=32, batch_size=4, seed=3, old_photo=config.DegradeConfig(), scale=2)
    straight = [tuple(t.numpy() for t in b) for b in ip.train_dataset(src, **kw).take(3)]
    scan, L, ab = straight[0]
    assert scan.shape == (4, 16, 16, 1) and L.shape == (4, 32, 32, 1) and ab.shape == (4, 32, 32, 2)
    assert -1 <= scan.min() and scan.max() <= 1
    # A scan is not the photo: far from the photo's own L, area-downscaled.
    small = L.reshape(4, 16, 2, 16, 2, 1).mean(axis=(2, 4))
    assert np.abs(scan - small).mean() > 0.02
    resumed = [tuple(t.numpy() for t in b)
               for b in ip.train_dataset(src, start_index=4, **kw).take(2)]
    for a, b in zip(straight[1:], resumed):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    # Two replicas fed by one pipeline: their per-replica halves are the global batch.
    ctx = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                     num_replicas_in_sync=2)
    halves = [tuple(t.numpy() for t in b)
              for b in ip.train_dataset(src, input_context=ctx, **kw).take(2)]
    for x, a, b in zip(straight[0], *halves):
        np.testing.assert_array_equal(x, np.concatenate([a, b]))
    with pytest.raises(UserError, match="color_space=lab"):
        ip.train_dataset(src, **{**kw, "scale": 3})
    # with_defects: the same batches with each scan's defect mask after it.
    every = config.DegradeConfig(dust=1, hairs=1)
    plain, = [tuple(t.numpy() for t in b)
              for b in ip.train_dataset(src, **{**kw, "old_photo": every}).take(1)]
    scan, mask, L, ab = next(iter(ip.train_dataset(src, **{**kw, "old_photo": every},
                                                   with_defects=True)))
    for x, y in zip(plain, (scan, L, ab)):
        np.testing.assert_array_equal(x, y)
    assert mask.shape == scan.shape and set(np.unique(mask)) <= {0.0, 1.0}
    assert 0 < float(tf.reduce_mean(mask)) < 0.5  # some pixels, not the whole crop
    with pytest.raises(UserError, match="with_defects"):
        ip.train_dataset(src, image_size=32, batch_size=4, seed=3, with_defects=True)
