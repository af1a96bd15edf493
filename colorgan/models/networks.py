"""pix2pix networks as Keras 3 functional models.

Generator: U-Net, L [B, H, W, 1] in [-1, 1] -> ab [B, H, W, 2] in (-1, 1) (tanh)
  (or Y -> UV with the yuv colour space: the networks do not care).
  Depth = log2(image_size) levels, so the bottleneck is 1x1 at the training size
  (8 levels at 256 like the paper, 6 at 64, 5 at 32). The model is fully
  convolutional: any H, W that are multiples of 2**levels work (e.g. serving at a
  larger render size). Options: z noise channels appended to the input (CGAN), and
  a keras.applications ResNet50V2 as the encoder (DeOldify's ResNet U-Net).
Discriminator: 70x70 PatchGAN on concat(L, ab): [B, S, S, 3] -> logits [B, S/8-2, S/8-2, 1].

Both use N(0, 0.02) kernels (the paper's init) and batch norm that can be synchronized
across replicas, so a step on 2 replicas equals a step on 1 with the same global batch.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import keras
import tensorflow as tf

from colorgan import net
from colorgan.config import ModelConfig
from colorgan.errors import UserError
from colorgan.models import hints, vgg_unet
from colorgan.models.layers import (BatchNorm, NoiseChannels, SelfAttention, SpectralConv2D,
                                    SpectralConv2DTranspose)


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _norm(cfg: ModelConfig, name: str) -> keras.layers.Layer:
    # momentum / epsilon as in pytorch pix2pix (0.1 / 1e-5), not Keras' 0.99 / 1e-3.
    return BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=cfg.sync_batch_norm, name=name)


class ReplicaConsistentDropout(keras.layers.Layer):
    """Dropout whose mask is a function of (seed, call count, position in the global batch).

    Keras' Dropout draws one mask per replica from a shared seed, so two replicas of
    half a batch do not drop what one replica of the whole batch drops. Here every
    replica draws the mask of the whole global batch and keeps its own slice: the
    training run is the same whatever the number of replicas, and a counter in the
    weights makes a resumed run draw the masks an uninterrupted one would.
    """

    def __init__(self, rate: float, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate
        self.seed = seed

    def build(self, input_shape):
        self.calls = self.add_weight(shape=(), dtype="int64", initializer="zeros",
                                     trainable=False, aggregation="only_first_replica",
                                     name="calls")

    def call(self, x, training=None):
        if not training or self.rate == 0:
            return x
        ctx = tf.distribute.get_replica_context()
        replicas = ctx.num_replicas_in_sync if ctx else 1
        replica = ctx.replica_id_in_sync_group if ctx else 0
        local = tf.shape(x)[0]
        seed = tf.stack([tf.constant(self.seed, tf.int64), tf.convert_to_tensor(self.calls)])
        shape = tf.concat([[local * replicas], tf.shape(x)[1:]], axis=0)
        noise = tf.random.stateless_uniform(shape, seed)[replica * local:(replica + 1) * local]
        self.calls.assign_add(1)
        keep = tf.cast(noise >= self.rate, x.dtype)
        return x * keep / tf.cast(1.0 - self.rate, x.dtype)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def generator_levels(image_size: int) -> int:
    """Number of stride-2 levels that take image_size down to 1x1."""
    return int(math.log2(image_size))


def input_multiple(cfg: ModelConfig, image_size: int) -> int:
    """The generator's input sides must be multiples of this."""
    if cfg.encoder == "vgg16":
        return vgg_unet.MULTIPLE
    return 32 if cfg.encoder == "resnet50v2" else 2 ** generator_levels(image_size)


def _g_convs(cfg: ModelConfig) -> tuple[type, type]:
    """(conv, transposed conv) layer classes of the generator: spectral-normalized or not."""
    if cfg.spectral_norm_g:
        return SpectralConv2D, SpectralConv2DTranspose
    return keras.layers.Conv2D, keras.layers.Conv2DTranspose


def takes_hints(generator: keras.Model) -> bool:
    """Whether G's input has hint channels beside L (ModelConfig.hints; noise channels z
    are made inside G, not fed)."""
    return generator.input_shape[-1] > 1


