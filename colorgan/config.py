"""Configuration: frozen dataclasses and named presets. No TensorFlow import here.

Library functions take a `Config`; only the entry scripts turn flags into one
(`with_overrides`). Every field has the paper's or a sensible default so a preset
only names what differs. Each field is declared once, with its help text (and, for a
choice, its choices) in `metadata`: config_flags.py makes one flag per field from it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from colorgan.errors import UserError

# Choices, declared once: the flags, validate() and the modules that implement them
# (losses.py, color.py, distribute.py) all read these.
GAN_LOSSES = ("vanilla", "lsgan", "hinge")
COLOR_SPACES = ("lab", "yuv")  # colorgan.color.SPACES
ENCODERS = ("unet", "vgg16", "resnet50v2")
STRATEGIES = ("default", "mirrored", "multi_worker", "tpu", "auto")  # made in distribute.py
PRECISIONS = ("fp32", "bf16", "fp16")
KEEP_BEST = ("", "psnr", "ssim", "lpips", "dcf")  # validation.BEST_METRICS' keys
PHASES = ("g", "d", "gan")
RESTORER_SCALES = (1, 2, 4)  # models/restorer.py: one trunk, one head per scale
DEFECT_CHOICES = ("remove", "keep")  # RenderConfig.defects
HINT_SPREADS = ("region", "wide")  # models/propagation.py SPREADS


def _field(default: Any, help: str, choices: tuple[str, ...] | None = None) -> Any:
    """A dataclass field carrying its flag help and, for a choice, its choices."""
    metadata = {"help": help} if choices is None else {"help": help, "choices": choices}
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class DataConfig:
    """Where images come from and how they become (L, ab) pairs.

    eval_source "" means: the val split of the samples, `<folder>/val` when the training
    folder has train/ and val/, otherwise the training source itself.
    """

    source: str = _field("samples", "samples | samples:val | FOLDER (searched recursively) | "
                         "tfds:NAME[:SPLIT] | tfrecord:GLOB.")
    eval_source: str = _field("", "Images for progress grids and the sample sheet ('' = the "
                              "val split of the source, or the source itself).")
    image_size: int = _field(256, "Training crop size (power of two >= 32); also the eval crops' "
                             "and the exported model's default render size.")
    crop_area: tuple[float, float] = _field(
        (0.35, 1.0), "MIN,MAX fraction of the image area a random training crop covers.")
    min_chroma: float = _field(3.0, "Images whose mean Lab chroma sqrt(a^2 + b^2) is below this "
                               "count as grayscale and are left out of training.")
    tfds_data_dir: str = _field("", "tensorflow-datasets data_dir ('' = its default).")
    # Only for tfds: folders are shuffled by index, exactly.
    shuffle_buffer: int = _field(2048, "Shuffle buffer of a tfds: source, in examples.")
    input_noise: float = _field(0.0, "Sigma of Gaussian noise on the training input L "
                                "([-1, 1] range).")
    cache_mb: float = _field(1024, "Keep a folder's decoded photos in memory when they fit in "
                             "this many MB, so the train step never waits on JPEG decoding "
                             "(0 = decode every time).")
    size_schedule: str = _field("", "Progressive resizing, e.g. 64:2000,128:2000,256:rest "
                                "(crop side: steps); '' = image_size throughout.")


@dataclass(frozen=True)
class ModelConfig:
    """U-Net generator and PatchGAN discriminator widths.

    Generator depth is not configurable: it is log2(image_size), so the bottleneck
    is always 1x1 (8 levels at 256, 6 at 64, 5 at 32), like the paper at 256.
    """

    base_filters: int = _field(64, "Generator width at the first level (doubles per level "
                               "up to 8x).")
    disc_filters: int = _field(64, "Discriminator first-layer width.")
    dropout: float = _field(0.5, "Dropout in the three innermost decoder blocks (training only).")
    sync_batch_norm: bool = _field(True, "Batch-norm statistics over the global batch.")
    spectral_norm_d: bool = _field(False, "Spectral normalization on D's convolutions.")
    spectral_norm_g: bool = _field(False, "Spectral normalization on G's convolutions "
                                   "(ResNet / VGG encoder: decoder only).")
    attention_g: int = _field(0, "SAGAN self-attention in G's decoder at this feature side "
                              "(0 = off).")
    attention_d: int = _field(0, "Self-attention in D after the block with this feature side "
                              "(S/2, S/4 or S/8; 0 = off).")
    color_space: str = _field("lab", "lab: L in, ab out; yuv: Y in, UV out.", COLOR_SPACES)
    noise_channels: int = _field(0, "Channels of N(0, 1) noise z appended to G's input (CGAN).")
    # vgg_unet.py needs inputs in multiples of 16, the ResNet U-Net multiples of 32.
    encoder: str = _field("unet", "G's encoder: pix2pix U-Net, VGG16 (shipped ImageNet weights) "
                          "or ResNet50V2 (DeOldify-style; weights from --encoder_weights).",
                          ENCODERS)
    hints: bool = _field(False, "User colour hints as G input (Zhang et al. 2017): an ab map and "
                         "a mask beside L; training reveals random patches of the true colour "
                         "(hints.py). A vgg16 hint model colours a photo without hints "
                         "exactly as its decoder alone would; with --init_from a model "
                         "without them, its hint branch starts at zero.")


@dataclass(frozen=True)
class LossConfig:
    lambda_l1: float = _field(100.0, "Weight of the L1 loss (pix2pix: 100).")
    lambda_gan: float = _field(1.0, "Weight of the GAN loss (0 = L1-only baseline).")
    gan_loss: str = _field("vanilla", "Adversarial loss: vanilla (BCE) | lsgan (least squares) | "
                           "hinge.", GAN_LOSSES)
    lambda_perceptual: float = _field(0.0, "Weight of the VGG16 perceptual loss (0 = off).")
    # Zhang et al.'s lambda = 1 - rebalance.
    rebalance: float = _field(0.0, "Colour rebalancing of L1 (rebalance.py): 0 = off .. "
                              "1 = inverse colour frequency.")
    perceptual_layers: tuple[str, ...] = _field(("relu2_2", "relu3_3"),
                                                "VGG16 layers, e.g. relu2_2,relu3_3.")


@dataclass(frozen=True)
class TrainConfig:
    """The loop. Counts are in steps (one global batch each), never epochs."""

    steps: int = _field(200_000, "Total training steps (a resumed run counts from 0).")
    time_budget: float = _field(0.0, "Stop (with a checkpoint) after this many seconds of "
                                "training (0 = off).")
    batch_size: int = _field(1, "Global batch size, split across replicas.")
    # So the same config scales from 1 GPU to 8 or to a TPU with per-device memory fixed.
    per_replica_batch_size: int = _field(0, "Batch per replica; > 0: the global batch is this x "
                                         "replicas (overrides --batch_size).")
    g_learning_rate: float = _field(2e-4, "Generator Adam learning rate.")
    d_learning_rate: float = _field(2e-4, "Discriminator Adam learning rate.")
    beta_1: float = _field(0.5, "Adam beta_1 of G and D (pix2pix: 0.5).")
    d_steps: int = _field(1, "Discriminator updates per generator update (TTUR-style).")
    schedule: str = _field("", "NoGAN phases, e.g. g:1000,d:200,gan:rest: g = generator on L1 "
                           "(+ perceptual) only, d = D on the frozen G, gan = both; '' = gan only.")
    seed: int = _field(0, "Seed for weights, data order and augmentation.")
    encoder_weights: str = _field("imagenet", "Pretrained encoder's initial weights: imagenet "
                                  "(downloaded by Keras) | PATH | none. Read on a fresh run only.")
    train_encoder: str = _field("never", "vgg16 encoder: never (frozen) | after:STEPS (then "
                                "fine-tuned at --encoder_learning_rate) | always (= after:0).")
    # Its own Adam: ImageNet features move slowly.
    encoder_learning_rate: float = _field(2e-5, "Adam learning rate of a training vgg16 encoder.")
    init_from: str = _field("", "Start a fresh run from a trained model: pretrained (shipped) | "
                            "WORKDIR | EXPORT_DIR. Its model config and image size are taken "
                            "over; the rest comes from --preset and the flags. Rerunning resumes "
                            "the fine-tune from --workdir.")
    hints_only: bool = _field(False, "Train only the hint branch of a --hints vgg16 model "
                              "started --init_from another model: the rest of G stays as it "
                              "was, so without hints it colours exactly as its source.")
    strategy: str = _field("auto", "tf.distribute strategy (auto: multi_worker with a TF_CONFIG "
                           "cluster, tpu when there is one, mirrored with 2+ GPUs, else default).",
                           STRATEGIES)
    cpu_devices: int = _field(0, "Logical CPUs for --strategy=mirrored without GPUs (> 1).")
    tpu: str = _field("", "TPU name or grpc:// address for --strategy=tpu ('' = Colab's / local).")
    # Variables, G's output, the losses and the export stay float32; fp16 adds loss scaling.
    precision: str = _field("fp32", "Mixed precision of G and D (weights, outputs, losses and "
                            "export stay fp32).", PRECISIONS)
    jit_compile: bool = _field(False, "XLA-compile the train step (try on GPU/TPU; slower on "
                               "CPU, docs/notes/speed.md).")
    log_every: int = _field(100, "Steps between progress lines.")
    summary_every: int = _field(100, "Steps between TensorBoard scalar summaries.")
    image_every: int = _field(1000, "Steps between TensorBoard image grids.")
    checkpoint_every: int = _field(1000, "Steps between checkpoints.")
    keep_checkpoints: int = _field(3, "Checkpoints kept in the workdir (older ones are deleted).")
    sheet_rows: int = _field(6, "Photos in the final sample sheet.")
    # Validation while training (validation.py).
    eval_every: int = _field(0, "Steps between validation scores (evaluate.py's protocol on the "
                             "eval photos; TensorBoard val/*, a progress line); 0 = off.")
    eval_size: int = _field(256, "Validation crop size (evaluate.py --size).")
    eval_limit: int = _field(0, "Validate on the first N eval photos (0 = all).")
    keep_best: str = _field("", "Keep the generator with the best validation score in "
                            "WORKDIR/best ('' = off; needs --eval_every).", KEEP_BEST)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)


@dataclass(frozen=True)
class RenderConfig:
    """How a trained generator colours a photo (export.py, colorize.py, evaluate.py and the
    validation while training). Not part of a run's Config: one model, many renderings.

    The defaults were chosen on the shipped model's *train* photos, not on samples:val
    (docs/notes/rendering.md): flip + chroma_smooth remove most pastel blotches (+0.5 dB
    at gain 1); chroma_gain 1.11 restores the colourfulness that averaging takes away
    (+0.3 dB over the raw output in all).
    """

    render_size: int = _field(0, "Side the generator sees (0 = the model's own: its training "
                              "size, or the size it was exported with); larger = more "
                              "context, slower.")
    flip: bool = _field(True, "Average the generator's colour for the photo and its mirror "
                        "image (2x the generator's work; removes colour it is unsure of).")
    chroma_smooth: float = _field(0.0625, "Guided-filter radius of the colour, as a fraction "
                                  "of the render side (0 = off): one colour per evenly lit "
                                  "region, edges kept.")
    chroma_gain: float = _field(1.11, "Multiply the predicted chroma (a, b) by this "
                                "(1 = as predicted).")
    restore: bool = _field(False, "Restore the photo's lightness first (old photos: grain, "
                           "blur, fade, JPEG) with the old-photo restorer, then colour it.")
    hint_spread: str = _field("wide", "How far a colour hint spreads: region (stops at "
                              "edges of lightness and of what VGG16 sees) or wide (as region, "
                              "and a tint that hints in other parts of the photo agree on "
                              "also reaches through soft edges; a lone click stays put).")
    upscale: int = _field(1, "Write the photo at this many times its size (1, 2 or 4): the "
                          "restorer super-resolves the lightness, the colour follows.")
    defects: str = _field("remove", "With --restore: remove the print's dust, specks, hairs "
                          "and scratches (found and filled), or keep them.")

    def __post_init__(self):
        for name, value, least in (("render_size", self.render_size, "must be >= 0"),
                                   ("chroma_smooth", self.chroma_smooth, "must be >= 0"),
                                   ("chroma_gain", self.chroma_gain, "must be > 0")):
            if value < 0 or (name == "chroma_gain" and value == 0):
                raise UserError(f"{name}={value} {least}")
        if self.hint_spread not in HINT_SPREADS:
            raise UserError(f"hint_spread={self.hint_spread}: choose "
                            f"{', '.join(HINT_SPREADS)}")
        if self.defects not in DEFECT_CHOICES:
            raise UserError(f"defects={self.defects}: choose {', '.join(DEFECT_CHOICES)}")
        if self.defects == "keep" and not self.restore:
            raise UserError("defects=keep is for --restore: without it nothing is removed")
        if self.upscale not in RESTORER_SCALES:
            raise UserError(f"upscale={self.upscale}: choose "
                            f"{', '.join(map(str, RESTORER_SCALES))}")

    @property
    def restores(self) -> bool:
        """Whether the restorer runs (--restore, or an upscale)."""
        return self.restore or self.upscale > 1

    def post_processing(self) -> dict:
        """The fields an export bakes in (render_size stays a call-time input)."""
        return {"flip": self.flip, "chroma_smooth": self.chroma_smooth,
                "chroma_gain": self.chroma_gain, "restore": self.restore,
                "upscale": self.upscale, "hint_spread": self.hint_spread,
                "defects": self.defects}

    @staticmethod
    def baked(values: Mapping[str, Any], source: str) -> dict:
        """The post-processing fields read back from an export's JSON at `source`."""
        keys = RenderConfig().post_processing()
        missing = sorted(set(keys) - set(values) - set(ADDED_SINCE))
        if missing:
            raise UserError(f"model: {source} lacks {missing}")
        return {k: values.get(k, ADDED_SINCE.get(k)) for k in keys}


