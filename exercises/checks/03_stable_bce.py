"""Exercise 03's check: the sigmoid and binary cross-entropy by hand, safe for any score."""

import math

from checks.common import Wrong, as_number, as_tensor, call, close_number

import torch
import torch.nn.functional as F

NAME = "03_stable_bce"
LESSON = "03"
LECTURE = "6"
SLIDE = ""
IDEA = "sigmoid and binary cross-entropy from raw scores, finite for scores like ±1000"
HINTS = [
    "In floating point exp(1000) is inf, and inf / inf is nan, but 1 / inf is 0: of the two ways to write the"
    " sigmoid, one only ever divides 1 by something large.",
    "For the loss, write -log(p) and -log(1 - p) with p = sigmoid(s) in terms of s itself: both become"
    " log(1 + exp(something)), so no log is ever taken of a probability that rounded to 0.",
    "Where exp(-s) would overflow, the identity s + log(1 + exp(-s)) = max(s, 0) + log(1 + exp(-|s|)) keeps"
    " exp's argument at or below 0 (torch.clamp and torch.log1p help).",
]
FORBIDDEN = [
    "torch.sigmoid",
    "torch.Tensor.sigmoid",
    "torch.special.expit",
    "torch.nn.functional.sigmoid",
    "torch.nn.Sigmoid",
    "torch.nn.functional.logsigmoid",
    "torch.nn.functional.binary_cross_entropy_with_logits",
    "torch.nn.functional.binary_cross_entropy",
    "torch.nn.BCELoss",
    "torch.nn.BCEWithLogitsLoss",
]
EXTREMES = [(1000, 0), (-1000, 1), (1000, 1), (-1000, 0), (100, 0), (-100, 1), (40, 0), (-40, 1)]


def _check_sigmoid(module, draw):
    n = draw.integer(15, 30)
    z = torch.cat(
        [
            draw.randn(n) * 10 ** draw.uniform(0, 1),
            torch.tensor([0.0, 1000.0, -1000.0, 100.0, -100.0, 40.0, -40.0]),
        ]
    )
    z = z[torch.randperm(len(z), generator=draw.generator)].float()  # float32, as lesson 03's model gives
    got = as_tensor(
        call(module.sigmoid, z, what="sigmoid(z)"), "sigmoid(z)", z.shape, floating=True, dtype=z.dtype
    )
    expected = torch.sigmoid(z.double())
    # The sigmoid is computed from exp of one number: relative rounding of a few float32 steps, and an
    # absolute one near 0 and 1 (1 - sigmoid(40) rounds to 0 whatever the formula).
    for value, g, e in zip(z.tolist(), got.double().tolist(), expected.tolist()):
        if not close_number(g, e, torch.float32):
            why = ""
            if math.isnan(g) and abs(value) > 88:
                why = f"\nexp({abs(value):g}) is inf in float32, and inf / inf is nan."
            raise Wrong(
                f"sigmoid({value:g}) is {g:.6g}, expected {e:.6g} (float32 input of shape {tuple(z.shape)}).{why}"
            )


def check(module, draw):
    _check_sigmoid(module, draw)
    what = "bce_with_logits(scores, targets)"
    n = draw.integer(20, 40)
    scores = (draw.randn(n, 1) * draw.uniform(1, 4)).float()
    targets = (draw.rand(n, 1) < 0.5).float()
    got = call(module.bce_with_logits, scores, targets, what=what)
    if isinstance(got, torch.Tensor):
        as_tensor(got, what, floating=True, dtype=scores.dtype)  # as F.binary_cross_entropy_with_logits does
    got = as_number(got, what, tensor=True)
    d, t = scores.double(), targets.double()
    expected = F.binary_cross_entropy_with_logits(d, t).item()
    scale = d.abs().max()
    if not close_number(got, expected, torch.float32, scale):
        slips = [
            (expected * n, f"It is {n} times too big: take the mean over the samples, not the sum."),
            (
                F.binary_cross_entropy_with_logits(d, 1 - t).item(),
                "It is the loss with 0 and 1 swapped: y * log(p) + (1 - y) * log(1 - p), p the probability of 1.",
            ),
            (-expected, "It has the wrong sign: the loss is minus the mean of the log-likelihoods."),
        ]
        why = next((w for value, w in slips if close_number(got, value, torch.float32, scale)), "")
        raise Wrong(
            f"bce_with_logits() gave {got:.6g}, F.binary_cross_entropy_with_logits gives {expected:.6g},\n"
            f"on {n} float32 scores between {scores.min():.3g} and {scores.max():.3g}, targets 0 and 1. {why}".rstrip()
        )

    for score, target in EXTREMES:
        s, y = torch.tensor([[float(score)]]), torch.tensor([[float(target)]])
        got = as_number(call(module.bce_with_logits, s, y, what=what), what, tensor=True)
        expected = F.binary_cross_entropy_with_logits(s.double(), y.double()).item()
        if not close_number(got, expected, torch.float32, abs(score)):
            why = ""
            if not math.isfinite(got) and torch.sigmoid(s).item() in (0.0, 1.0):
                why = (
                    f"\nsigmoid({score}) is exactly {torch.sigmoid(s).item():g} in float32, and the log of 0 is"
                    " -inf: a loss taken as log(sigmoid) cannot be finite here."
                )
            raise Wrong(
                f"bce_with_logits() for a score of {score} and target {target} gave {got:.6g},"
                f" F.binary_cross_entropy_with_logits gives {expected:.6g}.{why}"
            )
    return ""


