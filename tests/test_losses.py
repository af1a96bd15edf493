import numpy as np
import tensorflow as tf

from colorgan.train import losses


def softplus(x):
    return np.log1p(np.exp(x))


def test_gan_losses_on_known_logits():
    real = np.array([[[[2.0]], [[0.0]]], [[[-1.0]], [[3.0]]]], np.float32)  # [2, 2, 1, 1]
    fake = -real
    g = losses.generator_gan_loss(fake).numpy()
    d = losses.discriminator_gan_loss(real, fake).numpy()
    np.testing.assert_allclose(g, [np.mean(softplus(-fake[i])) for i in range(2)], rtol=1e-6)
    np.testing.assert_allclose(
        d, [0.5 * (np.mean(softplus(-real[i])) + np.mean(softplus(fake[i]))) for i in range(2)],
        rtol=1e-6)
    # BCE identities: logit 0 costs log 2; a confident right answer costs ~0.
    np.testing.assert_allclose(losses.generator_gan_loss(tf.zeros([1, 4, 4, 1])), [np.log(2)],
                               rtol=1e-6)
    assert losses.discriminator_gan_loss(tf.fill([1, 2, 2, 1], 20.0),
                                         tf.fill([1, 2, 2, 1], -20.0)).numpy()[0] < 1e-8


def test_l1_is_per_example_mean_absolute_error():
    a = np.zeros([3, 4, 4, 2], np.float32)
    b = np.stack([np.full([4, 4, 2], v, np.float32) for v in (0.0, 0.5, -1.0)])
    np.testing.assert_allclose(losses.l1_loss(a, b).numpy(), [0.0, 0.5, 1.0])