# Baked settings newer than the first exports: an export without them works as these say
# (hint_spread: the default until 2026-12-06, not today's).
ADDED_SINCE = {"restore": False, "upscale": 1, "hint_spread": "region", "defects": "remove"}


TEMPORAL_METHODS = ("flow", "none")  # colorgan.video.temporal


@dataclass(frozen=True)
class TemporalConfig:
    """How a video's colour is kept steady from frame to frame (colorize.py, evaluate.py).

    "flow" carries each frame's colour along the optical flow to the next one and blends
    it with that frame's own prediction where the motion is trustworthy (temporal.py).
    The defaults were chosen on clips over the shipped *train* photos (docs/notes/video.md).
    """

    temporal: str = _field("flow", "Video colour from frame to frame: flow (carry the "
                           "previous frame's colour along the motion where it is reliable) "
                           "or none (every frame alone; flickers).", TEMPORAL_METHODS)
    temporal_keep: float = _field(0.85, "Weight of the colour carried from the previous "
                                  "frame where the motion is reliable (0 = none, < 1).")
    temporal_gate: float = _field(6.0, "Lightness difference (Lab L, 0-100) between a pixel "
                                  "and where the flow says it came from at which the carried "
                                  "colour's weight falls to 61 %: a changed pixel gets its "
                                  "own colour.")
    scene_cut: float = _field(0.25, "A new shot starts (nothing carried over) where the "
                              "lightness histograms of two frames differ by more than this "
                              "(total variation, 0-1).")
    flow_side: int = _field(320, "Optical flow is computed with the frame's longer side "
                            "scaled down to this (chroma is smooth; larger = slower).")

    def __post_init__(self):
        if self.temporal not in TEMPORAL_METHODS:
            raise UserError(f"temporal={self.temporal!r}: choose {' or '.join(TEMPORAL_METHODS)}")
        if not 0 <= self.temporal_keep < 1:
            raise UserError(f"temporal_keep={self.temporal_keep} must be in [0, 1)")
        if self.temporal_gate <= 0:
            raise UserError(f"temporal_gate={self.temporal_gate} must be > 0")
        if not 0 < self.scene_cut <= 1:
            raise UserError(f"scene_cut={self.scene_cut} must be in (0, 1]")
        if self.flow_side < 16:
            raise UserError(f"flow_side={self.flow_side} must be >= 16")


