"""Setup shared by the benchmarks that train on MNIST: run them as scripts
(``python benchmarks/NAME.py``), whose folder Python puts on sys.path, so
``import _mnist_bench`` finds this file.

Importing it puts the repository on sys.path, points GAN_EDGE_DATA at the shared
MNIST digits unless set, and imports TensorFlow once with its start-up noise hidden.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GAN_EDGE_DATA", str(ROOT.parent / "shared" / "data" / "mnist"))

from gan_edge.io import quiet_native_stderr  # noqa: E402

with quiet_native_stderr():
    import tensorflow  # noqa: E402, F401

# What both benchmarks print, in this order.
SHOWN = ("fcd", "classes_covered", "class_kl", "precision", "recall")
