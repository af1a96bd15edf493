"""Write a test clip whose true colour is known: a pan over one shipped photo, a scene
cut, then a zoom into another (colorgan.video.clips), with a 440 Hz tone as audio:
  python scripts/make_clip.py --output=runs/clip.mp4 [--size=256x192] [--frames_per_shot=24]

`evaluate.py --data=runs/clip.mp4` then scores a colorizer's flicker and colour on it;
the README's before/after strip is that run with the shipped model. With --stills=DIR it
also writes a colour still of each shot's photo, framed unlike the clip (shot1.png,
shot2.png): keyframes for colorize.py / evaluate.py --reference=DIR/shot2.png,DIR/shot1.png.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from colorgan import cli  # noqa: E402  first: quiets TensorFlow's start-up

from absl import flags, logging  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("output", None, "The clip to write (.mp4, .mov or .mkv).", required=True)
flags.DEFINE_string("size", "256x192", "WIDTHxHEIGHT of the frames.")
flags.DEFINE_integer("frames_per_shot", 24, "Frames in each of the two shots.", lower_bound=2)
flags.DEFINE_integer("fps", 12, "Frame rate.", lower_bound=1)
flags.DEFINE_enum("split", "val", ["train", "val"], "Which shipped photos to film.")
flags.DEFINE_string("stills", "", "Also write a colour still of each shot (shot1.png, "
                    "shot2.png) to this folder: reference photos that are not frames.")


def main(argv):
    from colorgan.video import clips
    from colorgan.errors import UserError

    try:
        w, h = (int(x) for x in FLAGS.size.lower().split("x"))
    except ValueError:
        raise UserError(f"size={FLAGS.size}: write WIDTHxHEIGHT, e.g. 256x192") from None
    if min(w, h) < 16:
        raise UserError(f"size={FLAGS.size}: at least 16x16")
    frames, cut = clips.two_shots((w, h), FLAGS.frames_per_shot, split=FLAGS.split)
    out = Path(FLAGS.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    clips.write(out, frames, FLAGS.fps)
    logging.info("wrote %s: %d frames at %d fps, %dx%d, the cut before frame %d", out,
                 len(frames), FLAGS.fps, w, h, cut)
    if FLAGS.stills:
        from colorgan.data.imagefiles import write_image
        folder = Path(FLAGS.stills)
        folder.mkdir(parents=True, exist_ok=True)
        for k, still in enumerate(clips.stills((w, h), split=FLAGS.split), 1):
            write_image(still / 255.0, folder / f"shot{k}.png", "png")
        logging.info("wrote %s/shot1.png, shot2.png", folder)
    return 0


if __name__ == "__main__":
    cli.run(main)
