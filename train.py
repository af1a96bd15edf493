"""Train a colorizer: python train.py --preset=demo --workdir=runs/demo [--data=FOLDER|tfds:NAME]

Rerunning the same command resumes from the workdir's latest checkpoint.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Where checkpoints, TensorBoard logs and sheets go.",
                    required=True)
flags.DEFINE_string("preset", "demo",
                    "base | demo | finetune | pix2pix | tiny (see colorgan/config.py).")
flags.DEFINE_string("data", None,
                    "samples | samples:val | FOLDER | tfds:NAME[:SPLIT] | tfrecord:GLOB.")
flags.DEFINE_string("eval_data", None, "Images for progress grids and the sample sheet.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_integer("image_size", None, "Training crop size (power of two >= 32).")
flags.DEFINE_integer("batch_size", None, "Global batch size.")
flags.DEFINE_integer("steps", None, "Total training steps (a resumed run counts from 0).")
flags.DEFINE_float("time_budget", None, "Stop after this many seconds of training (0 = off).")
flags.DEFINE_integer("base_filters", None, "Generator width at the first level.")
flags.DEFINE_float("lambda_l1", None, "Weight of the L1 loss (pix2pix: 100).")
flags.DEFINE_float("lambda_gan", None, "Weight of the GAN loss (0 = L1-only baseline).")
flags.DEFINE_float("g_learning_rate", None, "Generator Adam learning rate.")
flags.DEFINE_float("d_learning_rate", None, "Discriminator Adam learning rate.")
flags.DEFINE_enum("strategy", None, ["default", "mirrored", "multi_worker", "tpu", "auto"],
                  "tf.distribute strategy (auto: multi_worker with a TF_CONFIG cluster, tpu when "
                  "there is one, mirrored with 2+ GPUs, else default).")
flags.DEFINE_integer("cpu_devices", None, "Logical CPUs for --strategy=mirrored without GPUs.")
flags.DEFINE_string("tpu", None, "TPU name or grpc:// address for --strategy=tpu ('' = local).")
flags.DEFINE_integer("per_replica_batch_size", None,
                     "Batch per replica; the global batch is this x replicas (overrides "
                     "--batch_size).")
flags.DEFINE_enum("precision", None, ["fp32", "bf16", "fp16"],
                  "Mixed precision of G and D (weights, outputs, losses and export stay fp32).")
flags.DEFINE_bool("jit_compile", None, "XLA-compile the train step (try on GPU/TPU; slower on CPU).")
flags.DEFINE_integer("seed", None, "Seed for weights, data order and augmentation.")
flags.DEFINE_integer("log_every", None, "Steps between progress lines.")
flags.DEFINE_integer("checkpoint_every", None, "Steps between checkpoints.")
flags.DEFINE_integer("image_every", None, "Steps between TensorBoard image grids.")
# Research recipes (BUILD_NOTES.md): all off by default, i.e. plain pix2pix.
flags.DEFINE_enum("gan_loss", None, ["vanilla", "lsgan", "hinge"], "Adversarial loss.")
flags.DEFINE_integer("d_steps", None, "Discriminator updates per generator update.")
flags.DEFINE_bool("spectral_norm_d", None, "Spectral normalization on D's convolutions.")
flags.DEFINE_bool("spectral_norm_g", None,
                  "Spectral normalization on G's convolutions (ResNet encoder: decoder only).")
flags.DEFINE_integer("attention_g", None, "Self-attention in G at this feature side (0 = off).")
flags.DEFINE_integer("attention_d", None, "Self-attention in D at this feature side (0 = off).")
flags.DEFINE_float("input_noise", None, "Sigma of Gaussian noise on the training input L.")
flags.DEFINE_float("lambda_perceptual", None, "Weight of the VGG16 perceptual loss (0 = off).")
flags.DEFINE_float("rebalance", None, "Colour rebalancing of L1: 0 = off .. 1 = inverse frequency.")
flags.DEFINE_list("perceptual_layers", None, "VGG16 layers, e.g. relu2_2,relu3_3.")
flags.DEFINE_string("schedule", None, "NoGAN phases, e.g. g:1000,d:200,gan:rest.")
flags.DEFINE_string("size_schedule", None, "Progressive resizing, e.g. 64:2000,128:2000,256:rest.")
flags.DEFINE_enum("color_space", None, ["lab", "yuv"], "lab: L in, ab out; yuv: Y in, UV out.")
flags.DEFINE_integer("noise_channels", None, "Channels of N(0, 1) noise z added to G's input.")
flags.DEFINE_enum("encoder", None, ["unet", "vgg16", "resnet50v2"],
                  "G's encoder: pix2pix U-Net, VGG16 (shipped ImageNet weights) or ResNet50V2.")
flags.DEFINE_string("encoder_weights", None, "imagenet | PATH to ResNet50V2 weights | none.")
flags.DEFINE_string("train_encoder", None, "vgg16 encoder: never (frozen) | after:STEPS | always.")
flags.DEFINE_float("encoder_learning_rate", None, "Adam learning rate of a training vgg16 encoder.")
# Fine-tuning (README "Fine-tune the shipped model").
flags.DEFINE_string("init_from", None,
                    "Start a fresh run from a trained model: pretrained (shipped) | WORKDIR | "
                    "EXPORT_DIR. Its model config and image size are taken over; the rest comes from "
                    "--preset and the flags. Rerunning resumes the fine-tune from --workdir.")
flags.DEFINE_enum("freeze", None, ["encoder", "none"],
                  "What stays fixed: encoder (= --train_encoder=never) or none (= always).")

_OVERRIDES = {"data": "source", "eval_data": "eval_source"}  # flag name -> config field


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    from colorgan import config, training
    from colorgan.errors import UserError

    names = ["data", "eval_data", "tfds_data_dir", "image_size", "batch_size", "steps", "time_budget",
             "base_filters", "lambda_l1", "lambda_gan", "g_learning_rate", "d_learning_rate",
             "strategy", "cpu_devices", "seed", "log_every", "checkpoint_every", "image_every",
             "gan_loss", "d_steps", "spectral_norm_d", "spectral_norm_g", "attention_g",
             "attention_d", "input_noise", "lambda_perceptual", "perceptual_layers", "rebalance",
             "schedule",
             "size_schedule",
             "color_space", "noise_channels", "encoder", "encoder_weights", "tpu",
             "per_replica_batch_size", "precision", "jit_compile", "train_encoder",
             "encoder_learning_rate", "init_from"]
    overrides = {_OVERRIDES.get(n, n): FLAGS[n].value for n in names}
    if overrides["perceptual_layers"] is not None:
        overrides["perceptual_layers"] = tuple(overrides["perceptual_layers"])
    base = config.get_preset(FLAGS.preset)
    if FLAGS.init_from:  # the source's architecture, then the preset's training settings
        from colorgan import fileio, pretrained
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
    result = training.fit(cfg, FLAGS.workdir)
    if result.stopped_by_signal is not None:
        return 128 + result.stopped_by_signal
    logging.info("done at step %d: %s; sample sheet %s", result.step, result.metrics, result.sheet)
    return 0


if __name__ == "__main__":
    cli.run(main)
