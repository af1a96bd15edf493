"""colorgan/app/studio.py and serve/renderings.py: what the web app does, in-process (the
served app, its API and the page in a browser are tests/test_app_server.py)."""

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import imagefiles as F  # tests/imagefiles.py
from colorgan import config
from colorgan.app import studio as studio_lib
from colorgan.data import imagefiles
from colorgan.errors import UserError
from colorgan.serve import opener
from colorgan.serve.renderings import Renderings
from colorgan.video import clips, container


def test_hints_are_colorize_py_json_and_bad_ones_are_one_line():
    text = studio_lib.add_hint("[]", 0.25, 0.5, "#e02020")
    text = studio_lib.add_hint(text, 0.75, 0.125, "#2050e0")
    assert json.loads(text) == [{"x": 0.25, "y": 0.5, "color": "#e02020"},
                                {"x": 0.75, "y": 0.125, "color": "#2050e0"}]
    points = studio_lib.parse_hints(text)
    np.testing.assert_allclose(points[1][2], (0x20 / 255, 0x50 / 255, 0xE0 / 255))
    assert json.loads(studio_lib.drop_last_hint(text)) == json.loads(text)[:1]
    assert studio_lib.parse_hints("") == studio_lib.parse_hints("[]") == []
    for bad, words in (("{", "not JSON"), ('[{"x": 2, "y": 0, "color": "#fff"}]', "x and y"),
                       (json.dumps([{"x": 0, "y": 0, "color": "#fff"}] * 257), "at most 256")):
        with pytest.raises(UserError, match=words) as e:
            studio_lib.parse_hints(bad)
        assert "\n" not in str(e.value)
    with pytest.raises(UserError):
        studio_lib.add_hint("[]", 1.5, 0.5, "#fff")


def test_the_hint_canvas_is_the_lightness_with_a_dot_at_each_hint():
    skimage_color = pytest.importorskip("skimage.color")
    image = clips.sample_photo(2)[:60, :90].astype(np.float32) / 255
    gray = studio_lib.lightness(image)
    # Gray of CIE L: as RGB it has the photo's L and no chroma.
    lab_gray = skimage_color.rgb2lab(np.repeat(gray[..., None], 3, -1) / 255)
    np.testing.assert_allclose(lab_gray[..., 0], skimage_color.rgb2lab(image)[..., 0], atol=0.3)
    assert np.abs(lab_gray[..., 1:]).max() < 0.01
    hints = studio_lib.add_hint("[]", 0.25, 0.5, "#00ff00")
    canvas = studio_lib.hint_canvas(image, hints, 180)
    assert canvas.shape == (120, 180, 3) == (*studio_lib.fit_size((60, 90), 180, True)[::-1], 3)
    assert tuple(canvas[60, 45]) == (0, 255, 0)  # the dot, at (0.25, 0.5) of the canvas
    far = canvas[:, 120:]
    assert (far[..., 0] == far[..., 1]).all() and (far[..., 1] == far[..., 2]).all()
    assert studio_lib.fit_size((60, 90), 45) == (45, 30)  # shrinks; never enlarges unasked
    assert studio_lib.fit_size((60, 90), 180) == (90, 60)


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(F.encode(clips.sample_photo(2)[:48, :64], "PNG"))
    return path


