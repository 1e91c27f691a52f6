"""Exercise 06: softmax and cross-entropy from raw scores, safe for large scores.

Follows lesson 06 (lecture 9). A classifier gives one raw score per class for each sample, a batch of
them as a (batch, classes) tensor. Softmax turns each sample's row into probabilities:
exp(score) / the sum of exp over that row. Cross-entropy is -log(the probability of the true class),
averaged over the batch: what nn.CrossEntropyLoss computes from the raw scores and the class indices.

1. softmax(scores): the probabilities, each row summing to 1, equal to torch.softmax(scores, dim=1).
2. cross_entropy(scores, targets): equal to F.cross_entropy(scores, targets), targets holding one class
   index per sample.
Both must stay finite for scores like 1000, where exp(1000) is inf, and for a true class whose score is
1000 below the others, where its probability is 0 in floating point and log(0) is -inf. Use tensor
arithmetic, not PyTorch's softmax or loss functions: the checker compares your answers with theirs.

Check it: python exercises/check.py 06
"""

import torch


def softmax(scores: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def cross_entropy(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError
