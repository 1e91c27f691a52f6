"""Exercise 06's check: softmax and cross-entropy from raw scores, safe for large scores."""

from checks.common import Wrong, as_number, as_tensor, call, close, close_number, show

import torch
import torch.nn.functional as F

NAME = "06_softmax_cross_entropy"
LESSON = "06"
LECTURE = "9"
SLIDE = ""
IDEA = "softmax and cross-entropy from raw scores, equal to torch.softmax and F.cross_entropy, safe at 1000"
HINTS = [
    "Each row of scores is one sample. Every max and sum in this exercise runs over the classes of one row:"
    " dim=1, with keepdim=True so that a (batch, 1) result lines up with the (batch, classes) scores.",
    "softmax(s) = softmax(s - c) for any c, so subtract each row's own largest score before exp: exp then"
    " never sees more than 0.",
    "For the cross-entropy, stay in logs instead of taking log(softmax): log softmax = s - max - log(sum of"
    " exp(s - max)). Then pick row i's entry at column targets[i] (two index tensors, or gather) and take"
    " minus the mean.",
]
FORBIDDEN = [
    "torch.softmax",
    "torch.Tensor.softmax",
    "torch.nn.functional.softmax",
    "torch.log_softmax",
    "torch.Tensor.log_softmax",
    "torch.nn.functional.log_softmax",
    "torch.special.softmax",
    "torch.special.log_softmax",
    "torch.nn.functional.cross_entropy",
    "torch.nn.functional.nll_loss",
    "torch.nn.CrossEntropyLoss",
    "torch.nn.NLLLoss",
    "torch.nn.Softmax",
    "torch.nn.LogSoftmax",
]


def _scores(draw, batch, classes):
    """float32 scores, as lesson 06's model gives them, each row on its own scale (0.1 to 20 apart)."""
    scales = torch.tensor([10 ** draw.uniform(-1, 1.3) for _ in range(batch)], dtype=torch.float64)
    return (draw.randn(batch, classes) * scales.unsqueeze(1)).float()


def _softmax_slip(got, s):
    """The usual slip that explains a wrong softmax of s, verified by computing it; '' if none does."""
    d = s.double()
    slips = [
        (
            torch.softmax(d, dim=0),
            "Your columns each sum to 1, not your rows: the softmax ran over dim 0, down the batch.\n"
            "It belongs over dim 1, the classes of one sample.",
        ),
        (
            d.exp() / d.exp().sum(),
            "Your whole batch sums to 1: each row needs its own sum, over dim=1 with keepdim=True.",
        ),
        (
            (d - d.amax(1, keepdim=True)).exp() / (d - d.amax(1, keepdim=True)).exp().sum(),
            "Your whole batch sums to 1: each row needs its own sum, over dim=1 with keepdim=True.",
        ),
    ]
    for value, words in slips:
        if torch.isfinite(value).all() and close(got, value, torch.float32, d.abs().max()):
            return words
    if not torch.isfinite(got).all():
        broken = (~torch.isfinite(got)).any(1)
        bad = int(broken.nonzero()[0, 0])
        whole = (s - s.max()).exp()  # one largest score for the whole batch
        global_max = torch.equal(broken, (~torch.isfinite(whole / whole.sum(1, keepdim=True))).any(1))
        raw = s.exp()  # no shift at all
        no_shift = torch.equal(broken, (~torch.isfinite(raw / raw.sum(1, keepdim=True))).any(1))
        where = f"Row {bad}'s scores run from {s[bad].min():.7g} to {s[bad].max():.7g}"
        if global_max and not no_shift:
            return (
                f"{where}, and it is nan: one largest score was subtracted for the whole batch, so a row whose"
                " scores are far\nbelow it gets exp() = 0 everywhere, and 0 / 0 is nan. Subtract each row's own"
                " largest score: max over dim=1, keepdim=True."
            )
        if no_shift:
            return (
                f"{where}: their exp() {'overflows to inf' if s[bad].max() > 0 else 'underflows to 0'} in float32,"
                " and the division then gives nan.\nSubtract each row's own largest score first:"
                " softmax(s) = softmax(s - max(s)), max over dim=1."
            )
    return ""


