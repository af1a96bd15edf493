"""Export a trained generator for TF Serving:

  python export.py --workdir=runs/demo --export_dir=runs/demo/export

writes runs/demo/export/<version>/ with signatures serving_default (image bytes in,
PNG bytes out, full resolution) and colorize (float images in and out).
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (its latest checkpoint is exported).")
flags.DEFINE_string("checkpoint", None, "Or a checkpoint prefix, e.g. WORKDIR/checkpoints/ckpt-500.")
flags.DEFINE_string("export_dir", None, "Model base path; the export goes to <export_dir>/<version>.",
                    required=True)
flags.DEFINE_integer("version", None, "Version folder name (default: one more than the highest).")
flags.DEFINE_integer("render_size", 0, "Side the generator sees (0 = the training image size).")
flags.DEFINE_integer("max_pixels", 50_000_000, "Larger images are refused (InvalidArgument).")


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    from colorgan import serving
    from colorgan.errors import UserError

    if bool(FLAGS.workdir) == bool(FLAGS.checkpoint):
        raise UserError("give exactly one of --workdir or --checkpoint")
    colorizer = serving.make_colorizer(FLAGS.workdir or FLAGS.checkpoint, FLAGS.render_size,
                                       FLAGS.max_pixels)
    path = serving.export(colorizer, FLAGS.export_dir, FLAGS.version)
    logging.info("SavedModel at %s (render size %d); serve with TF Serving, model_base_path=%s",
                 path, int(colorizer.render_size), FLAGS.export_dir)
    print(path)
    return 0


if __name__ == "__main__":
    cli.run(main)
