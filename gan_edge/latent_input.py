"""Latents into a model's input buffer: drawn from a stream or given, quantized for int8.

This is the input half of ``Generator``'s hot path. ``generate(1)`` on the toy model
costs a few microseconds, so every numpy call here counts: scalars are precomputed as
float32, scratch arrays are made once per chunk size, and calls of a few rows on the
default stream take their latents from a block drawn and quantized 64 rows at a time.

A generator with several workers gives each its own ``LatentInput`` (its scratch is
written during a call); they share one ``LatentStream``, the default stream and its
block, which hands each row to exactly one call whichever thread makes it.
"""

from __future__ import annotations

import threading

import numpy as np

from gan_edge.backends import QuantParams
from gan_edge.latent import DISTRIBUTIONS
from gan_edge.latent import sample_latent as _sample_latent

__all__ = ["LatentInput", "LatentStream", "AHEAD_ROWS"]

# Calls of up to this many rows with the default stream (seed=None) take their latents
# from a block drawn and quantized this many rows at a time: the draw and the
# quantization are a few numpy calls whatever their size, so per row they cost ~1/64th.
AHEAD_ROWS = 64


class LatentStream:
    """The default stream (seed=None): one numpy Generator and the block drawn ahead from it.

    Shared by every worker of a generator. Once ``share()``d, the block's rows are
    handed out under a lock, so concurrent calls never get the same row and none is
    skipped; a draw straight from ``rng`` needs no lock of ours (numpy holds its own
    during a fill). Call ``take(x, rows)``.
    """

    def __init__(self, draw, latent_dim: int, dtype: np.dtype) -> None:
        # seeding a fresh numpy Generator from OS entropy costs tens of microseconds,
        # more than a toy model's inference: seed=None draws from this one instead.
        self.rng = np.random.default_rng()
        # draw(block, rows, rng, z, start, scratch): the owner's quantizing draw; it
        # reads only constants and the scratch passed in, here always our own.
        self._draw = draw
        self._lock = threading.Lock()
        # Made at the first small call; the stream is the same as drawing row by row
        # (numpy fills arrays value by value). No seeded call ever uses it.
        self._block: np.ndarray | None = None
        self._block_dtype = dtype
        self._scratch = np.empty((AHEAD_ROWS, latent_dim), dtype=np.float32)
        self._next = AHEAD_ROWS
        self.take = self._take  # until share()

    def restart(self, rng: np.random.Generator) -> None:
        """Draw from ``rng`` from now on, dropping the rows drawn ahead from the old one."""
        with self._lock:
            self.rng, self._next = rng, AHEAD_ROWS

    def share(self) -> None:
        """Lock the block from now on: more than one worker takes from it at once.

        One worker needs no lock here: its calls already run one at a time.
        """
        self.take = self._take_locked

    def _take_locked(self, x: np.ndarray, rows: int) -> None:
        with self._lock:
            self._take(x, rows)

    def _take(self, x: np.ndarray, rows: int) -> None:
        """Copy the stream's next ``rows`` (<= AHEAD_ROWS) rows into ``x``."""
        taken = self._next
        if taken + rows <= AHEAD_ROWS:  # the common case
            np.copyto(x, self._block[taken : taken + rows])
            self._next = taken + rows
            return
        left = AHEAD_ROWS - taken  # the block's last rows first, then a new block
        if left:
            np.copyto(x[:left], self._block[taken:])
        if self._block is None:
            self._block = np.empty(self._scratch.shape, dtype=self._block_dtype)
        self._draw(self._block, AHEAD_ROWS, self.rng, None, 0, self._scratch)
        np.copyto(x[left:], self._block[: rows - left])
        self._next = rows - left


