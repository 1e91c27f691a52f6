"""Exercise 11: attention weights that ignore padding.

Follows lesson 11 (lecture 14). With attention, the decoder scores every input position for each output
step and turns the scores into weights with a softmax over the input positions; its next character then
draws on the inputs in proportion to those weights. In a padded batch some input positions are padding:
they must get a weight of exactly 0, and the weights of the real positions must still add up to 1.

Write attention_weights(scores, real): scores is (batch, output steps, input steps); real is
(batch, input steps), True on real characters and False on padding. Return weights of the scores' shape.
The checker compares them with lesson 11's masked softmax on scores and padding it draws.

Check it: python exercises/check.py 11
"""

import torch


def attention_weights(scores: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    raise NotImplementedError
