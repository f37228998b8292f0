"""Improved precision and recall (Kynkäänniemi et al., 2019) in MNIST classifier feature space.

Features: whatever the caller passes; the MNIST evaluator passes the 128-d
penultimate layer of this project's MNIST classifier. The method itself is
``training/metrics/precision_recall.py``'s, shared with the image metrics.

Read precision with recall and FCD, never alone. A few isolated real digits have
large radii, and images far from any digit can fall inside their balls: measured on
this project's classifier (5,000 real digits as the manifold, k=3), uniform-noise
images score precision 0.63 and near-blank images 1.0, against 0.89 for real digits,
while their recall is 0.0 and their FCD several hundred times the real-vs-real one.
Larger k makes this worse (noise: 0.19 at k=1, 0.93 at k=10).
"""

from __future__ import annotations

from gan_edge.training.metrics.precision_recall import (
    density_coverage, knn_radii, manifold_coverage, manifold_scores, precision_recall,
)

__all__ = ["knn_radii", "manifold_coverage", "manifold_scores", "precision_recall", "density_coverage"]
