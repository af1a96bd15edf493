"""colorgan/models/hints.py and the hint model: simulated hints against their definition, user
points, the hint branch starting as the model it was built from, and the hints file."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.errors import UserError
from colorgan.models import hints, networks, pretrained
from colorgan.archive import files
from colorgan.serve import opener


def boxes(mask):
    """Bounding boxes of the connected 1-regions of a [H, W] mask (scipy-free: one box
    when there is one patch)."""
    ys, xs = np.nonzero(mask)
    return (ys.min(), ys.max() + 1, xs.min(), xs.max() + 1) if len(ys) else None


def test_one_revealed_patch_holds_the_mean_true_colour():
    rng = np.random.default_rng(0)
    ab = tf.constant(rng.uniform(-0.5, 0.5, (6, 32, 32, 2)), tf.float32)
    out = hints.simulate(ab, tf.constant([3, 4]), count=1).numpy()
    for i in range(6):
        top, bottom, left, right = boxes(out[i, ..., 2])
        side = bottom - top
        assert side == right - left and hints.SIDES[0] <= side <= hints.SIDES[1]
        assert out[i, ..., 2].sum() == side * side  # one square, nothing else
        want = ab.numpy()[i, top:bottom, left:right].mean((0, 1))
        np.testing.assert_allclose(out[i, top:bottom, left:right, :2], np.broadcast_to(
            want, (side, side, 2)), atol=1e-5)
        assert not out[i, ..., :2][out[i, ..., 2] == 0].any()  # 0 where no hint


def test_simulated_hints_follow_the_seed():
    ab = tf.random.stateless_uniform([4, 16, 16, 2], [1, 1], -0.5, 0.5)
    a = hints.simulate(ab, tf.constant([7, 0]))
    np.testing.assert_array_equal(a, hints.simulate(ab, tf.constant([7, 0])))
    assert not np.array_equal(a, hints.simulate(ab, tf.constant([8, 0])))


def test_the_number_of_patches_is_geometric_with_a_share_of_none():
    """P(no hints) = none_share + (1 - none_share) p (geometric count: P(0) = p), measured
    on 3000 images."""
    ab = tf.zeros([3000, 12, 12, 2])
    maps = hints.simulate(ab, tf.constant([5, 5]), none_share=0.25).numpy()
    has = maps[..., 2].reshape(3000, -1).any(1)
    p = hints.STOP
    assert 1 - has.mean() == pytest.approx(0.25 + 0.75 * p, abs=0.03)
    # Without the share: P(none) = p.
    maps = hints.simulate(ab, tf.constant([6, 6]), none_share=0.0).numpy()
    assert 1 - maps[..., 2].reshape(3000, -1).any(1).mean() == pytest.approx(p, abs=0.02)


def test_user_points_become_small_patches():
    shape = tf.constant([1, 20, 30, 1])
    maps = hints.from_points(shape, [0.5, 0.0], [0.5, 1.0], [[0.3, -0.2], [0.1, 0.1]],
                             side=3).numpy()[0]
    assert maps[..., 2].sum() == 18  # two 3x3 patches
    np.testing.assert_allclose(maps[9:12, 14:17, :2], np.broadcast_to([0.3, -0.2], (3, 3, 2)))
    np.testing.assert_allclose(maps[17:20, 0:3, :2], np.broadcast_to([0.1, 0.1], (3, 3, 2)))


def test_hints_file(tmp_path):
    good = tmp_path / "h.json"
    good.write_text(json.dumps([{"x": 0.25, "y": 1, "color": "#e02020"},
                                {"x": 0, "y": 0.5, "color": "0f0"}]))
    assert hints.read_points(good) == [(0.25, 1.0, (224 / 255, 32 / 255, 32 / 255)),
                                       (0.0, 0.5, (0.0, 1.0, 0.0))]
    for text, words in (('{"x": 1}', "must hold a list"), ("[{", "is not JSON"),
                        ('[{"x": 2, "y": 0, "color": "#000"}]', "item 0: x and y"),
                        ('[{"x": 0, "y": 0, "color": "red"}]', "is not #rrggbb"),
                        ('[{"x": 0, "y": 0}]', "item 0: lacks 'color'")):
        good.write_text(text)
        with pytest.raises(UserError, match=words):
            hints.read_points(good)
    with pytest.raises(UserError, match="nope.json"):
        hints.read_points(tmp_path / "nope.json")


@pytest.fixture(scope="module")
def plain_and_hint_model(tmp_path_factory):
    """The shipped model without its hint branch (saved in the shipped format, as a model
    without hints is), and a hint model started from that folder: its hint branch new."""
    source = pretrained.read_config("pretrained")

    def build(with_hints):
        cfg = dataclasses.replace(source, model=dataclasses.replace(source.model,
                                                                    hints=with_hints))
        return networks.build_generator(config.generator_model(cfg),
                                        config.generator_size(cfg)), cfg

    plain, plain_cfg = build(False)
    pretrained.set_generator_weights(plain, plain_cfg, pretrained.resolve("pretrained"))
    folder = pretrained.save_shipped(plain, plain_cfg, tmp_path_factory.mktemp("m") / "plain")
    G, _ = build(True)
    pretrained.set_generator_weights(G, plain_cfg, str(folder))
    return plain, G


def test_a_hint_model_starts_as_the_model_it_came_from(plain_and_hint_model):
    """Without hints it is the source model bit for bit, and with hints too: the learned
    branch starts at zero, and the hints' spread is the serving graph's (the tests below
    and test_propagation.py)."""
    plain, G = plain_and_hint_model
    assert networks.takes_hints(G) and not networks.takes_hints(plain)
    L = tf.random.stateless_uniform([2, 64, 64, 1], [0, 1], -1, 1)
    ab = tf.random.stateless_uniform([2, 64, 64, 2], [0, 2], -0.4, 0.4)
    want = plain(L, training=False)
    np.testing.assert_array_equal(networks.colorize(G, L), want)
    maps = hints.simulate(ab, tf.constant([1, 1]), count=10)
    assert float(tf.reduce_max(maps[..., 2])) == 1.0
    np.testing.assert_array_equal(networks.colorize(G, L, maps), want)


def test_hints_for_a_model_without_them_are_one_line(plain_export):
    model = opener.open_model(plain_export)
    with pytest.raises(UserError, match="has no hint channels"):
        files.colorize_files(model, ["x.jpg"], None, points=[(0.5, 0.5, (1, 0, 0))])


def test_a_hint_export_serves_hints_from_bytes(tmp_path, plain_export):
    """serving_hints (image bytes + points with hex colours) equals colorize_points on
    the decoded photo; a bad colour is refused; a model without hints has no such
    signature."""
    import io

    from PIL import Image

    from colorgan.video import clips
    from colorgan.serve import graph
    from colorgan.serve import savedmodel
    cfg = config.with_overrides(config.get_preset("tiny"), {"hints": True})
    G = networks.build_generator(cfg.model, 32)
    colorizer = graph.Colorizer(G, 32, graph.DEFAULT_MAX_PIXELS, networks.input_multiple(
        cfg.model, 32), cfg=cfg)
    module = tf.saved_model.load(savedmodel.export(colorizer, tmp_path / "export"))
    photo = clips.sample_photo(1)[:40, :56]
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    x, y = tf.constant([0.2, 0.7]), tf.constant([0.5, 0.1])
    out = module.signatures["serving_hints"](
        image_bytes=tf.constant([buf.getvalue()]), hint_x=x, hint_y=y,
        hint_color=tf.constant(["#e02020", "2040E0"]))["colorized_png_bytes"]
    got = np.asarray(Image.open(io.BytesIO(out[0].numpy())))
    want = module.colorize_points(tf.constant(photo[None] / 255, tf.float32), tf.constant(0), x, y,
                                  tf.constant([[224, 32, 32], [32, 64, 224]], tf.float32) / 255)
    assert np.abs(got / 255 - want[0].numpy()).max() <= 1 / 255 + 1e-6
    with pytest.raises(tf.errors.InvalidArgumentError, match="#rrggbb"):
        module.signatures["serving_hints"](image_bytes=tf.constant([buf.getvalue()]),
                                           hint_x=x[:1], hint_y=y[:1],
                                           hint_color=tf.constant(["red"]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="differ in length"):
        module.signatures["serving_hints"](image_bytes=tf.constant([buf.getvalue()]),
                                           hint_x=x, hint_y=y[:1],
                                           hint_color=tf.constant(["#e02020", "#2040e0"]))
    exported = tf.saved_model.load(plain_export)
    assert "serving_hints" not in exported.signatures and not exported.takes_hints.numpy()


VAL = Path(__file__).resolve().parents[1] / "colorgan" / "samples" / "val"


def _spot(path, x, y, r=3):
    """The mean RGB (0-255) of the (2r+1)^2 pixels around (x, y), fractions of the image."""
    from PIL import Image
    image = np.asarray(Image.open(path).convert("RGB"), np.float64)
    h, w = image.shape[:2]
    cy, cx = int(y * (h - 1)), int(x * (w - 1))
    return image[cy - r:cy + r + 1, cx - r:cx + r + 1].reshape(-1, 3).mean(0)


def _mean_a(png, box):
    """Mean CIE a* over box = (x0, x1, y0, y1), fractions of the image."""
    from PIL import Image
    from colorgan import color
    rgb = np.asarray(Image.open(png).convert("RGB"), np.float32)[None] / 255
    a = color.rgb_to_lab(tf.constant(rgb)).numpy()[0, ..., 1]
    h, w = a.shape
    x0, x1, y0, y1 = box
    return a[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)].mean()


def test_the_shipped_model_makes_a_red_hint_red_on_the_seat_only(tmp_path):
    """Issue 32's chair test through colorize.py's path: one red hint on the white seat
    makes the seat red and leaves the wall behind the chair (as light as the seat's back
    edge) nearly as it was: the issue's targets, seat >= +40 a* and wall < 5. Measured:
    seat +46.8, wall +0.4 (the bilateral grid before: +49 and +39; `region` without its
    fill band +37 and +9)."""
    model = opener.open_model("pretrained")
    assert model.takes_hints
    photo = str(VAL / "gcompris_categorization_chair.jpg")
    red = [(0.55, 0.43, (224 / 255, 32 / 255, 32 / 255))]
    hinted = files.colorize_files(model, [photo], tmp_path / "hint", "png", points=red)
    auto = files.colorize_files(model, [photo], tmp_path / "auto", "png")
    (_, hinted_png), = hinted.pairs()
    (_, auto_png), = auto.pairs()
    seat, wall = (0.45, 0.75, 0.41, 0.445), (0.5, 0.75, 0.1, 0.37)
    r, g, b = _spot(hinted_png, 0.55, 0.43)
    assert r - max(g, b) > 60, (r, g, b)
    assert _mean_a(hinted_png, seat) - _mean_a(auto_png, seat) >= 40
    assert abs(_mean_a(hinted_png, wall) - _mean_a(auto_png, wall)) < 5


def test_ten_revealed_hints_raise_psnr(tmp_path):
    """Zhang et al.'s measure on 12 samples:val crops at 128 px: 10 revealed patches of
    the true colour raise PSNR well above none (+3.1 dB on all 46 at 256 px)."""
    from colorgan import color
    from colorgan.data import input_pipeline
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    L, ab = next(iter(input_pipeline.eval_dataset(source, image_size=128, batch_size=12)))
    truth = color.model_to_rgb(L, ab).numpy()
    model = opener.open_model("pretrained")
    psnr = {n: float(tf.reduce_mean(tf.image.psnr(model.reveal(truth, 0, n, (0, 7)),
                                                  truth, 1.0))) for n in (0, 10)}
    assert psnr[10] > psnr[0] + 1.5, psnr
