"""Per-example losses: every function returns a [B] float32 vector.

The train step reduces them with `tf.nn.compute_average_loss(..., global_batch_size=...)`,
which is what makes a 2-replica step equal a 1-replica step on the same global batch.
"""

import tensorflow as tf


def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    """[B, ...] -> [B]: mean over everything but the batch axis."""
    x = tf.cast(x, tf.float32)  # logits may be bfloat16 under mixed precision
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def generator_gan_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """Non-saturating GAN loss for G: BCE(D(fake), 1) = softplus(-logit), mean per patch map."""
    return _per_example_mean(tf.nn.softplus(-tf.cast(fake_logits, tf.float32)))


def discriminator_gan_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """BCE(D(real), 1) + BCE(D(fake), 0), halved as in pix2pix to slow D relative to G."""
    real = _per_example_mean(tf.nn.softplus(-tf.cast(real_logits, tf.float32)))
    fake = _per_example_mean(tf.nn.softplus(tf.cast(fake_logits, tf.float32)))
    return 0.5 * (real + fake)


def l1_loss(target: tf.Tensor, prediction: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per example, in the model's ab range."""
    return _per_example_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))
