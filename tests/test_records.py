"""TFRecord shards: byte-exact round trip, disjoint shards per worker, safe writes."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import color
from colorgan.data import input_pipeline, records
from colorgan.errors import UserError


@pytest.fixture(scope="module")
def val_source():
    return input_pipeline.open_source("samples:val")


@pytest.fixture(scope="module")
def shards(val_source, tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("rec") / "val")
    return records.write_shards(records.source_items(val_source), prefix, shard_mb=0.3)


def test_round_trip_keeps_every_image_byte_for_byte(val_source, shards):
    assert len(shards) > 2
    assert [Path(s).name for s in shards] == [
        records.shard_name("val", i, len(shards)) for i in range(len(shards))]
    assert Path(shards[0]).name == f"val-00000-of-{len(shards):05d}.tfrecord"
    originals = {Path(p).name: Path(p).read_bytes() for p in val_source.paths}
    got = {}
    for record in tf.data.TFRecordDataset(shards):
        ex = tf.io.parse_single_example(record, records.FEATURES)
        got[ex["name"].numpy().decode()] = ex["image"].numpy()
    assert got == originals
    ordered = [b for b in records.read_images(shards).as_numpy_iterator()]
    assert ordered == [originals[Path(p).name] for p in val_source.paths]


def test_each_pipeline_reads_a_disjoint_set_of_shards(shards):
    seen = []
    for i in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=i)
        files = records.pipeline_shards(shards, ctx)
        images = set(records.read_images(files, shuffle_seed=0).as_numpy_iterator())
        seen.append((set(files), images))
    (files0, images0), (files1, images1) = seen
    assert files0.isdisjoint(files1) and files0 | files1 == set(shards)
    assert images0.isdisjoint(images1)
    assert len(images0) + len(images1) == 46


def test_too_few_shards_for_the_pipelines_is_one_line(shards):
    ctx = tf.distribute.InputContext(num_input_pipelines=len(shards) + 1, input_pipeline_id=0)
    with pytest.raises(UserError, match="cannot feed"):
        records.pipeline_shards(shards, ctx)


def test_tfrecord_source_trains_and_evaluates(shards):
    folder = str(Path(shards[0]).parent)
    source = input_pipeline.open_source(f"tfrecord:{folder}/val-*", min_chroma=0.0)
    assert source.record_files == tuple(shards) and source.size is None
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                     num_replicas_in_sync=2)
    L, ab = next(iter(input_pipeline.train_dataset(source, image_size=32, batch_size=4, seed=0,
                                                   input_context=ctx)))
    assert L.shape == (2, 32, 32, 1) and ab.shape == (2, 32, 32, 2)
    n = sum(int(L.shape[0]) for L, _ in input_pipeline.eval_dataset(source, image_size=32, batch_size=8))
    assert n == 46


@pytest.mark.parametrize("pipelines", [1, 2])
def test_resume_is_exact_with_the_default_grayscale_check(shards_with_gray, pipelines):
    folder = str(Path(shards_with_gray[0]).parent)
    source = input_pipeline.open_source(f"tfrecord:{folder}/mixed-*")  # the default min_chroma
    assert source.min_chroma > 0

    def batches(pipeline, start=0):  # a fresh dataset each time, as a resumed process builds one
        ctx = tf.distribute.InputContext(num_input_pipelines=pipelines, input_pipeline_id=pipeline,
                                         num_replicas_in_sync=pipelines)
        return input_pipeline.train_dataset(source, image_size=32, batch_size=4, seed=0,
                                            input_context=ctx, start_index=start)

    for pipeline in range(pipelines):
        straight = list(batches(pipeline).take(6).as_numpy_iterator())
        resumed = list(batches(pipeline, start=3 * 4).take(3).as_numpy_iterator())  # at step 3
        for (L, ab, w), (L2, ab2, w2) in zip(straight[3:], resumed):
            np.testing.assert_array_equal(L, L2)
            np.testing.assert_array_equal(w, w2)
        # every batch holds its share of the global batch; gray crops are there, weighed 0
        assert all(L.shape[0] == 4 // pipelines for L, _, _ in straight)
        weights = np.concatenate([w for _, _, w in straight])
        chroma = np.concatenate([color.mean_chroma(color.rgb_to_lab(
            color.get_space("lab").to_rgb(L, ab))).numpy() for L, ab, _ in straight])
        np.testing.assert_array_equal(weights, (chroma >= source.min_chroma).astype(np.float32))
    assert 0 < weights.sum() < len(weights) or pipelines == 2


def test_no_match_is_one_line(tmp_path):
    with pytest.raises(UserError, match="no files match"):
        input_pipeline.open_source(f"tfrecord:{tmp_path}/nothing-*")


def test_existing_shards_are_kept_unless_overwrite(val_source, tmp_path):
    prefix = str(tmp_path / "x")
    first = records.write_shards(records.source_items(val_source), prefix, shard_mb=1)
    with pytest.raises(UserError, match="exist already"):
        records.write_shards(records.source_items(val_source), prefix)
    again = records.write_shards(records.source_items(val_source), prefix, overwrite=True)
    assert len(again) == 1 and not any(Path(f).exists() for f in first if f not in again)


def test_an_interrupted_write_leaves_nothing_behind(val_source, tmp_path):
    def items():
        for i, item in enumerate(records.source_items(val_source)):
            if i == 30:
                raise KeyboardInterrupt
            yield item

    with pytest.raises(KeyboardInterrupt):
        records.write_shards(items(), str(tmp_path / "y"), shard_mb=0.2)
    assert list(tmp_path.iterdir()) == []