@dataclass(frozen=True)
class AppConfig:
    """The web app's server and what one request may ask of it (python -m colorgan.app)."""

    host: str = _field("127.0.0.1", "Address to listen on (0.0.0.0: every interface).")
    port: int = _field(7860, "Port (0: any free one).")
    concurrency: int = _field(1, "Model calls at once (photos and videos together); each "
                              "already uses every core, so more helps only on big machines.")
    max_queue: int = _field(32, "Requests that may wait; more are refused at once.")
    max_upload_mb: int = _field(100, "Largest upload, photo or clip, in MB.")
    max_pixels: int = _field(50_000_000, "Largest photo, in pixels, read from its header "
                             "before it is decoded (an upscale's output counts too).")
    max_render_size: int = _field(1024, "Largest render size a request may ask for (the "
                                  "generator's work grows with its square).")
    max_frames: int = _field(3000, "Longest clip, in frames (2 minutes at 25 frames/s); its "
                             "frames count against --max_pixels too.")
    display_side: int = _field(2048, "Longest side of the images the page shows (the "
                               "download keeps the full size).")
    keep_minutes: int = _field(60, "Outputs older than this are deleted from the server.")
    share: bool = _field(False, "Also serve through a public gradio.live link (needs the "
                         "network; off: the app talks to nothing but its browsers).")

    def __post_init__(self):
        for name in ("concurrency", "max_queue", "max_upload_mb", "max_pixels",
                     "max_render_size", "max_frames", "display_side", "keep_minutes"):
            if getattr(self, name) < 1:
                raise UserError(f"{name}={getattr(self, name)} must be >= 1")
        if not 0 <= self.port < 65536:
            raise UserError(f"port={self.port} must be in [0, 65535]")


