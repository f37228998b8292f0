"""ProGAN's growth schedule: which resolution, and how far faded in, after n real images.

The phases, for ``config.growth.resolutions`` (4, 8, 16, 32): stable at 4x4 for
``stable_images``, then for each next resolution a fade-in of ``fade_images`` (alpha
rising linearly from 0 to 1) and a stable phase of ``stable_images``; the last
resolution stays until training ends. An empty schedule trains at 32x32 from the start.

``GrowthSchedule.state(images)`` is pure arithmetic. ``GrowthDriver`` binds it to the
``Growth`` variables of both networks (``gan_edge.training.models.progan_layers``): the training
loop calls ``advance(n)`` between compiled calls of rounds with the real images those
rounds showed, so alpha moves in steps of ``rounds_per_call`` rounds. The clock
(``images``) lives in the networks' variables too, so a checkpoint taken in the middle
of a fade-in resumes at the same alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

__all__ = ["GrowthSchedule", "GrowthDriver", "growth_driver", "level_of", "resolutions_up_to"]

TOP_RESOLUTION = 32  # MNIST padded; a user's pictures: their resolution


def resolutions_up_to(top: int) -> list[int]:
    """4, 8, ... top: the schedule's resolutions for pictures of side ``top``."""
    return [4 * 2**k for k in range(level_of(top) + 1)]


def level_of(resolution: int) -> int:
    """4 -> 0, 8 -> 1, 16 -> 2, 32 -> 3."""
    return int(math.log2(resolution)) - 2


@dataclass(frozen=True)
class GrowthSchedule:
    resolutions: tuple[int, ...]
    fade_images: int
    stable_images: int

    @classmethod
    def from_config(cls, config) -> "GrowthSchedule":
        growth = config.growth
        top = getattr(config, "resolution", 0) if getattr(config, "data_path", "") else TOP_RESOLUTION
        return cls(tuple(growth.resolutions) or (top,), growth.fade_images, growth.stable_images)

    def state(self, images: int) -> tuple[int, float]:
        """(resolution, alpha) after ``images`` real images were shown."""
        resolution, elapsed = self.resolutions[0], images - self.stable_images
        for nxt in self.resolutions[1:]:
            if elapsed < 0:
                return resolution, 1.0
            if elapsed < self.fade_images:
                return nxt, elapsed / self.fade_images
            resolution, elapsed = nxt, elapsed - self.fade_images - self.stable_images
        return resolution, 1.0


class GrowthDriver:
    """Moves the ``Growth`` variables of G and D along the schedule; the loop never sees it."""

    def __init__(self, schedule: GrowthSchedule, growths: list) -> None:
        self.schedule = schedule
        self.growths = growths
        # Called with a resolution when training moves past it (the next one starts
        # fading in), e.g. to draw what G made at that resolution.
        self.on_resolution_done: Callable[[int], None] | None = None

    @property
    def images(self) -> int:
        return int(self.growths[0].images.numpy())

    def advance(self, images: int) -> None:
        before = self.images
        total = before + int(images)
        resolution, alpha = self.schedule.state(total)
        # Before the phase moves, so a listener sees G as it left the old resolution.
        if self.on_resolution_done is not None:
            was = self.schedule.state(before)[0]
            for done in (r for r in self.schedule.resolutions if was <= r < resolution):
                self.on_resolution_done(done)
        for growth in self.growths:
            growth.images.assign(total)
            growth.set(level_of(resolution), alpha)

    def record(self) -> dict[str, float | int]:
        """The per-epoch metrics: ``resolution`` (pixels per side) and ``alpha`` (fade-in weight)."""
        growth = self.growths[0]
        return {"resolution": 4 * 2 ** round(float(growth.level.numpy())), "alpha": float(growth.alpha.numpy())}


def growth_driver(config, round_) -> GrowthDriver | None:
    """A driver for the ``Growth`` layers of ``round_``'s networks, or None when they have none."""
    from gan_edge.training.models.progan_layers import Growth

    growths = [m for net in (round_.generator, round_.discriminator) for m in net.submodules if isinstance(m, Growth)]
    growths = list({id(g): g for g in growths}.values())
    if not growths:
        return None
    return GrowthDriver(GrowthSchedule.from_config(config), growths)

