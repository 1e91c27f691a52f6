"""Exercise 08: one step of an RNN cell, by hand.

Follows lesson 08 (lecture 12). At every step an RNN cell mixes the new input x with its hidden state h,
what it has read so far, into the next hidden state:
    h_new = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)
W_ih, W_hh, b_ih and b_hh are nn.RNN's weight_ih_l0, weight_hh_l0, bias_ih_l0 and bias_hh_l0.

Write rnn_step(): x is (batch, input_size), h is (batch, hidden_size), W_ih is (hidden_size, input_size),
W_hh is (hidden_size, hidden_size); return h_new, (batch, hidden_size). The checker runs your step along
a sequence it draws, feeding each new h back in as lesson 08 does one character at a time, and compares
every step with nn.RNN holding the same weights.

Check it: python exercises/check.py 08
"""

import torch


def rnn_step(
    x: torch.Tensor,
    h: torch.Tensor,
    W_ih: torch.Tensor,
    W_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    # ---- your code here ----
    # x @ W_ih.T: each row of W_ih makes one hidden unit out of the inputs; likewise for h and W_hh.
    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