@dataclass(frozen=True)
class DegradeConfig:
    """How a clean photo becomes an old-photo scan (data/degrade.py), drawn per photo.

    A range (low, high) is drawn uniformly; a probability decides whether a step happens.
    The order is Real-ESRGAN's first-order one, with old-photo steps: tone, dust and
    scratches, blur, downscale, fade, grain, JPEG (once or twice). Values are on lightness
    in [0, 1] (Lab L / 100).
    """

    tone: float = _field(0.3, "Probability that the scan is of a toned print (sepia or cyan): "
                         "its lightness, not the gray photo's.")
    dust: float = _field(0.3, "Probability of dust specks on the print, and (drawn apart) "
                         "of scratches (data/defects.py).")
    dust_specks: int = _field(12, "Dust specks per dusty print (radius 0.5-3 px).")
    scratches: int = _field(2, "Thin light scratches per scratched print.")
    hairs: float = _field(0.3, "Probability of hairs and fibres on the print (curved).")
    hair_count: int = _field(3, "Hairs per hairy print.")
    crease: float = _field(0.1, "Probability of a fold across the print.")
    stains: float = _field(0.15, "Probability of stains (smooth blotches pulling the print "
                           "toward a tone).")
    tear: float = _field(0.05, "Probability of a torn-off corner.")
    vignette: float = _field(0.3, "Probability of a vignette (edges darker, or lighter).")
    light_leak: float = _field(0.1, "Probability of a light leak from one edge.")
    halftone: float = _field(0.0, "Probability that the print is a halftone screen (a "
                             "newspaper's): 0 in training, the old-photo evaluation's unseen "
                             "family.")
    second_order: float = _field(0.5, "Probability that the scan goes through the chain a "
                                 "second time (Real-ESRGAN's second order: blur, resize, "
                                 "grain, JPEG and sinc ringing).")
    blur_sigma: tuple[float, float] = _field((0.2, 2.0), "Gaussian blur sigma in pixels of "
                                             "the full-size photo (low, high).")
    blur_anisotropic: float = _field(0.5, "Probability that the blur kernel is anisotropic "
                                     "(second sigma and angle drawn independently).")
    fade_black: tuple[float, float] = _field((0.0, 0.25), "Lightness that black becomes.")
    fade_white: tuple[float, float] = _field((0.75, 1.0), "Lightness that white becomes.")
    fade_gamma: tuple[float, float] = _field((0.7, 1.4), "Tone curve exponent before the fade.")
    grain_sigma: tuple[float, float] = _field((0.0, 0.08), "Film grain's standard deviation.")
    grain_poisson: float = _field(0.3, "Probability that the grain is Poisson (signal-"
                                  "dependent, peak 1 / sigma^2) instead of Gaussian.")
    grain_clumped: float = _field(0.5, "Probability that the grain is clumped (blurred white "
                                  "noise, rescaled to the same sigma).")
    jpeg_quality: tuple[int, int] = _field((30, 95), "JPEG quality (low, high).")
    jpeg_twice: float = _field(0.3, "Probability of a second JPEG pass (a re-saved scan).")
    clean: float = _field(0.0, "Probability that the scan is only downscaled (bicubic, "
                          "8-bit): the restorer must also leave a clean scan as it is.")
    keyed: float = _field(0.0, "Probability that the photo itself is low- or high-key (a "
                          "dark or light tone curve on the truth, before the scan is made): "
                          "the restorer learns to stretch levels only where a print faded, "
                          "not a photo's own dark or light tones.")

    def __post_init__(self):
        for name in ("tone", "dust", "hairs", "crease", "stains", "tear", "vignette",
                     "light_leak", "halftone", "second_order", "blur_anisotropic",
                     "grain_poisson", "grain_clumped", "jpeg_twice", "clean", "keyed"):
            if not 0 <= getattr(self, name) <= 1:
                raise UserError(f"{name}={getattr(self, name)} must be in [0, 1]")
        if min(self.dust_specks, self.scratches, self.hair_count) < 0:
            raise UserError(f"dust_specks={self.dust_specks}, scratches={self.scratches}, "
                            f"hair_count={self.hair_count} must be >= 0")
        for name, least, most in (("blur_sigma", 0.0, 8.0), ("fade_black", 0.0, 0.5),
                                  ("fade_white", 0.5, 1.0), ("fade_gamma", 0.2, 5.0),
                                  ("grain_sigma", 0.0, 0.5), ("jpeg_quality", 1, 100)):
            low, high = getattr(self, name)
            if not least <= low <= high <= most:
                raise UserError(f"{name}={low},{high} must be low <= high within "
                                f"[{least}, {most}]")


