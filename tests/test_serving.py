"""Export for TF Serving: signatures, full-resolution output, the session loader, bad requests."""

import base64
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import color, config
from colorgan.errors import UserError
from colorgan.serve import opener, savedmodel

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "saved_model_cli"


def encode(array, fmt="PNG"):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def decode_png(data):
    return tf.io.decode_png(data).numpy()


def photo(h, w, seed=0):
    """A smooth colour image with fine luminance detail on top."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx), 0.5 + 0.4 * np.cos(5 * yy), 0.4 + 0.3 * xx * yy], -1)
    return np.clip((base + rng.normal(0, 0.08, (h, w, 3))) * 255, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def workdir(tiny_run):
    return tiny_run


@pytest.fixture(scope="module")
def colorizer(workdir):
    return opener.make_colorizer(workdir, config.RenderConfig(render_size=64),
                                 max_pixels=5_000_000)


@pytest.fixture(scope="module")
def exported(colorizer, tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    return Path(savedmodel.export(colorizer, base))  # a str: export dirs may be gs://


@pytest.fixture(scope="module")
def loaded(exported):
    return tf.saved_model.load(str(exported))


def test_export_layout_versions_and_no_overwrite(colorizer, exported, tmp_path):
    assert exported.name == "1" and (exported / "saved_model.pb").is_file()
    assert not [p for p in exported.parent.iterdir() if p.name.startswith(".")]  # no temp left
    second = savedmodel.export(colorizer, exported.parent)
    assert second == str(exported.parent / "2")
    with pytest.raises(UserError, match="exists"):
        savedmodel.export(colorizer, exported.parent, version=1)
    # Each weight is saved once: the generator's, plus the module's few flag scalars.
    # (With the Keras model tracked too, every weight was saved twice: 2x on disk and
    # in a loaded model's memory.)
    saved = sum(int(np.prod(shape)) for name, shape in
                tf.train.list_variables(str(exported / "variables" / "variables"))
                if "OBJECT_GRAPH" not in name)
    weights = sum(int(np.prod(v.shape)) for v in colorizer.generator.variables)
    assert weights <= saved <= weights + 16, (saved, weights)


def test_signatures_fit_tf_serving_predict_api(loaded):
    sig = loaded.signatures["serving_default"]
    (inputs,) = [sig.structured_input_signature[1]]
    assert list(inputs) == ["image_bytes"]
    assert inputs["image_bytes"].dtype == tf.string and inputs["image_bytes"].shape.as_list() == [None]
    assert list(sig.structured_outputs) == ["colorized_png_bytes"]  # "_bytes": base64 in REST
    assert sig.structured_outputs["colorized_png_bytes"].dtype == tf.string
    col = loaded.signatures["colorize"]
    assert list(col.structured_input_signature[1]) == ["images"]
    assert list(col.structured_outputs) == ["colorized"]


def test_rest_predict_body_round_trip(loaded):
    """The body TF Serving's REST predict takes, decoded the way it decodes it."""
    images = [photo(30, 50), photo(41, 23, seed=1)]
    body = json.dumps({"instances": [{"b64": base64.b64encode(encode(im)).decode()} for im in images]})
    # TF Serving: a {"b64": ...} value is base64-decoded into a DT_STRING element; with a
    # single named input, "instances" lists that input's values.
    request = json.loads(body)
    tensor = tf.constant([base64.b64decode(inst["b64"]) for inst in request["instances"]])
    outputs = loaded.signatures["serving_default"](image_bytes=tensor)
    # ... and outputs whose name ends in "_bytes" are sent back base64-encoded.
    response = json.loads(json.dumps({"predictions": [
        {"b64": base64.b64encode(v).decode()} for v in outputs["colorized_png_bytes"].numpy()]}))
    for im, pred in zip(images, response["predictions"]):
        png = decode_png(base64.b64decode(pred["b64"]))
        assert png.shape == im.shape


def test_fresh_process_load_matches_in_memory(colorizer, exported, tmp_path):
    images = np.stack([photo(48, 64), photo(48, 64, seed=2)]).astype(np.float32) / 255
    np.save(tmp_path / "in.npy", images)
    script = (
        "import sys, numpy as np, tensorflow as tf\n"
        f"m = tf.saved_model.load({str(exported)!r})\n"
        f"x = np.load({str(tmp_path / 'in.npy')!r})\n"
        "out = m.signatures['colorize'](images=tf.constant(x))['colorized'].numpy()\n"
        f"np.save({str(tmp_path / 'out.npy')!r}, out)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = colorizer.colorize(tf.constant(images))["colorized"].numpy()
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, atol=1e-5)


