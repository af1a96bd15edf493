"""Speed benchmark: python bench.py [--presets=pix2pix,demo,base] [--precisions=fp32,bf16]

First the roof: a 2048^3 matmul's GFLOP/s in each precision. For each preset (pix2pix at
256^2 batch 4, demo, base: the shipped model's recipe) and precision: train images/s (the
step alone, one fixed batch) with its useful GFLOP/s (bench.train_gflop_per_image) and
their fraction of the roof, input-pipeline images/s at
the same size and batch, and the exported model's serving latency for a 256^2 and a 1 MP
JPEG; with --figures=l1 also the mean L1 at the end of a short run per precision
(--l1_steps); with --figures=quality the training seconds from scratch until samples:val
PSNR is 0.5 and 1.0 dB above grayscale; with --figures=video colorize.py's frames/s on
a 480p clip, frame by frame and with --temporal=flow. Medians over --repeats runs; one JSON line per figure on stdout, then a Markdown table, and the
machine. Run it on an otherwise idle machine.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

import json

from absl import flags, logging

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["pix2pix", "demo", "base"], "Presets to measure.")
flags.DEFINE_list("precisions", ["fp32", "bf16"], "Train-step precisions: fp32, bf16, fp16.")
flags.DEFINE_list("figures", ["roof", "train", "pipeline", "serving"],
                  "What to measure: roof (2048^3 matmul GFLOP/s per precision; train figures "
                  "then report their fraction of it), train, pipeline, serving, tflite (SavedModel vs LiteRT "
                  "colorizing latency), l1 (short-run L1 per precision), quality (seconds of "
                  "training from scratch to samples:val PSNR gray + 0.5 and + 1.0 dB), video "
                  "(colorize.py's frames/s on a 480p clip, frame by frame and --temporal=flow), "
                  "restore (seconds for the shipped restorer + colorizer: restore a 1 MP scan, "
                  "x4 to 4 MP and to 16 MP), archive (photos/s over --archive_photos mixed "
                  "0.3-4 MP photos: colorize.py, --photo_batch=4, LiteRT int8, Beam on 1 and 2 "
                  "workers).")
flags.DEFINE_float("quality_budget_s", 300, "Training seconds --figures=quality may spend "
                   "per preset and precision before it gives up.")
flags.DEFINE_integer("quality_eval_every", 0, "Steps between validations of --figures=quality "
                     "(0: 10 at 128^2 and above, 250 below).")
flags.DEFINE_integer("l1_steps", 200, "Steps of the --figures=l1 run.")
flags.DEFINE_integer("video_frames", 48, "Frames of the 480p clip --figures=video colorizes.")
flags.DEFINE_integer("archive_photos", 1000, "Photos in --figures=archive's tree.")
flags.DEFINE_string("archive_dir", "runs/archive_bench", "Where that tree is made (and kept).")
flags.DEFINE_string("archive_before", "", "A checkout of an earlier colorgan: its colorize.py "
                    "runs first on the same tree (before/after in one run).")
flags.DEFINE_list("archive_kinds", ["colorize", "batch4", "bf16", "litert_int8", "beam1",
                                     "beam2"],
                  "Which runs --figures=archive makes.")
flags.DEFINE_list("restorers", ["shipped"], "Restorers --figures=restore measures, one after "
                  "the other in the same run: shipped (the one in colorgan) or a folder "
                  "(train_restorer.py's workdir or a copy of an earlier shipped one).")
flags.DEFINE_integer("pix2pix_batch", 4, "Batch for the pix2pix preset (the paper's is 1).")
flags.DEFINE_integer("repeats", 5, "Repeats; the median is reported.")
flags.DEFINE_integer("steps", 0, "Train steps per repeat (0: 5 at 256^2, 20 at the demo size).")
flags.DEFINE_string("output", None, "Also write the JSON lines to this file.")


def machine() -> dict:
    from colorgan import machine as machine_info
    return {"figure": "machine", **machine_info.describe()}


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    from colorgan.errors import UserError

    known = {"roof", "train", "pipeline", "serving", "tflite", "l1", "quality", "video",
             "restore", "archive"}
    unknown = set(FLAGS.figures) - known
    if unknown:  # before TensorFlow's start
        raise UserError(f"--figures: unknown {sorted(unknown)} ({', '.join(sorted(known))})")
    from colorgan.bench import measure
    results = [machine()]
    out = open(FLAGS.output, "w") if FLAGS.output else None

    def emit(fig):
        if fig is not results[0]:
            results.append(fig)
        line = json.dumps(fig)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()

    emit(results[0])
    roofs = {}
    if "roof" in FLAGS.figures:
        for precision in FLAGS.precisions:
            roofs[precision] = measure.matmul_roof(precision, FLAGS.repeats)
            emit(roofs[precision])
    for preset in FLAGS.presets:
        batch = FLAGS.pix2pix_batch if preset == "pix2pix" else None
        cfg = measure.bench_cfg(preset, batch)
        steps = FLAGS.steps or (5 if cfg.data.image_size >= 256 else 20)
        if "train" in FLAGS.figures:
            gflop = measure.train_gflop_per_image(cfg)
            for precision in FLAGS.precisions:
                logging.info("train %s %s: %d x %d steps", preset, precision, FLAGS.repeats, steps)
                fig = measure.train_speed(measure.bench_cfg(preset, batch, precision), preset, steps,
                                          FLAGS.repeats)
                emit(measure.with_roof(fig, gflop, roofs.get(precision)))
        if "l1" in FLAGS.figures:
            for precision in FLAGS.precisions:
                logging.info("l1 %s %s: %d steps", preset, precision, FLAGS.l1_steps)
                emit(measure.short_run_l1(measure.bench_cfg(preset, batch, precision), preset,
                                          FLAGS.l1_steps))
        if "pipeline" in FLAGS.figures:
            for fig in measure.pipeline_speed(cfg, preset, 4 * steps, FLAGS.repeats):
                emit(fig)
        if "quality" in FLAGS.figures:
            every = FLAGS.quality_eval_every or (10 if cfg.data.image_size >= 128 else 250)
            for precision in FLAGS.precisions:
                logging.info("time to quality %s %s: validating every %d steps", preset,
                             precision, every)
                emit(measure.time_to_quality(measure.bench_cfg(preset, batch, precision), preset,
                                             FLAGS.quality_budget_s, every))
        if "serving" in FLAGS.figures:
            for fig in measure.serving_latency(cfg, preset, FLAGS.repeats * 3):
                emit(fig)
        if "tflite" in FLAGS.figures:
            for fig in measure.tflite_latency(cfg, preset, FLAGS.repeats * 3):
                emit(fig)
        if "video" in FLAGS.figures:
            for fig in measure.video_speed(cfg, preset, FLAGS.video_frames, FLAGS.repeats):
                emit(fig)
    if "restore" in FLAGS.figures:  # the shipped models: not per preset
        for restorer in FLAGS.restorers:
            for fig in measure.restore_latency(FLAGS.repeats, tuple(FLAGS.precisions),
                                               restorer="" if restorer == "shipped" else restorer):
                emit(fig)
    if "archive" in FLAGS.figures:
        from pathlib import Path

        from colorgan.bench import archive
        tree = archive.make_tree(Path(FLAGS.archive_dir), FLAGS.archive_photos)
        for fig in archive.archive_speed(tree, FLAGS.archive_photos, FLAGS.archive_before,
                                         tuple(FLAGS.archive_kinds)):
            emit(fig)
    print(measure.table(results[1:]))
    if out:
        out.close()
    return 0


if __name__ == "__main__":
    cli.run(main)