@dataclass(frozen=True)
class RestorerConfig:
    """The old-photo restorer (models/restorer.py) and how it trains (train/restorer_fit.py):
    scan lightness -> clean lightness at 1x, 2x or 4x. Steps cycle through the scales.

    Crops are cut at about the scale of the evaluation photos (a tenth to a quarter of a
    320 px photo, to `image_size`), so the texture it learns is the texture it restores.
    """

    channels: int = _field(32, "Width of the restorer's trunk.")
    blocks: int = _field(6, "Residual blocks in the trunk (two 3x3 convs each).")
    image_size: int = _field(96, "Side of a training crop at the output's size.")
    crop_area: tuple[float, float] = _field((0.08, 0.25), "Fraction of the photo a crop covers.")
    batch_size: int = _field(8, "Crops per step.")
    steps: int = _field(3000, "Training steps in total (cycling through restoring at 1x, 2x, "
                        "4x and super-resolving clean photos at 2x, 4x).")
    learning_rate: float = _field(5e-4, "Adam learning rate (both networks), halved for the "
                                  "last quarter of the steps.")
    lambda_l1: float = _field(1.0, "Weight of the L1 loss.")
    lambda_perceptual: float = _field(0.02, "Weight of the VGG16 perceptual loss.")
    perceptual_layers: tuple[str, ...] = _field(("relu1_2", "relu2_2"),
                                                "VGG16 layers of the perceptual loss.")
    lambda_gan: float = _field(0.001, "Weight of the PatchGAN loss (0 = none).")
    disc_filters: int = _field(32, "Width of the PatchGAN discriminator.")
    seed: int = _field(0, "Seed of the crops and their degradations.")
    average_from: int = _field(0, "Keep the weights of this step and write the mean of them "
                               "and the last step's (weight averaging; 0 = the last step's).")
    degrade: DegradeConfig = DegradeConfig(clean=0.1, keyed=0.25)
    defects: bool = _field(True, "Find a print's defects and fill them: a defect finder "
                           "(models/defect_finder.py) and, with mask_input, the mask as a fourth input "
                           "channel.")
    finder_channels: int = _field(16, "Width of the defect finder's first level.")
    lambda_finder: float = _field(1.0, "Weight of the finder's loss (cross-entropy, defect "
                                  "pixels weighed finder_positive times).")
    found_masks: float = _field(0.5, "Share of the photos the restorer trains on with the "
                                "finder's own mask (the drawn one otherwise): it learns to "
                                "remove what the finder misses and to repaint what it marks "
                                "by mistake, as it must when serving.")
    finder_positive: float = _field(5.0, "Weight of a defect pixel in the finder's loss: "
                                    "defects are a few % of a print.")
    gate: bool = _field(False, "A restoring gate (models/gate.py) that keeps as much of the "
                        "restoring as the scan looks old; trained after the restorer, by "
                        "train_gate.py, which sets it.")
    mask_input: bool = _field(True, "With defects: the restorer reads the defect mask as a "
                              "fourth input channel (a finder trained with it). False: a "
                              "finder added onto a restorer trained without one "
                              "(train_finder.py, which sets it): the scan is filled where "
                              "it marks and restored as before.")

    def __post_init__(self):
        if self.channels < 4 or self.blocks < 1 or self.batch_size < 1 or self.steps < 1:
            raise UserError("restorer channels >= 4, blocks >= 1, batch_size >= 1, steps >= 1")
        if not 0 <= self.average_from <= self.steps:
            raise UserError(f"restorer average_from={self.average_from} must be within "
                            f"0..steps ({self.steps})")
        if self.image_size % max(RESTORER_SCALES):
            raise UserError(f"restorer image_size={self.image_size} must be a multiple of "
                            f"{max(RESTORER_SCALES)}")
        if not 0 <= self.found_masks <= 1:
            raise UserError(f"found_masks={self.found_masks} must be in [0, 1]")

    def model_fields(self) -> dict:
        """What decides the weights' shapes: written beside them, checked on load."""
        return {"channels": self.channels, "blocks": self.blocks,
                "scales": list(RESTORER_SCALES), "defects": self.defects,
                "finder_channels": self.finder_channels, "gate": self.gate,
                "mask_input": self.mask_input}