def test_saved_model_cli_show_and_run_both_signatures(exported, tmp_path):
    show = subprocess.run([str(CLI), "show", "--all", "--dir", str(exported)],
                          capture_output=True, text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-2000:]
    for name in ("serving_default", "image_bytes", "colorized_png_bytes", "colorize", "images"):
        assert name in show.stdout
    jpeg = encode(photo(37, 45), "JPEG")
    np.save(tmp_path / "bytes.npy", np.array([jpeg], dtype=object), allow_pickle=True)
    np.save(tmp_path / "images.npy", np.random.default_rng(0).random((2, 24, 40, 3)).astype(np.float32))
    for sig, arg, out in (("serving_default", f"image_bytes={tmp_path / 'bytes.npy'}",
                           "colorized_png_bytes"),
                          ("colorize", f"images={tmp_path / 'images.npy'}", "colorized")):
        proc = subprocess.run(
            [str(CLI), "run", "--dir", str(exported), "--tag_set", "serve", "--signature_def", sig,
             "--inputs", arg, "--outdir", str(tmp_path / sig)],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "Could not find variable" not in proc.stderr
        result = np.load(tmp_path / sig / f"{out}.npy", allow_pickle=True)
        if sig == "colorize":
            assert result.shape == (2, 24, 40, 3)
        else:
            assert decode_png(result[0]).shape == (37, 45, 3)


def test_jpeg_signature_equals_the_png_one_up_to_jpeg_loss(loaded):
    image = photo(90, 130, seed=6)
    request = tf.constant([encode(image), encode(photo(41, 23, seed=1))])
    pngs = loaded.signatures["serving_default"](image_bytes=request)["colorized_png_bytes"]
    jpegs = loaded.signatures["serving_jpeg"](image_bytes=request)["colorized_jpeg_bytes"]
    assert list(loaded.signatures["serving_jpeg"].structured_outputs) == ["colorized_jpeg_bytes"]
    for png, jpeg in zip(pngs.numpy(), jpegs.numpy()):
        assert jpeg[:2] == b"\xff\xd8"  # a JPEG
        a = decode_png(png).astype(np.float32)
        b = tf.io.decode_jpeg(jpeg).numpy().astype(np.float32)
        assert a.shape == b.shape
        # Quality 95, 4:4:4: PSNR against the lossless output well above 35 dB.
        assert 10 * np.log10(255 ** 2 / np.mean((a - b) ** 2)) > 35


def test_full_resolution_2000x1500(loaded):
    jpeg = encode(photo(1500, 2000), "JPEG")
    png = loaded.signatures["serving_default"](image_bytes=tf.constant([jpeg]))
    assert decode_png(png["colorized_png_bytes"].numpy()[0]).shape == (1500, 2000, 3)


def test_output_keeps_the_input_luminance(loaded):
    image = photo(150, 230, seed=3)  # odd size, fine grain: any resampling of L would show
    out = decode_png(loaded.signatures["serving_default"](
        image_bytes=tf.constant([encode(image)]))["colorized_png_bytes"].numpy()[0])
    L_in = color.rgb_to_lab(image / 255.0).numpy()[..., 0]
    L_out = color.rgb_to_lab(out / 255.0).numpy()[..., 0]
    diff = np.abs(L_in - L_out)
    assert np.median(diff) < 0.5 and np.percentile(diff, 99) < 2.0, (np.median(diff), diff.max())
    # For contrast: L that went through the render size and back is far off.
    small = tf.image.resize(L_in[None, ..., None], [64, 64], antialias=True)
    blurred = tf.image.resize(small, [150, 230]).numpy()[0, ..., 0]
    assert np.median(np.abs(L_in - blurred)) > 4 * np.median(diff) + 1


def test_colour_input_is_recoloured_from_its_lightness(loaded):
    rgb = photo(32, 48, seed=4).astype(np.float32) / 255
    gray = color.gray_rgb(color.rgb_to_model(rgb)[0]).numpy()  # same L, no colour
    fn = loaded.signatures["colorize"]
    a = fn(images=tf.constant(rgb[None]))["colorized"].numpy()
    b = fn(images=tf.constant(gray[None]))["colorized"].numpy()
    np.testing.assert_allclose(a, b, atol=2e-3)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_colorize_signature_takes_gray_rgb_rgba(loaded, channels):
    x = np.random.default_rng(0).random((2, 20, 28, channels)).astype(np.float32)
    assert loaded.signatures["colorize"](images=tf.constant(x))["colorized"].shape == (2, 20, 28, 3)


def test_gray_rgba_gif_bmp_bytes_work(loaded):
    rng = np.random.default_rng(5)
    gray = encode(rng.integers(0, 256, (30, 40)))
    rgba = encode(rng.integers(0, 256, (30, 40, 4)))
    gif, bmp = encode(photo(30, 40), "GIF"), encode(photo(30, 40), "BMP")
    outs = loaded.signatures["serving_default"](image_bytes=tf.constant([gray, rgba, gif, bmp]))
    for png in outs["colorized_png_bytes"].numpy():
        assert decode_png(png).shape == (30, 40, 3)


def test_bad_requests_fail_clearly_and_the_model_keeps_serving(workdir, tmp_path):
    small = opener.make_colorizer(workdir, config.RenderConfig(render_size=32), max_pixels=1000)
    model = tf.saved_model.load(str(savedmodel.export(small, tmp_path)))
    serve = model.signatures["serving_default"]
    good = encode(photo(20, 30))
    for bad, message in ((b"", "empty"), (b"definitely not an image", "image"),
                         (encode(photo(40, 40)), "max_pixels")):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            serve(image_bytes=tf.constant([bad]))
    out = serve(image_bytes=tf.constant([good]))["colorized_png_bytes"].numpy()
    assert decode_png(out[0]).shape == (20, 30, 3)


def test_render_size_must_fit_the_network(workdir):
    with pytest.raises(UserError, match="multiple of 32"):
        opener.make_colorizer(workdir, config.RenderConfig(render_size=100))
    with pytest.raises(UserError, match="checkpoints is not a colorgan model"):
        opener.make_colorizer(workdir / "checkpoints")