def _check_softmax(module, s, words):
    got = as_tensor(
        call(module.softmax, s, what="softmax(scores)"),
        "softmax(scores)",
        s.shape,
        floating=True,
        dtype=s.dtype,
    )
    expected = torch.softmax(s.double(), dim=1)
    if close(got, expected, torch.float32, s.abs().max()):
        return
    row = int(((got.double() - expected).abs().nan_to_num(1.0).amax(1)).argmax())
    raise Wrong(
        f"softmax(scores) differs from torch.softmax(scores, dim=1), on float32 {words} of shape"
        f" {tuple(s.shape)}.\nRow {row} of the scores: {show(s[row])}\nexpected: {show(expected[row])}\n"
        f"yours:    {show(got[row])}\n{_softmax_slip(got, s)}".rstrip()
    )


def _check_cross_entropy(module, s, targets, words):
    what = "cross_entropy(scores, targets)"
    got = as_number(call(module.cross_entropy, s, targets, what=what), what, tensor=True)
    d = s.double()
    expected = F.cross_entropy(d, targets).item()
    scale = d.abs().max()
    if close_number(got, expected, torch.float32, scale):
        return
    batch = len(targets)
    log_p = torch.log_softmax(d, 1)
    slips = [
        (expected * batch, f"It is {batch} times too big: take the mean over the batch, not the sum."),
        (-expected, "It has the wrong sign: the loss is minus the mean of the log-probabilities."),
        (
            -log_p.mean().item(),
            "It is the mean over every class of every sample: pick only the true class's log-probability,"
            " row i at column targets[i].",
        ),
        (
            -log_p[:, targets].mean().item(),
            "log_probabilities[:, targets] takes every target for every row: index the rows too,"
            " log_probabilities[torch.arange(batch), targets].",
        ),
        (
            -torch.softmax(d, 1)[torch.arange(batch), targets].mean().item(),
            "It is minus the mean probability: take the log of the true class's probability.",
        ),
    ]
    why = next((w for value, w in slips if close_number(got, value, torch.float32, scale)), "")
    if not why and not torch.isfinite(torch.tensor(got)):
        if torch.softmax(s, 1)[torch.arange(batch), targets].eq(0).any():
            why = (
                "A true class 1000 below the others has a probability of exactly 0 in float32, and -log(0) is"
                " inf.\nCompute log(softmax) directly, in logs: s - max - log(sum(exp(s - max)))."
            )
        elif not torch.isfinite(s.exp()).all() or s.exp().sum(1).eq(0).any():
            why = "exp() of these scores overflows or underflows in float32: subtract each row's largest score first."
    raise Wrong(
        f"cross_entropy() gave {got:.6g}, F.cross_entropy gives {expected:.6g},\n"
        f"on float32 {words} (shape {tuple(s.shape)}), targets {targets.tolist()}.\n{why}".rstrip()
    )


def check(module, draw):
    batch, classes = draw.integer(4, 9), draw.integer(5, 12)
    if batch == classes:
        classes += 1  # never square: a softmax over the wrong dim then has the wrong shape or sums
    scores = _scores(draw, batch, classes)
    _check_softmax(module, scores, "scores, each row on its own scale,")

    # Some rows only far up or far down: one largest score for the whole batch then leaves other rows
    # with nothing but exp() = 0 (or inf), and a shift that is right for one row is wrong for another.
    large = scores.clone()
    rows = draw.random.sample(range(batch), draw.integer(1, batch - 1))
    for i, row in enumerate(rows):  # the first up, so that the largest score is in a shifted row
        large[row] += (1.0 if i == 0 else draw.sign()) * draw.uniform(500, 3000)
    _check_softmax(module, large, f"scores where rows {sorted(rows)} are shifted by hundreds or thousands")

    targets = draw.randint(classes, (batch,))
    far = scores.clone()
    row = draw.integer(0, batch - 1)
    far[row, targets[row]] -= 1000  # its probability is 0 in floats, and log(0) is -inf
    for s, words in [
        (scores, "scores"),
        (large, f"scores where rows {sorted(rows)} are shifted by hundreds or thousands"),
        (far, f"scores where row {row}'s true class is 1000 below the others"),
    ]:
        _check_cross_entropy(module, s, targets, words)
    return ""


# --------------------------------------------------------------------------- answers for the tests

