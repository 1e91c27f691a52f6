"""Exercise 08's check: one step of an RNN cell, by hand, equal to nn.RNN."""

from checks.common import Wrong, as_tensor, call, close, show

import torch
from torch import nn

NAME = "08_rnn_step"
LESSON = "08"
LECTURE = "12"
SLIDE = ""
IDEA = "one step of an RNN cell by hand: tanh(W_ih x + b_ih + W_hh h + b_hh), equal to nn.RNN"
HINTS = [
    "Work out the shapes first: x is (batch, input_size) and W_ih is (hidden_size, input_size). Which way"
    " round must W_ih be for a matrix product with x to give (batch, hidden_size)?",
    "The hidden state h is multiplied by W_hh the same way. The biases are (hidden_size,): they broadcast"
    " over the batch when added.",
    "Both products and both biases go inside one tanh.",
]
FORBIDDEN = ["torch.nn.RNN", "torch.nn.RNNCell", "torch.rnn_tanh_cell"]


def check(module, draw):
    input_size = draw.integer(2, 5)
    hidden_size = input_size + draw.integer(1, 4)  # never square: a missing transpose of W_ih shows
    batch, steps = draw.integer(2, 5), draw.integer(3, 5)
    rnn = nn.RNN(input_size, hidden_size, batch_first=True)  # float32, as in lesson 08
    with torch.no_grad():
        for parameter in rnn.parameters():  # larger than the default start, so that every term shows
            parameter.copy_(draw.randn(*parameter.shape, dtype=torch.float32) * 0.5)
        xs = draw.randn(batch, steps, input_size, dtype=torch.float32)
        h0 = draw.randn(1, batch, hidden_size, dtype=torch.float32)
        expected = rnn.double()(xs.double(), h0.double())[0]
    rnn.float()
    W_ih, W_hh, b_ih, b_hh = (
        p.detach().clone() for p in (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    )
    h = h0[0]
    for t in range(steps):
        x = xs[:, t].contiguous()
        what = f"rnn_step() with x of shape {tuple(x.shape)} and h of shape {tuple(h.shape)}"
        got = as_tensor(
            call(module.rnn_step, x, h, W_ih, W_hh, b_ih, b_hh, what=what),
            what,
            (batch, hidden_size),
            floating=True,
            dtype=x.dtype,
        )
        # The rounding of float32 sums of products: the size of the terms summed sets it.
        scale = (x.abs() @ W_ih.abs().T + h.abs() @ W_hh.abs().T + b_ih.abs() + b_hh.abs()).max()
        if not close(got, expected[:, t], torch.float32, scale):
            d = [v.double() for v in (x, h, W_ih, W_hh, b_ih, b_hh)]
            x64, h64, wi, wh, bi, bh = d
            slips = [
                (torch.tanh(x64 @ wi.T + h64 @ wh.T), "You left out the biases b_ih and b_hh."),
                (torch.tanh(x64 @ wi.T + bi + h64 @ wh.T), "You left out the bias b_hh."),
                (torch.tanh(x64 @ wi.T + h64 @ wh.T + bh), "You left out the bias b_ih."),
                (x64 @ wi.T + bi + h64 @ wh.T + bh, "You left out the tanh."),
                (
                    torch.sigmoid(x64 @ wi.T + bi + h64 @ wh.T + bh),
                    "That is a sigmoid: nn.RNN's cell uses tanh.",
                ),
                (
                    torch.relu(x64 @ wi.T + bi + h64 @ wh.T + bh),
                    "That is a ReLU: nn.RNN's cell uses tanh by default.",
                ),
                (torch.tanh(x64 @ wi.T + bi + bh), "You left out the hidden state's part, h with W_hh."),
                (
                    torch.tanh(x64 @ wi.T + bi + h64 @ wh + bh),
                    "nn.RNN multiplies h by W_hh transposed, as it does x by W_ih.",
                ),
            ]
            why = next((words for value, words in slips if close(got, value, torch.float32, scale)), "")
            raise Wrong(
                f"rnn_step() at step {t + 1} of a sequence: nn.RNN gives {show(expected[0, t])} for the first"
                f" sample, yours is {show(got[0])}\n(float32, input_size {input_size}, hidden_size {hidden_size}). {why}".rstrip()
            )
        h = got.to(torch.float32)
    return ""


CORRECT = {
    "F.linear": [
        (
            "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
            "    return torch.tanh(F.linear(x, W_ih, b_ih) + F.linear(h, W_hh, b_hh))",
        ),
        ("import torch\n", "import torch\nimport torch.nn.functional as F\n"),
    ],
    "float64 intermediates, matmul": [
        (
            "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
            "    a = torch.matmul(x.double(), W_ih.double().t()) + b_ih.double()\n"
            "    b = torch.matmul(h.double(), W_hh.double().t()) + b_hh.double()\n"
            "    return torch.tanh(a + b).to(x.dtype)",
        )
    ],
    "one row at a time": [
        (
            "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
            "    rows = []\n    for i in range(x.shape[0]):\n"
            "        rows.append(torch.tanh(W_ih @ x[i] + b_ih + W_hh @ h[i] + b_hh))\n    return torch.stack(rows)",
        )
    ],
    "weights side by side": [
        (
            "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
            "    both = torch.cat([x, h], dim=1) @ torch.cat([W_ih, W_hh], dim=1).T\n    return (both + b_ih + b_hh).tanh()",
        )
    ],
}

WRONG = {
    "float64 returned for float32 input": (
        [
            (
                "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
                "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh).double()",
            )
        ],
        "keeps the input's dtype",
    ),
    "no biases": (
        [("x @ W_ih.T + b_ih + h @ W_hh.T + b_hh", "x @ W_ih.T + h @ W_hh.T")],
        "left out the biases b_ih and b_hh",
    ),
    "W_hh not transposed": ([("h @ W_hh.T + b_hh", "h @ W_hh + b_hh")], "W_hh transposed"),
    "no tanh": (
        [("torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)", "x @ W_ih.T + b_ih + h @ W_hh.T + b_hh")],
        "left out the tanh",
    ),
    "one bias": ([("+ b_ih + h @ W_hh.T + b_hh", "+ b_ih + h @ W_hh.T")], "left out the bias b_hh"),
    "sigmoid": ([("torch.tanh(x @ W_ih.T", "torch.sigmoid(x @ W_ih.T")], "nn.RNN's cell uses tanh"),
    "h left out": ([("+ b_ih + h @ W_hh.T + b_hh", "+ b_ih + b_hh")], "hidden state's part"),
    "W_ih not transposed": (
        [("x @ W_ih.T + b_ih", "x @ W_ih + b_ih")],
        "mat1 and mat2 shapes cannot be multiplied",
    ),
    "h updated in place": (
        [
            (
                "    return torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh)",
                "    h.copy_(torch.tanh(x @ W_ih.T + b_ih + h @ W_hh.T + b_hh))\n    return h",
            )
        ],
        "changed its input `h` in place",
    ),
}
