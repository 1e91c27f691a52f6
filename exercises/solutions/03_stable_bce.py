"""Exercise 03: the sigmoid and binary cross-entropy by hand, safe for any score.

Follows lesson 03 (lecture 6). The lecture's model ends in a sigmoid and BCELoss scores it:
p = sigmoid(score) = 1 / (1 + exp(-score)), and loss = -(y * log(p) + (1 - y) * log(1 - p)), averaged
over the samples. Written straight from the formulas, things break for large scores: in floating point,
exp(1000) is inf, sigmoid(40) is exactly 1.0, and log(1 - 1.0) is log(0) = -inf.

1. sigmoid(z): the sigmoid of every element, never nan, also for z = 1000 and z = -1000.
2. bce_with_logits(scores, targets): the mean loss above, from the raw scores (before any sigmoid), as
   F.binary_cross_entropy_with_logits computes it, and finite for scores like 1000 and -1000.

Use tensor arithmetic (exp, log, log1p, abs, clamp, torch.where, ...), not torch.sigmoid or PyTorch's
loss functions: the checker compares your answers with theirs, on scores it draws.

Check it: python exercises/check.py 03
"""

import torch


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    # exp(-z) is inf for z = -1000, and 1 / inf is 0: no nan. (exp(z) / (1 + exp(z)) would be inf / inf.)
    return 1 / (1 + torch.exp(-z))


def bce_with_logits(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    # With p = sigmoid(s), -log(p) = log(1 + exp(-s)) and -log(1 - p) = s + log(1 + exp(-s)), so the loss
    # of one sample is s - y * s + log(1 + exp(-s)). For s = -1000, exp(-s) overflows: rewrite
    # s + log(1 + exp(-s)) as max(s, 0) + log(1 + exp(-|s|)), where exp only ever sees a number <= 0.
    losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))
    return losses.mean()
