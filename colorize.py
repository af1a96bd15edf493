"""Colorize photos and videos: python colorize.py [--model=...] [--output_dir=out] INPUTS...

INPUTS are photos, videos (mp4, mov, mkv, avi, webm), folders (searched recursively) or
globs; with --video each folder is instead one video's numbered frames. --model is the
colorizer shipped in colorgan by default, or an export (export.py), a .tflite or a
training workdir. Without --output_dir each output goes beside its input as
NAME_colorized.png (.mp4 for a video, a folder for frames). Each output keeps its
input's size; a video keeps its frame count, timestamps and audio; inputs are never
overwritten. With --output_dir a manifest there records each input's output, seconds
or failure and the settings it was made with: a rerun after a crash, a kill or Ctrl-C
keeps what is done and does the rest. One folder may gather photos coloured with
different settings (each its own --reference, say); a photo already written there with
other settings is refused unless --overwrite.
Exit code 1 if any input failed, 2 for a bad flag or path or a full disk, 130 on Ctrl-C.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

import sys

from absl import flags

from colorgan import config, config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "pretrained", "pretrained (the colorizer shipped in colorgan), a "
                    "SavedModel / export base path, a LiteRT .tflite (export.py "
                    "--format=tflite), or a training workdir.")
flags.DEFINE_string("output_dir", "", "Where the colour images go (default: beside each input, "
                    "as NAME_colorized.png).")
# --render_size, --flip, --chroma_smooth, --chroma_gain, --restore, --upscale (no
# post-processing flag: the model's own)
config_flags.define_flat(config.RenderConfig)
flags.DEFINE_enum("precision", "fp32", ["fp32", "bf16"], "bf16 runs the shipped model or a "
                  "workdir's in bfloat16: faster on CPUs with AVX512_BF16 (AMD Zen 4/5), slower "
                  "on others; outputs differ by a few levels. An export runs as exported.")
flags.DEFINE_string("restorer", "", "With --restore / --upscale: a restorer trained by "
                    "train_restorer.py (its workdir), instead of the one shipped in colorgan.")
flags.DEFINE_enum("format", "png", ["png", "jpg"], "Output format of photos and frames.")
# --temporal, --temporal_keep, --temporal_gate, --scene_cut, --flow_side
config_flags.define_flat(config.TemporalConfig)
flags.DEFINE_bool("video", False, "Each folder is one video's numbered frames (colorized in "
                  "order, with --temporal), written to a folder of the same frame names.")
flags.DEFINE_integer("batch_size", 8, "Video frames per generator call.", lower_bound=1)
flags.DEFINE_integer("jobs", 2, "Threads that read, decode, encode and write photos around "
                     "the model.", lower_bound=1)
flags.DEFINE_integer("photo_batch", 1, "Photos per generator call (1 is fastest on CPUs and "
                     "gives the same bytes whatever photos share a call).", lower_bound=1)
flags.DEFINE_string("manifest", "auto", "The resume record (auto: "
                    "OUTPUT_DIR/colorgan_manifest.jsonl; none beside the inputs). A rerun keeps "
                    "the outputs it lists as done with the same settings; \"\" for none.")
flags.DEFINE_bool("overwrite", False, "Redo an input that the manifest says was written with "
                  "other settings (without it such an input is refused).")
flags.DEFINE_string("hints", "", "A JSON list of colour hints for every photo, "
                    '[{"x": 0.5, "y": 0.5, "color": "#e02020"}, ...] with x, y in [0, 1] of '
                    "the width and height from the top left (a hint model: train.py --hints).")
flags.DEFINE_bool("save_mask", False, "With --restore: beside each photo written, "
                  "NAME_mask.png, white where the restorer found dust, specks, hairs or "
                  "scratches and filled them (what it touched).")
flags.DEFINE_string("reference", "", "Colour photos of similar scenes, a.png,b.jpg (any size "
                    "and shape; for a film, coloured keyframes or stills): each photo, and each "
                    "shot of a video, takes the colours of the one it matches best where their "
                    "content matches; the automatic colour stays elsewhere, and --hints win "
                    "where they are. A model with the VGG16 encoder (the shipped one).")


def main(argv):
    from colorgan.errors import UserError

    if len(argv) < 2:
        raise UserError("name the photos or videos to colorize (files, folders or globs)")
    # Flags and paths checked before TensorFlow's start (~5 s) and the model's load.
    temporal = config_flags.flat_values(config.TemporalConfig)
    post = config_flags.post_processing_flags()
    cli.require_local("model", FLAGS.model, cli.MODEL_HINT)
    cli.require_local("restorer", FLAGS.restorer)
    if FLAGS.save_mask and not post.get("restore"):
        raise UserError("--save_mask is for --restore: without it nothing is found or filled")
    from colorgan.serve import opener
    from colorgan.archive import files
    points = None
    if FLAGS.hints:
        from colorgan.models import hints
        points = hints.read_points(FLAGS.hints)
    references = []
    if FLAGS.reference:
        from colorgan.serve import exemplar
        references = exemplar.read_many(FLAGS.reference)
    model = opener.open_model(FLAGS.model, post,
                              FLAGS.render_size, restorer=FLAGS.restorer,
                              precision=FLAGS.precision)
    if FLAGS.save_mask:  # before the long part: a model that finds nothing says so now
        if not hasattr(model, "defect_mask"):
            raise UserError(f"--save_mask: {FLAGS.model} is a LiteRT model, which finds no "
                            "defects; give pretrained or a workdir")
        import numpy as np
        model.defect_mask(np.zeros((1, 8, 8, 3), np.float32))
    settings = {"restorer": FLAGS.restorer, "precision": FLAGS.precision,
                **post, "render_size": FLAGS.render_size,
                "temporal": str(temporal), "photo_batch": FLAGS.photo_batch}
    tree = files.TreeConfig(threads=FLAGS.jobs, batch=FLAGS.photo_batch, manifest=FLAGS.manifest,
                            overwrite=FLAGS.overwrite)
    try:
        report = files.colorize_files(model, argv[1:], FLAGS.output_dir, FLAGS.format,
                                      FLAGS.render_size, temporal=temporal,
                                      frame_folders=FLAGS.video, batch_size=FLAGS.batch_size,
                                      points=points, references=references, tree=tree,
                                      settings=settings)
    except KeyboardInterrupt:
        print("colorize.py: interrupted; every output written is whole: rerun to continue",
              file=sys.stderr, flush=True)
        return 130
    if FLAGS.save_mask:
        _save_masks(model, report)
    for name, reason in report.failed:
        print(f"colorize.py: failed: {name}: {reason}", flush=True)
    where = f"in {FLAGS.output_dir}" if FLAGS.output_dir else "beside their inputs"
    kept = f", {report.kept} kept from an earlier run" if report.kept else ""
    record = f" (recorded in {report.manifest})" if report.manifest else ""
    print(f"colorize.py: {len(report.written)} written {where}{kept}, "
          f"{len(report.failed)} failed{record}", flush=True)
    return 1 if report.failed else 0


def _save_masks(model, report) -> None:
    """NAME_mask.png beside each photo written (--save_mask), each published whole."""
    from colorgan.data import imagefiles
    from colorgan.video import container
    for source, output in report.pairs():
        if output.is_dir() or container.is_video(source):
            continue  # films and frame folders: masks are for photos
        image = imagefiles.read_image(source)
        mask = model.defect_mask(image[None])[0]
        imagefiles.write_image(mask, output.with_name(output.stem + "_mask.png"), "png")


if __name__ == "__main__":
    cli.run(main)
