"""Exercise 11's check: attention weights that ignore padding."""

from checks.common import Wrong, as_tensor, call, close, show

import torch

NAME = "11_attention_mask"
LESSON = "11"
LECTURE = "14"
SLIDE = ""
IDEA = "attention weights with a padding mask: -inf before the softmax, 0 on padding, summing to 1"
HINTS = [
    "The padding must get a weight of exactly 0 and the real positions must still share all of it: act"
    " on the scores before the softmax, not on the weights after it.",
    "exp(-inf) is 0: a score of float('-inf') takes no share at all. masked_fill sets the scores where a"
    " mask is True; the mask must be True on the padding.",
    "real is (batch, input steps) and the scores (batch, output steps, input steps): give the mask a"
    " dimension of size 1 for the output steps, so it broadcasts, and take the softmax over the input steps.",
]
FORBIDDEN = []


def check(module, draw):
    batch, out_steps, in_steps = draw.integer(3, 6), draw.integer(2, 4), draw.integer(5, 9)
    lengths = torch.tensor([draw.integer(1, in_steps - 1) for _ in range(batch)])
    lengths[draw.integer(0, batch - 1)] = in_steps  # one input without padding
    real = torch.arange(in_steps) < lengths.unsqueeze(1)
    scores = draw.randn(batch, out_steps, in_steps, dtype=torch.float32) * draw.uniform(1, 3)
    scores = scores + 3 * (~real).unsqueeze(1)  # padding that scores high: ignoring the mask would show
    # One padded input always keeps its small scores: there a padding score of 0 still takes a share.
    keep = draw.choice([i for i in range(batch) if lengths[i] < in_steps])
    others = [i for i in range(batch) if i != keep]
    high = draw.random.sample(others, draw.integer(1, len(others)))
    scores[high] += 1000  # large scores in some inputs only: a softmax by hand must take the largest off
    # In another padded input the padding scores far above the real characters: a softmax taken before the
    # mask gives the real ones exp(-1000) = 0, and no renormalising brings their shares back.
    spike = draw.choice([i for i in range(batch) if lengths[i] < in_steps and i != keep])
    scores[spike, :, lengths[spike] :] += 1000
    d = scores.double()
    mask = real.unsqueeze(1).expand_as(scores)
    expected = torch.softmax(d.masked_fill(~mask, float("-inf")), dim=-1)
    what = f"attention_weights() on float32 scores of shape {tuple(scores.shape)} with input lengths {lengths.tolist()}"
    got = as_tensor(
        call(module.attention_weights, scores, real, what=what),
        what,
        scores.shape,
        floating=True,
        dtype=scores.dtype,
    )
    scale = d.abs().max()
    if close(got, expected, torch.float32, scale):
        return ""
    on_padding = got[~mask].abs().max().item() if (~mask).any() else 0.0
    sums = (got.double() * mask).sum(-1)
    masked = d.masked_fill(~mask, float("-inf"))
    slips = [
        (
            torch.softmax(d, -1) * mask,
            "attention_weights() applied the mask after the softmax: the padding has 0, but the real positions'\n"
            "weights no longer add up to 1, as the padding's share was dropped instead of shared out.",
        ),
        (
            torch.softmax(d.masked_fill(~mask, 0.0), -1),
            "attention_weights() gave the padding a score of 0, and exp(0) = 1 still takes a share.",
        ),
        (
            torch.softmax(masked, dim=1),
            "attention_weights() took the softmax over dim 1, the output steps: each output step's weights must"
            " add up to 1 over the input steps, dim=-1.",
        ),
        (
            torch.softmax(d, -1),
            f"attention_weights() gave the padding weights up to {on_padding:.3f}: the mask was not applied.",
        ),
        (
            torch.softmax(d.masked_fill(mask, float("-inf")), -1),
            "attention_weights() has the mask the wrong way round: real is True on the characters to keep.",
        ),
    ]
    shares = torch.softmax(scores, -1) * mask  # in float32, as the learner's code computes it
    unguarded = scores.masked_fill(~mask, float("-inf")).exp()  # exp() with no largest score taken off
    slips += [
        (
            (shares / shares.sum(-1, keepdim=True)).double(),
            "attention_weights() took the softmax first, then masked and divided by the real positions' sum:\n"
            "where the padding scores far above the real characters, their shares are exp(-1000) = 0 in\n"
            "float32, and 0 / 0 is nan. Mask the scores with -inf before the softmax.",
        ),
        (
            (unguarded / unguarded.sum(-1, keepdim=True)).double(),
            "Some weights are nan: exp() of scores near 1000 overflows to inf in float32, and inf / inf is nan.",
        ),
    ]
    why = next(
        (
            w
            for value, w in slips
            if close(torch.nan_to_num(got.double(), 7.0), torch.nan_to_num(value, 7.0), torch.float32, scale)
        ),
        "",
    )
    if not why:
        if not torch.isfinite(got).all():
            why = "Some weights are nan or infinite, where every weight must be a number from 0 to 1."
        elif not on_padding <= 1e-9:
            why = f"attention_weights() gave the padding weights up to {on_padding:.3g}; they must be exactly 0."
        elif not close(sums, torch.ones_like(sums), torch.float32, 1.0):
            why = "attention_weights(): the real positions' weights must add up to 1, over the input steps."
    why = why or "attention_weights() differs from lesson 11's masked softmax."
    row = int(lengths.argmin())
    where = f"for input {row} (length {lengths[row]}), output step 0:"
    raise Wrong(
        f"{why}\n{what}\n{where} expected"
        f" {show(expected[row, 0], 3)}\n{' ' * len(where)} yours    {show(got[row, 0], 3)}, summing to"
        f" {got[row, 0].sum():.3f}"
    )


