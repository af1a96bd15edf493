"""The old-photo restorer: network shapes, levels, tiles, weights files, training and
resume, the serving graph with restore / upscale, and the old-photo evaluation."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.errors import UserError
from colorgan.evaluate import old_photos, restoration
from colorgan.models import restorer as R
from colorgan.serve import graph, opener, savedmodel, tiles

ROOT = Path(__file__).resolve().parents[1]
TINY = config.RestorerConfig(channels=8, blocks=1, image_size=32, batch_size=2, steps=3,
                             lambda_perceptual=0.02, perceptual_layers=("relu1_2",),
                             disc_filters=8, crop_area=(0.3, 1.0), defects=False)
# With the defect finder (narrow) and the mask channel.
DEFECTS = dataclasses.replace(TINY, defects=True, finder_channels=4)


@pytest.fixture(scope="module")
def tiny():
    tf.keras.utils.set_random_seed(0)
    return R.Restorer(TINY)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, tiny):
    return R.save(tiny, tmp_path_factory.mktemp("restorer"), {"note": "untrained"})


def test_each_scale_gives_its_size_and_starts_near_the_bilinear_upscale(tiny):
    scan = tf.random.stateless_uniform([2, 12, 20, 1], [1, 2], -1, 1)
    for s in R.SCALES:
        out = tiny(scan, s)
        assert np.max(np.abs(out - tiny(scan, s, restore=False))) > 1e-4  # the mode counts
        assert out.shape == (2, 12 * s, 20 * s, 1)
        base = scan if s == 1 else tf.image.resize(scan, [12 * s, 20 * s], "bilinear")
        # The output convs start at a tenth of the usual scale: a residual near zero.
        assert 0 < float(tf.reduce_mean(tf.abs(out - base))) < 0.2
    with pytest.raises(UserError, match="upscale=3: choose 1, 2, 4"):
        tiny(scan, 3)


def test_levels_are_the_percentiles_of_the_photo():
    x = np.random.default_rng(0).uniform(-1, 1, (1, 200, 100, 1)).astype(np.float32)
    lv = R.levels(tf.constant(x)).numpy()[0]
    # Under 256 px nothing is averaged: NumPy's percentiles (nearest rank).
    ref = np.percentile(x, [0.5, 99.5], method="nearest")
    np.testing.assert_allclose(lv, ref, atol=2e-3)
    stretched = R.model_input(tf.constant(x), tf.constant(lv[None])).numpy()
    assert np.mean(stretched[..., 1] <= -1) == pytest.approx(0.005, abs=0.002)


@pytest.mark.parametrize("length,tile,margin", [(10, 64, 6), (64, 64, 6), (65, 64, 6),
                                                (150, 40, 6), (203, 33, 16)])
def test_tile_cuts_cover_the_axis_with_margins(length, tile, margin):
    starts, size, bounds = (t.numpy() for t in tiles.cuts(tf.constant(length), tile, margin))
    assert size == min(length, tile) and bounds[0] == 0 and bounds[-1] == length
    assert np.all(np.diff(bounds) > 0) and len(bounds) == len(starts) + 1
    for i, s in enumerate(starts):
        assert 0 <= s and s + size <= length  # a window never leaves the photo
        lo, hi = bounds[i], bounds[i + 1]
        assert (i == 0 or lo - s >= margin) and (i == len(starts) - 1 or s + size - hi >= margin)


def test_tiled_equals_untiled_and_a_short_margin_shows_seams(tiny):
    scan = tf.random.stateless_uniform([1, 70, 90, 1], [3, 4], -1, 1)
    lv = R.levels(scan)
    margin = R.receptive_radius(TINY)
    for s in (1, 4):
        model = tiny.models[s]
        whole = model(R.model_input(scan, lv)).numpy()

        def run(window, levels, model=model):
            return model(R.model_input(window, levels))

        tiled = tiles.restore_tiled(run, scan, lv, s, tile=28, margin=margin).numpy()
        np.testing.assert_allclose(tiled, whole, atol=1e-5)
        short = tiles.restore_tiled(run, scan, lv, s, tile=28, margin=1).numpy()
        assert np.max(np.abs(short - whole)) > 1e-3


@pytest.mark.parametrize("mask_input", [True, False])
def test_defects_are_filled_only_where_masked_and_tiles_still_match(mask_input):
    """A restorer with defects changes its output only within its receptive radius of the
    mask's pixels (the fill touches only masked pixels; the levels are the scan's), a fresh
    finder finds nothing, and restoring in tiles with the whole photo's mask equals one go;
    with the mask as a fourth channel, or (mask_input False: a finder added onto a restorer
    trained without one) the fill alone."""
    tf.keras.utils.set_random_seed(2)
    r = R.Restorer(dataclasses.replace(DEFECTS, mask_input=mask_input))
    assert r.models[1].input_shape[-1] == (4 if mask_input else 3)
    scan = tf.random.stateless_uniform([1, 40, 56, 1], [5, 6], -1, 1)
    mask = np.zeros((1, 40, 56, 1), np.float32)
    mask[0, 18:21, 10:30] = 1  # a scratch
    radius = R.receptive_radius(DEFECTS)
    near = np.zeros((40, 56), bool)
    near[18 - radius:21 + radius, 10 - radius:30 + radius] = True
    for s in (1, 2):
        a = r(scan, s, mask=tf.constant(mask)).numpy()[0, ..., 0]
        b = r(scan, s, mask=tf.zeros_like(scan)).numpy()[0, ..., 0]
        far = ~np.kron(near, np.ones((s, s), bool))
        np.testing.assert_allclose(a[far], b[far], atol=1e-6)
        assert np.abs(a - b)[~far].max() > 1e-3  # and inside, the mask counts
    assert float(tf.reduce_max(r.mask_of(scan, R.levels(scan)))) == 0  # the 1 % prior
    tiny_scan = scan[:, :3, :5]  # sides under the finder's pad of 8: edge-padded, cropped back
    assert r.mask_of(tiny_scan, R.levels(tiny_scan)).shape == (1, 3, 5, 1)
    # Tiles: the whole photo's mask (here a drawn one, as the finder would give), filled once.
    find = lambda L, lv: tf.constant(mask)  # noqa: E731
    whole = r(scan, 2, mask=tf.constant(mask))
    tiled = tiles.restore_photo(r.models[2], scan, 2, True, False, tile=24, margin=radius,
                                find=find, mask_channel=mask_input)
    np.testing.assert_allclose(tiled, tf.clip_by_value(whole, -1, 1), atol=1e-5)
    if not mask_input:
        return  # the finder is the same network either way
    # The finder in tiles on its 8-pixel grid: its logits as in one go with a margin over its
    # receptive radius (31 px), not with less.
    big = tf.random.stateless_uniform([1, 131, 200, 1], [7, 8], -1, 1)  # 131: padded to 136
    lv = R.levels(big)
    logits = lambda L, lv: r.defects(L, lv)  # noqa: E731
    whole = r.defects(big, lv).numpy()
    np.testing.assert_allclose(tiles.find_tiled(logits, big, lv, tile=128, margin=40), whole,
                               atol=1e-5)
    assert np.abs(tiles.find_tiled(logits, big, lv, tile=128, margin=16) - whole).max() > 1e-6


def test_a_mask_over_most_of_the_photo_is_dropped_with_one_line(capfd):
    mask = np.zeros((2, 10, 10, 1), np.float32)
    mask[0, :6] = 1  # 60 %: what the finder took for defects is the photo itself
    mask[1, :2] = 1  # 20 %: kept
    got = R.keep_most(tf.constant(mask)).numpy()
    assert got[0].max() == 0
    np.testing.assert_array_equal(got[1], mask[1])
    err = capfd.readouterr().err
    assert "marks 60 % of the photo" in err and len(err.strip().splitlines()) == 1
    R.keep_most(tf.constant(mask[1:]))
    assert "marks" not in capfd.readouterr().err


def test_defect_residue_is_the_error_inside_minus_the_ring():
    truth = tf.zeros([3, 16, 16, 1])
    mask = np.zeros((3, 8, 8, 1), np.float32)  # at the scan's size, half the output's
    mask[0, 3:5, 3:5] = 1
    mask[1, 3:5, 3:5] = 1
    L = np.zeros((3, 16, 16, 1), np.float32)
    L[0, 4:12, 4:12] = 0.04  # the ring (2 px around the defect): 5.1 gray levels off
    L[0, 6:10, 6:10] = 0.2  # the defect left as it was: 25.5
    L[1] = 0.1  # no defect left, a uniform error: nothing more inside than around
    got = restoration.defect_residue(tf.constant(L), truth, tf.constant(mask), ring=2).numpy()
    np.testing.assert_allclose(got[:2], [25.5 - 5.1, 0.0], atol=1e-4)
    assert np.isnan(got[2])  # a photo without defects


def test_defects_keep_fills_nothing_and_save_mask_shows_what_is_filled(tiny_colorizer):
    """defects=keep restores with an empty mask; remove fills what the finder finds (here
    drawn for it), and find_defects gives that mask; keep is only for restoring."""
    with pytest.raises(UserError, match="defects=keep is for --restore"):
        config.RenderConfig(defects="keep")
    with pytest.raises(UserError, match="defects=scrub: choose remove, keep"):
        config.RenderConfig(restore=True, defects="scrub")
    generator, cfg = tiny_colorizer
    tf.keras.utils.set_random_seed(3)
    r = R.Restorer(DEFECTS)
    photo = _colour_photo(40, 48, seed=1)
    drawn = np.zeros((1, 40, 48, 1), np.float32)
    drawn[0, 20:22, 5:40] = 1
    r.found = lambda L, lv: tf.constant(drawn)  # what a trained finder would find
    out, masks = {}, {}
    for defects in ("remove", "keep"):
        c = graph.Colorizer(generator, 32, graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg, restorer=r,
                            render=config.RenderConfig(restore=True, defects=defects,
                                                       flip=False), tile=24)
        out[defects] = c.colorize_at(tf.constant(photo[None]), tf.constant(0)).numpy()
        masks[defects] = c.find_defects(photo[None]).numpy()
    np.testing.assert_array_equal(masks["remove"], drawn)
    assert masks["keep"].max() == 0
    from colorgan import color
    L = color.lightness(tf.constant(photo[None])) / 50.0 - 1.0
    kept = tf.clip_by_value(r(L, 1, mask=tf.zeros_like(L)), -1, 1)
    got = color.lightness(tf.constant(out["keep"])) / 50.0 - 1.0
    inside = np.abs(kept.numpy()) < 0.9
    np.testing.assert_allclose(got.numpy()[inside], kept.numpy()[inside], atol=0.02)
    assert np.abs(out["remove"] - out["keep"])[0, 18:24].max() > 0.01


def test_weights_round_trip_and_bad_files_are_one_line(tiny, tiny_folder, tmp_path):
    back = R.load(tiny_folder)
    for a, b in zip(tiny.everything.variables, back.everything.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-3, atol=1e-4)  # float16
    with pytest.raises(UserError, match="holds no restorer"):
        R.load(tmp_path)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / R.CARD_FILE).write_text((tiny_folder / R.CARD_FILE).read_text())
    (bad / R.WEIGHTS_FILE).write_bytes((tiny_folder / R.WEIGHTS_FILE).read_bytes()[:300])
    with pytest.raises(UserError, match=f"{bad / R.WEIGHTS_FILE}.*damaged"):
        R.load(bad)
    card = json.loads((tiny_folder / R.CARD_FILE).read_text())
    card["model"]["channels"] = 16  # weights of another width
    (bad / R.WEIGHTS_FILE).write_bytes((tiny_folder / R.WEIGHTS_FILE).read_bytes())
    (bad / R.CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(UserError, match="has shape"):
        R.load(bad)


def test_training_moves_the_weights_and_resumes_exactly(tmp_path):
    from colorgan.train import restorer_fit
    n = len(restorer_fit.SCHEDULE)
    assert [restorer_fit.slot_of(k) for k in range(1, n + 3)] == [*range(n), 0, 1]
    # Each slot's stream resumes after the steps it already took, for every resume step.
    for step in range(1, 3 * n):
        for slot in range(n):
            took = sum(restorer_fit.slot_of(k) == slot for k in range(1, step))
            assert restorer_fit.steps_before(step, slot) == took
    kwargs = dict(data="samples", log_every=1, cache_mb=0, validate_at_end=False)
    # Two steps (x1 restore, then x2: two slots' streams), stopped after the first; the
    # weights of step 1 are kept and averaged with step 2's (average_from).
    cfg = dataclasses.replace(DEFECTS, lambda_perceptual=0.0, steps=2, average_from=1)
    tf.keras.utils.set_random_seed(1)
    stopped = restorer_fit.fit_restorer(cfg, tmp_path / "a", stop_at=1, **kwargs)
    assert stopped == {"step": 1, "stopped": True}
    tf.keras.utils.set_random_seed(1)
    resumed = restorer_fit.fit_restorer(cfg, tmp_path / "a", **kwargs)
    tf.keras.utils.set_random_seed(1)
    straight = restorer_fit.fit_restorer(cfg, tmp_path / "b", **kwargs)
    assert resumed["steps"] == straight["steps"] == 2
    assert resumed["averaged_steps"] == [1, 2]
    # Every float32 variable of the checkpoints (networks and optimizers), bit for bit.
    a, b = (tf.train.load_checkpoint(tf.train.latest_checkpoint(str(tmp_path / w / "checkpoints")))
            for w in ("a", "b"))
    names = [n for n, _ in tf.train.list_variables(tf.train.latest_checkpoint(
        str(tmp_path / "a" / "checkpoints")))
        if "_CHECKPOINTABLE_OBJECT_GRAPH" not in n and "save_counter" not in n]  # a saved twice
    assert len(names) > 20
    for n in names:
        np.testing.assert_array_equal(a.get_tensor(n), b.get_tensor(n), err_msg=n)
    # The written restorer is the mean of step 1's snapshot and step 2's weights.
    snap, last = R.load(tmp_path / "a" / "snapshot-1"), R.Restorer(cfg)
    tf.train.Checkpoint(restorer=last.everything, finder=last.finder).restore(
        tf.train.latest_checkpoint(str(tmp_path / "a" / "checkpoints"))).expect_partial()
    written = R.load(tmp_path / "a" / "restorer")
    for x, y in zip(R.load(tmp_path / "b" / "restorer").variables, written.variables):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert len(written.variables) > len(written.everything.variables)  # the finder's too
    for w, s0, s1 in zip(written.variables, snap.variables, last.variables):
        mean = ((s0.numpy() + s1.numpy()) / 2).astype(np.float16).astype(np.float32)
        np.testing.assert_array_equal(w.numpy(), mean, err_msg=w.path)  # stored as float16
    # The steps moved the weights away from a fresh restorer's (Adam: ~lr a step).
    tf.keras.utils.set_random_seed(1)
    fresh = R.Restorer(cfg)
    assert max(float(np.max(np.abs(x.numpy() - f.numpy())))
               for x, f in zip(snap.variables, fresh.variables)) > 1e-4
    assert max(float(np.max(np.abs(x.numpy() - s.numpy())))
               for x, s in zip(last.variables, snap.variables)) > 1e-4
    # The finder learnt too: its weights moved from a fresh one's.
    assert max(float(np.max(np.abs(x.numpy() - f.numpy())))
               for x, f in zip(last.finder.variables, fresh.finder.variables)) > 1e-4
    # Past step 1 with no snapshot (trained without average_from): one line.
    (tmp_path / "a" / "snapshot-1" / R.WEIGHTS_FILE).unlink()
    with pytest.raises(UserError, match="without its snapshot-1"):
        restorer_fit.fit_restorer(cfg, tmp_path / "a", **kwargs)


def _colour_photo(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx), 0.5 + 0.4 * np.cos(5 * yy), 0.3 + xx * yy], -1)
    return np.clip(base + rng.normal(0, 0.05, (h, w, 3)), 0, 1).astype(np.float32)


@pytest.fixture(scope="module")
def tiny_colorizer():
    from colorgan.models import networks
    cfg = config.get_preset("tiny")
    return networks.build_generator(cfg.model, 32), cfg


def test_restoring_graph_sizes_and_a_colour_photo_gives_its_lightness(tiny, tiny_colorizer):
    generator, cfg = tiny_colorizer
    photo = _colour_photo(30, 44)
    for s, restore in ((1, True), (2, True), (2, False)):
        c = graph.Colorizer(generator, 32, graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg,
                            render=config.RenderConfig(restore=restore, upscale=s),
                            restorer=tiny, tile=24)
        out = c.colorize_at(tf.constant(photo[None]), tf.constant(0)).numpy()
        assert out.shape == (1, 30 * s, 44 * s, 3)
        # The restored lightness is the restorer's, on the photo's own lightness.
        from colorgan import color
        L = color.lightness(tf.constant(photo[None])) / 50.0 - 1.0

        def one(x, s=s, restore=restore):
            return tiny(x, s, restore=restore, lv=R.levels(L))

        # The rendering's default mirror averaging, only super-resolving.
        expected = tf.clip_by_value(one(L) if restore else R.mirror_average(one, L), -1, 1)
        got = color.lightness(tf.constant(out)) / 50.0 - 1.0
        inside = np.abs(expected.numpy()) < 0.9  # away from clipping in the RGB gamut
        np.testing.assert_allclose(got.numpy()[inside], expected.numpy()[inside], atol=0.02)
    with pytest.raises(UserError, match="no restorer"):
        graph.Colorizer(generator, 32, graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg,
                        render=config.RenderConfig(restore=True))


def test_upscale_choices_and_the_pixel_limit_are_one_line(tiny_folder):
    with pytest.raises(UserError, match="upscale=3: choose 1, 2, 4"):
        config.RenderConfig(upscale=3)
    model = opener.open_model("pretrained", {"upscale": 4}, restorer=str(tiny_folder))
    model.max_pixels = 1000
    with pytest.raises(UserError, match="upscale=4: the output would have 1,600 pixels, "
                                        "over the limit of 1,000"):
        model(np.zeros((1, 10, 10, 3), np.float32))


def test_export_with_restore_and_upscale_runs_in_saved_model_cli(tiny, tiny_colorizer, tmp_path):
    import io

    from PIL import Image
    generator, cfg = tiny_colorizer
    c = graph.Colorizer(generator, 32, graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg,
                        render=config.RenderConfig(restore=True, upscale=2), restorer=tiny)
    path = savedmodel.export(c, tmp_path / "export")
    baked = savedmodel.exported_post_processing(path)
    assert baked["upscale"] == 2 and baked["restore"] is True
    photo = (_colour_photo(21, 26) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    np.save(tmp_path / "bytes.npy", np.array([buf.getvalue()], dtype=object), allow_pickle=True)
    cli = Path(sys.executable).parent / "saved_model_cli"
    proc = subprocess.run([str(cli), "run", "--dir", str(path), "--tag_set", "serve",
                           "--signature_def", "serving_default", "--inputs",
                           f"image_bytes={tmp_path / 'bytes.npy'}", "--outdir",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    png = np.load(tmp_path / "out" / "colorized_png_bytes.npy", allow_pickle=True)[0]
    got = tf.io.decode_png(png).numpy()
    assert got.shape == (42, 52, 3)
    expected = c.colorize_at(tf.constant(photo[None] / 255.0, tf.float32), tf.constant(0))[0]
    assert np.max(np.abs(got / 255.0 - expected.numpy())) <= 1.5 / 255
    with pytest.raises(UserError, match="exported with.*--upscale=2"):
        opener.open_model(path, {"upscale": 1})


def test_a_tflite_restores_and_upscales_as_the_graph_does(tiny_colorizer, tmp_path):
    """An export with a restorer that finds defects and has a gate, as the shipped one:
    restorer.tflite (3 channels: the finder was added onto it, so restoring fills what it
    marks), finder.tflite and gate.tflite beside model.tflite restore as the graph does, and
    each missing file is one line."""
    from colorgan import color
    from colorgan.models import gate
    from colorgan.serve import litert
    generator, cfg = tiny_colorizer
    tf.keras.utils.set_random_seed(4)
    restorer = R.Restorer(dataclasses.replace(DEFECTS, gate=True, mask_input=False))
    photo = _colour_photo(30, 44)[None]
    L = color.lightness(tf.constant(photo)) / 50.0 - 1.0
    # The untrained finder marks nothing (its 1 % prior): moved to mark a tenth of the photo.
    bias = restorer.finder.get_layer("finder_out").bias
    bias.assign(bias - np.quantile(restorer.defects(L, R.levels(L)), 0.9))
    assert 0.05 < float(tf.reduce_mean(restorer.mask_of(L, R.levels(L)))) < 0.15
    c = graph.Colorizer(generator, 32, graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg,
                        render=config.RenderConfig(restore=True, upscale=2),
                        restorer=restorer, tile=24)  # a 30 x 44 photo in 2 x 3 windows
    path = Path(savedmodel.export(c, tmp_path / "lite", writer=litert.writer()))
    lite = opener.open_model(path)
    assert lite.scale == 2 and lite.restores  # what video/film.py asks a model
    assert not lite._mask_channel  # read from restorer.tflite's input
    got, want = lite(photo, 0), c.colorize_at(tf.constant(photo), tf.constant(0)).numpy()
    assert got.shape == want.shape == (1, 60, 88, 3)
    assert np.max(np.abs(got - want)) <= 1.5 / 255
    x = tf.random.stateless_uniform([1, 24, 40, 2], [3, 4], -1, 1)  # finder.tflite's logits
    np.testing.assert_allclose(lite._invoke(lite.finder, x), restorer.finder(x), atol=1e-4)
    share = float(lite._strength(L, R.levels(L))[0])
    assert 0 < share < 1  # the photo above was a blend of both passes
    np.testing.assert_allclose(share, restorer.strength(L, R.levels(L)), atol=1e-4)
    x = gate.gate_input(L, R.levels(L))
    np.testing.assert_allclose(lite._invoke(lite.gate, x), restorer.gate(x), atol=1e-4)
    for name in (litert.GATE_FILE, litert.FINDER_FILE, litert.RESTORER_FILE):
        (path / name).unlink()
        with pytest.raises(UserError, match=f"{name} is missing"):
            opener.open_model(path)


def test_old_photo_spec_median_and_classical():
    assert old_photos.parse_spec("old_photo") == 1
    assert old_photos.parse_spec("old_photo,scale=4") == 4
    for bad, line in (("old_photo,scale=3", "scale must be one of 1, 2, 4"),
                      ("blur", "the degradation is old_photo"),
                      ("old_photo,size=2", "options are scale")):
        with pytest.raises(UserError, match=line):
            old_photos.parse_spec(bad)
    from scipy import ndimage
    x = np.random.default_rng(0).uniform(-1, 1, (1, 9, 11, 1)).astype(np.float32)
    np.testing.assert_allclose(old_photos.median3(tf.constant(x)).numpy()[0, ..., 0],
                               ndimage.median_filter(x[0, ..., 0], 3, mode="reflect"))
    faded = 0.5 * tf.constant(x) + 0.2  # a faded print: autocontrast brings back the range
    fixed = old_photos.classical(faded, 2)
    assert fixed.shape == (1, 18, 22, 1) and float(tf.reduce_max(fixed) - tf.reduce_min(fixed)) > 1.5


def test_old_photo_pairs_are_fixed_by_the_seed():
    from colorgan.data import input_pipeline
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    a = [s.numpy() for s, _ in restoration.old_photo_pairs(source, size=32, scale=4, limit=3)]
    b = [s.numpy() for s, _ in restoration.old_photo_pairs(source, size=32, scale=4, limit=3)]
    assert a[0].shape == (3, 8, 8, 1)
    np.testing.assert_array_equal(a[0], b[0])
    c = next(iter(restoration.old_photo_pairs(source, size=32, scale=4, seed=1, limit=3)))[0]
    assert np.max(np.abs(c.numpy() - a[0])) > 0.01


def test_the_shipped_restorer_improves_old_photo_scans_of_validation_photos():
    """Offline, from the package: restored lightness beats the scan on the same fixed scans
    evaluate.py --degrade uses (the first 8 validation photos at 128 px)."""
    from colorgan.data import input_pipeline
    shipped = R.load()
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    scores = {}
    for scale, restore, degradation in ((1, True, config.DegradeConfig()),
                                        (4, False, restoration.CLEAN)):
        pairs = restoration.old_photo_pairs(source, size=128, scale=scale, seed=old_photos.SEED,
                                            degradation=degradation, limit=8)
        scores[scale] = restoration.lightness_scores(
            pairs, lambda scan: shipped(scan, scale, restore), scale)
    gain = {s: v["restored"]["psnr"] - v["bicubic"]["psnr"] for s, v in scores.items()}
    assert gain[1] > 1.5 and gain[4] > 0.6, scores  # 2.34 and 0.93 when shipped
    assert scores[1]["restored"]["ssim"] > scores[1]["bicubic"]["ssim"] + 0.05, scores


def test_old_photo_evaluation_scores_residue_unseen_and_the_finder(tmp_path):
    """evaluate.py --degrade's tables on two tiny scans with stand-in models: every method's
    residue, the unseen family's own set, and a finder that marks everything has recall 1
    and the defects' share as its precision."""
    import json

    from colorgan.data import input_pipeline
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    gray = lambda images, render_size: images  # noqa: E731  (a colorizer that adds no colour)
    scan_defects = config.DegradeConfig(dust=1.0, hairs=1.0, scratches=3)
    everything = lambda scan: tf.ones_like(scan)  # noqa: E731
    result = old_photos.evaluate(gray, gray, source, tmp_path, size=32, limit=2,
                                 use_lpips=False, degradation=scan_defects, finder=everything,
                                 sheet_rows=2)
    assert result["n"] == 2 and result["unseen"]["n"] == 2
    assert result["finder"]["recall"] == 1.0
    masks = np.concatenate([m.numpy() for _, m, _ in restoration.old_photo_pairs(
        source, size=32, seed=old_photos.SEED, degradation=scan_defects, limit=2,
        with_mask=True)])
    assert result["finder"]["precision"] == pytest.approx(masks.mean(), abs=1e-4)
    # The stand-in restorer is the scan itself: its residue is the scan's.
    assert result["colorgan"]["residue"] == pytest.approx(result["degraded"]["residue"], abs=0.01)
    assert json.loads((tmp_path / "metrics.json").read_text())["unseen"]["n"] == 2
    for sheet in (tmp_path / "comparison.png", tmp_path / "unseen" / "comparison.png"):
        assert sheet.stat().st_size > 1000