class LatentInput:
    """Writes latents for a model whose input has ``dtype`` and, if int8, ``quant``.

    ``stream``: the default stream to share (another worker's ``.stream``); None
    starts a new one.
    """

    def __init__(
        self,
        distribution: str,
        latent_dim: int,
        dtype: np.dtype,
        quant: QuantParams | None,
        stream: LatentStream | None = None,
    ) -> None:
        self.distribution, self.latent_dim, self.dtype = distribution, latent_dim, dtype
        if stream is not None:
            stream.share()
        self.stream = stream if stream is not None else LatentStream(self._draw, latent_dim, dtype)
        # float32 scratch for quantizing one chunk of latents, made once per chunk size.
        self.scratch = np.empty((0, latent_dim), dtype=np.float32)
        # uniform01 (the toy GAN's) is drawn by one rng.random call, exactly what
        # latent.sample_latent does for it, without its per-call name lookups.
        self._uniform01 = distribution == "uniform01"
        self._quant = None
        if quant is not None:
            # As float32 scalars, so no ufunc below converts a Python number per call.
            # The int8 range is clipped before adding the zero point, so the add
            # can write its exact integers straight into the int8 input.
            zp = quant.zero_point
            self._quant = (np.float32(quant.scale), np.float32(zp), np.float32(-128 - zp), np.float32(127 - zp))
            scale, _, low, high = self._quant
            # Drawn latents of a bounded distribution whose whole range quantizes
            # inside int8 need no clipping (uniform01 at scale 1/255, zp -128 does);
            # latents passed in by the caller always get it.
            bounds = DISTRIBUTIONS[distribution]
            self._drawn_need_clip = bounds is None or not (
                np.rint(np.float32(bounds[0]) / scale) >= low and np.rint(np.float32(bounds[1]) / scale) <= high
            )
            # A uniform draw u in [0, 1) maps to the quantized grid as u * a + b in
            # one multiply-add (a = (high - low) / scale, b = low / scale): two ufunc
            # calls fewer per chunk than scaling to [low, high) and then dividing.
            self._draw_affine = None
            if bounds is not None:
                lo, hi = (np.float32(v) for v in bounds)
                self._draw_affine = ((hi - lo) / scale, lo / scale)

    @property
    def default_rng(self) -> np.random.Generator:
        """The default stream's numpy Generator; setting it restarts the stream."""
        return self.stream.rng

    @default_rng.setter
    def default_rng(self, rng: np.random.Generator) -> None:
        self.stream.restart(rng)

    def reserve(self, rows: int) -> None:
        """Make the quantization scratch ``rows`` long (once per chunk size)."""
        if self._quant is not None and self.scratch.shape[0] != rows:
            self.scratch = np.empty((rows, self.latent_dim), dtype=np.float32)

    def write(self, x: np.ndarray, rows: int, rng: np.random.Generator | None, z, start: int) -> None:
        """Fill the first ``rows`` rows of the input buffer ``x``: from ``z[start:]`` when
        given, else drawn from ``rng``, or from the default stream when ``rng`` is None.
        Rows past ``rows`` (a padded last chunk) keep stale latents; their outputs are
        never read."""
        if rows != x.shape[0]:
            x = x[:rows]
        if rng is None and z is None:
            if rows <= AHEAD_ROWS:
                self.stream.take(x, rows)
                return
            rng = self.stream.rng
        self._draw(x, rows, rng, z, start, self.scratch)

    def _draw(self, x: np.ndarray, rows: int, rng, z, start: int, scratch: np.ndarray) -> None:
        if self._quant is None:
            if z is not None:
                np.copyto(x, z[start : start + rows], casting="unsafe")
            elif self._uniform01:
                rng.random(out=x, dtype=np.float32)
            else:
                _sample_latent(self.distribution, rows, self.latent_dim, rng, out=x)
            return
        s = scratch if rows == scratch.shape[0] else scratch[:rows]
        scale, zero_point, low, high = self._quant
        if z is None:
            if self._draw_affine is not None:
                rng.random(out=s, dtype=np.float32)
                a, b = self._draw_affine
                np.multiply(s, a, out=s)
                if b:
                    np.add(s, b, out=s)
            else:
                _sample_latent(self.distribution, rows, self.latent_dim, rng, out=s)
                np.divide(s, scale, out=s)
            clip = self._drawn_need_clip
        else:
            np.divide(z[start : start + rows], scale, out=s)
            clip = True
        np.rint(s, out=s)
        if clip:
            # maximum + minimum: np.clip's Python wrapper alone costs more than both.
            np.maximum(s, low, out=s)
            np.minimum(s, high, out=s)
        np.add(s, zero_point, out=x, casting="unsafe")
