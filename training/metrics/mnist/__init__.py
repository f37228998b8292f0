"""Metrics for generated MNIST digits, all measured through one MNIST classifier.

``evaluate(samples, reference, classifier)`` returns ``fcd``, ``classes_covered``,
``class_kl``, ``class_entropy``, ``precision`` and ``recall``. Order of calls:

    classifier = load_or_train_classifier(cache_dir, real_images, real_labels)
    rows = reference_values(real_images, real_labels, classifier, untrained_samples)
    scores = evaluate(samples, real_reference, classifier)

Importing this package loads numpy only; tf_keras is imported when a classifier is
built, trained or loaded.
"""

from gan_edge.training.metrics.mnist.classes import class_entropy, class_kl, classes_covered
from gan_edge.training.metrics.mnist.classifier import (
    Classifier,
    load_or_train_classifier,
    train_classifier,
)
from gan_edge.training.metrics.mnist.evaluate import NAMES, evaluate, reference_values, split_halves
from gan_edge.training.metrics.mnist.fcd import fcd
from gan_edge.training.metrics.mnist.precision_recall import precision_recall

__all__ = [
    "NAMES",
    "Classifier",
    "class_entropy",
    "class_kl",
    "classes_covered",
    "evaluate",
    "fcd",
    "load_or_train_classifier",
    "precision_recall",
    "reference_values",
    "split_halves",
    "train_classifier",
]
