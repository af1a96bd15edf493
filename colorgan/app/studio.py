"""What the web app does, without Gradio: a photo and its hints in, a PNG out; a clip in,
an mp4 out. ui.py wires it to the page; tests call it directly.

Uploads are read by colorgan's own decoder (data/imagefiles.py: the serving graph's, with
its header check against decompression bombs, and EXIF rotation), so the app gives the
pixels colorize.py gives. Every failure a user can cause is a UserError of one line.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw

from colorgan import config, modelpath
from colorgan.data import imagefiles
from colorgan.errors import UserError, first_line
from colorgan.models import hints as hints_lib
from colorgan.serve import exemplar
from colorgan.serve.renderings import Renderings
from colorgan.video import container, film

SHIPPED = modelpath.PRETRAINED


@dataclass
class Result:
    """A colorized photo: the decoded upload, the colour [s H, s W, 3] in [0, 1] and its PNG."""

    image: np.ndarray
    rgb: np.ndarray
    png: Path


class Studio:
    """The app's models (name -> model path, the first the default) and its outputs folder."""

    def __init__(self, models: dict[str, str], restorer: str = "",
                 limits: config.AppConfig = config.AppConfig(),
                 outdir: str | os.PathLike | None = None):
        if not models:
            raise UserError("the app needs a model")
        self.paths, self.restorer, self.limits = dict(models), restorer, limits
        self.names = list(models)
        self._open: dict[str, Renderings] = {}
        self._opening = threading.Lock()
        if outdir is None:  # the app's own: gone with the app (Gradio serves its copies)
            outdir = tempfile.mkdtemp(prefix="colorgan-app-")
            weakref.finalize(self, shutil.rmtree, outdir, True)
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.renderings(self.names[0])  # a bad --model fails at launch, not at first upload

    def renderings(self, name: str) -> Renderings:
        if name not in self.paths:
            raise UserError(f"model {name!r}: choose {', '.join(self.names)}")
        with self._opening:  # two requests for a model not yet open read it once
            if name not in self._open:
                self._open[name] = Renderings(self.paths[name], self.restorer)
            return self._open[name]

    # ------------------------------------------------------------------ photos

    def read(self, path: str | os.PathLike | None) -> np.ndarray:
        """An uploaded file -> float32 RGB [H, W, 3] in [0, 1] (EXIF-rotated)."""
        if not path:
            raise UserError("upload a photo first")
        self._check_size(path)
        try:
            return imagefiles.decode_bytes(Path(path).read_bytes(), self.limits.max_pixels)
        except tf.errors.InvalidArgumentError as e:
            raise UserError(f"not a readable image ({first_line(e)})") from None

    def colorize(self, path, hints_json: str, render: config.RenderConfig,
                 model: str = "", reference=None) -> Result:
        """An uploaded photo and hints as colorize.py --hints takes them ("" or "[]": none),
        and optionally an uploaded colour reference photo (colorize.py --reference) -> the
        colorized photo at s times its size (s = render.upscale) and its PNG."""
        points = parse_hints(hints_json)
        renderings = self.renderings(model or self.names[0])
        if points and not renderings.takes_hints:
            raise UserError("this model takes no hints (train one with --hints)")
        if reference:
            check_takes_reference(renderings)
        self._check_render_size(render)
        image = self.read(path)
        colours = self.read_reference(reference) if reference else None
        pixels = image.shape[0] * image.shape[1] * render.upscale ** 2
        if pixels > self.limits.max_pixels:
            raise UserError(f"upscale {render.upscale}: the result would have {pixels:,} "
                            f"pixels; at most {self.limits.max_pixels:,}")
        if not points and colours is None and renderings.fixed:
            # Nothing to spread: an export's own hint_spread serves (/colorize has no
            # control for it, and exports made before `wide` became the default bake
            # `region`).
            render = replace(render, hint_spread=renderings.fixed.get(
                "hint_spread", render.hint_spread))
        colorizer = renderings.get(render)
        with renderings.calls:
            if colours is not None:
                rgb = colorizer.with_reference(image[None], render.render_size, colours,
                                               points)[0]
            elif points:
                rgb = colorizer.with_points(image[None], render.render_size, points)[0]
            else:
                rgb = colorizer(image[None], render.render_size)[0]
        return Result(image, rgb, self.write_png(rgb, Path(path).stem + "_colorized.png"))

    def read_reference(self, path: str | os.PathLike) -> np.ndarray:
        """An uploaded reference photo -> float32 RGB [h, w, 3] in [0, 1]; one line naming it
        (as the user does) when it is no image, too large or gray."""
        self._check_size(path)
        try:
            return exemplar.decode(Path(path).read_bytes(), "the reference photo",
                                   self.limits.max_pixels)
        except UserError as e:
            raise UserError(str(e).replace("reference: ", "", 1)) from None

    def write_png(self, rgb: np.ndarray, name: str) -> Path:
        """RGB float in [0, 1] -> a PNG of its own in the outputs folder (the
        rounding colorize.py's files have; zlib level 1: big photos encode 6x faster)."""
        self._prune()
        folder = self.outdir / uuid.uuid4().hex
        folder.mkdir()
        target = folder / name
        as_uint8(rgb).save(target, format="PNG", compress_level=1)
        return target

    def _prune(self) -> None:
        old = time.time() - 60 * self.limits.keep_minutes
        for folder in self.outdir.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < old:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:  # another request pruned it first
                pass

    def _check_render_size(self, render: config.RenderConfig) -> None:
        if render.render_size > self.limits.max_render_size:
            raise UserError(f"render_size={render.render_size}: at most "
                            f"{self.limits.max_render_size}")

    def _check_size(self, path) -> None:
        try:
            size = os.path.getsize(path)
        except OSError as e:
            raise UserError(f"the upload is gone ({e.strerror})") from None
        if size > self.limits.max_upload_mb << 20:
            raise UserError(f"the upload has {size / 2**20:.0f} MB; at most "
                            f"{self.limits.max_upload_mb} MB")

    # ------------------------------------------------------------------ videos

    def colorize_video(self, path, temporal: bool = True, restore: bool = False,
                       model: str = "", on_progress=None, reference=None) -> Path:
        """An uploaded clip -> the colorized clip (H.264 .mp4; .mkv where its audio needs
        it), colour steadied along the optical flow unless `temporal` is off, rendered as
        the model's defaults say (an export: as it was exported), and optionally steered by
        an uploaded colour keyframe or still (colorize.py clip --reference: each shot takes
        its colours where its content matches, the rest keeps the automatic colour).
        on_progress(frames done, frames expected or 0)."""
        if not path:
            raise UserError("upload a clip first")
        self._check_size(path)
        renderings = self.renderings(model or self.names[0])
        if reference:
            check_takes_reference(renderings)
        references = [self.read_reference(reference)] if reference else []
        src = Path(path)
        try:
            info = container.probe(src)  # a file that is no video fails here
            suffix = film.output_suffix(src)
        except Exception as e:
            raise self._named(e, src) from None
        render = config.RenderConfig(**{**(renderings.fixed or config.RenderConfig()
                                           .post_processing()), "restore": restore})
        pixels = info.width * info.height * render.upscale ** 2
        if pixels > self.limits.max_pixels or info.expected_frames > self.limits.max_frames:
            raise UserError(f"{src.name}: {info.expected_frames} frames of {info.width} x "
                            f"{info.height}; at most {self.limits.max_frames} frames of "
                            f"{self.limits.max_pixels:,} pixels")
        colorizer = renderings.get(render)
        self._prune()
        folder = self.outdir / uuid.uuid4().hex
        folder.mkdir()
        target = folder / (src.stem + "_colorized" + suffix)
        method = "flow" if temporal else "none"
        try:
            with renderings.calls:
                film.colorize_video(colorizer, src, target,
                                    temporal=config.TemporalConfig(temporal=method),
                                    on_progress=on_progress, references=references)
        except UserError as e:
            raise self._named(e, src) from None
        return target

    def _named(self, e: Exception, src: Path) -> UserError:
        """One line about an upload, naming it as the user does (not by the server's paths)."""
        if isinstance(e, UserError):
            line = first_line(e, 300).replace(str(src), src.name)
        else:
            line = f"{src.name}: not a readable video ({first_line(e)})"
        return UserError(line.replace(str(self.outdir), "").replace(str(src.parent), ""))


