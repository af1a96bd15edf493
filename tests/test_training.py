import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.config import Config
from colorgan.data import input_pipeline
from colorgan.models import layers
from colorgan.train import fit, optim, train_state, train_step
from colorgan.train.distribute import make_strategy

import workdirs  # tests/workdirs.py


def with_train(cfg: Config, **kw) -> Config:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, **kw))


def weights(state):
    return [v.numpy() for v in state.generator.variables + state.discriminator.variables]


def rel_diff(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), 1e-12)


def test_overfits_one_batch(tiny_cfg):
    """A few hundred steps on one fixed batch drive L1 well down (to ~35 % of its start;
    asserted at half, since the GAN term makes the exact figure vary with the CPU's kernels)."""
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(tiny_cfg, strategy)
    step = train_step.make_train_step(state, tiny_cfg, strategy)
    src = input_pipeline.open_source("samples")
    batch = next(iter(input_pipeline.train_dataset(src, image_size=32, batch_size=4, seed=0)))
    l1 = [float(step(batch)["g_l1"]) for _ in range(300)]
    assert int(state.step.numpy()) == 300
    assert np.mean(l1[-10:]) < 0.5 * np.mean(l1[:10]), (l1[:10], l1[-10:])


def run_steps(cfg, strategy, n):
    """n steps' metrics, and how far each variable moved from its initial value."""
    state = train_state.create_state(cfg, strategy)
    start = weights(state)
    step_fn = train_step.make_train_step(state, cfg, strategy)
    src = input_pipeline.open_source("samples")
    ds = strategy.distribute_datasets_from_function(lambda ctx: input_pipeline.train_dataset(
        src, image_size=cfg.data.image_size, batch_size=cfg.train.batch_size, seed=1,
        input_context=ctx, input_noise=cfg.data.input_noise))
    it = iter(ds)
    metrics = [{k: float(v) for k, v in step_fn(next(it)).items()} for _ in range(n)]
    return metrics, [w - w0 for w, w0 in zip(weights(state), start)]


RECIPES = {"gan_loss": "hinge", "d_steps": 2, "spectral_norm_d": True, "spectral_norm_g": True,
           "attention_g": 8,
           "attention_d": 8, "input_noise": 0.05, "color_space": "yuv", "noise_channels": 2}


VGG16 = {"encoder": "vgg16", "spectral_norm_g": True, "attention_g": 8}


# The plain pix2pix case is inside these two: RECIPES is its U-Net (batch norm, dropout)
# with other losses and layers on top, VGG16 its losses on another encoder (57 s saved).
@pytest.mark.parametrize("recipes", [RECIPES, VGG16], ids=["recipes", "vgg16"])
def test_two_replicas_match_one(tiny_cfg, recipes, monkeypatch):
    """Sync batch norm, global-batch loss scaling and replica-consistent dropout (and
    spectral-norm state, input noise) make a 2-replica MirroredStrategy step equal a
    1-replica step on the same global batch. Both runs take Keras' batch-norm kernel
    (2 synchronized replicas must): the fused one rounds differently (test_layers.py).

    What is compared is how far each variable moved. Adam runs with epsilon = 1: at its
    default (1e-7) the first steps move every weight by ~lr times the sign of its gradient,
    so a gradient at rounding level (a BN beta that the next BN all but cancels) flips with
    the summation order, which differs between CPUs (AVX2-only EPYC: 16 % on down3_bn/beta).
    With epsilon = 1 the update is ~lr * gradient: rounding stays rounding, and a wrong loss
    scale across replicas shows (plain Adam is blind to it)."""
    monkeypatch.setattr(layers.BatchNorm, "fused", False)
    monkeypatch.setattr(train_state, "_adam", lambda cfg, lr: optim.FusedAdam(
        lr, beta_1=cfg.train.beta_1, epsilon=1.0))
    cfg = with_train(config.with_overrides(tiny_cfg, recipes), batch_size=4)
    one_m, one_w = run_steps(cfg, tf.distribute.get_strategy(), 2)
    two = make_strategy(config.TrainConfig(strategy="mirrored", cpu_devices=2, batch_size=4))
    assert two.num_replicas_in_sync == 2
    two_m, two_w = run_steps(cfg, two, 2)
    for a, b in zip(one_m, two_m):
        for k in a:
            assert abs(a[k] - b[k]) <= 1e-4 * abs(a[k]) + 1e-7, (k, a[k], b[k])
    # Moves, not weights, so 1e-3 is tight: a wrong loss scale is off by 1, unsynchronized
    # batch norm or dropout by percents; rounding measures up to 1.2e-4 (D's kernels).
    worst = max(rel_diff(a, b) for a, b in zip(one_w, two_w))
    assert worst < 1e-3, worst


