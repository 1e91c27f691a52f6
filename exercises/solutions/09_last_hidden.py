"""Exercise 09: each word's last real hidden state in a padded batch.

Follows lesson 09 (lecture 13). Words of different lengths are padded into one batch. Run an RNN over the
padded batch and its output has a hidden state for every place, padding included. The one that sums up a
word is the output at its last real character, place length - 1: for a shorter word, the last column
has read padding after the word ended. Lesson 09 avoids this with pack_padded_sequence; here you pick
the right place yourself.

Write last_hidden(outputs, lengths): outputs is (batch, steps, hidden), the RNN's output on a padded
batch (batch_first=True), and lengths (batch,) holds each word's true length. Return (batch, hidden): row
i is outputs[i] at place lengths[i] - 1. The checker compares it with the last hidden state of the same
RNN run on the packed batch.

Check it: python exercises/check.py 09
"""

import torch


def last_hidden(outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    # ---- your code here ----
    rows = torch.arange(len(lengths))  # 0, 1, ..., batch - 1
    return outputs[rows, lengths - 1]  # row i at place lengths[i] - 1: one hidden state per word
