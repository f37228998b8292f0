"""Workstation side of gan-edge: data, models, the training loop, metrics and figures."""
