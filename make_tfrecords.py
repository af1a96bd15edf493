"""Write photos into sharded TFRecord files for large or remote training runs:

  python make_tfrecords.py --data=/path/to/photos --output=gs://bucket/photos/train
  python train.py --data='tfrecord:gs://bucket/photos/train-*' ...

--data is anything train.py reads (a folder, samples, tfds:NAME[:SPLIT]). Folders are
scanned first: unreadable and grayscale files are left out and counted, as in training.
The files' bytes are stored unchanged. Writes OUTPUT-00000-of-0000N.tfrecord.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("data", None, "FOLDER | samples[:val] | tfds:NAME[:SPLIT].", required=True)
flags.DEFINE_string("output", None, "Shard path prefix, e.g. records/train.", required=True)
flags.DEFINE_float("shard_mb", 128.0, "Start a new shard after this many MB of images.")
flags.DEFINE_float("min_chroma", 3.0, "Leave out photos with a lower mean Lab chroma (0: keep all).")
flags.DEFINE_bool("overwrite", False, "Replace an existing set of shards with this prefix.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir.")


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    cli.require_local("data", FLAGS.data)  # before TensorFlow's start (~4 s)
    from colorgan import progress
    from colorgan.data import input_pipeline, records
    from colorgan.errors import UserError

    if FLAGS.shard_mb <= 0:
        raise UserError(f"--shard_mb={FLAGS.shard_mb}: must be > 0")
    if FLAGS.data.startswith("tfrecord:"):
        raise UserError("--data is TFRecords already")
    source = input_pipeline.open_source(FLAGS.data, min_chroma=FLAGS.min_chroma,
                                        tfds_data_dir=FLAGS.tfds_data_dir or "")
    bar = progress.Progress(source.size or 0, label="writing ") if source.size else None
    shards = records.write_shards(records.source_items(source), FLAGS.output,
                                  shard_mb=FLAGS.shard_mb, overwrite=FLAGS.overwrite,
                                  on_item=bar.update if bar else None)
    logging.info("wrote %d shard(s): %s ... ; train with --data='tfrecord:%s-*'",
                 len(shards), shards[0], FLAGS.output)
    return 0


if __name__ == "__main__":
    cli.run(main, renames={"prefix": "output"})  # records.write_shards(prefix=...)