def checkpoint_values(workdir):
    reader = tf.train.load_checkpoint(str(workdir / "checkpoints"))
    names = sorted(n for n in reader.get_variable_to_shape_map() if "OBJECT_GRAPH" not in n and "save_counter" not in n)
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.parametrize("hints", [False, True])  # simulated hints drawn again alike
def test_resumed_run_ends_where_an_uninterrupted_one_does(tiny_cfg, tmp_path, info_log, hints):
    cfg = with_train(config.with_overrides(tiny_cfg, {"hints": hints}), steps=6,
                     checkpoint_every=3)
    fit.fit(cfg, tmp_path / "straight")
    # A run stopped at step 3: a copy of the straight run's workdir, wound back to ckpt-3.
    workdirs.rewound(tmp_path / "straight", 3, tmp_path / "resumed")
    assert tf.train.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints")).endswith("ckpt-3")
    info_log.clear()
    result = fit.fit(cfg, tmp_path / "resumed")
    assert result.step == 6
    assert tf.train.latest_checkpoint(str(tmp_path / "resumed" / "checkpoints")).endswith("ckpt-6")
    # The last step is logged whatever log_every is: progress, speed and time left.
    log = info_log.text
    assert "resuming at step 3 of 6" in log and "step 6/6" in log and "img/s" in log and "ETA" in log
    a, b = checkpoint_values(tmp_path / "straight"), checkpoint_values(tmp_path / "resumed")
    assert a.keys() == b.keys() and any(k.endswith("calls/.ATTRIBUTES/VARIABLE_VALUE") for k in a)
    for name in a:
        if a[name].dtype.kind == "f":
            assert rel_diff(a[name], b[name]) < 1e-5, name
        else:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_fit_writes_checkpoints_events_and_sheet(tiny_cfg, tmp_path):
    cfg = with_train(tiny_cfg, steps=4, checkpoint_every=2, summary_every=2, image_every=2)
    result = fit.fit(cfg, tmp_path)
    assert result.step == 4 and set(result.metrics) == {"g_total", "g_gan", "g_l1", "g_perceptual", "d"}
    ckpts = tf.train.get_checkpoint_state(str(tmp_path / "checkpoints")).all_model_checkpoint_paths
    assert [p.rsplit("-", 1)[1] for p in ckpts] == ["2", "4"]
    tags = set()
    for f in (tmp_path / "tb").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            tags |= {v.tag for v in event.summary.value}
    assert {"loss/g_l1", "loss/d", "gray|colorized|truth"} <= tags
    from PIL import Image
    assert Image.open(result.sheet).size[0] > 100


def test_restore_falls_back_past_a_damaged_checkpoint(tiny_cfg, tmp_path):
    cfg = with_train(tiny_cfg, steps=4, checkpoint_every=2)
    fit.fit(cfg, tmp_path)
    ckpt_dir = tmp_path / "checkpoints"
    # A save killed midway leaves only a temp folder: it must be ignored.
    (ckpt_dir / "ckpt-6_temp").mkdir()
    (ckpt_dir / "ckpt-6_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"xx")
    # The newest checkpoint damaged on disk: restore takes the one before.
    data_file = next(ckpt_dir.glob("ckpt-4.data-*"))
    data_file.write_bytes(data_file.read_bytes()[:100])
    state = train_state.create_state(cfg, tf.distribute.get_strategy())
    ckpt = state.checkpoint()
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=3)
    assert fit.restore_latest(ckpt, manager).endswith("ckpt-2")
    assert int(state.step.numpy()) == 2


def test_workdir_with_other_model_is_refused(tiny_cfg, tmp_path):
    fit.fit(with_train(tiny_cfg, steps=1), tmp_path)
    other = config.with_overrides(tiny_cfg, {"base_filters": 16})
    with pytest.raises(config.UserError, match="different model"):
        fit.fit(other, tmp_path)


def test_errors_name_the_config_field(tiny_cfg, tmp_path):
    """Library errors name fields as a notebook or a workdir's config.json spells them;
    train.py shows them as flags (tests/test_cli.py)."""
    missing = tmp_path / "no_eval_photos"
    cfg = config.with_overrides(tiny_cfg, {"eval_source": str(missing)})
    with pytest.raises(config.UserError, match=f"^eval_source: {missing} does not exist$"):
        fit.fit(cfg, tmp_path / "run")
    with pytest.raises(config.UserError, match="^image_size=48: must be a power of two"):
        config.with_overrides(tiny_cfg, {"image_size": 48})


