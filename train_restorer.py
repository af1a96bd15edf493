"""Train the old-photo restorer: python train_restorer.py --workdir=runs/restorer [--ship]

Scan lightness -> clean lightness at 1x, 2x and 4x (colorgan/models/restorer.py), on
old-photo scans made on the fly from the photos (colorgan/data/degrade.py). Rerunning the
same command resumes from the workdir. --ship copies the result into the package
(colorgan/weights/restorer/), which is what `make restorer` does.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard logs and the weights go.",
                    required=True)
flags.DEFINE_string("data", "samples", "Photos to train on: samples (the shipped train "
                    "photos) or a FOLDER (its train/ split if it has one).")
flags.DEFINE_float("time_budget", 0, "Stop (checkpointed) after this many seconds; rerun to "
                   "continue (0 = none).")
flags.DEFINE_string("init_from", "", "Start a new run from this restorer's weights (a "
                    "train_restorer.py workdir or its restorer/ folder, same architecture): a "
                    "fine-tune.")
flags.DEFINE_bool("ship", False, "Copy the trained restorer into colorgan/weights/restorer/.")
config_flags.define_flat(config.RestorerConfig)  # --channels, --blocks, --steps, ...


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    cli.require_local("init_from", FLAGS.init_from)
    from colorgan import fileio
    from colorgan.models import restorer
    from colorgan.serve import opener
    from colorgan.train import restorer_fit

    cfg = config_flags.flat_values(config.RestorerConfig)
    init_from = opener.restorer_folder(FLAGS.init_from) if FLAGS.init_from else ""
    card = restorer_fit.fit_restorer(cfg, FLAGS.workdir, data=FLAGS.data,
                                     time_budget=FLAGS.time_budget, init_from=init_from)
    if card.get("stopped"):
        return 0
    if FLAGS.ship:
        restorer.ship(fileio.join(FLAGS.workdir, "restorer"))
        logging.info("shipped to %s", restorer.SHIPPED)
    return 0


if __name__ == "__main__":
    cli.run(main)
