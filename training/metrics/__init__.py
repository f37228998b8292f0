"""The measurements themselves, as plain functions of samples and a reference.

toy.py (moments, sliced Wasserstein, correlation, Fréchet distance of 2-D points),
modes.py (modes covered, high-quality share, reverse KL) and mnist/ (the classifier,
FCD, digit classes, precision/recall). Which of them a model is scored with is
decided once, by the evaluator registry in training/evaluators.
"""
