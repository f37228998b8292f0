"""Training configs: frozen dataclasses, validated when built, saved into every run.

A config comes from the defaults of a model (``default_config("toy2d")``), updated
by a JSON file or command-line flags through ``with_overrides``. Nothing here
executes user code: overrides are plain values, checked against the field types.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_edge.errors import ConfigError
from gan_edge.latent import DISTRIBUTIONS

__all__ = [
    "OptimizerConfig",
    "GrowthConfig",
    "TrainConfig",
    "LOSS_MODES",
    "REMEDIES",
    "OPTIMIZERS",
    "PRESETS",
    "default_config",
    "config_from_dict",
    "load_config_file",
    "read_json_file",
    "parse_json",
    "MAX_SEED",
    "MAX_EPOCHS",
    "IMAGE_MODELS",
    "IMAGE_RESOLUTIONS",
    "AUGMENTATIONS",
]

LOSS_MODES = ("standard", "book", "rpgan")  # training/loop.py says what each does
# Mode-collapse remedies of the discriminator (training/models/remedies.py); packing is `pack`.
REMEDIES = ("none", "minibatch_discrimination", "mbstd", "diversity")
# The models whose discriminator takes a remedy or a pack factor.
REMEDY_MODELS = ("ring8", "grid25", "dcgan")
# The models that learn pictures: from MNIST (the book's) or from a user's own images (data_path).
IMAGE_MODELS = ("dcgan", "progan")
# DiffAugment (Zhao et al., 2020): the same differentiable colour, translation and cutout on
# real and generated images wherever D sees them, so that D cannot memorise a small set.
AUGMENTATIONS = ("none", "diffaugment")
IMAGE_RESOLUTIONS = (16, 28, 32, 64, 128)  # what the image models build (training/models/dcgan.py, progan.py)
IMAGE_CHANNELS = (1, 3)
IMAGE_BACKGROUNDS = {"white": 255, "black": 0}  # what transparency is composited over: its pixel value
OPTIMIZERS = ("adam", "sgd")
# The models that grow progressively, and the resolution their data has (a schedule must end there).
GROWING_MODELS = {"progan": 32}  # MNIST padded to 32x32; a user's images: their resolution
# keras.utils.set_random_seed seeds NumPy's legacy generator, which takes 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
# 2,500 times the longest preset (PacGAN's 400 epochs): more is a typo, not a plan (a
# million toy epochs already take a day). It also keeps the mid-epoch checkpoint
# numbers (epoch * 1,000,000 + round, training/train.py) far inside int64.
MAX_EPOCHS = 1_000_000
# The toy data is float32: a mean or spread near its largest value draws inf samples.
_FLOAT32_MAX = 3.4028234663852886e38
# Bounds on JSON that a user hands in (--config) or may have edited (a run's config.json,
# metrics.jsonl). Real ones are a few KB, nest two levels (an object of objects and lists)
# and hold 64-bit numbers; past these bounds Python's parser itself fails, with a
# RecursionError (deep nesting) or a ValueError (integers over 4,300 digits).
MAX_JSON_BYTES = 1 << 20
MAX_JSON_DEPTH = 16
MAX_INT_DIGITS = 19  # 2**63 - 1 has 19


@dataclass(frozen=True)
class OptimizerConfig:
    name: str = "adam"
    learning_rate: float = 1e-3
    # Adam's default 0.9 keeps so much momentum that the toy game orbits its
    # equilibrium; 0.5 (Radford et al., 2016) settles it, and 0 with R1 settles it
    # best (the toy2d default preset below).
    beta_1: float = 0.5  # adam only
    # The toy GAN trains far better with 0.99 than Adam's 0.999 (11 of 40 seeds passed
    # with 0.999 where 0.99 passed 34 of 40, in the sweep behind the toy2d default).
    beta_2: float = 0.999  # adam only
    momentum: float = 0.0  # sgd only
    nesterov: bool = False  # sgd only
    # When set, the learning rate falls linearly from learning_rate to this over the
    # run's updates (the epochs configured): a high rate spreads G over the data early,
    # a low one sharpens it late, in fewer rounds than a constant low rate needs
    # (benchmarks/mode_collapse.py). 0: constant.
    final_learning_rate: float = 0.0

    def __post_init__(self) -> None:
        _check_choice("optimizer name", self.name, OPTIMIZERS)
        _check_positive("learning_rate", self.learning_rate)
        if not 0.0 <= self.final_learning_rate <= self.learning_rate:
            raise ConfigError(f"final_learning_rate must be 0 (constant rate) or in (0, learning_rate "
                              f"{self.learning_rate:g}], got {self.final_learning_rate}")
        for name in ("beta_1", "beta_2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not 0.0 <= self.momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        _check_representable(self)


@dataclass(frozen=True)
class GrowthConfig:
    """Progressive growing (progan): the resolutions in order, and real images shown per
    fade-in and per stable phase (training/progan_schedule.py). Empty: no growing."""

    resolutions: tuple[int, ...] = ()
    fade_images: int = 0
    stable_images: int = 0

    def __post_init__(self) -> None:
        for name in ("fade_images", "stable_images"):
            if getattr(self, name) < 0:
                raise ConfigError(f"growth.{name} must be 0 or more, got {getattr(self, name)}")
        for low, high in zip(self.resolutions, self.resolutions[1:]):
            if high != 2 * low:
                raise ConfigError(f"growth.resolutions must double at each step, got {list(self.resolutions)}: "
                                  f"{high} follows {low}")
        if self.resolutions and self.resolutions[0] < 4:
            raise ConfigError(f"growth.resolutions must start at 4 or more, got {list(self.resolutions)}")
        _check_representable(self)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; written to ``config.json`` in the run folder."""

    model: str = "toy2d"
    epochs: int = 13
    batch_size: int = 32
    seed: int = 0
    latent_dim: int = 4
    latent_distribution: str = "uniform01"
    # The field defaults are the book's toy GAN as printed (its gating, a one-epoch
    # warm-up of D, Adam 1e-3 / 2e-4): the toy2d "book" preset. Its "default" preset
    # adds R1 and two decaying time scales (PRESETS below).
    loss_mode: str = "book"
    pretrain_discriminator: bool = True  # one epoch of steps (a) and (c) before training
    d_optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig("adam", 1e-3))
    g_optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig("adam", 2e-4))
    # The target distribution of the toy GAN: a 2-D Gaussian.
    data_samples: int = 10_000
    data_mean: tuple[float, float] = (5.0, 5.0)
    data_std: float = 1.0
    # Samples generated at each evaluation to measure the generator against the data.
    eval_samples: int = 10_000
    eval_every: int = 1  # epochs between evaluations (the last epoch is always evaluated)
    # Image data (MNIST): the folder to read ("" = $GAN_EDGE_DATA, then the Keras cache),
    # and how many images to train on (0 = all of them).
    data_dir: str = ""
    data_limit: int = 0
    # Mode-collapse alarm (image models): raised when the generated digits of a fixed
    # probe batch cover fewer classes, or spread over fewer bits, than these.
    collapse_min_classes: int = 8
    collapse_min_entropy_bits: float = 2.5
    # Rounds per compiled call: 0 runs a whole epoch in one graph; a smaller number
    # lets the progress bar move during long epochs, at a small cost per call.
    rounds_per_call: int = 0
    # Compile each round with XLA. On this 2-core CPU it makes the ring8/grid25 round
    # 1.4x faster (small dense layers whose elementwise ops XLA fuses) and the DCGAN's
    # 0.62x as fast (its convolutions leave oneDNN): benchmarks/mode_collapse.py,
    # benchmarks/dcgan_speed.py. Single-device training only.
    jit_compile: bool = False
    # R1 (Mescheder et al., 2018): D's loss in step (a) adds r1_gamma / 2 times the mean
    # squared norm of the gradient of its logit at the real samples; R2 the same in step
    # (c) at the fakes (R3GAN pairs both with the rpgan loss). 0: off.
    r1_gamma: float = 0.0
    r2_gamma: float = 0.0
    # The generator a run publishes (measures, samples, exports) is an exponential average
    # of its weights whose half-life is this fraction of the images seen so far
    # (training/averaging.py); 0: the live generator, as the book trains it.
    generator_average: float = 0.0
    # Mode-collapse remedies (ring8, grid25, dcgan): one of REMEDIES, and PacGAN's pack factor
    # (D judges `pack` samples at once; it must divide batch_size).
    remedy: str = "none"
    pack: int = 1
    # Progressive growing (progan only).
    growth: GrowthConfig = field(default_factory=GrowthConfig)
    # dcgan only: the generator's widths (dense units, channels at 7x7, channels at 14x14);
    # empty: the book's (1024, 128, 64). The "mcu" preset narrows them to fit a microcontroller.
    generator_widths: tuple[int, ...] = ()
    # A user's own pictures (dcgan, progan): a folder of PNG/JPEG or a uint8 .npy/.npz
    # (training/data/images.py); "" trains on MNIST, the book's data. ``resolution`` and
    # ``channels`` are the pictures' shape as the models are built for it: 0 until a run
    # resolves them from the data (training/data/__init__.py ``resolve_image_shape``), then
    # fixed in config.json, so that export and resume rebuild the same networks.
    data_path: str = ""
    resolution: int = 0
    channels: int = 0
    background: str = "white"  # what transparent pixels are composited over
    skip_bad: bool = False  # leave unreadable pictures out (counted) instead of refusing the set
    augment: str = "none"  # one of AUGMENTATIONS, in D's steps and G's (dcgan, progan)
    # Distillation (dcgan; `gan-edge distill`, training/distill.py): the run folder (an
    # absolute path) of a trained dcgan whose generator this one learns to imitate; "" trains
    # without one. G's loss in steps (b) and (d) adds imitation_weight times the mean
    # |G(z) - teacher(z)| over each picture, on the same latents; teacher_discriminator starts
    # D from the teacher's D (built alike: the same picture shape, pack, remedy).
    # imitation_only replaces the four-step round by imitation alone: G learns teacher(z)
    # for fresh latents, D is neither used nor trained (training/distill.py says why).
    teacher: str = ""
    imitation_weight: float = 0.0
    teacher_discriminator: bool = False
    imitation_only: bool = False

    def __post_init__(self) -> None:
        from gan_edge.training.models import MODELS  # late: models import TensorFlow

        _check_choice("model", self.model, tuple(MODELS))
        _check_choice("loss_mode", self.loss_mode, LOSS_MODES)
        _check_choice("latent_distribution", self.latent_distribution, tuple(DISTRIBUTIONS))
        if self.epochs < 0:
            raise ConfigError(f"epochs must be 0 or more, got {_shown(self.epochs)}")
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"epochs must be at most {MAX_EPOCHS:,}, got {_shown(self.epochs)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"seed must be in 0..{MAX_SEED} (what NumPy seeds with), got {_shown(self.seed)}")
        for name in ("batch_size", "latent_dim", "data_samples", "eval_samples", "eval_every"):
            _check_positive(name, getattr(self, name))
        for name in ("data_limit", "rounds_per_call", "collapse_min_classes"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}")
        _check_positive("data_std", self.data_std)
        for name in ("r1_gamma", "r2_gamma"):
            gamma = getattr(self, name)
            if not (math.isfinite(gamma) and gamma >= 0.0):
                raise ConfigError(f"{name} must be 0 (off) or a positive finite number, got {gamma}")
        if not (math.isfinite(self.generator_average) and 0.0 <= self.generator_average < 1.0):
            raise ConfigError(f"generator_average must be 0 (off) or a fraction in (0, 1) of the images seen "
                              f"(0.05 is StyleGAN2-ADA's), got {self.generator_average}")
        _check_choice("remedy", self.remedy, REMEDIES)
        if self.pack < 1 or self.batch_size % self.pack:
            # Listed up to 1,000: a hostile batch_size must not make the message a long loop.
            divisors = [str(d) for d in range(1, min(self.batch_size, 1000) + 1) if self.batch_size % d == 0]
            raise ConfigError(f"pack must be a positive divisor of batch_size {_shown(self.batch_size)}, got "
                              f"{_shown(self.pack)}: choose one of {', '.join(divisors)}"
                              + (", ..." if self.batch_size > 1000 else ""))
        if (self.remedy != "none" or self.pack != 1) and self.model not in REMEDY_MODELS:
            raise ConfigError(f"remedy and pack apply to {', '.join(REMEDY_MODELS)} only, "
                              f"got model {self.model!r} with remedy {self.remedy!r}, pack {self.pack}")
        self._check_image_settings()
        _check_growth(self.model, self.growth, self.resolution)
        if self.generator_widths:
            if self.model != "dcgan":
                raise ConfigError(f"generator_widths applies to dcgan only, got model {self.model!r} "
                                  f"with generator_widths {list(self.generator_widths)}")
            if len(self.generator_widths) != 3 or min(self.generator_widths) < 1:
                raise ConfigError(f"generator_widths must be 3 positive integers (dense units, channels at 7x7, "
                                  f"channels at 14x14), got {list(self.generator_widths)}")
        self._check_distillation()
        if len(self.data_mean) != 2:
            raise ConfigError(f"data_mean must have 2 values, got {len(self.data_mean)}")
        _check_representable(self)
        # 10 standard deviations: no sample of the toy data lies further out.
        if max(abs(m) for m in self.data_mean) + 10 * self.data_std > _FLOAT32_MAX:
            raise ConfigError(f"data_mean {list(self.data_mean)} and data_std {self.data_std:g} would draw samples "
                              f"beyond float32's range: keep |mean| + 10 * std under {_FLOAT32_MAX:.3g}")

    def _check_image_settings(self) -> None:
        _check_choice("augment", self.augment, AUGMENTATIONS)
        _check_choice("background", self.background, tuple(IMAGE_BACKGROUNDS))
        if self.resolution and self.resolution not in IMAGE_RESOLUTIONS:
            raise ConfigError(f"resolution must be one of {', '.join(map(str, IMAGE_RESOLUTIONS))} (what the "
                              f"models build), got {_shown(self.resolution)}: pass --resolution with one of them")
        if self.channels and self.channels not in IMAGE_CHANNELS:
            raise ConfigError(f"channels must be 1 (grey) or 3 (RGB), got {_shown(self.channels)}")
        uses_images = self.data_path or self.resolution or self.channels or self.augment != "none"
        if uses_images and self.model not in IMAGE_MODELS:
            raise ConfigError(f"data_path, resolution, channels and augment apply to {', '.join(IMAGE_MODELS)} "
                              f"only, got model {self.model!r}")
        if (self.resolution or self.channels) and not self.data_path:
            raise ConfigError("resolution and channels apply to a user's pictures (data_path): MNIST keeps the "
                              "book's shape; pass --data PATH with them")

    def _check_distillation(self) -> None:
        if not (math.isfinite(self.imitation_weight) and self.imitation_weight >= 0.0):
            raise ConfigError(f"imitation_weight must be 0 or a positive finite number, got {self.imitation_weight}")
        if not self.teacher:
            if self.imitation_weight or self.teacher_discriminator or self.imitation_only:
                raise ConfigError("imitation_weight, teacher_discriminator and imitation_only apply to a run with a "
                                  "teacher: distill one with `gan-edge distill TEACHER_RUN`")
            return
        if self.imitation_only and not self.imitation_weight:
            raise ConfigError("imitation_only trains G by the imitation term alone: it needs an imitation_weight "
                              "above 0, got 0")
        if self.model != "dcgan":
            raise ConfigError(f"teacher applies to dcgan only (the student `gan-edge distill` trains), "
                              f"got model {self.model!r}")
        if not Path(self.teacher).is_absolute():
            raise ConfigError(f"teacher must be the absolute path of a run folder, got {self.teacher!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def with_overrides(self, overrides: dict[str, Any]) -> "TrainConfig":
        merged = self.to_dict()
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
        return config_from_dict(merged)


# Per model: named presets, each a set of overrides of TrainConfig's field defaults
# (which are the toy GAN's). "default" is what `gan-edge train MODEL` uses.
_BOOK_DCGAN_SGD = {"name": "sgd", "learning_rate": 0.0005, "momentum": 0.9, "nesterov": True}
_DCGAN_COMMON = {
    "epochs": 100,
    "batch_size": 128,
    "latent_dim": 100,
    "latent_distribution": "uniform11",
    "loss_mode": "standard",
    "pretrain_discriminator": False,
    "eval_samples": 2000,
    "eval_every": 1,
    "rounds_per_call": 10,
}
# The PacGAN protocol (fjxmlzn/PacGAN, synthetic_data_experiments/*/config.py): 100,000
# samples, batches of 100, 2-D N(0, I) latents, Adam lr 1e-4 beta_1 0.8 for both networks,
# the standard GAN loss, 400 epochs: the "paper" preset (400,000 rounds, hours per run on
# a 2-core CPU). "default" compresses it for this CPU: 20 epochs (20,000 rounds) with R1
# (gamma 0.1), Adam beta_1 0 / beta_2 0.99, D's rate 1e-3 and G's 5e-4 falling linearly to
# 1e-6, each round compiled with XLA. Measured on fresh seeds (benchmarks/mode_collapse.py,
# configuration "R1"; benchmarks/results/mode_collapse_default.txt): ring8 8 of 8 modes,
# 94.95% high quality, reverse KL 0.00 (8 seeds); grid25 25 of 25 modes, 78% high quality,
# reverse KL 0.08 (2 seeds: 11 to 19 minutes a run here). The old default (beta_1 0.8, 1e-3 -> 1e-5 for both) gave 14.4 modes and 7% high
# quality on the grid at 5,000 rounds; in screening (one seed each) R1 with beta_1 0.5 gave
# 77-81% and adding pack 2 gave 66-81%. PacGAN's Table 1 (94% on the grid) is not reached
# in 20,000 rounds: the high-quality share is what falls short.
_PACGAN_ADAM = {"name": "adam", "learning_rate": 1e-4, "beta_1": 0.8}
_FAST_ADAM = {"name": "adam", "learning_rate": 1e-3, "beta_1": 0.0, "beta_2": 0.99, "final_learning_rate": 1e-6}
_MULTIMODE = {
    "epochs": 20,
    "batch_size": 100,
    "latent_dim": 2,
    "latent_distribution": "normal",
    "loss_mode": "standard",
    "pretrain_discriminator": False,
    "d_optimizer": _FAST_ADAM,
    "g_optimizer": {**_FAST_ADAM, "learning_rate": 5e-4},  # two time-scales: D twice as fast
    "r1_gamma": 0.1,
    "data_samples": 100_000,
    "eval_samples": 2500,  # the protocol measures 2,500 generated points
    "rounds_per_call": 100,
    "jit_compile": True,
}
_MULTIMODE_PAPER = {**_MULTIMODE, "epochs": 400, "d_optimizer": _PACGAN_ADAM, "g_optimizer": _PACGAN_ADAM,
                    "r1_gamma": 0.0}
# ProGAN on MNIST padded to 32x32 (Karras et al., 2018): Adam lr 1e-3, beta_1 0 as in the
# paper; phases of 6,000 images (the paper shows 800,000 per phase at 1024x1024), so the
# 32x32 stable phase starts after 36,000 images (3.6 epochs of the 10,000 test digits).
_PROGAN_ADAM = {"name": "adam", "learning_rate": 1e-3, "beta_1": 0.0}
_PROGAN = {
    **_DCGAN_COMMON,
    "epochs": 10,
    "batch_size": 32,
    "latent_dim": 128,
    "latent_distribution": "normal",
    "d_optimizer": _PROGAN_ADAM,
    "g_optimizer": _PROGAN_ADAM,
    "growth": {"resolutions": [4, 8, 16, 32], "fade_images": 6000, "stable_images": 6000},
}
# The toy GAN that reproduces the book's Figure 22-19 (a round cloud on N((5, 5), I) by
# epoch 13) on nearly every seed. With the book's settings G settles on a tilted line:
# the direction across the line is a saddle of the game, where plain gradient play
# orbits instead of converging. What fixed it, measured in a sweep of 20 to 80 seeds
# per setting (docs/toy_convergence.md):
# - R1 (gamma 12) damps the orbit; with it the book's gating beats the standard loss
#   (54 of 60 seeds against 15 of 60 at gamma 2);
# - Adam with beta_1 0 and beta_2 0.99: no momentum to carry G past the target, and
#   second moments that follow the game's changing gradients;
# - two time scales that both decay linearly: D from 3e-3 to 3e-4, G from 2e-3 to 2e-5,
#   so that late in the run D still tracks G while G's steps shrink to a hundredth
#   (D's rate constant: 10 of 60; this default: 55 of 60 in the sweep, 20 of 20 fresh
#   seeds through the real pipeline, benchmarks/toy_quality.py).
_TOY_CONVERGENT = {
    "r1_gamma": 12.0,
    "d_optimizer": {"name": "adam", "learning_rate": 3e-3, "beta_1": 0.0, "beta_2": 0.99,
                    "final_learning_rate": 3e-4},
    "g_optimizer": {"name": "adam", "learning_rate": 2e-3, "beta_1": 0.0, "beta_2": 0.99,
                    "final_learning_rate": 2e-5},
}
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "toy2d": {"default": _TOY_CONVERGENT, "book": {}},
    "ring8": {"default": _MULTIMODE, "paper": _MULTIMODE_PAPER},
    "grid25": {"default": _MULTIMODE, "paper": _MULTIMODE_PAPER},
    "progan": {"default": _PROGAN},
    "dcgan": {
        # The Adam setting of the TensorFlow DCGAN tutorial (Radford et al., 2016).
        "default": {
            **_DCGAN_COMMON,
            "d_optimizer": {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5},
            "g_optimizer": {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5},
        },
        # As the book prints it (Gildenblat's Keras DCGAN): SGD with Nesterov momentum.
        "book": {**_DCGAN_COMMON, "d_optimizer": _BOOK_DCGAN_SGD, "g_optimizer": _BOOK_DCGAN_SGD},
        # Sized for a Cortex-M: the default's training, a generator of the book's shape with
        # widths 128 / 32 / 32. In int8 after the sub-pixel lowering its weights are 251,520
        # bytes (<= 256 KiB: 12,800 + 200,704 + 36,864 + 1,152) and its largest pair of live
        # activations 12,544 bytes (<= 64 KiB: the 7x7x128 sub-pixel map and its 14x14x32
        # rearrangement); export/c_module.py computes and prints both.
        # Trained as the default is, plus R1 (gamma 1) on the real digits: without it the
        # small G drifted between digits (seed 0: 9 of 10 classes, FCD 116.5 at 10 CPU-minutes,
        # then 7 classes, FCD 162.4, class KL 0.90 at 20: benchmarks/results/
        # mcu_dcgan_quality_no_r1_20min.txt). Screened on seed 1 (benchmarks/mcu_dcgan_quality.py
        # --seed 1 --overrides ...): R1 gamma 1 gave 10 classes, FCD 111.5, class KL 0.23,
        # recall 0.35 at 10 CPU-minutes (445 rounds: R1 costs a fifth of the rounds) and 10
        # classes, FCD 100.5, class KL 0.31 at 20; adding Adam 1e-3 beta_1 0 / beta_2 0.99 for
        # both left D at chance (FCD 120.0, recall 0.10), and G three times faster (6e-4) gave
        # FCD 122.9, recall 0.18. On a fresh seed (2) beside the book's DCGAN: at 20
        # CPU-minutes FCD 104.9, 9 classes (0 and 6 rare) against the book's 71.5, 10; at 30
        # (the same runs resumed) FCD 54.8, 10 classes, int8 55.0 against 38.8, 10
        # (mcu_dcgan_quality.txt, mcu_dcgan_quality_30min.txt). It needs about 30 CPU-minutes
        # to draw digits a person reads.
        "mcu": {
            **_DCGAN_COMMON,
            "d_optimizer": {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5},
            "g_optimizer": {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.5},
            "r1_gamma": 1.0,
            "generator_widths": [128, 32, 32],
        },
    },
}


