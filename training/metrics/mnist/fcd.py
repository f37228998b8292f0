"""FCD, the Fréchet classifier distance: how far apart two clouds of MNIST features are.

Features: whatever the caller passes; the MNIST evaluator passes the 128-d
penultimate layer of this project's own MNIST classifier (``classifier.py``). The
distance itself is ``training/metrics/frechet.py``'s, shared with the image metrics.

This is NOT the Inception FID of the GAN papers, and its numbers cannot be compared
with theirs: FID uses Inception-v3's 2048-d pool features of images resized to
299x299 and trained on ImageNet, while FCD here uses a 128-d MNIST CNN trained on
8,000 digits. The scale of the features, and so of the distance, is different.
Compare FCD only with FCD from the same classifier, and at the same sample sizes:
like FID it is biased upward when estimated from few samples, so two halves of the
real data are the floor to read a number against (``evaluate.reference_values``).
"""

from __future__ import annotations

from gan_edge.training.metrics.frechet import feature_statistics
from gan_edge.training.metrics.frechet import frechet_distance as fcd
from gan_edge.training.metrics.frechet import frechet_from_statistics as fcd_from_statistics

__all__ = ["fcd", "fcd_from_statistics", "feature_statistics"]
