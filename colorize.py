"""Colorize photos: python colorize.py [--model=runs/demo/export] [--output_dir=out] PHOTOS...

PHOTOS are files, folders (searched recursively) or globs. --model is the colorizer
shipped in colorgan by default, or an export (export.py) or a training workdir. Without
--output_dir each output goes beside its input as NAME_colorized.png. Each output keeps
its input's size; inputs are never overwritten. Exit code 1 if any file failed, 2 for a bad flag or path.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pretrained", "pretrained (the colorizer shipped in colorgan), a "
                    "SavedModel / export base path, a LiteRT .tflite (export.py "
                    "--format=tflite), or a training workdir.")
flags.DEFINE_string("output_dir", "", "Where the colour images go (default: beside each input, "
                    "as NAME_colorized.png).")
# --render_size, --flip, --chroma_smooth, --chroma_gain (no post-processing flag: the
# model's own)
config_flags.define_flat(config.RenderConfig)
flags.DEFINE_enum("format", "png", ["png", "jpg"], "Output format.")


def main(argv):
    from colorgan import inference
    from colorgan.errors import UserError

    if len(argv) < 2:
        raise UserError("name the photos to colorize (files, folders or globs)")
    model = inference.open_model(FLAGS.model, config_flags.post_processing_flags(),
                                 FLAGS.render_size)
    report = inference.colorize_files(model, argv[1:], FLAGS.output_dir, FLAGS.format,
                                      FLAGS.render_size)
    logging.info("wrote %d image(s) %s", len(report.written),
                 f"to {FLAGS.output_dir}" if FLAGS.output_dir else "beside their inputs")
    for name, reason in report.failed:
        print(f"colorize.py: failed: {name}: {reason}", flush=True)
    return 1 if report.failed else 0


if __name__ == "__main__":
    cli.run(main)
