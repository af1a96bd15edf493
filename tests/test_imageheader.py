"""Header checks: the pixels every format declares, bombs refused before decoding."""

import numpy as np
import pytest
import tensorflow as tf

from colorgan.data import decode, imageheader, input_pipeline
import imagefiles as F  # tests/imagefiles.py

rng = np.random.default_rng(0)
H, W = 23, 37  # odd, non-square: catches swapped or off-by-one sides


def photo(h=H, w=W):
    return rng.integers(0, 256, (h, w, 3), np.uint8)


REAL = {
    "jpeg": lambda: F.encode(photo(), "JPEG"),
    "jpeg_gray": lambda: F.encode(photo()[..., 0], "JPEG"),
    "png": lambda: F.encode(photo(), "PNG"),
    "png_rgba": lambda: F.encode(np.dstack([photo(), photo()[..., :1]]), "PNG"),
    "png16": lambda: F.png16(rng.integers(0, 65536, (H, W, 3)).astype(np.uint16)),
    "bmp": lambda: F.encode(photo(), "BMP"),
    "webp_lossy": lambda: F.encode(photo(), "WEBP"),
    "webp_lossless": lambda: F.encode(photo(), "WEBP", lossless=True),
    "webp_extended": lambda: F.encode(photo(), "WEBP", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00"),
}


@pytest.mark.parametrize("kind", sorted(REAL))
def test_declared_pixels_equal_the_decoded_size(kind):
    encoded = REAL[kind]()
    declared = int(imageheader.declared_pixels(tf.constant(encoded)))
    assert declared == H * W
    assert decode.decode_image(encoded).shape == (H, W, 3)


def test_a_gif_declares_every_frame():
    frames = [photo() for _ in range(4)]
    encoded = F.gif(frames)
    assert int(imageheader.declared_pixels(tf.constant(encoded))) == 4 * H * W
    assert tf.io.decode_gif(encoded).shape == (4, H, W, 3)  # what TF allocates
    first = decode.decode_image(encoded)
    assert first.shape == (H, W, 3)


def test_declared_pixels_inside_tf_function_and_dataset():
    encoded = [REAL[k]() for k in sorted(REAL)] + [F.gif([photo(), photo()])]
    expected = [H * W] * len(REAL) + [2 * H * W]
    fn = tf.function(imageheader.declared_pixels)
    assert [int(fn(tf.constant(e))) for e in encoded] == expected
    ds = tf.data.Dataset.from_tensor_slices(encoded).map(imageheader.declared_pixels)
    assert [int(x) for x in ds] == expected


BOMBS = {
    "png": (F.png_bomb, 16383 ** 2),
    "jpeg": (F.jpeg_bomb, 65000 ** 2),
    "webp_lossless": (F.webp_lossless_bomb, 16383 ** 2),
    "webp_lossy": (F.webp_lossy_bomb, 16383 ** 2),
    "webp_canvas": (F.webp_canvas_bomb, (1 << 24) ** 2),
    "bmp": (F.bmp_bomb, 30000 ** 2),
    "gif_frames": (F.gif_bomb, 10 * 4000 ** 2),
}


@pytest.mark.parametrize("kind", sorted(BOMBS))
def test_bombs_are_refused_before_decoding(kind):
    make, pixels = BOMBS[kind]
    encoded = make()
    assert len(encoded) < 1000
    assert int(imageheader.declared_pixels(tf.constant(encoded))) == pixels
    with pytest.raises(tf.errors.InvalidArgumentError, match="more pixels than max_pixels"):
        decode.decode_image(encoded)
    with pytest.raises(tf.errors.InvalidArgumentError, match="more pixels than max_pixels"):
        tf.function(decode.decode_image)(tf.constant(encoded))


def test_max_pixels_is_a_limit_not_a_guess():
    encoded = REAL["png"]()
    assert decode.decode_image(encoded, max_pixels=H * W).shape == (H, W, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_pixels"):
        decode.decode_image(encoded, max_pixels=H * W - 1)


def test_animated_webp_is_refused_not_decoded():
    # tf.io.decode_webp in TF 2.21 corrupts the heap on these: the process dies.
    encoded = F.animated_webp([photo(), photo()])
    assert bool(imageheader.webp_is_animated(tf.constant(encoded)))
    assert not bool(imageheader.webp_is_animated(tf.constant(REAL["webp_extended"]())))
    with pytest.raises(tf.errors.InvalidArgumentError, match="animated WebP"):
        decode.decode_image(encoded)


@pytest.mark.parametrize("encoded, reason", [
    (b"", "empty string"), (b"hello, world", "not a JPEG"), (b"\x89PNG", "max_pixels|PNG")])
def test_non_images_get_one_line(encoded, reason):
    with pytest.raises(tf.errors.InvalidArgumentError, match=reason):
        decode.decode_image(encoded)


def test_sixteen_bit_png_keeps_its_precision():
    gray = rng.integers(0, 65536, (H, W)).astype(np.uint16)
    rgb = rng.integers(0, 65536, (H, W, 3)).astype(np.uint16)
    np.testing.assert_allclose(decode.decode_image(F.png16(gray)).numpy(),
                               np.repeat(gray[..., None], 3, -1) / 65535, atol=1e-6)
    np.testing.assert_allclose(decode.decode_image(F.png16(rgb)).numpy(), rgb / 65535, atol=1e-6)


def test_bombs_in_a_folder_are_skipped_and_counted(tmp_path):
    for i in range(2):
        (tmp_path / f"photo{i}.png").write_bytes(F.encode(photo(64, 64), "PNG"))
    (tmp_path / "bomb.png").write_bytes(F.png_bomb())
    (tmp_path / "bomb.webp").write_bytes(F.webp_lossless_bomb())
    (tmp_path / "anim.webp").write_bytes(F.animated_webp([photo(), photo()]))
    source = input_pipeline.open_source(str(tmp_path), min_chroma=0)
    assert len(source.paths) == 2 and source.skipped_unreadable == 3
