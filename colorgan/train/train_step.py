"""The distributed train step: one small function per phase, run by `make_train_step`.

  gan  both networks: G on λ1·L1 (+ λp·perceptual) + λgan·GAN, D on real vs G's output
  g    G alone on L1 (+ perceptual); D and its optimizer untouched (NoGAN pre-training)
  d    D alone, on the output of G in inference mode (frozen)

Each replica's per-example losses are divided by the *global* batch size, so the
replicas' gradients add up (all-reduce sum) to the gradient of the global mean.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from colorgan import color
from colorgan.config import Config
from colorgan.models import hints, networks
from colorgan.train import losses, rebalance
from colorgan.train.train_state import TrainState

_ZERO = 0.0


class _Phases:
    """The losses and updates the phases are made of, for one state and config. The
    encoder's variables are fixed here: the fit loop builds a new step when it unfreezes."""

    def __init__(self, state: TrainState, cfg: Config, phase: str):
        self.state, self.cfg = state, cfg
        self.global_batch = cfg.train.batch_size
        self.lambda_gan = cfg.loss.lambda_gan if phase == "gan" else 0.0
        self.space = color.get_space(cfg.model.color_space)
        encoder = state.encoder()
        self.e_vars = list(encoder.trainable_variables) if encoder is not None else []
        e_ids = {id(v) for v in self.e_vars}
        self.g_vars = [v for v in state.generator.trainable_variables if id(v) not in e_ids]
        self.hints = networks.takes_hints(state.generator)

    def G(self, L: tf.Tensor, hint_maps: tf.Tensor | None, training: bool = True) -> tf.Tensor:
        return networks.colorize(self.state.generator, L, hint_maps, training=training)

    def simulated_hints(self, ab: tf.Tensor) -> tf.Tensor | None:
        """A hint model's hints for this step: random patches of the true colour, seeded
        by (step, replica) so that a resumed run draws what the uninterrupted one drew."""
        if not self.hints:
            return None
        ctx = tf.distribute.get_replica_context()
        replica = ctx.replica_id_in_sync_group if ctx is not None else 0
        seed = tf.stack([tf.cast(self.state.step, tf.int32), tf.cast(replica, tf.int32)])
        # The run's seed folded in (any size: no int32 product to overflow).
        seed = tf.random.experimental.stateless_fold_in(seed, self.cfg.train.seed % 2**31)
        return hints.simulate(ab, seed)

    # ------------------------------------------------------------------ pieces

    def average(self, per_example: tf.Tensor, weights: tf.Tensor | None) -> tf.Tensor:
        # weights [b]: 0 for a stream's grayscale crops, which stay in the batch so the
        # stream keeps its element indices (exact resume; data.train_dataset); None = all 1.
        return tf.nn.compute_average_loss(per_example, sample_weight=weights,
                                          global_batch_size=self.global_batch)

    def logits(self, L: tf.Tensor, ab: tf.Tensor) -> tf.Tensor:
        """D's logits, float32 whatever D computes in (the losses need it)."""
        return tf.cast(self.state.discriminator([L, ab], training=True), tf.float32)

    @staticmethod
    def scaled(optimizer, loss: tf.Tensor) -> tf.Tensor:
        """fp16: the loss times the optimizer's loss scale (apply_gradients unscales)."""
        return optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss

    def d_update(self, L, ab, fake_ab, w) -> tf.Tensor:
        D, opt = self.state.discriminator, self.state.d_optimizer
        with tf.GradientTape() as tape:
            d_loss = self.average(losses.discriminator_gan_loss(
                self.logits(L, ab), self.logits(L, fake_ab), self.cfg.loss.gan_loss), w)
            d_scaled = self.scaled(opt, d_loss)
        opt.apply_gradients(zip(tape.gradient(d_scaled, D.trainable_variables),
                                D.trainable_variables))
        return d_loss

    def g_reconstruction(self, L, ab, fake_ab, w) -> tuple[tf.Tensor, tf.Tensor]:
        """(L1, perceptual) of G's output; perceptual is 0 without a VGG trunk."""
        state = self.state
        per_example = (losses.l1_loss(ab, fake_ab) if state.ab_weights is None
                       else rebalance.weighted_l1_loss(ab, fake_ab, state.ab_weights))
        g_perc = tf.constant(_ZERO)
        if state.perceptual is not None:
            g_perc = self.average(losses.perceptual_loss(
                state.perceptual, self.space.to_rgb(L, ab), self.space.to_rgb(L, fake_ab)), w)
        return self.average(per_example, w), g_perc

    def g_scaled(self, g_total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """(G's, the encoder's) fp16-scaled losses; call inside the tape, so the scaling is
        recorded."""
        e_scaled = self.scaled(self.state.e_optimizer, g_total) if self.e_vars else None
        return self.scaled(self.state.g_optimizer, g_total), e_scaled

    def g_apply(self, tape: tf.GradientTape, g_total, g_scaled, e_scaled) -> None:
        """G's (and a training encoder's) update, each optimizer unscaling its own scale."""
        state = self.state
        if not self.e_vars:
            grads = tape.gradient(g_scaled, self.g_vars)
            state.g_optimizer.apply_gradients(zip(grads, self.g_vars))
            return
        if e_scaled is g_total:  # no loss scaling: one backward pass for both
            grads = tape.gradient(g_scaled, self.g_vars + self.e_vars)
        else:
            grads = tape.gradient(g_scaled, self.g_vars) + tape.gradient(e_scaled, self.e_vars)
        state.g_optimizer.apply_gradients(zip(grads[:len(self.g_vars)], self.g_vars))
        state.e_optimizer.apply_gradients(zip(grads[len(self.g_vars):], self.e_vars))

    # ------------------------------------------------------------------ phases

    def d_step(self, L, ab, w) -> dict:
        zero = tf.constant(_ZERO)
        d_loss = self.d_update(L, ab, self.G(L, self.simulated_hints(ab), training=False), w)
        return {"g_total": zero, "g_gan": zero, "g_l1": zero, "g_perceptual": zero, "d": d_loss}

    def g_step(self, L, ab, w) -> dict:
        lam, hint_maps = self.cfg.loss, self.simulated_hints(ab)
        with tf.GradientTape(persistent=True) as tape:
            fake_ab = tf.cast(self.G(L, hint_maps), tf.float32)
            g_l1, g_perc = self.g_reconstruction(L, ab, fake_ab, w)
            g_total = lam.lambda_l1 * g_l1 + lam.lambda_perceptual * g_perc
            g_scaled, e_scaled = self.g_scaled(g_total)
        self.g_apply(tape, g_total, g_scaled, e_scaled)
        del tape
        zero = tf.constant(_ZERO)
        return {"g_total": g_total, "g_gan": zero, "g_l1": g_l1, "g_perceptual": g_perc,
                "d": zero}

    def gan_step(self, L, ab, w) -> dict:
        if self.lambda_gan <= 0:  # an L1-only run: D stays untouched
            return self.g_step(L, ab, w)
        state, lam, kind = self.state, self.cfg.loss, self.cfg.loss.gan_loss
        D, hint_maps = state.discriminator, self.simulated_hints(ab)
        for _ in range(self.cfg.train.d_steps - 1):  # extra D updates against the current G
            self.d_update(L, ab, tf.stop_gradient(self.G(L, hint_maps)), w)
        with tf.GradientTape(persistent=True) as tape:
            fake_ab = tf.cast(self.G(L, hint_maps), tf.float32)
            g_l1, g_perc = self.g_reconstruction(L, ab, fake_ab, w)
            real_logits, fake_logits = self.logits(L, ab), self.logits(L, fake_ab)
            g_gan = self.average(losses.generator_gan_loss(fake_logits, kind), w)
            g_total = (lam.lambda_l1 * g_l1 + lam.lambda_perceptual * g_perc
                       + self.lambda_gan * g_gan)
            d_loss = self.average(losses.discriminator_gan_loss(real_logits, fake_logits, kind), w)
            d_scaled = self.scaled(state.d_optimizer, d_loss)
            g_scaled, e_scaled = self.g_scaled(g_total)
        self.g_apply(tape, g_total, g_scaled, e_scaled)
        state.d_optimizer.apply_gradients(
            zip(tape.gradient(d_scaled, D.trainable_variables), D.trainable_variables))
        del tape
        return {"g_total": g_total, "g_gan": g_gan, "g_l1": g_l1, "g_perceptual": g_perc,
                "d": d_loss}


def make_train_step(state: TrainState, cfg: Config, strategy: tf.distribute.Strategy,
                    phase: str = "gan") -> Callable[..., dict]:
    """A tf.function: (distributed batch (L, ab[, weights]), stop) -> metrics summed over
    replicas, plus "stop". `phase` is "gan", "g" or "d" (module docstring)."""
    phases = _Phases(state, cfg, phase)
    run_phase = {"gan": phases.gan_step, "g": phases.g_step, "d": phases.d_step}[phase]

    def replica_step(batch):
        L, ab, *weights = batch  # (L, ab) or (L, ab, weights [b])
        return run_phase(L, ab, weights[0] if weights else None)

    # autograph=False: the step branches on settings only (Python), and autograph's source
    # rewriting of every layer it calls costs seconds per process (docs/notes/speed.md).
    @tf.function(jit_compile=cfg.train.jit_compile or None, autograph=False)
    def train_step(batch, stop=tf.constant(0.0)):
        """`stop` > 0: this process wants to stop after the step. Returned summed over all
        replicas (ReduceOp has no MAX), so every worker of a cluster sees it and all stop
        (and save) at the same step."""
        per_replica = strategy.run(replica_step, args=(batch,))
        state.step.assign_add(1)
        out = {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
               for k, v in per_replica.items()}
        out["stop"] = strategy.reduce(tf.distribute.ReduceOp.SUM,
                                      strategy.run(lambda: tf.identity(stop)), axis=None)
        return out

    return train_step
