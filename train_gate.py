"""Train the restoring gate onto a restorer: python train_gate.py --out=runs/gate [--ship]

The gate (colorgan/models/gate.py) says how degraded a scan looks, and restoring keeps that
much of the restorer's change: a clean photo, or a dark or light one, passes through
`--restore`. It trains in minutes on scans of the photos made once
(colorgan/train/gate_fit.py); the restorer's own weights are kept as they are. --out gets
the restorer with its gate (restorer.npz + restorer.json); --ship also copies it into the
package (colorgan/weights/restorer/).
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("restorer", "", "The restorer to add the gate to: a train_restorer.py "
                    "workdir or its restorer/ folder ('' = the shipped one).")
flags.DEFINE_string("out", None, "Folder for the restorer with its gate.", required=True)
flags.DEFINE_string("data", "samples", "Photos to train on: samples (the shipped train "
                    "photos) or a FOLDER (its train/ split if it has one).")
flags.DEFINE_bool("ship", False, "Copy the result into colorgan/weights/restorer/.")
config_flags.define_flat(config.GateConfig)  # --scans, --epochs, --clean_db, ...


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    cli.require_local("restorer", FLAGS.restorer)
    from colorgan.models import restorer
    from colorgan.train import add_part, gate_fit

    cfg = config_flags.flat_values(config.GateConfig)
    _, entry = add_part.onto_restorer(lambda base, source: gate_fit.fit(base, source, cfg),
                                      "gate", restorer=FLAGS.restorer, data=FLAGS.data,
                                      out=FLAGS.out, ship=FLAGS.ship)
    logging.info("wrote %s (gate accuracy %.3f on its training scans)%s", FLAGS.out,
                 entry["accuracy"], f"; shipped to {restorer.SHIPPED}" if FLAGS.ship else "")
    return 0


if __name__ == "__main__":
    cli.run(main)
