"""Exercise 06b: NLLLoss by hand, and how it differs from CrossEntropyLoss (the slides' exercise 9-1).

Follows lesson 06 (lecture 9). The slide asks: CrossEntropyLoss or NLLLoss, what is the difference?
NLLLoss computes no log and no softmax. For each sample it takes the entry of the true class from what it
is given, and returns minus their mean over the batch. It trusts that it was given log-probabilities, as
nn.LogSoftmax makes them. CrossEntropyLoss takes the raw scores and applies log_softmax itself, so
CrossEntropyLoss()(scores, targets) equals NLLLoss()(log_softmax(scores), targets).

1. nll_loss(log_probs, targets): minus the mean over the batch of log_probs[i, targets[i]], equal to
   F.nll_loss. Return a tensor of one number (no .item(): backward() needs the tensor).
2. cross_entropy(scores, targets): your nll_loss after torch.log_softmax, equal to F.cross_entropy, also
   for scores in the hundreds.
3. nll_of_scores(scores, targets) and nll_of_probabilities(scores, targets): what NLLLoss gives when it
   is handed, by mistake, the raw scores, or the probabilities of torch.softmax, instead of
   log-probabilities. Use your nll_loss; the checker compares with F.nll_loss on the same inputs. Print a
   few: the first can be any number, below 0 too; the second always lies between -1 and 0. Neither is
   the cross-entropy, and training on either teaches the model nothing sensible.
Scores are (batch, classes); targets hold one class index per sample. PyTorch's nll_loss and
cross_entropy (and their modules) are not allowed here; torch.log_softmax and torch.softmax are.

Check it: python exercises/check.py 06b
"""

import torch


def nll_loss(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def cross_entropy(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def nll_of_scores(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def nll_of_probabilities(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError
