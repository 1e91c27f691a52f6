"""Exercise 03b: other activation functions by hand, then logistic regression with one (the slides' 6-1).

Follows lesson 03 (lecture 6). Lecture 6 squashes the linear score with a sigmoid, and its slide 6-1
says: try other activation functions. Write five of them with tensor arithmetic (torch.exp, torch.log,
torch.log1p, torch.where, torch.clamp, comparisons...), each equal to PyTorch's own on every float32
input, from -1000 to 1000: same shape, same dtype, no nan, no inf, and the input left unchanged.

1. relu(x): x where x > 0, else 0 (F.relu).
2. leaky_relu(x, negative_slope): x where x > 0, else negative_slope * x (F.leaky_relu).
3. elu(x, alpha): x where x > 0, else alpha * (exp(x) - 1) (F.elu).
4. tanh(x): (exp(x) - exp(-x)) / (exp(x) + exp(-x)) (torch.tanh). As written it overflows: exp(1000) is
   inf, and inf / inf is nan. Rewrite it so that no exp ever sees a large positive number.
5. softplus(x): log(1 + exp(x)) (F.softplus), a smooth relu. The same overflow waits at x = 100.
6. Model: logistic regression on lesson 03's diabetes data (8 measurements in, 1 out), one nn.Linear
   layer, whose score becomes a probability through one of YOUR activations instead of the sigmoid. The
   output must lie between 0 and 1 for any input: relu, elu and softplus have no top, but tanh runs from
   -1 to 1 and can be moved. The checker trains it (BCELoss, Adam) and tests it on the held-out rows.
PyTorch's own activation functions and modules (sigmoid included) are not allowed here.

Check it: python exercises/check.py 03b
"""

import torch
from torch import nn


def relu(x: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def tanh(x: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


def softplus(x: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        # ---- your code here ----
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ---- your code here ----
        raise NotImplementedError