def test_fit_on_a_tfds_dataset_without_validation_split(tiny_cfg, tfds_photos, tmp_path):
    data_dir, _ = tfds_photos
    cfg = config.with_overrides(tiny_cfg, {"source": "tfds:colorgan_test_photos",
                                           "tfds_data_dir": data_dir, "steps": 2})
    result = fit.fit(cfg, tmp_path)  # eval images fall back to the training split
    assert result.step == 2 and all(np.isfinite(list(result.metrics.values())))


def test_time_budget_stops_early_with_a_checkpoint_and_sheet(tiny_cfg, tmp_path):
    cfg = config.with_overrides(tiny_cfg, {"steps": 1000, "time_budget": 1e-3})
    result = fit.fit(cfg, tmp_path)
    assert result.step == 1 and result.stopped_by_signal is None and result.sheet
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-1")


def test_weight_zero_examples_are_left_out_of_the_step(tiny_cfg):
    """A stream's grayscale crops stay in the batch with weight 0 (exact resume): what they
    hold must not change the losses or the update (L1 only: D's batch norm would see them)."""
    cfg = config.with_overrides(tiny_cfg, {"lambda_gan": 0.0})
    strategy = tf.distribute.get_strategy()
    src = input_pipeline.open_source("samples")
    L, ab = next(iter(input_pipeline.train_dataset(src, image_size=32, batch_size=4, seed=0)))
    w = tf.constant([1.0, 0.0, 1.0, 0.0])
    other_ab = tf.where(w[:, None, None, None] > 0, ab, tf.random.uniform(ab.shape, -1, 1))
    results = []
    for batch in [(L, ab, w), (L, other_ab, w), (L, ab)]:
        state = train_state.create_state(cfg, strategy)
        out = train_step.make_train_step(state, cfg, strategy)(batch)
        results.append((float(out["g_l1"]), weights(state)))
    (l1_a, w_a), (l1_b, w_b), (l1_all, _) = results
    assert l1_a == l1_b
    assert all(np.array_equal(x, y) for x, y in zip(w_a, w_b))
    assert l1_a < l1_all  # half the examples, still divided by the global batch of 4


def test_resume_on_a_stream_with_grayscale_photos_is_exact(tiny_cfg, shards_with_gray, tmp_path):
    """TFRecords at the default min_chroma: a run stopped at step 2 and resumed ends where
    4 straight steps do."""
    folder = shards_with_gray[0].rsplit("/", 1)[0]
    cfg = config.with_overrides(tiny_cfg, {"source": f"tfrecord:{folder}/mixed-*",
                                           "eval_source": "samples:val", "steps": 4,
                                           "checkpoint_every": 2})
    assert cfg.data.min_chroma > 0
    fit.fit(cfg, tmp_path / "straight")
    workdirs.rewound(tmp_path / "straight", 2, tmp_path / "resumed")
    assert fit.fit(cfg, tmp_path / "resumed").step == 4
    a, b = checkpoint_values(tmp_path / "straight"), checkpoint_values(tmp_path / "resumed")
    for name in a:
        if a[name].dtype.kind == "f":
            assert rel_diff(a[name], b[name]) < 1e-5, name


def test_resuming_with_another_global_batch_is_refused(tiny_cfg, tmp_path):
    fit.fit(with_train(tiny_cfg, steps=1), tmp_path)
    with pytest.raises(config.UserError, match="global batch of 4, now 8.*init_from="):
        fit.fit(with_train(tiny_cfg, steps=4, batch_size=8), tmp_path)


def test_a_checkpoint_with_non_finite_weights_is_never_saved(tiny_cfg, tmp_path, monkeypatch):
    real = train_step.make_train_step

    def poisoned(state, cfg, strategy, phase="gan"):
        step_fn = real(state, cfg, strategy, phase)

        def step(batch, stop=tf.constant(0.0)):
            out = step_fn(batch, stop)
            if int(state.step.numpy()) == 3:  # diverged between the checkpoints at 2 and 4
                v = state.generator.trainable_variables[0]
                v.assign(tf.fill(v.shape, np.nan))
            return out
        return step

    monkeypatch.setattr(fit, "make_train_step", poisoned)
    cfg = with_train(tiny_cfg, steps=6, checkpoint_every=2, keep_checkpoints=1)
    with pytest.raises(FloatingPointError, match=r"not finite at step 4.*ckpt-2"):
        fit.fit(cfg, tmp_path)
    assert tf.train.latest_checkpoint(str(tmp_path / "checkpoints")).endswith("ckpt-2")
