"""Choosing a tf.distribute strategy by name, and who writes what in a cluster.

  default       the default strategy: one device (a GPU if there is one, else the CPU)
  mirrored      MirroredStrategy over all local GPUs; with no GPU, over `cpu_devices`
                logical CPUs (for testing the distributed step on a laptop or CI)
  multi_worker  MultiWorkerMirroredStrategy over the hosts that TF_CONFIG lists (each
                host runs the same command with its own TF_CONFIG task)
  tpu           TPUStrategy on the TPU named by `tpu` ("" = Colab's / the local one)
  auto          multi_worker when TF_CONFIG lists 2+ tasks, tpu when there is one,
                mirrored with 2+ GPUs, else default

Strategies must be made before TensorFlow runs anything else (multi_worker configures
the runtime's collectives; logical CPUs are fixed once the runtime is up).
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
from absl import logging

from colorgan.config import STRATEGIES, TrainConfig
from colorgan.errors import UserError, first_line


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
        raise UserError(f"cpu_devices={n}: TensorFlow already started with {len(devices)} "
                        "CPU device(s); set it before anything else runs")
    return devices[:n]


def tf_config() -> dict:
    """TF_CONFIG parsed ({} when unset); a malformed one is a one-line error."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        value = json.loads(text)
        value["cluster"], value["task"]["type"], int(value["task"]["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"TF_CONFIG is not valid ({e!r}); see README 'Several hosts'") from None
    return value


def cluster_tasks(conf: dict | None = None) -> int:
    """Chief + worker tasks in TF_CONFIG's cluster (0 without one)."""
    conf = tf_config() if conf is None else conf
    return sum(len(v) for k, v in conf.get("cluster", {}).items() if k in ("chief", "worker"))


def _tpu_present() -> bool:
    return bool(os.environ.get("TPU_NAME") or os.environ.get("COLAB_TPU_ADDR")
                or tf.config.list_physical_devices("TPU"))


def _tpu_strategy(name: str) -> tf.distribute.Strategy:
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=name or None)
        if name or not tf.config.list_physical_devices("TPU"):  # a remote TPU: connect first
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, OSError, tf.errors.OpError) as e:  # OSError: URLError
        raise UserError(f"strategy=tpu: no TPU found{f' named {name!r}' if name else ''} "
                        f"({first_line(e)})") from None
    return tf.distribute.TPUStrategy(resolver)


def resolve_name(cfg: TrainConfig) -> str:
    """The strategy `auto` stands for on this machine (other names as given)."""
    if cfg.strategy != "auto":
        return cfg.strategy
    if cluster_tasks(tf_config()) > 1:
        return "multi_worker"
    if _tpu_present():
        return "tpu"
    return "mirrored" if len(tf.config.list_physical_devices("GPU")) > 1 else "default"


def make_strategy(cfg: TrainConfig) -> tf.distribute.Strategy:
    name = resolve_name(cfg)
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        if tf.config.list_physical_devices("GPU"):
            strategy = tf.distribute.MirroredStrategy()
        else:
            devices = logical_cpus(max(cfg.cpu_devices, 1))
            strategy = tf.distribute.MirroredStrategy(
                devices, cross_device_ops=tf.distribute.ReductionToOneDevice())
    elif name == "multi_worker":
        conf = tf_config()
        if not conf:
            raise UserError("strategy=multi_worker needs TF_CONFIG (the cluster and this "
                            "task); see README 'Several hosts'")
        # RING works on CPUs and GPUs alike; NCCL is picked by AUTO when there are GPUs.
        impl = (tf.distribute.experimental.CommunicationImplementation.AUTO
                if tf.config.list_physical_devices("GPU")
                else tf.distribute.experimental.CommunicationImplementation.RING)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=impl))
    elif name == "tpu":
        strategy = _tpu_strategy(cfg.tpu)
    else:
        raise UserError(f"strategy={cfg.strategy!r}: choose one of {', '.join(STRATEGIES)}")
    logging.info("strategy %s with %d replica(s)", type(strategy).__name__,
                 strategy.num_replicas_in_sync)
    return strategy


def global_batch_size(cfg: TrainConfig, strategy: tf.distribute.Strategy) -> int:
    """cfg.batch_size is global unless per_replica_batch_size is set (then x replicas)."""
    replicas = strategy.num_replicas_in_sync
    batch = cfg.per_replica_batch_size * replicas if cfg.per_replica_batch_size else cfg.batch_size
    if batch % replicas:
        raise UserError(f"batch_size={batch} does not split over {replicas} replicas "
                        "(or set per_replica_batch_size)")
    return batch


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes checkpoints, summaries and sheets.

    The chief is task "chief", or worker 0 when the cluster has no chief; every
    single-process strategy is its own chief.
    """
    resolver = getattr(strategy.extended, "_cluster_resolver", None) or getattr(
        strategy, "cluster_resolver", None)
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type in (None, "chief"):
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief

