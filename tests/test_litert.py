"""LiteRT: export.py --format=tflite, and colorize.py on a .tflite colouring photos as the
SavedModel does (issue 16: within 1.5/255), with the same pre- and post-processing, and
taking hints as it does."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from colorgan import config
from colorgan.data import imagefiles
from colorgan.errors import UserError
from colorgan.archive import files
from colorgan.serve import litert, opener, savedmodel

VAL = Path(__file__).resolve().parents[1] / "colorgan" / "samples" / "val"
PHOTOS = sorted(VAL.glob("*.jpg"))[:3]  # 320 px wide, non-square
pytestmark = pytest.mark.slow  # converts the shipped model (~15 s each)


@pytest.fixture(scope="module")
def colorizer():
    return opener.make_colorizer("pretrained")


@pytest.fixture(scope="module")
def lite_dir(colorizer, tmp_path_factory):
    return savedmodel.export(colorizer, tmp_path_factory.mktemp("lite"), writer=litert.writer())


@pytest.fixture(scope="module")
def saved(colorizer):
    """The SavedModel's graph in memory: an export colours as it does (test_pretrained.py's
    saved_model_cli run, test_model_options.py), so the shipped model is not exported a
    second time here."""
    return opener.LoadedModel(colorizer, "pretrained")


def test_tflite_colours_photos_as_the_saved_model_does(lite_dir, saved):
    lite = opener.open_model(lite_dir)
    for photo in PHOTOS:
        image = imagefiles.read_image(photo)[None]
        a, b = lite(image, 0), saved(image, 0)
        assert a.shape == b.shape == image.shape[:3] + (3,)  # full resolution kept
        assert np.abs(a - b).max() <= 1.5 / 255, photo.name
        assert np.abs(a - image[..., :3]).mean() > 1 / 255  # coloured, not the input back


def test_colorize_files_with_a_tflite(lite_dir, saved, tmp_path):
    model = opener.open_model(Path(lite_dir) / litert.FILE)  # the file itself works too
    report = files.colorize_files(model, [str(p) for p in PHOTOS], tmp_path / "lite", "png")
    reference = files.colorize_files(saved,
                                     [str(p) for p in PHOTOS], tmp_path / "saved", "png")
    assert len(report.written) == len(PHOTOS) and not report.failed
    for (_, out), (_, ref) in zip(report.pairs(), reference.pairs()):
        a = np.asarray(Image.open(out), np.int16)
        b = np.asarray(Image.open(ref), np.int16)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1  # one 8-bit level


def test_a_tflite_colours_a_video(lite_dir, saved, tmp_path):
    """Videos go through a .tflite in batches of frames, like any model."""
    import av
    from colorgan.video import clips
    frames, _ = clips.two_shots((64, 48), 4)
    clip = tmp_path / "clip.mp4"
    clips.write(clip, frames)
    outs = {}
    for name, model in (("lite", opener.open_model(lite_dir)), ("saved", saved)):
        report = files.colorize_files(model, [str(clip)],
                                      tmp_path / name, batch_size=3)
        assert not report.failed
        with av.open(str(report.written[0])) as c:
            outs[name] = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])
    assert outs["lite"].shape == frames.shape
    assert np.abs(outs["lite"].astype(float) - outs["saved"]).mean() < 1  # H.264 noise


def test_a_tflite_takes_hints_as_the_saved_model_does(lite_dir, saved, tmp_path):
    """The shipped model's .tflite has a colour_hints signature: clicks (two agreeing red
    ones far apart, so `wide`'s second pass runs, and a blue one) and evaluate.py's revealed
    patches colour as the SavedModel's graph does."""
    lite = opener.open_model(lite_dir)
    opener.require_hints(lite)
    image = imagefiles.read_image(PHOTOS[0])[None]
    points = [(0.2, 0.3, (0.8, 0.1, 0.1)), (0.8, 0.7, (0.8, 0.1, 0.1)),
              (0.5, 0.9, (0.1, 0.2, 0.8))]
    a, b = lite.with_points(image, 0, points), saved.with_points(image, 0, points)
    assert a.shape == b.shape == image.shape[:3] + (3,)
    assert np.abs(a - b).max() <= 1.5 / 255
    region = opener.LoadedModel(opener.make_colorizer(
        "pretrained", config.RenderConfig(hint_spread="region")), "pretrained")
    assert np.abs(region.with_points(image, 0, points) - b).max() > 3 / 255  # the 2nd pass ran
    assert np.abs(a - lite(image, 0)).mean() > 1 / 255  # the hints count
    two = np.concatenate([image, image[:, :, ::-1]])
    a, b = lite.reveal(two, 0, 10, (0, 10)), saved.reveal(two, 0, 10, (0, 10))
    assert np.abs(a - b).max() <= 1.5 / 255
    # An export from before LiteRT hints (no "hints" in its json) takes none: one line.
    old = tmp_path / "old"
    old.mkdir()
    (old / litert.FILE).symlink_to(Path(lite_dir) / litert.FILE)
    meta = json.loads((Path(lite_dir) / litert.META).read_text())
    del meta["hints"]
    (old / litert.META).write_text(json.dumps(meta))
    with pytest.raises(UserError, match="hints: the LiteRT model .* takes none"):
        opener.require_hints(opener.open_model(str(old / litert.FILE)))


def test_fp16_weights_hold_quality(colorizer, lite_dir, tmp_path):
    fp16 = savedmodel.export(colorizer, tmp_path, writer=litert.writer("fp16"))
    assert (Path(fp16) / litert.FILE).stat().st_size < 0.55 * (Path(lite_dir) / litert.FILE).stat().st_size
    image = imagefiles.read_image(PHOTOS[0])[None]
    a, b = opener.open_model(fp16)(image, 0), opener.open_model(lite_dir)(image, 0)
    assert np.abs(a - b).max() <= 1.5 / 255


def test_a_tflite_renders_at_its_own_size_and_settings(lite_dir, tmp_path):
    # A wrong render size is refused once, when the model opens, not once per photo.
    with pytest.raises(UserError, match="renders at 128 only"):
        opener.open_model(lite_dir, render_size=256)
    assert opener.open_model(lite_dir, render_size=128)
    with pytest.raises(UserError, match="leave out --noflip"):
        opener.open_model(lite_dir, {"flip": False})
    lone = tmp_path / "lone.tflite"
    lone.write_bytes((Path(lite_dir) / litert.FILE).read_bytes())
    with pytest.raises(UserError, match="has no colorgan_litert.json"):
        opener.open_model(str(lone))
    with pytest.raises(UserError, match="quantize='int4' is unknown"):
        litert.convert(None, "int4")


def test_one_format_per_export_folder(colorizer, lite_dir, plain_export):
    with pytest.raises(UserError, match="is another format"):
        savedmodel.export(colorizer, Path(plain_export).parent, writer=litert.writer())
    with pytest.raises(UserError, match="is another format"):
        savedmodel.export(colorizer, Path(lite_dir).parent)
