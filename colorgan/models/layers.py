"""Custom layers: batch norm on TF's fused kernel, and the research recipes'
spectral-normalized convolution and SAGAN self-attention.

The recipes' layers keep every variable update replica-consistent (aggregation
only_first_replica), so a step on 2 replicas still equals a step on 1.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable("colorgan")
class BatchNorm(keras.layers.BatchNormalization):
    """keras.layers.BatchNormalization whose training pass is TF's FusedBatchNormV3.

    Keras 3 normalizes with separate ops (moments, then scale and shift) and first casts
    bf16 inputs to float32 and the result back; their forward and backward passes took
    ~7 % of a bf16 pix2pix step. The fused kernel takes bf16 in and out (statistics in
    float32) in one pass each way: the step is +4 % (fp32) and +7 % (bf16) faster
    (measured, docs/notes/models.md). Same variables, maths and moving-average rule as Keras';
    batches [B, H, W, C] only. Across several replicas with `synchronized` (statistics of
    the global batch) the fused kernel cannot all-reduce, so Keras' own path runs there.
    Inference (moving statistics) is Keras' path too.
    """

    # False: Keras' path everywhere. The kernels differ in rounding (Keras' synchronized
    # variance is E[x^2] - E[x]^2, the fused one two-pass), which a tiny test model's
    # 2-value statistics amplify to ~5e-4 after two steps.
    fused = True

    def _fusable(self, inputs, training, mask) -> bool:
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return (self.fused and bool(training) and self.trainable and mask is None and len(inputs.shape) == 4
                and self.axis in (-1, 3) and self.center and self.scale and not self.renorm
                and not (self.synchronized and replicas > 1))

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=inputs, scale=tf.cast(self.gamma, tf.float32), offset=tf.cast(self.beta, tf.float32),
            mean=tf.zeros([0]), variance=tf.zeros([0]), epsilon=self.epsilon,
            exponential_avg_factor=1.0, data_format="NHWC", is_training=True)
        # The kernel returns the Bessel-corrected variance; Keras averages the batch's own.
        n = tf.cast(tf.size(inputs, out_type=tf.int64) // tf.shape(inputs, out_type=tf.int64)[-1],
                    tf.float32)
        variance = variance * (n - 1.0) / tf.maximum(n, 2.0)
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum + variance * (1.0 - momentum))
        return y


def _l2_normalize(x):
    return x / (tf.norm(x) + 1e-12)


class _SpectralNorm:
    """Mixin for Keras convolutions: the kernel divided by its largest singular value
    (Miyato et al. 2018), estimated by `power_iterations` steps of the power method per
    call; the estimate u is carried between steps in a non-trainable weight (updated in
    training only). Gradients flow through sigma with u held constant, as in SN-GAN.

    The kernel is read as a matrix with `_sn_columns()` columns: the conv's output
    channels for Conv2D, its input channels for Conv2DTranspose (which is the adjoint of
    a Conv2D from `filters` to input channels, and has the same operator norm).
    """

    def __init__(self, *args, power_iterations: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.power_iterations = power_iterations

    def _sn_columns(self) -> int:
        raise NotImplementedError

    def build(self, input_shape):
        super().build(input_shape)
        self.u = self.add_weight(shape=(1, self._sn_columns()), initializer="random_normal",
                                 trainable=False, aggregation="only_first_replica",
                                 name="sn_u")

    def normalized_kernel(self, training=False):
        cols = self._sn_columns()
        w = tf.reshape(tf.convert_to_tensor(self.kernel), [-1, cols])
        u = tf.convert_to_tensor(self.u)
        for _ in range(self.power_iterations):
            v = _l2_normalize(tf.matmul(u, w, transpose_b=True))  # (1, rows)
            u = _l2_normalize(tf.matmul(v, w))  # (1, cols)
        u, v = tf.stop_gradient(u), tf.stop_gradient(v)
        sigma = tf.squeeze(tf.matmul(tf.matmul(v, w), u, transpose_b=True))
        if training:
            self.u.assign(u)
        return self.kernel / sigma

    def get_config(self):
        return {**super().get_config(), "power_iterations": self.power_iterations}


class SpectralConv2D(_SpectralNorm, keras.layers.Conv2D):
    """Conv2D with a spectral-normalized kernel [kh, kw, cin, cout], read as (kh*kw*cin, cout)."""

    def _sn_columns(self) -> int:
        return self.filters

    def call(self, inputs, training=None):
        outputs = self.convolution_op(inputs, self.normalized_kernel(bool(training)))
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs


class SpectralConv2DTranspose(_SpectralNorm, keras.layers.Conv2DTranspose):
    """Conv2DTranspose with a spectral-normalized kernel [kh, kw, cout, cin], read as
    (kh*kw*cout, cin)."""

    def _sn_columns(self) -> int:
        return int(self.kernel.shape[-1])

    def call(self, inputs, training=None):
        outputs = tf.nn.conv2d_transpose(
            inputs, self.normalized_kernel(bool(training)),
            output_shape=self._output_shape(inputs), strides=self.strides,
            padding=self.padding.upper())
        if self.use_bias:
            outputs = outputs + self.bias
        return self.activation(outputs) if self.activation is not None else outputs

    def _output_shape(self, inputs):
        # "same" padding, no output_padding / dilation (all the generator uses): x stride.
        shape = tf.shape(inputs)
        return tf.stack([shape[0], shape[1] * self.strides[0], shape[2] * self.strides[1],
                         self.filters])


class SelfAttention(keras.layers.Layer):
    """SAGAN self-attention block: x + gamma * attention(x), gamma learned from 0.

    [B, H, W, C] -> [B, H, W, C]. Queries and keys have C/8 channels, values C/2, as in
    SAGAN; every position attends to all H*W positions, so use it at coarse maps
    (memory grows as (H*W)^2). At gamma = 0 the block is the identity.
    """

    def build(self, input_shape):
        c = input_shape[-1]
        init = keras.initializers.RandomNormal(0.0, 0.02)
        self.query = keras.layers.Conv2D(max(c // 8, 1), 1, kernel_initializer=init, name="query")
        # No key bias: q.(Wk x + bk) adds q.bk to every logit of a row, which softmax
        # ignores, so its gradient is exactly zero in maths and pure float noise in
        # practice -- noise Adam then amplifies into replica-dependent weights.
        self.key = keras.layers.Conv2D(
            max(c // 8, 1), 1, use_bias=False, kernel_initializer=init, name="key")
        self.value = keras.layers.Conv2D(max(c // 2, 1), 1, kernel_initializer=init, name="value")
        self.out = keras.layers.Conv2D(c, 1, kernel_initializer=init, name="out")
        for layer, cin in ((self.query, c), (self.key, c), (self.value, c), (self.out, max(c // 2, 1))):
            layer.build((None, None, None, cin))
        self.gamma = self.add_weight(shape=(), initializer="zeros", name="gamma")

    def call(self, x):
        shape = tf.shape(x)
        b, n = shape[0], shape[1] * shape[2]
        q = tf.reshape(self.query(x), [b, n, -1])
        k = tf.reshape(self.key(x), [b, n, -1])
        v = tf.reshape(self.value(x), [b, n, -1])
        attention = tf.nn.softmax(tf.matmul(q, k, transpose_b=True), axis=-1)  # (B, N, N)
        o = tf.reshape(tf.matmul(attention, v), tf.concat([shape[:3], [-1]], 0))
        return x + tf.cast(self.gamma, x.dtype) * self.out(o)

    def compute_output_shape(self, input_shape):
        return input_shape


class NoiseChannels(keras.layers.Layer):
    """Appends `channels` maps of N(0, 1) noise z to the input (the CGAN generator's z).

    [B, H, W, C] -> [B, H, W, C + channels]. Each example's z comes from a stateless
    generator seeded by a hash of that example's own pixels (and `seed`): it differs
    between photos and crops, yet is the same on 1 or N replicas, after resume, and
    each time a photo is served again -- a service answers the same photo the same way,
    and training stays exactly reproducible. Drawn in training and inference alike.
    """

    def __init__(self, channels: int, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.seed = seed

    def call(self, x):
        shape = tf.shape(x)
        bits = tf.bitcast(tf.cast(x, tf.float32), tf.uint32)  # [B, H, W, C]
        # Position-weighted sum (uint32 wraps): moved or flipped pixels hash differently.
        n = shape[1] * shape[2] * shape[3]
        weights = tf.reshape(tf.cast(tf.range(n), tf.uint32) * 2654435761 + 1, shape[1:])
        digest = tf.reduce_sum(bits * weights, axis=[1, 2, 3])  # [B]
        seeds = tf.stack([tf.bitcast(digest, tf.int32),
                          tf.fill(tf.shape(digest), tf.constant(self.seed, tf.int32))], axis=1)
        z_shape = tf.concat([shape[1:3], [self.channels]], axis=0)
        z = tf.map_fn(lambda s: tf.random.stateless_normal(z_shape, s), seeds,
                      fn_output_signature=tf.float32)
        return tf.concat([x, tf.cast(z, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + self.channels)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "seed": self.seed}
