"""Train a colorizer: python train.py --preset=demo --workdir=runs/demo [--data=FOLDER|tfds:NAME]

Rerunning the same command resumes from the workdir's latest checkpoint. Every config
field is a flag (colorgan/config_flags.py); `train.py --helpfull` lists them.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard logs and sheets go.",
                    required=True)
flags.DEFINE_string("preset", "demo",
                    f"{' | '.join(sorted(config.PRESETS))} (see colorgan/config.py).")
flags.DEFINE_enum("freeze", None, ["encoder", "none"],
                  "What stays fixed: encoder (= --train_encoder=never) or none (= always).")
config_flags.define(FLAGS)
flags.adopt_module_key_flags(config_flags)  # so --help lists them as train.py's own


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    cli.require_local("data", FLAGS.data)  # before TensorFlow's start
    cli.require_local("init_from", FLAGS.init_from, cli.MODEL_HINT)
    from colorgan.errors import UserError

    overrides = config_flags.overrides(FLAGS)
    base = config.get_preset(FLAGS.preset)
    if FLAGS.init_from:  # the source's architecture, then the preset's training settings
        from colorgan import fileio
        from colorgan.models import pretrained
        # A rerun resumes: its architecture is the workdir's, whatever became of the source.
        resumed = fileio.isfile(fileio.join(FLAGS.workdir, "config.json"))
        base = pretrained.with_architecture_of(FLAGS.workdir if resumed else FLAGS.init_from,
                                               base)
    if FLAGS.freeze is not None:
        if FLAGS.train_encoder is not None:
            raise UserError("give --freeze or --train_encoder, not both")
        overrides["train_encoder"] = {"encoder": "never", "none": "always"}[FLAGS.freeze]
        encoder = overrides["encoder"] or base.model.encoder
        if encoder != "vgg16":
            raise UserError(f"--freeze={FLAGS.freeze}: the {encoder} generator has no pretrained "
                            "encoder to freeze or unfreeze (use --encoder=vgg16)")
    cfg = config.with_overrides(base, overrides)
    logging.info("config:\n%s", cfg.to_json())
    from colorgan.train import fit  # TensorFlow: after the checks above
    result = fit.fit(cfg, FLAGS.workdir)
    if result.stopped_by_signal is not None:
        return 128 + result.stopped_by_signal
    logging.info("done at step %d: %s; sample sheet %s", result.step, result.metrics, result.sheet)
    return 0


if __name__ == "__main__":
    cli.run(main)
