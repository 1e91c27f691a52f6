"""Exercise 04b: exercise 04's deep network on another data set, the Titanic's passengers (the slides' 7-1).

Follows lesson 04 (lecture 7). Slide 7-1 goes on: find other classification data sets and try a deep
network on them. Copy your Model from exercise 04 here as it is (or write it again): at least 11
nn.Linear layers from 8 numbers to one probability, ending with a sigmoid. The checker turns each of
the Titanic's passengers (data/titanic/, the data of exercise 05b) into 8 numbers: female or not, one
0/1 column for each of the 3 classes, the age (the training passengers' median where it is missing)
divided by 80, whether the age was missing, siblings and spouses aboard divided by 8, parents and
children aboard divided by 6. It trains your model with its own loop (BCELoss, Adam with lr 0.01, 150
full-batch steps on the 982 training passengers, up to three fresh starts as in exercise 04) and wants
at least 70% of the 327 held-out passengers right. Answering "died" for everyone scores 66.7%; a
logistic regression, one layer, scores 78.3%: on this data the deep network only has to learn as well.

Check it: python exercises/check.py 04b
"""

import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        # ---- your code here ----
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ---- your code here ----
        raise NotImplementedError
