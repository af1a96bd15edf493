"""Choosing a tf.distribute strategy by name.

  default   the default strategy: one device (a GPU if there is one, else the CPU)
  mirrored  MirroredStrategy over all local GPUs; with no GPU, over `cpu_devices`
            logical CPUs (for testing the distributed step on a laptop or CI)
  auto      mirrored when there are 2+ GPUs, else default
"""

from __future__ import annotations

import tensorflow as tf
from absl import logging

from colorgan.config import TrainConfig
from colorgan.errors import UserError


def logical_cpus(n: int) -> list[str]:
    """Splits the CPU into n logical devices; must run before TensorFlow starts its runtime."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:  # runtime already up: fine if it already has enough CPUs
        pass
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < n:
        raise UserError(f"--cpu_devices={n}: TensorFlow already started with {len(devices)} "
                        "CPU device(s); set it before anything else runs")
    return devices[:n]


def make_strategy(cfg: TrainConfig) -> tf.distribute.Strategy:
    gpus = tf.config.list_physical_devices("GPU")
    name = cfg.strategy
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 else "default"
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        if gpus:
            strategy = tf.distribute.MirroredStrategy()
        else:
            devices = logical_cpus(max(cfg.cpu_devices, 1))
            strategy = tf.distribute.MirroredStrategy(
                devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    else:
        raise UserError(f"--strategy={cfg.strategy!r}: choose default, mirrored or auto")
    logging.info("strategy %s with %d replica(s)", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    if cfg.batch_size % strategy.num_replicas_in_sync:
        raise UserError(f"--batch_size={cfg.batch_size} does not split over "
                        f"{strategy.num_replicas_in_sync} replicas")
    return strategy