def test_the_studio_refuses_bad_uploads_and_requests_in_one_line(plain_export, photo, tmp_path):
    studio = studio_lib.Studio({"plain": plain_export},
                               limits=config.AppConfig(max_upload_mb=1, max_pixels=4000),
                               outdir=tmp_path / "out")
    render = config.RenderConfig()
    files = {"text.png": b"not an image", "truncated.png": photo.read_bytes()[:60],
             "bomb.webp": F.webp_lossless_bomb(), "big.png": b"\0" * (1 << 20 | 1)}
    cases = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        cases.append((str(tmp_path / name), "", render, "not a readable image"
                      if name != "big.png" else "at most 1 MB"))
    (tmp_path / "ref.png").write_bytes(photo.read_bytes())
    with pytest.raises(UserError, match="takes no reference photo"):  # no VGG16 encoder
        studio.colorize(str(photo), "", render, "plain", str(tmp_path / "ref.png"))
    with pytest.raises(UserError, match="takes no reference photo"):  # nor for a clip
        studio.colorize_video(str(photo), model="plain", reference=str(tmp_path / "ref.png"))
    cases += [("", "", render, "upload a photo first"),
              (str(photo), '[{"x": 0.5, "y": 0.5, "color": "#f00"}]', render, "takes no hints"),
              (str(photo), "", config.RenderConfig(restore=True), "rendering is fixed")]
    for path, hints, rendering, words in cases:
        with pytest.raises(UserError, match=words) as e:
            studio.colorize(path, hints, rendering, "plain")
        assert "\n" not in str(e.value), str(e.value)
    with pytest.raises(UserError, match="pixels"):  # 48 x 64 = 3,072 pixels; x 2^2 is too many
        studio.colorize(str(photo), "", config.RenderConfig(upscale=2), "plain")
    with pytest.raises(UserError, match="choose plain"):
        studio.colorize(str(photo), "", render, "another")


def test_the_studio_colorizes_as_the_model_does_and_writes_a_png(plain_export, photo, tmp_path):
    studio = studio_lib.Studio({"plain": plain_export}, outdir=tmp_path / "out")
    result = studio.colorize(str(photo), "[]", config.RenderConfig())
    model = opener.open_model(plain_export)
    expected = model(imagefiles.read_image(photo)[None])[0]  # colorize.py's reading
    np.testing.assert_array_equal(result.rgb, expected)
    assert result.png.name == "photo_colorized.png" and result.png.parent.parent == studio.outdir
    saved = np.asarray(Image.open(result.png))
    np.testing.assert_array_equal(saved, np.round(np.clip(expected, 0, 1) * 255))
    before, after = studio_lib.before_after(result.image, result.rgb, 32)
    assert before.size == after.size == (32, 24)