CORRECT = {
    "torch.where, logaddexp": [
        (
            "    return 1 / (1 + torch.exp(-z))",
            "    return torch.where(z >= 0, 1 / (1 + torch.exp(-z)), torch.exp(z) / (1 + torch.exp(z)))",
        ),
        (
            "    losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))",
            "    losses = torch.logaddexp(torch.zeros_like(scores), scores) - targets * scores",
        ),
    ],
    "tanh, softplus": [
        ("    return 1 / (1 + torch.exp(-z))", "    return 0.5 * (1 + torch.tanh(z / 2))"),
        (
            "    losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))",
            "    losses = targets * F.softplus(-scores) + (1 - targets) * F.softplus(scores)",
        ),
        ("import torch\n", "import torch\nimport torch.nn.functional as F\n"),
    ],
    "float64 intermediates, max by hand": """
import torch


def sigmoid(z):
    d = z.double()
    return (1 / (1 + torch.exp(-d))).to(z.dtype)


def bce_with_logits(scores, targets):
    s, y = scores.double(), targets.double()
    top = torch.maximum(s, torch.zeros_like(s))
    losses = top - y * s + torch.log(torch.exp(-top) + torch.exp(s - top))
    return losses.mean().to(scores.dtype)
""",
}

WRONG = {
    "float64 inside, never converted back": (
        [("    return losses.mean()", "    return losses.double().mean()")],
        "keeps the input's dtype",
    ),
    "exp(z) / (1 + exp(z))": (
        [("return 1 / (1 + torch.exp(-z))", "return torch.exp(z) / (1 + torch.exp(z))")],
        "inf / inf is nan",
    ),
    "torch.sigmoid": ([("return 1 / (1 + torch.exp(-z))", "return torch.sigmoid(z)")], "uses torch.sigmoid"),
    "from torch import sigmoid": (
        [
            ("import torch\n", "import torch\nfrom torch import sigmoid as torch_sigmoid\n"),
            ("return 1 / (1 + torch.exp(-z))", "return torch_sigmoid(z)"),
        ],
        "uses torch.sigmoid",
    ),
    "log of the sigmoid": (
        [
            (
                "losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))",
                "p = sigmoid(scores)\n    losses = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))",
            )
        ],
        "the log of 0 is -inf",
    ),
    "clamped probabilities": (
        [
            (
                "losses = scores.clamp(min=0) - targets * scores + torch.log1p(torch.exp(-scores.abs()))",
                "p = sigmoid(scores).clamp(1e-7, 1 - 1e-7)\n"
                "    losses = -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p))",
            )
        ],
        "for a score of",
    ),
    "sum, not mean": ([("return losses.mean()", "return losses.sum()")], "times too big"),
    "targets swapped": ([("- targets * scores", "- (1 - targets) * scores")], "0 and 1 swapped"),
    "clamp_ in place": (
        [("    return 1 / (1 + torch.exp(-z))", "    z.clamp_(-80, 80)\n    return 1 / (1 + torch.exp(-z))")],
        "changed its input `z` in place",
    ),
    ".item()": ([("return losses.mean()", "return losses.mean().item()")], "no .item()"),
}
