"""Turn a training workdir into the colorizer shipped inside colorgan (`--model=pretrained`):
  python scripts/ship_pretrained.py --workdir=runs/base [--out=colorgan/weights/colorizer]

Writes config.json, generator.npz (for a frozen vgg16 encoder only what differs from
VGG16), discriminator.npz (when the run trained one and --discriminator) and
model_card.json (step, the workdir's eval/metrics.json and eval/hints_sweep.json where
they exist, and the card of the model it was initialised from). `make pretrained` runs the
whole recipe: train, evaluate, then this; `make hints-branch` trains a hint branch on top.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colorgan import cli  # noqa: E402  first: quiets TensorFlow's start-up

from absl import flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "The training workdir to ship.", required=True)
flags.DEFINE_string("out", None, "Target folder (default: the package's shipped model).")
flags.DEFINE_bool("discriminator", False, "Ship D too (for fine-tuning with a GAN loss).")


def main(argv):
    import tensorflow as tf

    from colorgan import config, fileio, workdir
    from colorgan.models import networks, pretrained
    from colorgan.serve import opener

    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    generator, cfg = opener.load_generator(FLAGS.workdir)
    prefix, _ = workdir.resolve_checkpoint(FLAGS.workdir)
    discriminator = None
    if FLAGS.discriminator:
        discriminator = networks.build_discriminator(cfg.model, cfg.data.image_size)
        tf.train.Checkpoint(discriminator=discriminator).restore(prefix).expect_partial() \
            .assert_existing_objects_matched()
    card = {"workdir": FLAGS.workdir, "checkpoint": fileio.basename(prefix)}
    if cfg.train.init_from:  # e.g. the hint model: the card of the model it started from
        card["init_from"] = cfg.train.init_from
        source_card = fileio.join(pretrained.resolve(cfg.train.init_from), "model_card.json")
        if fileio.isfile(source_card):
            card["init_from_card"] = json.loads(fileio.read_text(source_card))
    metrics = fileio.join(FLAGS.workdir, "eval", "metrics.json")  # the workdir may be gs://
    if fileio.isfile(metrics):
        card["eval"] = json.loads(fileio.read_text(metrics))
        card["render"] = config.RenderConfig().post_processing()  # evaluate.py's defaults
    # A hint model's sweep (make hints-branch).
    sweep = fileio.join(FLAGS.workdir, "eval", "hints_sweep.json")
    if fileio.isfile(sweep):
        card["hints_sweep"] = json.loads(fileio.read_text(sweep))
    out = pretrained.save_shipped(generator, cfg, FLAGS.out or pretrained.SHIPPED,
                                  discriminator, card)
    size = sum(p.stat().st_size for p in out.iterdir())
    logging.info("shipped %s from %s: %.1f MB in %s", prefix, FLAGS.workdir, size / 1e6, out)
    return 0


if __name__ == "__main__":
    cli.run(main)