CORRECT = {
    "logsumexp": [
        (
            "    shifted = scores - scores.max(dim=1, keepdim=True).values\n    exps = torch.exp(shifted)\n"
            "    return exps / exps.sum(dim=1, keepdim=True)",
            "    return torch.exp(scores - torch.logsumexp(scores, 1, keepdim=True))",
        ),
        (
            "    shifted = scores - scores.max(dim=1, keepdim=True).values\n    log_probabilities = shifted - "
            "torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))",
            "    log_probabilities = scores - torch.logsumexp(scores, dim=1, keepdim=True)",
        ),
    ],
    "float64 intermediates, gather": """
import torch


def softmax(scores):
    s = scores.double()
    e = (s - s.amax(1, keepdim=True)).exp()
    return (e / e.sum(1, keepdim=True)).to(scores.dtype)


def cross_entropy(scores, targets):
    s = scores.double()
    m = s.amax(1, keepdim=True)
    log_p = s - m - (s - m).exp().sum(1, keepdim=True).log()
    return -log_p.gather(1, targets.unsqueeze(1)).mean().to(scores.dtype)
""",
    "explicit loops": """
import math

import torch


def softmax(scores):
    rows = []
    for row in scores:
        e = torch.exp(row - row.max())
        rows.append(e / e.sum())
    return torch.stack(rows)


def cross_entropy(scores, targets):
    total = 0
    for row, target in zip(scores, targets):
        top = row.max()
        total = total + top + torch.log(torch.exp(row - top).sum()) - row[target]
    return total / len(targets)
""",
    "one-hot targets": """
import torch


def softmax(scores):
    shifted = scores - scores.max(dim=-1, keepdim=True)[0]
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


def cross_entropy(scores, targets):
    shifted = scores - scores.max(dim=-1, keepdim=True)[0]
    log_p = shifted - shifted.exp().sum(-1, keepdim=True).log()
    one_hot = torch.zeros_like(scores)
    one_hot[torch.arange(len(targets)), targets] = 1
    return -(one_hot * log_p).sum(-1).mean()
""",
}

WRONG = {
    "float64 returned for float32 scores": (
        [
            (
                "    return exps / exps.sum(dim=1, keepdim=True)",
                "    return (exps / exps.sum(dim=1, keepdim=True)).double()",
            )
        ],
        "keeps the input's dtype",
    ),
    "softmax over dim 0": (
        [
            (
                "scores.max(dim=1, keepdim=True).values\n    exps",
                "scores.max(dim=0, keepdim=True).values\n    exps",
            ),
            ("exps / exps.sum(dim=1, keepdim=True)", "exps / exps.sum(dim=0, keepdim=True)"),
        ],
        "the softmax ran over dim 0",
    ),
    "no shift": (
        [("exps = torch.exp(shifted)", "exps = torch.exp(scores)")],
        "softmax(s) = softmax(s - max(s))",
    ),
    "one max for the whole batch": (
        [("scores - scores.max(dim=1, keepdim=True).values\n    exps", "scores - scores.max()\n    exps")],
        "one largest score was subtracted for the whole batch",
    ),
    "one sum for the whole batch": (
        [("exps / exps.sum(dim=1, keepdim=True)", "exps / exps.sum()")],
        "Your whole batch sums to 1",
    ),
    "log of the softmax": (
        [
            (
                "log_probabilities = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))",
                "log_probabilities = torch.log(softmax(scores))",
            )
        ],
        "-log(0) is inf",
    ),
    "sum, not mean": ([("return -true_class.mean()", "return -true_class.sum()")], "times too big"),
    "every target for every row": (
        [("log_probabilities[torch.arange(len(targets)), targets]", "log_probabilities[:, targets]")],
        "index the rows too",
    ),
    ".item()": ([("return -true_class.mean()", "return -true_class.mean().item()")], "no .item()"),
    "torch.softmax": (
        [("exps = torch.exp(shifted)\n    return", "return torch.softmax(scores, dim=1)\n    return")],
        "uses torch.softmax",
    ),
    "imported cross_entropy": (
        [
            ("import torch\n", "import torch\nfrom torch.nn.functional import cross_entropy as ce\n"),
            ("    true_class = log", "    return ce(scores, targets)\n    true_class = log"),
        ],
        "uses torch.nn.functional.cross_entropy",
    ),
    "shift in place": (
        [
            (
                "    shifted = scores - scores.max(dim=1, keepdim=True).values\n    exps",
                "    scores -= scores.max(dim=1, keepdim=True).values\n    shifted = scores\n    exps",
            )
        ],
        "changed its input `scores` in place",
    ),
}