@dataclass(frozen=True)
class GateConfig:
    """The restoring gate (models/gate.py) and how it trains (train/gate_fit.py): is a scan
    degraded? `scans` scans of the photos are made once (old-photo scans, clean ones and
    keyed photos among them), a share at each of `scales`, and trained on for `epochs`, in
    random crops from half a scan's side to all of it, so the gate holds on any crop size.
    """

    scans: int = _field(6144, "Scans made once and trained on, split evenly between the "
                        "scales (each photo several times, with fresh draws).")
    scales: tuple[int, ...] = _field((1, 2, 4), "Scan sizes: image_size / scale.")
    image_size: int = _field(256, "Side of a scan at 1x (a crop of its photo, resized).")
    epochs: int = _field(30, "Passes over the scans.")
    batch_size: int = _field(16, "Scans per step.")
    learning_rate: float = _field(1e-3, "Adam learning rate, cosine-decayed to 0.")
    clean_db: float = _field(40.0, "A scan within this L* PSNR (model units, peak 2) of its "
                             "photo counts as clean: an 8-bit bicubic scan is at ~59 dB, the "
                             "mildest old-photo scans below 35.")
    seed: int = _field(0, "Seed of the scans, their crops and the gate's start.")
    degrade: DegradeConfig = DegradeConfig(clean=0.3, keyed=0.4)

    def __post_init__(self):
        if min(self.scans, self.epochs, self.batch_size) < 1 or self.image_size < 128:
            raise UserError("gate scans, epochs, batch_size >= 1 and image_size >= 128")
        if not self.scales or any(s not in RESTORER_SCALES for s in self.scales):
            raise UserError(f"gate scales={self.scales}: each one of {RESTORER_SCALES}")


@dataclass(frozen=True)
class FinderConfig:
    """A defect finder (models/defect_finder.py) trained on its own onto a restorer
    (train/finder_fit.py): where are a scan's dust, hairs, scratches, folds and torn
    corners? Batches of old-photo scans with their drawn masks (degrade.old_photo_and_defects)
    cycle through `scales`; the restorer's own weights are not touched.
    """

    steps: int = _field(3000, "Training steps.")
    scales: tuple[int, ...] = _field((1, 1, 2, 4), "Scan sizes of successive steps, cycled "
                                     "(image_size / scale): restoring at 1x is the most "
                                     "common, so it comes twice.")
    image_size: int = _field(128, "Side of a training crop at 1x.")
    crop_area: tuple[float, float] = _field((0.08, 0.25), "Fraction of the photo a crop "
                                            "covers (the restorer's: the evaluation's scale).")
    batch_size: int = _field(16, "Crops per step.")
    channels: int = _field(16, "Width of the finder's first level.")
    learning_rate: float = _field(1e-3, "Adam learning rate, cosine-decayed to 0.")
    positive: float = _field(5.0, "Weight of a defect pixel in the cross-entropy: defects "
                             "are a few % of a print.")
    seed: int = _field(0, "Seed of the crops, their degradations and the finder's start.")
    degrade: DegradeConfig = DegradeConfig(clean=0.1, keyed=0.25)

    def __post_init__(self):
        if min(self.steps, self.batch_size, self.channels) < 1:
            raise UserError("finder steps, batch_size, channels >= 1")
        if not self.scales or any(s not in RESTORER_SCALES for s in self.scales):
            raise UserError(f"finder scales={self.scales}: each one of {RESTORER_SCALES}")
        if self.image_size % max(RESTORER_SCALES):
            raise UserError(f"finder image_size={self.image_size} must be a multiple of "
                            f"{max(RESTORER_SCALES)}")


RAW = RenderConfig(flip=False, chroma_smooth=0.0, chroma_gain=1.0)  # the generator's own colour


def _preset(data: dict | None = None, model: dict | None = None, loss: dict | None = None,
            train: dict | None = None) -> Config:
    return Config(data=DataConfig(**(data or {})), model=ModelConfig(**(model or {})),
                  loss=LossConfig(**(loss or {})), train=TrainConfig(**(train or {})))