def default_config(model: str = "toy2d", preset: str = "default") -> TrainConfig:
    """The settings of one model under a named preset."""
    from gan_edge.training.models import MODELS

    _check_choice("model", model, tuple(MODELS))
    presets = PRESETS.get(model, {"default": {}})
    _check_choice(f"preset for {model}", preset, tuple(presets))
    return TrainConfig(model=model).with_overrides(presets[preset])


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a config from plain JSON values, refusing unknown keys and wrong types by name."""
    return _build(TrainConfig, data, where="config")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON file of overrides (a subset of the config's keys)."""
    data = read_json_file(path, "config file")
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a JSON object, got {type(data).__name__}")
    return data


def read_json_file(path: str | Path, what: str) -> Any:
    """The JSON in ``path``, read within the bounds above; ``what`` names the file in errors."""
    path, where = Path(path), f"{what} {path}"
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_JSON_BYTES + 1)  # bounded: the path may be a device or a pipe
    except FileNotFoundError:
        raise ConfigError(f"no {what} at {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {where}: {exc.strerror}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise ConfigError(f"{where} is over {MAX_JSON_BYTES:,} bytes: expected a JSON config of a few KB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text: byte {raw[exc.start]:#04x} at offset {exc.start}") from None
    return parse_json(text, where)


def parse_json(text: str, where: str) -> Any:
    """JSON text within the nesting and number bounds above, or a ConfigError naming ``where``."""
    depth = 0
    # Strings are matched whole so that brackets inside them do not count.
    for token in re.finditer(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ConfigError(f"{where} nests objects and lists more than {MAX_JSON_DEPTH} levels deep: "
                                  "expected at most 2, as gan-edge writes it")
        elif bracket in ("]", "}"):
            depth -= 1
    try:
        return json.loads(text, parse_int=_bounded_int)
    except _TooLong as exc:
        raise ConfigError(f"{where} holds an integer of {exc.args[0]:,} digits: expected at most "
                          f"{MAX_INT_DIGITS} (a 64-bit number)") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} is not valid JSON: {exc}") from None


class _TooLong(Exception):
    """An integer literal too long for a config (its digits in args[0])."""


def _bounded_int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _TooLong(digits)
    return int(literal)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be an object, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown key {unknown[0]!r} in {where}: expected one of {', '.join(fields)}"
        )
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    return cls(**values)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Check one JSON value against a field's type; JSON lists become tuples."""
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    origin = typing.get_origin(hint)
    if origin is tuple and typing.get_args(hint)[1:] == (Ellipsis,):
        item = typing.get_args(hint)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list of {item.__name__}, got {value!r}")
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is tuple:
        item_types = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(item_types):
            raise ConfigError(f"{where} must be a list of {len(item_types)} numbers, got {value!r}")
        return tuple(_coerce(t, v, f"{where}[{i}]") for i, (t, v) in enumerate(zip(item_types, value)))
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{where}: union types are not supported in configs")
    # bool is a subclass of int: refuse true/false where a number is expected, and vice versa.
    if hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    else:
        ok = isinstance(value, hint)
    if not ok:
        raise ConfigError(f"{where} must be {hint.__name__}, got {type(value).__name__} {value!r}")
    return value


def _check_growth(model: str, growth: GrowthConfig, resolution: int = 0) -> None:
    if model not in GROWING_MODELS:
        if growth != GrowthConfig():
            raise ConfigError(f"growth applies to {', '.join(GROWING_MODELS)} only, got model {model!r} "
                              f"with growth.resolutions {list(growth.resolutions)}")
        return
    top = resolution or GROWING_MODELS[model]
    if growth.resolutions and growth.resolutions[-1] != top:
        raise ConfigError(f"growth.resolutions must end at the data's resolution {top}, got "
                          f"{list(growth.resolutions)}: end the schedule at {top}")


def _check_representable(config: Any) -> None:
    """What the field checks leave to a last, general one: a NaN or inf that a comparison
    let through (JSON's 1e400 is inf), an integer wider than TensorFlow's int64."""
    for item in dataclasses.fields(config):
        value = getattr(config, item.name)
        for v in value if isinstance(value, tuple) else (value,):
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(f"{item.name} must be a finite number, got {value}")
            if isinstance(v, int) and not -(2**63) <= v < 2**63:
                raise ConfigError(f"{item.name} must be a 64-bit integer, got {_shown(v)}")


def _shown(value: int) -> str:
    """An integer for a message: Python refuses to print one of over 4,300 digits."""
    return str(value) if value.bit_length() <= 128 else f"an integer of {value.bit_length():,} bits"


def _check_choice(name: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ConfigError(f"unknown {name} {value!r}: expected one of {', '.join(valid)}")


def _check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {_shown(value) if isinstance(value, int) else value}")
