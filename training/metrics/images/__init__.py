"""Metrics for generated images of any set (issue 22), measured in a net trained on the set.

``evaluate_images(samples, reference, net)`` returns ``fd``, ``fd_floor``, ``precision``,
``recall`` and, when the set has labels, ``categories_covered``, ``categories`` and
``category_kl``. Order of calls:

    data = load_images(folder, resolution=32, labels=...)
    net = load_or_train_feature_net(cache_dir, data.images, data.labels, data.label_names)
    scores = evaluate_images(generated, data.images, net)

``inception_fid`` gives Inception FID proper, only from weights already on disk.
Importing this package loads numpy only; tf_keras is imported when a net is built.
"""

from gan_edge.training.metrics.images.conditions import CONDITIONS, failure_conditions
from gan_edge.training.metrics.images.evaluate import CATEGORY_NAMES, NAMES, evaluate_images
from gan_edge.training.metrics.images.features import FeatureNet, load_or_train_feature_net
from gan_edge.training.metrics.images.inception import inception_fid, inception_weights

__all__ = [
    "CATEGORY_NAMES",
    "CONDITIONS",
    "NAMES",
    "FeatureNet",
    "evaluate_images",
    "failure_conditions",
    "inception_fid",
    "inception_weights",
    "load_or_train_feature_net",
]