def region_features(generator: keras.Model, L: tf.Tensor) -> tf.Tensor | None:
    """Features that tell regions apart for the hint propagation ([B, h, w, C]), from a
    vgg16 generator's encoder; None for a model without one (lightness alone guides)."""
    if not vgg_unet.is_vgg_unet(generator):
        return None
    return vgg_unet.region_features(generator, L)


def encoder_features(generator: keras.Model, L: tf.Tensor) -> list[tf.Tensor] | None:
    """A vgg16 generator's encoder outputs relu1_2 .. relu5_3 for L [B, S, S, 1] (what a
    reference photo is matched by, models/correspondence.py); None for a model without one
    (whatever L is: encoder_features(g, None) asks whether g has one)."""
    if not vgg_unet.is_vgg_unet(generator):
        return None
    return vgg_unet.encoder_features(generator, L) if L is not None else []


def colorize(generator: keras.Model, L: tf.Tensor, hint_maps: tf.Tensor | None = None,
             training: bool = False) -> tf.Tensor:
    """G's ab [B, H, W, 2] for L [B, H, W, 1]; a hint model gets `hint_maps` [B, H, W, 3]
    (None: no hints, i.e. automatic colorization). Training, validation and serving call G
    through here (bench.py's figures are for presets without hints)."""
    if takes_hints(generator):
        return generator(hints.with_hints(L, hint_maps), training=training)
    return generator(L, training=training)


POLICIES = {"fp32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


@contextlib.contextmanager
def precision_policy(precision: str):
    """Keras' dtype policy for the layers built inside; the global policy is restored after.

    Mixed policies keep variables in float32 (checkpoints and exports are the same as
    fp32 runs') and compute in bf16/fp16; G's output layer is float32 by construction.
    """
    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[precision])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


