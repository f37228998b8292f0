"""What the workstation commands (train, export, demo) need before they import TensorFlow."""

from __future__ import annotations

from gan_edge.errors import BackendUnavailable
from gan_edge.io import quiet_native_stderr


def require_tensorflow() -> None:
    """Import TensorFlow once, without its native start-up log, or say how to install it."""
    try:
        with quiet_native_stderr():
            import tensorflow  # noqa: F401
            import tf_keras  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable(
            f"this command needs TensorFlow ({exc.name} is not installed): pip install gan-edge[train,export]"
        ) from None