PRESETS: dict[str, Config] = {
    # The paper: 256^2, base 64, lambda 100, Adam 2e-4 / 0.5, batch 1.
    "pix2pix": _preset(
        data=dict(image_size=256),
        train=dict(steps=200_000, batch_size=1, log_every=100, checkpoint_every=5000,
                   image_every=2000)),
    # Trains visibly on 2 CPU cores in a few minutes (docs/notes/training.md has the figures).
    "demo": _preset(
        data=dict(image_size=64),
        model=dict(base_filters=32, disc_filters=32),
        train=dict(steps=2500, batch_size=16, log_every=100, summary_every=50,
                   image_every=500, checkpoint_every=500)),
    # The shipped colorizer's recipe (docs/model-card.md): frozen ImageNet VGG16
    # encoder, a 3.7 M-parameter decoder, PatchGAN + L1, 128^2 crops; chosen by
    # measurement on samples:val (scripts/compare_recipes.sh with PRESET=base).
    "base": _preset(
        data=dict(image_size=128),
        model=dict(encoder="vgg16", base_filters=32, disc_filters=32),
        train=dict(steps=2800, batch_size=16, log_every=50, summary_every=25,
                   image_every=250, checkpoint_every=250)),
    # Fine-tuning a trained model (`--init_from`, which also sets the model section and
    # image size): a short run at the base recipe's loop. `make demo` uses it.
    # Adam starts with empty moments, so its first updates are ~lr per weight whatever the
    # gradient: at the base recipe's 2e-4 they knock a trained model back (-0.65 dB PSNR
    # after 140 steps on the photos it was trained on); 10x lower keeps what it knows.
    "finetune": _preset(
        train=dict(steps=500, batch_size=16, g_learning_rate=2e-5, d_learning_rate=2e-5,
                   log_every=25, summary_every=25, image_every=100, checkpoint_every=100)),
    # The hint branch (`make hints-branch`, with --init_from and --hints): the model frozen,
    # its hint branch trained on L1 alone (Zhang et al. regress too; no D to train).
    "hints": _preset(
        train=dict(steps=3000, batch_size=16, g_learning_rate=1e-4, schedule="g:rest",
                   hints_only=True, log_every=25, summary_every=25, image_every=250,
                   checkpoint_every=100)),
    # For tests: seconds, not minutes.
    "tiny": _preset(
        data=dict(image_size=32),
        model=dict(base_filters=8, disc_filters=8),
        train=dict(steps=20, batch_size=4, log_every=5, summary_every=5, image_every=10,
                   checkpoint_every=10, sheet_rows=3)),
}


def get_preset(name: str) -> Config:
    try:
        return PRESETS[name]
    except KeyError:
        raise UserError(f"preset={name!r} is unknown; choose one of {sorted(PRESETS)}") from None


# Which section each overridable field lives in; names are unique across sections.
_SECTIONS = ("data", "model", "loss", "train")


def with_overrides(cfg: Config, overrides: Mapping[str, Any]) -> Config:
    """Returns `cfg` with fields replaced by name, e.g. {"image_size": 64, "steps": 3}.

    None values are ignored, so flags left unset keep the preset's value.
    """
    sections = {name: getattr(cfg, name) for name in _SECTIONS}
    changes: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for key, value in overrides.items():
        if value is None:
            continue
        owner = [s for s, obj in sections.items() if key in {f.name for f in dataclasses.fields(obj)}]
        if not owner:
            raise UserError(f"unknown config field {key!r}")
        changes[owner[0]][key] = value
    new = {s: dataclasses.replace(sections[s], **changes[s]) for s in _SECTIONS}
    out = Config(**new)
    validate(out)
    return out