def build_generator(cfg: ModelConfig, image_size: int, in_channels: int = 1,
                    out_channels: int = 2, seed: int = 0) -> keras.Model:
    """U-Net generator; level i (0-based) has min(base * 2**i, 8 * base) filters.

    cfg.encoder="resnet50v2" builds `build_resnet_generator` instead, "vgg16"
    `vgg_unet.build_vgg_generator`.

    Encoder: conv4x4/2 -> BN -> LeakyReLU(0.2) per level; no BN on the first level
    (input) nor the innermost one (a 1x1 map: batch norm there zeroes the signal at
    batch 1, so pytorch pix2pix has none either). Decoder: transposed conv4x4/2 -> BN
    -> dropout (three innermost blocks) -> ReLU, then concat with the encoder skip.
    Output: transposed conv to out_channels, tanh.
    """
    if cfg.hints:  # [L, hint a, hint b, mask] (hints.py)
        if cfg.encoder == "resnet50v2":
            raise UserError("hints: the resnet50v2 generator takes L only; use --encoder=vgg16 "
                            "or unet")
        in_channels += hints.CHANNELS
    if cfg.encoder == "resnet50v2":
        return build_resnet_generator(cfg, image_size, in_channels, out_channels, seed)
    conv, deconv = _g_convs(cfg)
    if cfg.encoder == "vgg16":
        return vgg_unet.build_vgg_generator(cfg, image_size, in_channels, out_channels, conv)
    levels = generator_levels(image_size)
    base = cfg.base_filters
    widths = [min(base * 2 ** i, 8 * base) for i in range(levels)]
    inputs = keras.Input((None, None, in_channels), name="L")
    x = inputs
    if cfg.noise_channels:
        x = NoiseChannels(cfg.noise_channels, seed=seed, name="z")(x)
    skips = []
    for i, width in enumerate(widths):  # (B, S/2^(i+1), S/2^(i+1), width)
        outer_or_inner = i in (0, levels - 1)
        x = conv(width, 4, strides=2, padding="same", use_bias=outer_or_inner,
                 kernel_initializer=_init(), name=f"down{i}_conv")(x)
        if not outer_or_inner:
            x = _norm(cfg, f"down{i}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
        skips.append(x)
    # Up from the bottleneck: level i restores the resolution of encoder level i - 1.
    for up, i in enumerate(range(levels - 2, -1, -1)):  # (B, S/2^(i+1), S/2^(i+1), 2 * width)
        x = deconv(widths[i], 4, strides=2, padding="same", use_bias=False,
                   kernel_initializer=_init(), name=f"up{i}_conv")(x)
        x = _norm(cfg, f"up{i}_bn")(x)
        if up < 3 and cfg.dropout > 0:
            x = ReplicaConsistentDropout(cfg.dropout, seed=seed + up, name=f"up{i}_dropout")(x)
        x = keras.layers.ReLU(name=f"up{i}_act")(x)
        if cfg.attention_g and cfg.attention_g == image_size >> (i + 1):
            x = SelfAttention(name=f"up{i}_attention")(x)
        x = keras.layers.Concatenate(name=f"up{i}_skip")([x, skips[i]])
    x = deconv(out_channels, 4, strides=2, padding="same", kernel_initializer=_init(),
               name="out_conv")(x)
    # float32 output even under a mixed-precision policy: losses and colour maths need it.
    outputs = keras.layers.Activation("tanh", dtype="float32", name="ab")(x)  # (B, S, S, 2)
    return keras.Model(inputs, outputs, name="generator")


# ResNet50V2 feature maps used as skips: strides 2, 4, 8, 16 and the 2048-channel S/32 output.
RESNET50V2_SKIPS = ("conv1_conv", "conv2_block3_1_relu", "conv3_block4_1_relu",
                    "conv4_block6_1_relu", "post_relu")


def build_resnet_generator(cfg: ModelConfig, image_size: int, in_channels: int = 1,
                           out_channels: int = 2, seed: int = 0) -> keras.Model:
    """U-Net with a keras.applications ResNet50V2 encoder (random weights; see
    `load_encoder_weights`), in the spirit of DeOldify's ResNet U-Net.

    L [B, S, S, 1] (S a multiple of 32) is repeated to 3 channels: L in [-1, 1] is what
    ResNet50V2's own preprocessing makes of a gray photo. Decoder: transposed conv4x4/2
    -> BN -> ReLU (-> self-attention) -> concat skip, widths 8, 4, 2, 1 x base from S/16
    to S/2; then up to S, concat the input, 3x3 conv to out_channels, tanh.
    """
    conv, deconv = _g_convs(cfg)  # the decoder's; the keras.applications encoder stays plain
    base = cfg.base_filters
    inputs = keras.Input((None, None, in_channels), name="L")
    x = inputs
    if cfg.noise_channels:
        x = NoiseChannels(cfg.noise_channels, seed=seed, name="z")(x)
    rgb_like = keras.layers.Concatenate(name="gray3")([inputs, inputs, inputs])
    resnet = keras.applications.ResNet50V2(include_top=False, weights=None,
                                           input_shape=(None, None, 3))
    encoder = keras.Model(resnet.input, [resnet.get_layer(n).output for n in RESNET50V2_SKIPS],
                          name="encoder")
    *skips, y = encoder(rgb_like)  # S/2, S/4, S/8, S/16 and (S/32, 2048)
    for k, (skip, width) in enumerate(zip(reversed(skips), (8 * base, 4 * base, 2 * base, base))):
        side = image_size >> (4 - k)  # S/16, S/8, S/4, S/2
        y = deconv(width, 4, strides=2, padding="same", use_bias=False,
                   kernel_initializer=_init(), name=f"dec{k}_conv")(y)
        y = _norm(cfg, f"dec{k}_bn")(y)
        y = keras.layers.ReLU(name=f"dec{k}_act")(y)
        if cfg.attention_g and cfg.attention_g == side:
            y = SelfAttention(name=f"dec{k}_attention")(y)
        y = keras.layers.Concatenate(name=f"dec{k}_skip")([y, skip])
    y = deconv(base, 4, strides=2, padding="same", use_bias=False,
               kernel_initializer=_init(), name="full_conv")(y)
    y = _norm(cfg, "full_bn")(y)
    y = keras.layers.ReLU(name="full_act")(y)
    # The input (and z) at full resolution: fine detail the S/2 skip cannot carry.
    y = keras.layers.Concatenate(name="full_skip")([y, x])
    y = conv(out_channels, 3, padding="same", kernel_initializer=_init(), name="out_conv")(y)
    outputs = keras.layers.Activation("tanh", dtype="float32", name="ab")(y)
    return keras.Model(inputs, outputs, name="generator")


def load_encoder_weights(generator: keras.Model, spec: str) -> None:
    """Copies pretrained weights into a ResNet generator's encoder.

    spec: "imagenet" (Keras downloads them; fails at once with a clear message when the
    download host cannot be reached), a path to a ResNet50V2 (include_top=False) weights
    file, or "none" (keep the random initialization).
    """
    if spec == "none":
        return
    if spec == "imagenet":
        if not net.host_reachable(net.DOWNLOAD_HOST):
            raise UserError(f"encoder_weights=imagenet: {net.DOWNLOAD_HOST[0]} cannot be "
                            "reached to download the ResNet50V2 weights; pass a local weights "
                            "file (encoder_weights=PATH) or encoder_weights=none")
    elif not Path(spec).is_file():
        raise UserError(f"encoder_weights={spec}: no such file (or: imagenet, none)")
    try:
        source = keras.applications.ResNet50V2(include_top=False, weights=spec,
                                               input_shape=(None, None, 3))
    except (ValueError, OSError) as e:
        raise UserError(f"encoder_weights={spec}: not ResNet50V2 (no top) weights: {e}") from None
    encoder = generator.get_layer("encoder")
    for layer in source.layers:
        if layer.weights:
            encoder.get_layer(layer.name).set_weights(layer.get_weights())


def build_discriminator(cfg: ModelConfig, image_size: int = 0, in_channels: int = 1,
                        target_channels: int = 2) -> keras.Model:
    """70x70 PatchGAN: C64-C128-C256 (stride 2), C512 (stride 1), 1-channel conv (stride 1).

    Inputs [L (B, S, S, 1), ab (B, S, S, 2)] -> logits (B, S/8 - 2, S/8 - 2, 1), float32.
    Receptive field of one logit: 1 + 3 * (1 + 2 + 4 + 8 + 8) = 70 pixels (without
    self-attention, which sees the whole map). `image_size` places cfg.attention_d.
    """
    f = cfg.disc_filters
    conv = SpectralConv2D if cfg.spectral_norm_d else keras.layers.Conv2D

    def attend(x, side, name):
        if cfg.attention_d and image_size and cfg.attention_d == side:
            return SelfAttention(name=name)(x)
        return x

    L = keras.Input((None, None, in_channels), name="L")
    ab = keras.Input((None, None, target_channels), name="ab")
    x = keras.layers.Concatenate(name="pair")([L, ab])  # (B, S, S, 3)
    x = conv(f, 4, strides=2, padding="same", kernel_initializer=_init(),
             name="c1_conv")(x)  # (B, S/2, S/2, f)
    x = keras.layers.LeakyReLU(0.2, name="c1_act")(x)
    x = attend(x, image_size // 2, "c1_attention")
    for n, width in ((2, 2 * f), (3, 4 * f)):  # (B, S/4, S/4, 2f), (B, S/8, S/8, 4f)
        x = conv(width, 4, strides=2, padding="same", use_bias=False,
                 kernel_initializer=_init(), name=f"c{n}_conv")(x)
        x = _norm(cfg, f"c{n}_bn")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"c{n}_act")(x)
        x = attend(x, image_size >> n, f"c{n}_attention")
    x = keras.layers.ZeroPadding2D(1, name="c4_pad")(x)
    x = conv(8 * f, 4, use_bias=False, kernel_initializer=_init(),
             name="c4_conv")(x)  # (B, S/8 - 1, S/8 - 1, 8f)
    x = _norm(cfg, "c4_bn")(x)
    x = keras.layers.LeakyReLU(0.2, name="c4_act")(x)
    x = keras.layers.ZeroPadding2D(1, name="out_pad")(x)
    x = conv(1, 4, kernel_initializer=_init(), name="out_conv")(x)  # (B, S/8-2, ..)
    logits = keras.layers.Activation("linear", dtype="float32", name="logits")(x)
    return keras.Model([L, ab], logits, name="discriminator")
