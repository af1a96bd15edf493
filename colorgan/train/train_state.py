"""The train state: both models, their optimizers and the step, created inside a
`tf.distribute` strategy's scope; one `tf.train.Checkpoint` of it is the workdir's checkpoint.

Shared by the train step (train/train_step.py) and the fit loop (train/fit.py).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from colorgan.config import Config, generator_model, generator_size
from colorgan.models import networks, vgg, vgg_unet
from colorgan.train import optim


@dataclasses.dataclass
class TrainState:
    """Everything a checkpoint holds. Created inside `strategy.scope()`."""

    generator: keras.Model
    discriminator: keras.Model
    g_optimizer: keras.optimizers.Optimizer
    d_optimizer: keras.optimizers.Optimizer
    step: tf.Variable  # int64 scalar: global steps done
    perceptual: keras.Model | None = None  # frozen VGG16 trunk; not checkpointed
    # vgg16 generators whose encoder trains (now or from a later step): the encoder's own
    # optimizer, built from the start, so checkpoints keep one layout across that step.
    e_optimizer: keras.optimizers.Optimizer | None = None
    # [BINS^2] colour-rebalancing weights of the L1 loss (rebalance.py); None = plain L1.
    ab_weights: tf.Tensor | None = None
    # int64 [2]: (global batch, input pipelines) the data stream was cut with; (0, 0) in
    # checkpoints written before it existed. A resume with another layout is refused.
    data_layout: tf.Variable | None = None

    def checkpoint(self) -> tf.train.Checkpoint:
        extra = {"e_optimizer": self.e_optimizer} if self.e_optimizer is not None else {}
        if self.data_layout is not None:
            extra["data_layout"] = self.data_layout
        return tf.train.Checkpoint(step=self.step, generator=self.generator,
                                   discriminator=self.discriminator,
                                   g_optimizer=self.g_optimizer, d_optimizer=self.d_optimizer,
                                   **extra)

    def all_finite(self) -> bool:
        """Whether every weight of G and D (and every optimizer slot) is finite."""
        variables = (self.generator.variables + self.discriminator.variables
                     + self.g_optimizer.variables + self.d_optimizer.variables
                     + (self.e_optimizer.variables if self.e_optimizer is not None else []))
        # One host sync for all of them, not one per variable.
        return bool(tf.reduce_all([tf.reduce_all(tf.math.is_finite(v))
                                   for v in variables if tf.as_dtype(v.dtype).is_floating]))

    def encoder(self) -> keras.Model | None:
        """The pretrained encoder of a vgg16 generator that trains it at some step, else None."""
        return self.generator.get_layer(vgg_unet.ENCODER) if self.e_optimizer else None


def _adam(cfg: Config, learning_rate: float) -> keras.optimizers.Optimizer:
    opt = optim.FusedAdam(learning_rate, beta_1=cfg.train.beta_1)
    if cfg.train.precision == "fp16":  # fp16 gradients underflow without loss scaling
        opt = keras.optimizers.LossScaleOptimizer(opt)
    return opt


def create_state(cfg: Config, strategy: tf.distribute.Strategy) -> TrainState:
    """Builds models and optimizers in the strategy's scope; the same seed gives the same weights."""
    keras.utils.set_random_seed(cfg.train.seed)
    with strategy.scope():
        with networks.precision_policy(cfg.train.precision):
            generator = networks.build_generator(generator_model(cfg), generator_size(cfg),
                                                 seed=cfg.train.seed)
            discriminator = networks.build_discriminator(cfg.model, cfg.data.image_size)
        g_opt = _adam(cfg, cfg.train.g_learning_rate)
        d_opt = _adam(cfg, cfg.train.d_learning_rate)
        # Optimizer slots must exist before the first traced step under a strategy,
        # otherwise that step fails feeding an uninitialized placeholder.
        if cfg.train.hints_only:  # frozen layers also keep BN in inference mode
            for layer in generator.layers:
                layer.trainable = layer.name.startswith("hint")
        g_opt.build(generator.trainable_variables)  # a vgg16 encoder is frozen here
        d_opt.build(discriminator.trainable_variables)
        e_opt = None  # only where the encoder can train: its Adam slots are 2 x 14.7 M floats
        if cfg.model.encoder == "vgg16" and cfg.train.train_encoder != "never":
            e_opt = _adam(cfg, cfg.train.encoder_learning_rate)
            e_opt.build(vgg_unet.encoder_variables(generator))
        step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        layout = tf.Variable([0, 0], dtype=tf.int64, trainable=False, name="data_layout")
        perceptual = None
        if cfg.loss.lambda_perceptual > 0:
            perceptual = vgg.build_trunk(vgg.load_weights(), tuple(cfg.loss.perceptual_layers))
    return TrainState(generator, discriminator, g_opt, d_opt, step, perceptual, e_opt,
                      data_layout=layout)