def check_takes_reference(renderings: Renderings) -> None:
    """One line where a model cannot take a reference photo."""
    if not renderings.takes_reference:
        raise UserError("this model takes no reference photo (it needs the VGG16 encoder: "
                        "train one with --encoder=vgg16)")


def parse_hints(text: str) -> list:
    """Hints as colorize.py --hints reads them (a JSON list of {"x", "y", "color"}) ->
    [(x, y, (r, g, b))]; "" is none."""
    if not text or not text.strip():
        return []
    try:
        items = json.loads(text)
    except ValueError as e:
        raise UserError(f"hints are not JSON ({e})") from None
    return hints_lib.parse_points(items, "the request")


def add_hint(text: str, x: float, y: float, color: str) -> str:
    """The hints JSON with one more at (x, y) in [0, 1] (checked as colorize.py would)."""
    parse_hints(text)
    items = json.loads(text) if text and text.strip() else []
    items.append({"x": round(float(x), 4), "y": round(float(y), 4), "color": color})
    parse_hints(json.dumps(items))
    return json.dumps(items)


def drop_last_hint(text: str) -> str:
    parse_hints(text)
    items = json.loads(text) if text and text.strip() else []
    return json.dumps(items[:-1])


def as_uint8(rgb: np.ndarray) -> Image.Image:
    """Float [H, W, 3] in [0, 1] -> 8-bit image, rounded as imagefiles.write_image does."""
    return Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def lightness(image: np.ndarray) -> np.ndarray:
    """RGB float [H, W, 3] in [0, 1] -> the gray the model sees, uint8 [H, W]: sRGB of
    CIE L with a = b = 0, which is the sRGB encoding of the linear luminance Y."""
    lin = np.where(image <= 0.04045, image / 12.92, ((image + 0.055) / 1.055) ** 2.4)
    y = lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    gray = np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(y, 1 / 2.4) - 0.055)
    return np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8)


