import numpy as np
import pytest
import tensorflow as tf

from colorgan import color
from colorgan.data import decode, input_pipeline, sources, tfds_source
from colorgan.errors import UserError


def test_folder_scan_skips_and_counts_bad_and_grayscale_files(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    names = sorted(p.rsplit("/", 1)[1] for p in src.paths)
    assert names == sorted(["c0.jpg", "c1.jpg", "c2.jpg", "c3.jpg", "c4.jpg", "c5.jpg",
                            "p.png", "w.webp", "b.bmp", "g.gif"])
    assert src.skipped_unreadable == 3  # empty.jpg, text.png, truncated.jpg
    assert src.skipped_grayscale == 1
    # Opened again, known files are not decoded again; a changed one is.
    from colorgan.data import folders
    from conftest import write_image
    write_image(photo_folder / "c0.jpg", np.full((40, 40, 3), 128))  # now gray
    (photo_folder / "text.png").write_bytes((photo_folder / "b.bmp").read_bytes())  # now an image
    known = dict(folders._SCANNED)
    again = input_pipeline.open_source(str(photo_folder))
    assert sorted(set(folders._SCANNED) - set(known)) == [str(photo_folder / "text.png")]
    assert folders._SCANNED[str(photo_folder / "c0.jpg")] != known[str(photo_folder / "c0.jpg")]
    assert folders._SCANNED[str(photo_folder / "c1.jpg")] is known[str(photo_folder / "c1.jpg")]
    assert str(photo_folder / "c0.jpg") not in again.paths
    assert (again.skipped_unreadable, again.skipped_grayscale) == (2, 2)
    assert set(again.paths) == (set(src.paths) - {str(photo_folder / "c0.jpg")}) | {
        str(photo_folder / "text.png")}


def test_missing_path_and_empty_folder_are_user_errors(tmp_path):
    # Library errors name the config field (`source`), not train.py's flag (cli.py maps it).
    with pytest.raises(UserError, match=r"^source: .*nope does not exist$"):
        input_pipeline.open_source(str(tmp_path / "nope"))
    (tmp_path / "junk.jpg").write_bytes(b"\x00" * 10)
    with pytest.raises(UserError, match="^source: no usable colour image"):
        input_pipeline.open_source(str(tmp_path))
    (tmp_path / "sub").mkdir()
    with pytest.raises(UserError, match="no image files"):
        input_pipeline.open_source(str(tmp_path / "sub"))


def test_samples_source_has_both_splits():
    train, val = input_pipeline.open_source("samples"), input_pipeline.open_source("samples:val")
    assert train.size >= 150 and val.size >= 30
    assert not set(train.paths) & set(val.paths)
    assert input_pipeline.default_eval_spec("samples") == "samples:val"


def take(ds, n):
    return [tuple(t.numpy() for t in batch) for batch in ds.take(n)]


def test_train_batches_shapes_ranges_and_lab_consistency(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    (L, ab), = take(input_pipeline.train_dataset(src, image_size=32, batch_size=5, seed=3), 1)
    assert L.shape == (5, 32, 32, 1) and ab.shape == (5, 32, 32, 2)
    assert L.dtype == np.float32 and ab.dtype == np.float32
    assert -1 <= L.min() and L.max() <= 1 and np.abs(ab).max() < 1
    rgb = color.model_to_rgb(L, ab).numpy()  # a real image: back to RGB and again to Lab
    np.testing.assert_allclose(color.rgb_to_model(rgb)[0].numpy(), L, atol=2e-3)


def test_train_stream_is_deterministic_and_resumable(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    make = lambda seed, start=0: input_pipeline.train_dataset(  # noqa: E731
        src, image_size=32, batch_size=4, seed=seed, start_index=start)
    first, again, other = take(make(1), 6), take(make(1), 6), take(make(2), 6)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(first[0][1], other[0][1])
    # Resuming after 3 batches (12 elements, across an epoch boundary of 10 files).
    resumed = take(make(1, start=12), 3)
    for a, b in zip(first[3:], resumed):
        np.testing.assert_array_equal(a[1], b[1])


def test_each_epoch_visits_every_file_once(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    n = src.size
    files = [int(f) for _, f in sources.permuted_elements(n, seed=5, start=0).take(3 * n)]
    for e in range(3):
        assert sorted(files[e * n:(e + 1) * n]) == list(range(n))
    assert files[:n] != files[n:2 * n]  # reshuffled per epoch


class _Context:
    """What tf.distribute passes to a dataset_fn: 2 pipelines, 4 replicas."""

    def __init__(self, pipeline):
        self.num_input_pipelines, self.input_pipeline_id = 2, pipeline

    def get_per_replica_batch_size(self, global_batch):
        return global_batch // 4


def test_input_pipelines_split_each_global_batch_in_order(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    kwargs = dict(image_size=32, batch_size=8, seed=0)
    (whole_L, _), = take(input_pipeline.train_dataset(src, **kwargs), 1)
    parts = [take(input_pipeline.train_dataset(src, input_context=_Context(p), **kwargs), 2)
             for p in (0, 1)]
    # Pipeline p, replica r gets elements [4p + 2r, 4p + 2r + 2) of the global batch.
    joined = np.concatenate([parts[p][r][0] for p in (0, 1) for r in (0, 1)])
    np.testing.assert_array_equal(joined, whole_L)


def test_eval_crop_is_shorter_side_then_centre():
    image = tf.reshape(tf.range(40 * 80 * 3, dtype=tf.float32) / (40 * 80 * 3), [40, 80, 3])
    out = input_pipeline.eval_crop(image, 20).numpy()
    expected = tf.image.resize(image, [20, 40], antialias=True).numpy()[:, 10:30]
    assert out.shape == (20, 20, 3)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_eval_dataset_covers_the_source_once(photo_folder):
    src = input_pipeline.open_source(str(photo_folder))
    sizes = [b[0].shape[0] for b in take(input_pipeline.eval_dataset(src, image_size=32, batch_size=4), 10)]
    assert sizes == [4, 4, 2]


def test_large_jpeg_is_decoded_at_reduced_scale_but_not_below_min_side(tmp_path):
    from conftest import write_image
    write_image(tmp_path / "big.jpg", np.random.default_rng(0).integers(0, 256, (600, 800, 3)))
    data_bytes = tf.io.read_file(str(tmp_path / "big.jpg"))
    assert decode.decode_image(data_bytes).shape == (600, 800, 3)
    assert decode.decode_image(data_bytes, min_side=128).shape == (150, 200, 3)  # 1/4
    assert decode.decode_image(data_bytes, min_side=300).shape == (300, 400, 3)  # 1/2


def test_tfds_spec_parsing():
    assert tfds_source.parse_spec("tfds:imagenette") == ("imagenette", "train")
    assert tfds_source.parse_spec("tfds:coco/2017:validation") == ("coco/2017", "validation")
    assert tfds_source.parse_spec("tfds:mnist:3.0.1") == ("mnist:3.0.1", "train")


def test_tfds_offline_fails_at_once_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(tfds_source, "network_reachable", lambda timeout=3.0: False)
    with pytest.raises(UserError, match="not prepared .* no network") as e:
        input_pipeline.open_source("tfds:mnist", tfds_data_dir=str(tmp_path))
    assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="^source=tfds:no_such_dataset_xyz: "):
        input_pipeline.open_source("tfds:no_such_dataset_xyz", tfds_data_dir=str(tmp_path))


def test_tfds_source_reads_a_locally_prepared_dataset(tfds_photos):
    data_dir, images = tfds_photos
    src = input_pipeline.open_source("tfds:colorgan_test_photos", tfds_data_dir=data_dir)
    assert src.image_key == "image" and src.size is None
    (L, ab, w), = take(input_pipeline.train_dataset(src, image_size=32, batch_size=4, seed=0), 1)
    assert L.shape == (4, 32, 32, 1) and ab.shape == (4, 32, 32, 2) and w.shape == (4,)
    # a stream at the default min_chroma: each crop weighed 1 (colour) or 0 (gray)
    assert set(np.asarray(w).tolist()) <= {0.0, 1.0}
    resumed = take(input_pipeline.train_dataset(src, image_size=32, batch_size=4, seed=0, start_index=4), 1)[0]
    second = take(input_pipeline.train_dataset(src, image_size=32, batch_size=4, seed=0), 2)[1]
    np.testing.assert_array_equal(resumed[0], second[0])  # resume = the straight stream
    batches = take(input_pipeline.eval_dataset(src, image_size=32, batch_size=5), 10)
    assert [b[0].shape[0] for b in batches] == [5, 5, 2]
    # TFDS stores examples in its own (hashed) order: each output is one of the inputs.
    crops = [input_pipeline.eval_crop(tf.image.convert_image_dtype(im, tf.float32), 32) for im in images]
    expected = color.rgb_to_model(tf.stack(crops))[0].numpy()
    got = np.concatenate([b[0] for b in batches])
    distances = np.abs(got[:, None] - expected[None]).max(axis=(2, 3, 4))
    assert sorted(distances.argmin(axis=1)) == list(range(12))
    assert distances.min(axis=1).max() < 1e-5
    with pytest.raises(UserError, match="no split"):
        input_pipeline.open_source("tfds:colorgan_test_photos:test", tfds_data_dir=data_dir)


def test_folder_with_train_and_val_trains_on_train_and_shows_val(tmp_path):
    for name in ("train", "val"):
        (tmp_path / name).mkdir()
    assert input_pipeline.train_spec(str(tmp_path)) == str(tmp_path / "train")
    assert input_pipeline.default_eval_spec(str(tmp_path)) == str(tmp_path / "val")
    plain = tmp_path / "train"
    assert input_pipeline.train_spec(str(plain)) == str(plain)
    assert input_pipeline.default_eval_spec(str(plain)) == str(plain)
    assert input_pipeline.train_spec("samples") == "samples"
    assert input_pipeline.default_eval_spec("tfds:coco/2017") == "tfds:coco/2017:validation"
    assert input_pipeline.default_eval_spec("tfds:mnist:3.0.1:train") == "tfds:mnist:3.0.1:validation"
