"""Per-example losses: every function returns a [B] float32 vector.

The train step reduces them with `tf.nn.compute_average_loss(..., global_batch_size=...)`,
which is what makes a 2-replica step equal a 1-replica step on the same global batch.
"""

import tensorflow as tf



def _per_example_mean(x: tf.Tensor) -> tf.Tensor:
    """[B, ...] -> [B]: mean over everything but the batch axis."""
    x = tf.cast(x, tf.float32)  # logits may be bfloat16 under mixed precision
    return tf.reduce_mean(tf.reshape(x, [tf.shape(x)[0], -1]), axis=1)


def generator_gan_loss(fake_logits: tf.Tensor, kind: str = "vanilla") -> tf.Tensor:
    """G's adversarial loss, mean over the patch map.

    vanilla: non-saturating BCE(D(fake), 1) = softplus(-x); lsgan: (x - 1)^2;
    hinge: -x (Lim & Ye / SAGAN).
    """
    x = tf.cast(fake_logits, tf.float32)
    per_patch = {"vanilla": lambda: tf.nn.softplus(-x), "lsgan": lambda: tf.square(x - 1.0),
                 "hinge": lambda: -x}[kind]()
    return _per_example_mean(per_patch)


def discriminator_gan_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor,
                           kind: str = "vanilla") -> tf.Tensor:
    """D's loss on real and fake patch maps, halved as in pix2pix to slow D relative to G.

    vanilla: BCE(real, 1) + BCE(fake, 0); lsgan: (real - 1)^2 + fake^2;
    hinge: relu(1 - real) + relu(1 + fake).
    """
    r = tf.cast(real_logits, tf.float32)
    f = tf.cast(fake_logits, tf.float32)
    real, fake = {"vanilla": lambda: (tf.nn.softplus(-r), tf.nn.softplus(f)),
                  "lsgan": lambda: (tf.square(r - 1.0), tf.square(f)),
                  "hinge": lambda: (tf.nn.relu(1.0 - r), tf.nn.relu(1.0 + f))}[kind]()
    return 0.5 * (_per_example_mean(real) + _per_example_mean(fake))


def l1_loss(target: tf.Tensor, prediction: tf.Tensor) -> tf.Tensor:
    """Mean absolute error per example, in the model's ab range."""
    return _per_example_mean(tf.abs(tf.cast(target, tf.float32) - tf.cast(prediction, tf.float32)))


def perceptual_loss(features, target_rgb: tf.Tensor, predicted_rgb: tf.Tensor) -> tf.Tensor:
    """Mean over layers of the mean absolute VGG feature difference, per example.

    features: a frozen model RGB [B, H, W, 3] in [0, 1] -> list of feature maps.
    """
    target = features(target_rgb)
    predicted = features(predicted_rgb)
    if not isinstance(target, (list, tuple)):  # a trunk with one layer gives a tensor
        target, predicted = [target], [predicted]
    per_layer = [_per_example_mean(tf.abs(t - p)) for t, p in zip(target, predicted)]
    return tf.add_n(per_layer) / len(per_layer)
