"""Export a trained generator for TF Serving:

  python export.py --workdir=runs/demo --export_dir=runs/demo/export

(or: python export.py --model=pretrained --export_dir=models/colorgan)
(or a LiteRT model for fast CPU colorizing: --format=tflite [--quantize=fp16|dynamic])
writes <export_dir>/<version>/ with signatures serving_default (image bytes in,
PNG bytes out, full resolution) and colorize (float images in and out).
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Training workdir (its latest checkpoint is exported).")
flags.DEFINE_string("checkpoint", None, "Or a checkpoint prefix, e.g. WORKDIR/checkpoints/ckpt-500; "
                    "'best' with --workdir: the generator kept by train.py --keep_best.")
flags.DEFINE_string("model", None, "Or 'pretrained' (the colorizer shipped in colorgan).")
flags.DEFINE_string("export_dir", None, "Model base path; the export goes to <export_dir>/<version>.",
                    required=True)
flags.DEFINE_integer("version", None, "Version folder name (default: one more than the highest).")
config_flags.define_flat(config.RenderConfig)  # --render_size, --flip, --chroma_smooth, ...
flags.DEFINE_enum("format", "savedmodel", ["savedmodel", "tflite"],
                  "savedmodel (TF Serving) or tflite (LiteRT: model.tflite for colorize.py, "
                  "fast on CPU; one render size).")
flags.DEFINE_enum("quantize", "none", ["none", "fp16", "dynamic"],
                  "tflite weights: none (fp32), fp16, or dynamic (int8 weights).")
flags.DEFINE_integer("max_pixels", 50_000_000, "Larger images are refused (InvalidArgument).")


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    render = config_flags.flat_values(config.RenderConfig)  # before TensorFlow's start
    for flag in ("workdir", "checkpoint", "model"):
        if FLAGS[flag].value != "best":
            cli.require_local(flag, FLAGS[flag].value, cli.MODEL_HINT)
    from colorgan import workdir
    from colorgan.serve import savedmodel
    from colorgan.serve import opener
    from colorgan.errors import UserError

    if FLAGS.checkpoint == "best":
        if not FLAGS.workdir:
            raise UserError("--checkpoint=best needs --workdir (whose best/ it exports)")
        FLAGS.checkpoint, _ = workdir.resolve_checkpoint(FLAGS.workdir, which="best")
        FLAGS.workdir = None
    sources = [s for s in (FLAGS.workdir, FLAGS.checkpoint, FLAGS.model) if s]
    if len(sources) != 1:
        raise UserError("give exactly one of --workdir, --checkpoint or --model=pretrained")
    colorizer = opener.make_colorizer(sources[0], render,
                                      FLAGS.max_pixels)
    if FLAGS.format == "tflite":
        from colorgan.serve import litert
        path = savedmodel.export(colorizer, FLAGS.export_dir, FLAGS.version,
                                 writer=litert.writer(FLAGS.quantize))
        logging.info("LiteRT model at %s/%s (render size %d, %s); colorize.py --model=%s",
                     path, litert.FILE, int(colorizer.render_size), colorizer.post_processing,
                     path)
    else:
        if FLAGS.quantize != "none":
            raise UserError("--quantize applies to --format=tflite")
        path = savedmodel.export(colorizer, FLAGS.export_dir, FLAGS.version)
        logging.info("SavedModel at %s (render size %d, %s); serve with TF Serving, "
                     "model_base_path=%s", path, int(colorizer.render_size),
                     colorizer.post_processing, FLAGS.export_dir)
    print(path)
    return 0


if __name__ == "__main__":
    cli.run(main)