def test_a_clip_comes_back_colorized_with_its_progress(plain_export, tmp_path):
    frames = clips.two_shots((64, 48), 4)[0]
    clips.write(tmp_path / "clip.mp4", frames)
    studio = studio_lib.Studio({"plain": plain_export}, outdir=tmp_path / "out")
    seen = []
    out = studio.colorize_video(tmp_path / "clip.mp4", temporal=False,
                                on_progress=lambda done, total: seen.append((done, total)))
    assert out.suffix == ".mp4" and container.probe(out).frames == len(frames)
    assert seen[-1] == (len(frames), len(frames)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    (tmp_path / "not_a_clip.mp4").write_text("text")
    with pytest.raises(UserError, match="not_a_clip.mp4: not a readable video") as e:
        studio.colorize_video(tmp_path / "not_a_clip.mp4")
    assert str(tmp_path) not in str(e.value)  # named as the user knows it, not by server path


@pytest.fixture(scope="module")
def noflip_export(tmp_path_factory):
    """An export of an untrained tiny model rendered without mirror averaging and with the
    `region` spread (the default before 2026-12-06): its rendering is not the default one,
    so the app must take it as it is."""
    from colorgan.models import networks
    from colorgan.serve import graph, savedmodel
    cfg = config.get_preset("tiny")
    colorizer = graph.Colorizer(networks.build_generator(cfg.model, 32), 32,
                                graph.DEFAULT_MAX_PIXELS, 32, cfg=cfg,
                                render=config.RenderConfig(flip=False, hint_spread="region"))
    return str(savedmodel.export(colorizer, tmp_path_factory.mktemp("noflip")))


def test_an_export_renders_as_exported_photos_clips_and_controls(noflip_export, photo,
                                                                   tmp_path):
    from colorgan.app import ui
    studio = studio_lib.Studio({"noflip": noflip_export},
                               limits=config.AppConfig(max_render_size=64, max_frames=6),
                               outdir=tmp_path / "out")
    fixed = studio.renderings("noflip").fixed
    assert fixed["flip"] is False
    updates = ui.controls(studio, "noflip")  # the page shows the export's values, locked
    assert [u["value"] for u in updates] == [fixed[k] for k in ui.FIXED]
    assert not any(u["interactive"] for u in updates)
    with pytest.raises(UserError, match="rendering is fixed"):
        studio.colorize(str(photo), "", config.RenderConfig(), "noflip")
    studio.colorize(str(photo), "", config.RenderConfig(**fixed), "noflip")
    # Without hints the spread changes nothing: the API's calls (no spread control) work.
    assert fixed["hint_spread"] == "region"
    studio.colorize(str(photo), "", config.RenderConfig(**{**fixed, "hint_spread": "wide"}),
                    "noflip")
    with pytest.raises(UserError, match="render_size=128: at most 64"):
        studio.colorize(str(photo), "", config.RenderConfig(**fixed, render_size=128), "noflip")
    frames = clips.two_shots((64, 48), 3)[0]
    clips.write(tmp_path / "clip.mp4", frames)
    assert container.probe(studio.colorize_video(tmp_path / "clip.mp4")).frames == 6
    clips.write(tmp_path / "long.mp4", clips.two_shots((64, 48), 4)[0])
    with pytest.raises(UserError, match="long.mp4: 8 frames of 64 x 48; at most 6 frames"):
        studio.colorize_video(tmp_path / "long.mp4")


def test_only_files_uploaded_to_the_app_are_read(photo):
    import gradio
    from colorgan.app import ui
    import tempfile
    folder = Path(gradio.utils.get_upload_folder())
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as inside:
        uploaded = Path(inside) / "photo.png"
        uploaded.write_bytes(photo.read_bytes())
        assert ui.upload_path({"path": str(uploaded), "meta": {}}) == os.path.realpath(uploaded)
    assert ui.upload_path(None) is None and ui.upload_path({"path": None}) is None
    for elsewhere in (str(photo), str(folder / ".." / "etc" / "passwd"), "/etc/passwd"):
        with pytest.raises(UserError, match="only files uploaded to the app"):
            ui.upload_path({"path": elsewhere})


def test_renderings_share_one_model_and_render_as_make_colorizer_does(photo):
    renderings = Renderings("pretrained", keep=1)
    plain = config.RenderConfig(flip=False, chroma_gain=1.0)
    model = renderings.get(plain)
    assert renderings.get(plain) is model and renderings.takes_hints
    image = np.asarray(Image.open(photo), np.float32)[None] / 255
    expected = opener.LoadedModel(opener.make_colorizer("pretrained", plain), "pretrained")
    np.testing.assert_array_equal(model(image, 0), expected(image, 0))
    other = renderings.get(config.RenderConfig())
    assert other.module.generator is model.module.generator  # the weights are shared
    assert renderings.get(plain) is not model  # keep=1: the first rendering was let go


def test_the_studio_colours_from_a_reference_upload_as_colorize_py_does(photo, tmp_path):
    from colorgan.serve import exemplar
    studio = studio_lib.Studio({"shipped": "pretrained"}, outdir=tmp_path / "out")
    assert studio.renderings("shipped").takes_reference
    reference = tmp_path / "ref.png"
    view = np.ascontiguousarray(clips.sample_photo(2)[8:40, 4:60][:, ::-1])  # mirrored crop
    reference.write_bytes(F.encode(view, "PNG"))
    render = config.RenderConfig(flip=False)
    got = studio.colorize(str(photo), "", render, reference=str(reference))
    # The studio's own rendering, called as colorize.py calls its model (that a rendering
    # colours as make_colorizer's model does: the test above); a second build of the
    # shipped model would cost ~10 s.
    model = studio.renderings("shipped").get(render)
    image = imagefiles.read_image(photo)[None]
    expected = model.with_reference(image, 0, exemplar.read(reference))[0]
    np.testing.assert_array_equal(got.rgb, expected)
    assert np.abs(expected - model(image, 0)[0]).mean() > 1 / 255  # the reference counts
    gray = tmp_path / "gray.png"
    gray.write_bytes(F.encode(np.full((20, 30, 3), 128, np.uint8), "PNG"))
    with pytest.raises(UserError, match="^the reference photo is gray"):
        studio.colorize(str(photo), "", render, reference=str(gray))
    # A clip with a colour still of its first shot: as colorize.py clip --reference writes it,
    # and the still counts. Compared after H.264 with a margin, against the still's own
    # effect: under pytest-xdist the same call's clip has come back off by up to 17 levels
    # in 17 % of values (docs/notes/app.md).
    from colorgan.video import film
    frames, _ = clips.two_shots((64, 48), 3)
    clips.write(tmp_path / "clip.mp4", frames)
    still = tmp_path / "still.png"
    still.write_bytes(F.encode(np.ascontiguousarray(clips.stills((64, 48))[0]), "PNG"))
    got = studio.colorize_video(tmp_path / "clip.mp4", temporal=False, reference=str(still))
    default = studio.renderings("shipped").get(config.RenderConfig())
    flow_off = config.TemporalConfig(temporal="none")
    for name, refs in (("ref.mp4", [exemplar.read(still)]), ("auto.mp4", [])):
        film.colorize_video(default, tmp_path / "clip.mp4", tmp_path / name, temporal=flow_off,
                            references=refs)
    got, ref, auto = (np.concatenate(list(container.read_frames(p))).astype(float)
                      for p in (got, tmp_path / "ref.mp4", tmp_path / "auto.mp4"))
    took = np.abs(ref[:3] - auto[:3]).mean()  # the first shot took the still's colours
    assert took > 4, took
    off = np.abs(got - ref).mean(axis=(1, 2, 3))  # 0 in most runs
    assert off.max() < took / 3, (off, took)
    with pytest.raises(UserError, match="^the reference photo is gray"):
        studio.colorize_video(tmp_path / "clip.mp4", reference=str(gray))


def test_the_space_folder_builds_the_app_from_its_own_copy_of_colorgan(tmp_path):
    import gradio
    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[1]
    space = tmp_path / "space"
    subprocess.run([sys.executable, str(root / "scripts" / "make_space.py"),
                    f"--output_dir={space}"], check=True, capture_output=True, timeout=300)
    card = (space / "README.md").read_text().split("---")[1]
    header = dict(line.split(": ", 1) for line in card.strip().splitlines())
    assert header["sdk"] == "gradio" and header["app_file"] == "app.py"
    assert header["sdk_version"] == gradio.__version__
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = {Requirement(r).name for r in project["dependencies"]} | {"tensorflow-cpu", "gradio"}
    listed = {Requirement(r).name for r in (space / "requirements.txt").read_text().split("\n") if r}
    assert listed == wanted
    assert (space / "colorgan" / "weights" / "colorizer").is_dir()
    assert "*.npz filter=lfs" in (space / ".gitattributes").read_text()
    # What the Space does first: import app.py, with the copy ahead of the installed colorgan.
    code = ("import colorgan, app; print(colorgan.__file__); print(type(app.demo).__name__)")
    run = subprocess.run([sys.executable, "-c", code], cwd=space, capture_output=True,
                         text=True, timeout=300, env={**os.environ,
                                                      "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert run.returncode == 0, run.stderr[-2000:]
    where, kind = run.stdout.split()[-2:]
    assert Path(where).is_relative_to(space) and kind == "Blocks"
    with pytest.raises(subprocess.CalledProcessError):  # never into an existing folder
        subprocess.run([sys.executable, str(root / "scripts" / "make_space.py"),
                        f"--output_dir={space}"], check=True, capture_output=True, timeout=300)
