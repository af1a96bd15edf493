"""The in-memory cache of decoded photos (colorgan/data/memcache.py): same batches, bit for bit."""

import numpy as np
import tensorflow as tf

from colorgan.data import input_pipeline, memcache
from imagefiles import png16


def take(ds, n):
    return [tuple(t.numpy() for t in batch) for batch in ds.take(n)]


def test_cached_stream_equals_the_decoded_one_and_resumes_exactly(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    assert isinstance(memcache.cache_in_memory(src, 64, 64), memcache.CachedSource)  # 2 x 32
    make = lambda cache_mb, start=0: input_pipeline.train_dataset(  # noqa: E731
        src, image_size=32, batch_size=4, seed=1, start_index=start, cache_mb=cache_mb)
    plain, cached = take(make(0), 6), take(make(64), 6)
    for a, b in zip(plain, cached):  # two epochs of 10 photos, every format of the folder
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    for a, b in zip(cached[3:], take(make(64, start=12), 3)):
        np.testing.assert_array_equal(a[1], b[1])


def test_cache_holds_each_photo_as_its_decoder_gave_it(photo_folder, tmp_path):
    src = input_pipeline.open_source(str(photo_folder))
    cached = memcache.cache_in_memory(src, 32, budget_mb=64)
    assert isinstance(cached, memcache.CachedSource)
    assert cached.pixels.dtype == tf.uint16  # PNGs are decoded as 16-bit (decode.py)
    assert cached.nbytes == 2 * sum(int(np.prod(src.load(p, 32).shape)) for p in src.paths)
    for p in src.paths:
        np.testing.assert_array_equal(cached.load(tf.constant(p), 32).numpy(),
                                      src.load(tf.constant(p), 32).numpy())
    # Another min_side is not what the cache holds: decoded again, still right.
    np.testing.assert_array_equal(cached.load(tf.constant(src.paths[0]), 0).numpy(),
                                  src.load(tf.constant(src.paths[0]), 0).numpy())
    # A folder of JPEGs only needs a byte per value; a 16-bit PNG keeps its 16 bits.
    jpegs = input_pipeline.open_source(str(photo_folder / "c0.jpg"))
    assert memcache.cache_in_memory(jpegs, 0, budget_mb=1).pixels.dtype == tf.uint8
    folder = tmp_path / "deep"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        deep = np.stack([rng.integers(0, 65536, (24, 20)), np.full((24, 20), 300 * i),
                         rng.integers(0, 65536, (24, 20))], -1).astype(np.uint16)
        (folder / f"d{i}.png").write_bytes(png16(deep))
    deep_src = input_pipeline.open_source(str(folder), min_chroma=0)
    deep_cached = memcache.cache_in_memory(deep_src, 0, budget_mb=1)
    assert deep_cached.pixels.dtype == tf.uint16
    for p in deep_src.paths:
        np.testing.assert_array_equal(deep_cached.load(tf.constant(p)).numpy(),
                                      deep_src.load(tf.constant(p)).numpy())


def test_too_large_a_folder_and_streams_are_not_cached(photo_folder, tfds_photos, monkeypatch):
    src = input_pipeline.open_source(str(photo_folder))
    need = 2 * sum(int(np.prod(src.load(p, 32).shape)) for p in src.paths)  # uint16: PNGs
    assert memcache.cache_in_memory(src, 32, budget_mb=need / 2 ** 20 * 0.9) is src
    # The first photos, extrapolated to the folder, already say it will not fit: it stops
    # decoding there rather than at the budget. 10 photos; the budget holds about 3 times
    # the first two (8-bit: a byte a value), so the budget alone would stop later.
    first_two = sum(int(np.prod(src.load(p, 32).shape)) for p in src.paths[:2])
    decoded = []
    integers = memcache._integers
    monkeypatch.setattr(memcache, "_integers", lambda im: decoded.append(1) or integers(im))
    monkeypatch.setattr(memcache, "_PROBE", 2)
    assert memcache.cache_in_memory(src, 32, budget_mb=3 * first_two / 2 ** 20) is src
    assert len(decoded) == 2
    # A photo off the decoders' integer grid is no decoder's output: nothing is cached.
    monkeypatch.setattr(memcache, "_integers", lambda im: None)
    assert memcache.cache_in_memory(src, 32, budget_mb=64) is src
    assert memcache.cache_in_memory(src, 32, budget_mb=0) is src
    data_dir, _ = tfds_photos
    stream = input_pipeline.open_source("tfds:colorgan_test_photos", tfds_data_dir=str(data_dir))
    assert memcache.cache_in_memory(stream, 32, budget_mb=64) is stream