CORRECT = {
    "by hand, largest taken off": [
        (
            '    masked = scores.masked_fill(~real.unsqueeze(1), float("-inf"))\n'
            "    return torch.softmax(masked, dim=-1)  # over the input positions",
            '    masked = torch.where(real[:, None, :], scores, torch.tensor(float("-inf")))\n'
            "    e = torch.exp(masked - masked.max(dim=-1, keepdim=True).values)\n"
            "    return e / e.sum(dim=-1, keepdim=True)",
        )
    ],
    "a large negative number": [('float("-inf")', "-1e9")],
    "float64, log_softmax, a loop": """
import torch


def attention_weights(scores, real):
    weights = []
    for b in range(scores.shape[0]):
        s = scores[b].double().clone()
        s[:, ~real[b]] = float("-inf")
        weights.append(torch.log_softmax(s, dim=1).exp())
    return torch.stack(weights).to(scores.dtype)
""",
}

WRONG = {
    "float64 returned for float32 scores": (
        [("    return torch.softmax(masked, dim=-1)", "    return torch.softmax(masked.double(), dim=-1)")],
        "keeps the input's dtype",
    ),
    "softmax, then mask, then renormalise": (
        [
            (
                "return torch.softmax(masked, dim=-1)",
                "w = torch.softmax(scores, dim=-1) * real.unsqueeze(1)\n    return w / w.sum(-1, keepdim=True)",
            )
        ],
        "Mask the scores with -inf before the softmax",
    ),
    "mask after the softmax": (
        [
            (
                "return torch.softmax(masked, dim=-1)",
                "return torch.softmax(scores, dim=-1) * real.unsqueeze(1)",
            )
        ],
        "applied the mask after the softmax",
    ),
    "0 instead of -inf": ([('float("-inf")', "0.0")], "exp(0) = 1 still takes a share"),
    "mask inverted": ([("~real.unsqueeze(1)", "real.unsqueeze(1)")], "the wrong way round"),
    "softmax over dim 1": ([("torch.softmax(masked, dim=-1)", "torch.softmax(masked, dim=1)")], "over dim 1"),
    "no mask": (
        [("torch.softmax(masked, dim=-1)", "torch.softmax(scores, dim=-1)")],
        "the mask was not applied",
    ),
    "unguarded exp": (
        [
            (
                "    return torch.softmax(masked, dim=-1)  # over the input positions",
                "    e = masked.exp()\n    return e / e.sum(-1, keepdim=True)",
            )
        ],
        "overflows to inf",
    ),
    "masked_fill_ in place": (
        [
            (
                'masked = scores.masked_fill(~real.unsqueeze(1), float("-inf"))',
                'masked = scores.masked_fill_(~real.unsqueeze(1), float("-inf"))',
            )
        ],
        "changed its input `scores` in place",
    ),
    "mask on the wrong dimension": ([("~real.unsqueeze(1)", "~real.unsqueeze(2)")], "must match"),
}