def validate(cfg: Config) -> None:
    """Raises UserError for settings that cannot work, naming the field."""
    for section in _SECTIONS:  # choices: the same tuples the flags offer
        for f in dataclasses.fields(getattr(cfg, section)):
            value = getattr(getattr(cfg, section), f.name)
            if "choices" in f.metadata and value not in f.metadata["choices"]:
                raise UserError(f"{f.name}={value!r}: choose one of {f.metadata['choices']}")
    size = cfg.data.image_size
    if size < 32 or size & (size - 1):
        raise UserError(f"image_size={size}: must be a power of two >= 32 (the U-Net halves it to 1x1)")
    if cfg.train.batch_size < 1:
        raise UserError(f"batch_size={cfg.train.batch_size}: must be >= 1")
    if cfg.train.steps < 0:
        raise UserError(f"steps={cfg.train.steps}: must be >= 0")
    if cfg.train.per_replica_batch_size < 0:
        raise UserError(f"per_replica_batch_size={cfg.train.per_replica_batch_size}: must be >= 0")
    lo, hi = cfg.data.crop_area
    if not 0 < lo <= hi <= 1:
        raise UserError(f"crop_area={cfg.data.crop_area}: need 0 < min <= max <= 1")
    parse_schedule(cfg.train.schedule, cfg.train.steps)
    parse_size_schedule(cfg.data.size_schedule, size, cfg.train.steps)
    if cfg.train.d_steps < 1:
        raise UserError(f"d_steps={cfg.train.d_steps}: must be >= 1")
    if not 0 <= cfg.loss.rebalance <= 1:
        raise UserError(f"rebalance={cfg.loss.rebalance}: must be in [0, 1]")
    if cfg.data.input_noise < 0:
        raise UserError(f"input_noise={cfg.data.input_noise}: must be >= 0")
    if cfg.model.noise_channels < 0:
        raise UserError(f"noise_channels={cfg.model.noise_channels}: must be >= 0")
    # The U-Net is built at the smallest training size (generator_size): its depth, and so
    # the sides its decoder blocks have at image_size, follow from that size.
    build = generator_size(cfg)
    g_sides = [size >> k for k in range(1, build.bit_length()) if size >> k >= 1]
    if cfg.model.encoder == "resnet50v2":  # the ResNet decoder's blocks end at S/16 ... S/2
        g_sides = [size // 16, size // 8, size // 4, size // 2]
    if cfg.model.encoder == "vgg16":  # the VGG decoder's blocks end at S/8 ... S
        g_sides = [size // 8, size // 4, size // 2, size]
        if cfg.model.noise_channels:
            raise UserError("noise_channels: not available with encoder=vgg16 (its input is "
                            "the gray photo VGG16 was trained on)")
    encoder_trains_from(cfg.train.train_encoder)
    if cfg.train.hints_only and not (cfg.model.hints and cfg.model.encoder == "vgg16"
                                     and cfg.train.init_from
                                     and cfg.train.train_encoder == "never"):
        raise UserError("hints_only: needs --hints, encoder=vgg16, --init_from (the model "
                        "whose colour the hint branch learns to correct) and a frozen "
                        "encoder (train_encoder=never)")
    if cfg.train.train_encoder != "never" and cfg.model.encoder != "vgg16":
        raise UserError(f"train_encoder={cfg.train.train_encoder!r}: only encoder=vgg16 has a "
                        f"frozen encoder (this run: encoder={cfg.model.encoder})")
    for name, sides in (("attention_g", g_sides),
                        ("attention_d", [size // 2, size // 4, size // 8])):
        side = getattr(cfg.model, name)
        if side and side not in sides:
            raise UserError(f"{name}={side}: at image_size={size} choose one of {sides} (0 = off)")
    if cfg.model.attention_g and cfg.model.attention_g * build % size:
        raise UserError(f"attention_g={cfg.model.attention_g}: the block is built at size "
                        f"{build} (size_schedule) where it would have no whole side")
    if cfg.train.keep_best and cfg.train.eval_every < 1:
        raise UserError(f"keep_best={cfg.train.keep_best}: needs eval_every > 0 (validation "
                        "scores to choose by)")
    if cfg.train.eval_every < 0 or cfg.train.eval_limit < 0 or cfg.train.eval_size < 16:
        raise UserError("eval_every and eval_limit must be >= 0, eval_size >= 16")
    for name in ("log_every", "summary_every", "image_every", "checkpoint_every"):
        if getattr(cfg.train, name) < 1:
            raise UserError(f"{name}={getattr(cfg.train, name)}: must be >= 1")


def from_dict(values: Mapping[str, Any]) -> Config:
    """Inverse of dataclasses.asdict / Config.to_json; unknown keys are ignored."""
    def build(cls, section: Mapping[str, Any]):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if isinstance(v, list) else v
                      for k, v in section.items() if k in names})

    return Config(data=build(DataConfig, values.get("data", {})),
                  model=build(ModelConfig, values.get("model", {})),
                  loss=build(LossConfig, values.get("loss", {})),
                  train=build(TrainConfig, values.get("train", {})))


def _parse_phases(text: str, steps: int, field: str, check_key) -> list[tuple[str, int]]:
    """"a:100,b:20,c:rest" -> [(a, 100), (b, 120), (c, steps)]: (key, last step of the phase)."""
    out, end = [], 0
    items = [item.strip() for item in text.split(",") if item.strip()]
    for n, item in enumerate(items):
        key, _, count = item.partition(":")
        check_key(key)
        if count == "rest" and n == len(items) - 1:
            end = max(end, steps)
        elif count.isdigit() and int(count) > 0:
            end += int(count)
        else:
            raise UserError(f"{field}={text!r}: {item!r} needs a positive step count "
                            "('rest' only last)")
        out.append((key, end))
    if end < steps:  # the last phase goes on to the end
        out[-1] = (out[-1][0], steps)
    return out


def encoder_trains_from(text: str) -> int | None:
    """train_encoder -> the first step (1-based) at which the encoder trains; None = never."""
    if text == "never":
        return None
    if text == "always":
        return 1
    key, _, count = text.partition(":")
    if key != "after" or not count.isdigit():
        raise UserError(f"train_encoder={text!r}: choose never, always or after:STEPS")
    return int(count) + 1


def parse_schedule(text: str, steps: int) -> list[tuple[str, int]]:
    """NoGAN phases: "g:100,d:20,gan:rest" -> [("g", 100), ("d", 120), ("gan", steps)]."""
    def check(key):
        if key not in PHASES:
            raise UserError(f"schedule={text!r}: phase {key!r} is not one of {PHASES}")
    return _parse_phases(text, steps, "schedule", check) if text else [("gan", steps)]


def parse_size_schedule(text: str, image_size: int, steps: int) -> list[tuple[int, int]]:
    """Progressive resizing: "64:2000,128:rest" -> [(64, 2000), (128, steps)]."""
    def check(key):
        if not key.isdigit() or int(key) < 32 or int(key) & (int(key) - 1):
            raise UserError(f"size_schedule={text!r}: {key!r} is not a power of two >= 32")
    if not text:
        return [(image_size, steps)]
    return [(int(k), end) for k, end in _parse_phases(text, steps, "size_schedule", check)]


def phase_at(schedule: list[tuple], step: int):
    """The phase (or size) that trains step `step` (1-based)."""
    for phase, end in schedule:
        if step <= end:
            return phase
    return schedule[-1][0]


def generator_model(cfg: Config) -> ModelConfig:
    """cfg.model as the generator is built at generator_size(cfg): attention_g names a
    feature side at image_size, so at a smaller build size it is the same block (level),
    at a proportionally smaller side. Build with this, never with cfg.model itself."""
    side = cfg.model.attention_g * generator_size(cfg) // cfg.data.image_size
    return dataclasses.replace(cfg.model, attention_g=side)


def generator_size(cfg: Config) -> int:
    """The size the U-Net's depth is derived from: the smallest training size, so that
    every size of a progressive schedule is a multiple of 2**levels."""
    sizes = [s for s, _ in parse_size_schedule(cfg.data.size_schedule, cfg.data.image_size, 1)]
    return min(sizes + [cfg.data.image_size])
