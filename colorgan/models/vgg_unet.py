"""U-Net generator on a VGG16 encoder with ImageNet weights (`--encoder=vgg16`).

L [B, H, W, 1] in [-1, 1] (H, W multiples of 16) -> ab [B, H, W, 2] in (-1, 1).

The gray photo enters VGG16 as the sRGB image with that lightness and no colour, with
VGG's ImageNet normalization (vgg.build_trunk). Skips: relu1_2 (S), relu2_2 (S/2),
relu3_3 (S/4), relu4_3 (S/8), relu5_3 (S/16). The decoder goes up from relu5_3:
bilinear x2 -> concat skip -> conv3x3 -> BN -> ReLU, widths 8b, 8b, 4b, 2b, b for
b = base_filters, then a 3x3 conv to ab and tanh.

The encoder is the nested model "encoder" (frozen unless the run trains it, see
train/loop.py); every other weight is the decoder's. The output conv starts at zero, so an
untrained generator predicts ab = 0 (the grayscale photo, a good first guess) rather
than random colour that the first hundreds of steps would spend unlearning.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from colorgan import color
from colorgan.config import ModelConfig
from colorgan.models import vgg
from colorgan.models.layers import BatchNorm, SelfAttention

ENCODER = "encoder"  # the nested VGG16 model's name
MULTIPLE = 16  # four 2x2 max-pools before relu5_3
HINT_GAIN = 10.0  # the hint projections' learning-rate multiplier (_add_hints)
HINT_CONV_GAIN = 4.0  # the hint convs' learning-rate multiplier (_gained_conv)
FUSED_FROM = 3  # hints meet the decoder's features in fusion blocks at S/8 and S/16
FUSION_WIDTH = 128  # the fusion blocks' width


class GrayRGB(keras.layers.Layer):
    """The model input (L or Y, [-1, 1]) -> the gray sRGB image [.., 3] in [0, 1] it stands for."""

    def __init__(self, color_space: str = "lab", **kwargs):
        super().__init__(**kwargs)
        self.color_space = color_space

    def call(self, x):
        return color.get_space(self.color_space).gray_rgb(tf.cast(x, tf.float32))

    def get_config(self):
        return {**super().get_config(), "color_space": self.color_space}


class Upsample2x(keras.layers.Layer):
    """Bilinear x2 (what UpSampling2D(interpolation="bilinear") computes), for inputs whose
    sides are unknown until run time: Keras' own layer fails to trace on such inputs in a
    tf.function with a [None, None, None, C] signature, as the export has."""

    def call(self, x):
        size = tf.shape(x)[1:3] * 2
        return tf.cast(tf.image.resize(x, size, method="bilinear"), x.dtype)


def _block(cfg: ModelConfig, conv, x, width: int, name: str):
    x = conv(width, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    # momentum / epsilon as the pix2pix U-Net's (models._norm).
    x = BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=cfg.sync_batch_norm,
                  name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_act")(x)


def build_vgg_generator(cfg: ModelConfig, image_size: int, in_channels: int = 1,
                        out_channels: int = 2, conv=keras.layers.Conv2D,
                        weights: dict | None = None) -> keras.Model:
    """The generator; `weights`: vgg.load_weights() (read from the shipped file if None).

    `conv` is the decoder's conv class (plain or spectral-normalized); image_size only
    places the optional self-attention block (at feature side cfg.attention_g).
    """
    weights = weights if weights is not None else vgg.load_weights()
    b = cfg.base_filters
    inputs = keras.Input((None, None, in_channels), name="L")
    L = inputs[..., :1] if in_channels > 1 else inputs
    # float32: the colour maths would lose precision in a bf16 policy.
    rgb = GrayRGB(cfg.color_space, dtype="float32", name="gray_rgb")(L)  # (B, S, S, 3) in [0, 1]
    encoder = vgg.build_trunk(weights, name=ENCODER)
    f1, f2, f3, f4, f5 = encoder(rgb)  # S: 64, S/2: 128, S/4: 256, S/8: 512, S/16: 512 ch
    branch = _hint_branch(cfg, inputs[..., 1:], b) if in_channels > 1 else None
    x = _block(cfg, conv, f5, 8 * b, "mid")  # (B, S/16, S/16, 8b)
    x = _add_hints(x, branch, 4, 8 * b)
    for k, (skip, width) in enumerate(zip((f4, f3, f2, f1), (8 * b, 4 * b, 2 * b, b))):
        x = Upsample2x(name=f"up{k}")(x)
        x = keras.layers.Concatenate(name=f"up{k}_skip")([x, skip])
        x = _block(cfg, conv, x, width, f"dec{k}")  # (B, S/2^(3-k), S/2^(3-k), width)
        x = _add_hints(x, branch, 3 - k, width)
        if cfg.attention_g and cfg.attention_g == image_size >> (3 - k):
            x = SelfAttention(name=f"dec{k}_attention")(x)
    # Plain even with spectral norm: a zero kernel has no largest singular value to divide by.
    x = keras.layers.Conv2D(out_channels, 3, padding="same", kernel_initializer="zeros",
                            name="out_conv")(x)
    # The hints' edge-aware spread is not part of G: the serving graph runs it on the
    # finished colour (models/propagation.py).
    outputs = keras.layers.Activation("tanh", dtype="float32", name="ab")(x)  # (B, S, S, 2)
    return keras.Model(inputs, outputs, name="generator")


class HintPyramid(keras.layers.Layer):
    """Hints [B, S, S, 3] (ab, mask) -> the same at S / 2^level: the mean hint colour of
    each cell (over its hinted pixels; 0 where none) and the share of it that is hinted."""

    def __init__(self, level: int, **kwargs):
        super().__init__(**kwargs)
        self.level = level

    def call(self, hints):
        hints = tf.cast(hints, tf.float32)
        if self.level:
            k = 2 ** self.level
            pooled = tf.nn.avg_pool2d(tf.concat([hints[..., :2] * hints[..., 2:], hints[..., 2:]],
                                                -1), k, k, "VALID")
            ab = tf.math.divide_no_nan(pooled[..., :2], pooled[..., 2:])
            hints = tf.concat([ab, pooled[..., 2:]], -1)
        return tf.cast(hints, self.compute_dtype)

    def get_config(self):
        return {**super().get_config(), "level": self.level}


def _hint_branch(cfg: ModelConfig, hints, b: int) -> tuple[list, tf.Tensor]:
    """Hints [B, S, S, 3] -> (features at S, S/2, S/4 (widths b, 2b, 4b) and the hints
    themselves averaged down to S/8 and S/16 for the fusion blocks (_add_hints), whether
    each image has any hint [B, 1, 1, 1]).

    The frozen VGG16 encoder sees only L, so the hints reach the decoder through this
    branch instead of through G's first layer, as in Zhang et al. Each scale gets the
    hints averaged down to it (HintPyramid): a hint reaches a 16-pixel cell at S/16 at
    once, where a stack of strided convs from random weights first had to learn to carry
    a 3-pixel patch that far (10 hints gained +0.01 dB after 200 steps that way).
    """
    out = []
    for level, width in enumerate((b, 2 * b, 4 * b, 8 * b, 8 * b)):
        x = HintPyramid(level, name=f"hint{level}_pool")(hints)
        if level < FUSED_FROM:
            x = _gained_conv(width, 3, 1, HINT_CONV_GAIN, f"hint{level}_conv")(x)
            x = keras.layers.ReLU(name=f"hint{level}_act")(x)
        out.append(x)
    # [B, 1, 1, 1]: 1 where the image has any hint. The branch's output is multiplied by it,
    # so a photo without hints gets exactly the decoder's own colour (a bias in the branch
    # would otherwise add a constant to it).
    return out, HintPresence(name="hint_presence")(hints)


class HintPresence(keras.layers.Layer):
    """Hints [B, H, W, 3] -> [B, 1, 1, 1]: 1 where the image has a hint, else 0."""

    def call(self, hints):
        return tf.cast(tf.reduce_max(hints[..., 2:], axis=[1, 2, 3], keepdims=True) > 0,
                       self.compute_dtype)


def _gained_conv(width: int, kernel: int, dilation: int, gain: float, name: str):
    """A conv whose weights learn `gain` x faster than the decoder's under Adam (which moves
    each weight ~lr per step whatever its gradient): the weights start at 1/gain of their
    usual size and the output is multiplied by gain, so it starts as the usual conv would."""
    init = keras.initializers.VarianceScaling(2.0 / gain ** 2, "fan_in", "truncated_normal")
    conv = keras.layers.Conv2D(width, kernel, padding="same", dilation_rate=dilation,
                               kernel_initializer=init, name=name)
    scale = keras.layers.Rescaling(gain, name=f"{name}_gain")
    return lambda x: scale(conv(x))


def _add_hints(x, branch: tuple[list, tf.Tensor] | None, level: int, width: int):
    """x + a 1x1 projection of the hint features at its scale (level: S / 2^level), times
    "the image has a hint". The projection starts at zero (as ControlNet's zero
    convolutions), so until training moves it the branch adds nothing (the serving
    graph's propagation alone acts on hints), and without hints it never does.

    At S/8 and S/16 the features come from a fusion block that sees the decoder's own
    features beside the hints: three 3x3 convs dilated 1, 2, 4 (a reach of 7 cells, 112
    px at S/16), so a hint can spread over the region the image features say it belongs
    to. A branch that saw the hints alone and spread them 3x3 gained 0.25 dB at 10 hints
    after 1,686 steps (docs/notes/hints.md)."""
    if branch is None:
        return x
    features, presence = branch
    h = features[level]
    if level >= FUSED_FROM:
        h = keras.layers.Concatenate(name=f"hint{level}_fuse")([x, h])
        for k, dilation in enumerate((1, 2, 4)):
            h = _gained_conv(FUSION_WIDTH, 3, dilation, HINT_CONV_GAIN,
                             f"hint{level}_fuse{k}")(h)
            h = keras.layers.ReLU(name=f"hint{level}_fuse{k}_act")(h)
    hint = keras.layers.Conv2D(width, 1, kernel_initializer="zeros",
                               name=f"hint{level}_proj")(h)
    # x HINT_GAIN: the projection's own learning rate, HINT_GAIN x the decoder's (which a
    # fine-tune keeps low to keep the source model's colour): at the decoder's rate the
    # projections stayed ~0.01 after 200 steps and 10 hints gained nothing.
    hint = keras.layers.Rescaling(HINT_GAIN, name=f"hint{level}_gain")(hint)
    hint = keras.layers.Multiply(name=f"hint{level}_gate")([hint, presence])
    return keras.layers.Add(name=f"hint{level}_add")([x, hint])


def is_vgg_unet(generator: keras.Model) -> bool:
    """Whether `generator` is this module's (the ResNet50V2 generator's backbone is also
    named ENCODER, but it has no gray_rgb layer and other outputs)."""
    names = {layer.name for layer in generator.layers}
    return ENCODER in names and "gray_rgb" in names


def encoder_features(generator: keras.Model, L: tf.Tensor) -> list[tf.Tensor]:
    """L [B, S, S, 1] in [-1, 1] -> the encoder's relu1_2 .. relu5_3 (S .. S/16), float32:
    a second encoder pass, for the hint propagation and the reference match."""
    rgb = color.get_space(generator.get_layer("gray_rgb").color_space).gray_rgb(
        tf.cast(L, tf.float32))
    return [tf.cast(f, tf.float32) for f in generator.get_layer(ENCODER)(rgb)]


def region_features(generator: keras.Model, L: tf.Tensor) -> tf.Tensor:
    """L [B, S, S, 1] in [-1, 1] -> the encoder's relu4_3 [B, S/8, S/8, 512], float32: what
    the hint propagation tells regions apart by (models/propagation.py). A second encoder
    pass, run only when there are hints."""
    return encoder_features(generator, L)[3]


def encoder_variables(generator: keras.Model) -> list:
    """The VGG16 encoder's variables (trainable or not)."""
    return list(generator.get_layer(ENCODER).variables)


def hint_variables(generator: keras.Model) -> list:
    """The hint branch's variables (none in a model without hints)."""
    return [v for layer in generator.layers if layer.name.startswith("hint")
            for v in layer.variables]


def decoder_weights(generator: keras.Model) -> dict[str, np.ndarray]:
    """Every variable outside the encoder, by its path: what a vgg16 model adds to VGG16."""
    skip = {id(v) for v in encoder_variables(generator)}
    return {v.path: v.numpy() for v in generator.variables if id(v) not in skip}
