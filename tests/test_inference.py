"""colorize.py's library: reading photos as serving does, outputs that never collide."""


import numpy as np
import pytest
from PIL import Image, ImageOps

import imagefiles as F  # tests/imagefiles.py
from colorgan.data import decode, imagefiles
from colorgan.archive import files
from colorgan.serve import opener

rng = np.random.default_rng(0)


def tint(images, render_size):
    """A stand-in colorizer: [1, H, W, 3] -> [1, H, W, 3], a fixed warm tint."""
    return np.clip(images[..., :3] * [1.0, 0.9, 0.8], 0, 1)


def write(path, array, fmt=None, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format=fmt, **kw)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(tmp_path, orientation):
    array = rng.integers(0, 256, (12, 20, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "r.png"
    write(path, array, "PNG", exif=exif.tobytes())
    with Image.open(path) as im:
        want = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.float32) / 255
    got = imagefiles.read_image(path)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_sixteen_bit_png_is_read_as_serving_reads_it(tmp_path, kind):
    # Pillow's convert("L") clipped a 16-bit gray PNG to white; now the serving decoder reads it.
    shape = (16, 24) if kind == "gray" else (16, 24, 3)
    array = rng.integers(0, 65536, shape).astype(np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(F.png16(array))
    got = imagefiles.read_image(path)
    np.testing.assert_array_equal(got, decode.decode_image(path.read_bytes()).numpy())
    want = array / 65535 if kind == "rgb" else np.repeat(array[..., None] / 65535, 3, -1)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_folders_with_the_same_file_names_keep_apart(tmp_path):
    for folder, value in (("a", 50), ("b", 200)):
        write(tmp_path / folder / "x.png", np.full((8, 8, 3), value, np.uint8))
    out = tmp_path / "out"
    report = files.colorize_files(tint, [str(tmp_path / "a"), str(tmp_path / "b")], out)
    assert not report.failed
    assert sorted(p.relative_to(out).as_posix() for p in report.written) == ["a/x.png", "b/x.png"]
    means = {p.parent.name: np.asarray(Image.open(p)).mean() for p in report.written}
    assert means["a"] < 60 < 150 < means["b"]  # each output is its own input's


def test_one_folder_maps_onto_the_output_folder(tmp_path):
    write(tmp_path / "in" / "sub" / "x.png", np.zeros((8, 8, 3), np.uint8))
    report = files.colorize_files(tint, [str(tmp_path / "in")], tmp_path / "out")
    assert [p.relative_to(tmp_path / "out").as_posix() for p in report.written] == ["sub/x.png"]


def test_same_stem_in_one_folder_and_files_named_twice_never_overwrite(tmp_path):
    write(tmp_path / "x.jpg", np.full((8, 8, 3), 30, np.uint8))
    write(tmp_path / "x.png", np.full((8, 8, 3), 220, np.uint8))
    write(tmp_path / "d" / "x.png", np.full((8, 8, 3), 120, np.uint8))
    out = tmp_path / "out"
    specs = [str(tmp_path / "x.jpg"), str(tmp_path / "x.png"), str(tmp_path / "d" / "x.png")]
    report = files.colorize_files(tint, specs, out)
    names = [p.name for p in report.written]
    assert names == ["x.png", "x_png.png", "x_2.png"]
    assert len({p.read_bytes() for p in report.written}) == 3
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == sorted(names)


def test_output_into_the_input_folder_never_overwrites_an_input(tmp_path):
    original = np.full((8, 8, 3), 77, np.uint8)
    write(tmp_path / "a.png", original)
    report = files.colorize_files(tint, [str(tmp_path)], tmp_path)
    assert [p.name for p in report.written] == ["a_colorized.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), original)


def test_bombs_fail_that_file_only(tmp_path):
    write(tmp_path / "good.png", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "bomb.webp").write_bytes(F.webp_lossless_bomb())
    report = files.colorize_files(tint, [str(tmp_path)], tmp_path / "out")
    assert [p.name for p in report.written] == ["good.png"]
    assert [(name.split("/")[-1], "max_pixels" in why) for name, why in report.failed] == \
        [("bomb.webp", True)]


@pytest.fixture(scope="module")
def trained(tiny_run, tmp_path_factory):
    """A tiny model trained for 2 steps and exported: (workdir, export base path)."""
    from colorgan.serve import savedmodel
    export = tmp_path_factory.mktemp("tiny") / "export"
    savedmodel.export(opener.make_colorizer(tiny_run), export)
    return tiny_run, export


def test_export_and_workdir_colorize_folders_keeping_sizes_exif_and_inputs(trained, tmp_path):
    workdir, export = trained
    photos = tmp_path / "photos"
    write(photos / "a.png", rng.integers(0, 256, (30, 50, 3), dtype=np.uint8))
    write(photos / "sub" / "g.jpg", rng.integers(0, 256, (21, 17), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    write(photos / "r.jpg", rng.integers(0, 256, (20, 40, 3), dtype=np.uint8), exif=exif)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    original = (photos / "a.png").read_bytes()

    # Output into the input folder, same format: a.png must not be overwritten.
    report = files.colorize_files(opener.open_model(export), [str(photos)], photos)
    assert [(name.split("/")[-1]) for name, _ in report.failed] == ["broken.jpg"]
    assert (photos / "a.png").read_bytes() == original
    assert sorted(p.relative_to(photos).as_posix() for p in report.written) == [
        "a_colorized.png", "r.png", "sub/g.png"]
    assert Image.open(photos / "a_colorized.png").size == (50, 30)
    assert Image.open(photos / "sub" / "g.png").size == (17, 21)
    assert Image.open(photos / "r.png").size == (20, 40)  # EXIF-rotated: 40x20 stored, 20x40 shown
    assert all(Image.open(p).mode == "RGB" for p in report.written)

    # From the workdir directly, JPEG output, a glob.
    report = files.colorize_files(opener.open_model(workdir), [str(photos / "*.png")],
                                  tmp_path / "out", "jpg")
    assert not report.failed
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["a.jpg", "a_colorized.jpg",
                                                                     "r.jpg"]
