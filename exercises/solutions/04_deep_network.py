"""Exercise 04: a network deeper than 10 layers that still learns.

Follows lesson 04 (lecture 7). The lecture stacks Linear layers with a sigmoid after each one. Stack 11
that way and the network stops learning: backpropagation multiplies the gradient by the sigmoid's slope,
at most 0.25, at every layer on its way back, so the first layers get almost nothing (the gradient
vanishes).

Write Model: at least 11 nn.Linear layers from the 8 diabetes measurements to one output, the probability
of diabetes (end with a sigmoid, as lesson 04 does). Choose the activation that goes between the layers
so that it learns (with none, the layers add up to one linear map, and depth buys nothing). The checker trains your model with its own loop (most of lesson 04's training rows, BCELoss, Adam
with lr 0.01, 100 full-batch steps) and wants its training loss to get well below that of a model that
learned nothing. A deep ReLU stack can now and then start with a dead layer, so it gets up to three
fresh starts.

Check it: python exercises/check.py 04
"""

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        # ---- your code here ----
        sizes = [8] + [16] * 10  # 8 inputs, then 10 hidden layers of 16
        self.hidden = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
        self.out = nn.Linear(16, 1)  # the 11th layer
        # ReLU's slope is 1 wherever it is active, so the gradient passes back through it unshrunk.
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ---- your code here ----
        for layer in self.hidden:
            x = self.activation(layer(x))
        return torch.sigmoid(self.out(x))  # only the output is squashed into a probability