def fit_size(shape: tuple[int, int], side: int, enlarge: bool = False) -> tuple[int, int]:
    """(height, width) -> (width, height) scaled to fit side x side: shrunk, and with
    `enlarge` also enlarged."""
    h, w = shape
    scale = side / max(h, w) if enlarge else min(1.0, side / max(h, w))
    return max(1, round(w * scale)), max(1, round(h * scale))


def fit(image: Image.Image, side: int) -> Image.Image:
    """`image` shrunk (never enlarged) to fit side x side."""
    size = fit_size((image.height, image.width), side)
    return image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)


def hint_canvas(image: np.ndarray, hints_json: str, side: int) -> np.ndarray:
    """What the user clicks on: the photo's lightness (all the model uses) scaled to fit
    side x side (small photos enlarged, so the page shows them as large as big ones and
    clicks land where they aim), with a dot of its colour at each hint. uint8 [h, w, 3];
    its size is fit_size(image.shape[:2], side, enlarge=True)."""
    gray = Image.fromarray(lightness(image))
    canvas = gray.resize(fit_size(image.shape[:2], side, enlarge=True),
                         Image.Resampling.BICUBIC).convert("RGB")
    draw = ImageDraw.Draw(canvas)
    r = max(4, round(min(canvas.size) / 60))
    for x, y, rgb in parse_hints(hints_json):
        cx, cy = x * canvas.width, y * canvas.height
        draw.ellipse((cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2), fill=(255, 255, 255),
                     outline=(0, 0, 0))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r),
                     fill=tuple(int(round(255 * c)) for c in rgb))
    return np.asarray(canvas)


def before_after(image: np.ndarray, rgb: np.ndarray, side: int) -> tuple[Image.Image, Image.Image]:
    """The slider's pair: the input's lightness at the result's size (an upscale is
    compared with the scan enlarged), and the result, both at most side x side."""
    after = fit(as_uint8(rgb), side)
    before = Image.fromarray(lightness(image)).resize(after.size, Image.Resampling.BICUBIC)
    return before.convert("RGB"), after

