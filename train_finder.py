"""Train a defect finder onto a restorer: python train_finder.py --out=runs/finder [--ship]

The finder (colorgan/models/defect_finder.py) marks a scan's dust, specks, hairs, scratches,
folds and torn corners; restoring fills what it marks from around it (models/fill.py) before
the restorer runs, so they are gone from the restored photo. It trains in minutes on
old-photo scans of the photos with their drawn masks (colorgan/train/finder_fit.py); the
restorer's own weights and its gate are kept as they are. --out gets the restorer with its
finder (restorer.npz + restorer.json, with the finder's precision and recall on scans of
samples:val); --ship also copies it into the package (colorgan/weights/restorer/).
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("restorer", "", "The restorer to add the finder to: a train_restorer.py "
                    "workdir or its restorer/ folder ('' = the shipped one).")
flags.DEFINE_string("out", None, "Folder for the restorer with its finder.", required=True)
flags.DEFINE_string("data", "samples", "Photos to train on: samples (the shipped train "
                    "photos) or a FOLDER (its train/ split if it has one).")
flags.DEFINE_bool("ship", False, "Copy the result into colorgan/weights/restorer/.")
config_flags.define_flat(config.FinderConfig)  # --steps, --positive, ...


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    cli.require_local("restorer", FLAGS.restorer)
    from colorgan.data import input_pipeline
    from colorgan.models import restorer
    from colorgan.train import add_part, finder_fit

    cfg = config_flags.flat_values(config.FinderConfig)

    def fit(base, source):
        found, entry = finder_fit.fit(base, source, cfg)
        val = input_pipeline.open_source("samples:val", min_chroma=0.0)
        entry["val"] = {f"x{s}": finder_fit.precision_recall(found, val, scale=s) for s in (1, 4)}
        return found, entry

    _, entry = add_part.onto_restorer(fit, "finder", restorer=FLAGS.restorer, data=FLAGS.data,
                                      out=FLAGS.out, ship=FLAGS.ship)
    logging.info("wrote %s (finder on old-photo scans of samples:val: %s)%s", FLAGS.out,
                 entry["val"], f"; shipped to {restorer.SHIPPED}" if FLAGS.ship else "")
    return 0


if __name__ == "__main__":
    cli.run(main)
