"""Exercise 07b: a residual block, a convolution block with a skip connection.

Follows lesson 07 (lectures 10-11). Lecture 11 shows that stacking ever more convolutions stops helping,
and ResNet's answer: a block that adds its input back to what its convolutions computed,
out = ReLU(x + conv2(ReLU(conv1(x)))). The gradient then also flows straight through the addition, and a
block whose convolutions have learned nothing yet passes its input on instead of blurring it away.

Write ResidualBlock(channels): two 3x3 convolutions from `channels` to `channels`, padded so that the
height and width stay the same (the addition needs x and the convolutions' output to have one shape).
The checker feeds it inputs of sizes it draws, checks that a block with all its weights at zero passes x
through, and trains it.

Check it: python exercises/check.py 07b
"""

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        # ---- your code here ----
        # padding=1 puts a ring of zeros around the input, so a 3x3 filter keeps the height and width
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ---- your code here ----
        out = self.conv2(torch.relu(self.conv1(x)))
        return torch.relu(x + out)  # the skip connection: the input, plus what the convolutions add
