"""Adam with TensorFlow's fused update kernel.

Keras 3's Adam updates each variable with about ten separate element-wise ops (two
assign_adds, squares, a sqrt, a divide, ...), each a full pass over memory. TF's
`ResourceApplyAdam` does the same update in one pass. On the pix2pix U-Net + PatchGAN
(57 M parameters, 2 cores) one update of all of them takes ~30 ms fused against
~110-140 ms (measured, docs/notes/speed.md): 6-8 % of a bf16 train step.

Same maths as keras.optimizers.Adam (Kingma & Ba with epsilon outside the square root,
bias correction folded into the step size), the same slot variables (a checkpoint
written by either loads into the other), float rounding aside.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class FusedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam whose per-variable update is one ResourceApplyAdam."""

    def update_step(self, gradient, variable, learning_rate):
        if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        index = self._get_variable_index(variable)
        m, v = self._momentums[index].value, self._velocities[index].value
        step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=m.handle, v=v.handle,
            beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
            lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
            epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))
