"""Exercise 06b's check: NLLLoss by hand, CrossEntropyLoss as NLLLoss after log_softmax, and what
NLLLoss gives when handed raw scores or probabilities."""

from checks.common import Wrong, as_number, call, close_number, show

import torch
import torch.nn.functional as F

NAME = "06b_nll_loss"
LESSON = "06"
LECTURE = "9"
SLIDE = "9-1"
IDEA = (
    "nll_loss by hand; CrossEntropyLoss is NLLLoss after log_softmax; NLLLoss on raw scores or probabilities"
)
HINTS = [
    "NLLLoss only picks and averages: for sample i it takes the entry in column targets[i] of row i, and the"
    " loss is minus the mean of those picked entries.",
    "Two index tensors pick one entry per row: the row numbers (torch.arange of the batch size) and the"
    " targets. log_probs[:, targets] would take every target's column for every row.",
    "cross_entropy needs no new arithmetic: hand nll_loss the output of torch.log_softmax over the classes"
    " (dim=1). The last two functions are nll_loss too, on other inputs.",
]
FORBIDDEN = [
    "torch.nn.functional.nll_loss",
    "torch.nn.functional.cross_entropy",
    "torch.nn.NLLLoss",
    "torch.nn.CrossEntropyLoss",
]


def _inputs(draw):
    """float32 scores, each row on its own scale, and targets; batch and classes change with the seed."""
    batch, classes = draw.integer(3, 12), draw.integer(2, 10)
    if batch == classes:
        batch += 1  # never square, so that a slip over the wrong dimension shows
    scales = torch.tensor([10 ** draw.uniform(-1, 1.3) for _ in range(batch)], dtype=torch.float64)
    scores = (draw.randn(batch, classes) * scales.unsqueeze(1)).float()
    targets = draw.randint(classes, (batch,))
    if len(set(targets.tolist())) == 1 and classes > 1:
        targets[0] = (targets[0] + 1) % classes  # a mix of targets: picking one column for all shows
    return scores, targets


def _nll_slip(got, values, targets):
    """The usual slip behind a wrong nll_loss of `values` (float64), verified by computing it."""
    n = len(targets)
    picked = values[torch.arange(n), targets]
    slips = [
        (-picked.sum(), f"It is {n} times too big: take the mean over the batch, not the sum."),
        (picked.mean(), "It has the wrong sign: the loss is MINUS the mean of the picked entries."),
        (
            -values[:, targets].mean(),
            "log_probs[:, targets] takes every target's column for every row: pair each row with its own"
            " target, log_probs[torch.arange(batch), targets].",
        ),
        (-values.mean(), "It is minus the mean of every entry: pick only the true class's, one per row."),
        (
            -values.amax(1).mean(),
            "It picks each row's largest entry: pick the true class's, column targets[i].",
        ),
        (-picked.exp().mean(), "It took exp() of the entries: NLLLoss uses the entries as they are."),
    ]
    scale = values.abs().max().item()
    return next((w for v, w in slips if close_number(got, v.item(), torch.float32, scale)), "")


def _check_nll(module, draw):
    scores, targets = _inputs(draw)
    log_probs = torch.log_softmax(scores.double(), 1).float().requires_grad_()
    what = "nll_loss(log_probs, targets)"
    result = call(module.nll_loss, log_probs, targets, what=what)
    got = as_number(result, what, tensor=True)
    if result.dtype != log_probs.dtype:
        raise Wrong(
            f"{what} returned {result.dtype} for {log_probs.dtype} input: F.nll_loss keeps the input's dtype."
            " If you computed in another, convert back with .to(log_probs.dtype)."
        )
    expected = F.nll_loss(log_probs.detach().double(), targets).item()
    scale = log_probs.detach().abs().max().item()
    if not close_number(got, expected, torch.float32, scale):
        why = _nll_slip(got, log_probs.detach().double(), targets)
        raise Wrong(
            f"{what} gave {got:.6g}, F.nll_loss gives {expected:.6g},\non log-probabilities of shape"
            f" {tuple(log_probs.shape)}, targets {targets.tolist()}.\n{why}".rstrip()
        )
    # The loss must stay in the graph: its gradient is -1/batch at each true class and 0 elsewhere.
    if not result.requires_grad:
        raise Wrong(
            f"{what} returned a tensor that backward() cannot go through (requires_grad is False): was it"
            " rebuilt with torch.tensor(...) or .detach()? Compute it from log_probs with tensor operations."
        )
    result.backward()
    expected_grad = torch.zeros_like(log_probs)
    expected_grad[torch.arange(len(targets)), targets] = -1.0 / len(targets)
    if log_probs.grad is None or not torch.allclose(log_probs.grad, expected_grad, atol=1e-6):
        raise Wrong(
            f"the gradient of {what} is {show(log_probs.grad)}; it should be -1/batch at each row's true class"
            f" and 0 elsewhere: {show(expected_grad)}."
        )


def _check_cross_entropy(module, draw):
    scores, targets = _inputs(draw)
    far = scores.clone()
    rows = draw.random.sample(range(len(targets)), draw.integer(1, len(targets) - 1))
    for row in rows:  # some rows only: scores in the hundreds, the true class far below the others
        far[row] += draw.sign() * draw.uniform(200, 900)
        far[row, targets[row]] -= draw.uniform(150, 400)
    for s, words in [(scores, "scores"), (far, f"scores where rows {sorted(rows)} are in the hundreds")]:
        what = "cross_entropy(scores, targets)"
        got = as_number(call(module.cross_entropy, s, targets, what=what), what, tensor=True)
        expected = F.cross_entropy(s.double(), targets).item()
        if close_number(got, expected, torch.float32, s.abs().max().item()):
            continue
        why = _nll_slip(got, torch.log_softmax(s.double(), 1), targets)
        if not why and close_number(
            got, F.nll_loss(s.double(), targets).item(), torch.float32, s.abs().max()
        ):
            why = "It is NLLLoss of the raw scores: apply torch.log_softmax(scores, dim=1) first."
        if not why and torch.isinf(torch.tensor(got)):
            why = (
                "A true class hundreds below the others has a probability of exactly 0 in float32, and log(0)"
                " is -inf: torch.log(torch.softmax(...)) fails there. torch.log_softmax stays in logs."
            )
        if not why:
            over0 = F.nll_loss(torch.log_softmax(s.double(), 0), targets).item()
            if close_number(got, over0, torch.float32, s.abs().max().item()):
                why = "The log_softmax ran over dim 0, down the batch: it belongs over dim 1, the classes."
        raise Wrong(
            f"{what} gave {got:.6g}, F.cross_entropy gives {expected:.6g},\non float32 {words} (shape"
            f" {tuple(s.shape)}), targets {targets.tolist()}.\n{why}".rstrip()
        )


def _check_mistaken_inputs(module, draw):
    scores, targets = _inputs(draw)
    d = scores.double()
    scale = d.abs().max().item()
    cases = [
        (
            "nll_of_scores",
            d,
            "raw scores",
            "It is the cross-entropy: hand nll_loss the raw scores as they are.",
        ),
        (
            "nll_of_probabilities",
            torch.softmax(d, 1),
            "probabilities",
            "It is the cross-entropy: hand nll_loss the probabilities of torch.softmax as they are, no log.",
        ),
    ]
    for name, given, words, cross in cases:
        what = f"{name}(scores, targets)"
        got = as_number(call(getattr(module, name), scores, targets, what=what), what, tensor=True)
        expected = F.nll_loss(given, targets).item()
        if close_number(got, expected, torch.float32, scale):
            continue
        why = cross if close_number(got, F.cross_entropy(d, targets).item(), torch.float32, scale) else ""
        why = why or _nll_slip(got, given, targets)
        raise Wrong(
            f"{what} gave {got:.6g}; NLLLoss handed the {words} gives {expected:.6g}\n(F.nll_loss on the same"
            f" float32 scores of shape {tuple(scores.shape)}, targets {targets.tolist()}).\n{why}".rstrip()
        )


def check(module, draw):
    _check_nll(module, draw)
    _check_cross_entropy(module, draw)
    _check_mistaken_inputs(module, draw)
    return ""


# --------------------------------------------------------------------------- answers for the tests

CORRECT = {
    "gather": [
        (
            "    rows = torch.arange(len(targets))  # row i pairs with column targets[i]: one entry per sample\n"
            "    return -log_probs[rows, targets].mean()",
            "    return -log_probs.gather(1, targets.view(-1, 1)).squeeze(1).mean()",
        )
    ],
    "one-hot, log_softmax by hand with logsumexp": """
import torch


def nll_loss(log_probs, targets):
    one_hot = torch.nn.functional.one_hot(targets, log_probs.shape[1]).to(log_probs.dtype)
    return -(one_hot * log_probs).sum(dim=1).mean()


def cross_entropy(scores, targets):
    log_probs = scores - torch.logsumexp(scores, dim=1, keepdim=True)
    return nll_loss(log_probs, targets)


def nll_of_scores(scores, targets):
    return nll_loss(scores, targets)


def nll_of_probabilities(scores, targets):
    probabilities = torch.exp(scores - torch.logsumexp(scores, dim=1, keepdim=True))
    return nll_loss(probabilities, targets)
""",
    "explicit loop, float64 inside": """
import torch
import torch.nn.functional as F


def nll_loss(log_probs, targets):
    total = log_probs.new_zeros((), dtype=torch.float64)
    for row, target in zip(log_probs, targets):
        total = total - row[target].double()
    return (total / len(targets)).to(log_probs.dtype)


def cross_entropy(scores, targets):
    return nll_loss(F.log_softmax(scores, dim=-1), targets)


def nll_of_scores(scores, targets):
    return nll_loss(scores, targets)


def nll_of_probabilities(scores, targets):
    return nll_loss(F.softmax(scores, dim=-1), targets)
""",
}

WRONG = {
    "float64 returned for float32 input": (
        [
            (
                "    return -log_probs[rows, targets].mean()",
                "    return -log_probs[rows, targets].double().mean()",
            )
        ],
        "keeps the input's dtype",
    ),
    "sum, not mean": (
        [("return -log_probs[rows, targets].mean()", "return -log_probs[rows, targets].sum()")],
        "times too big",
    ),
    "no minus": (
        [("return -log_probs[rows, targets].mean()", "return log_probs[rows, targets].mean()")],
        "wrong sign",
    ),
    "every target for every row": (
        [("return -log_probs[rows, targets].mean()", "return -log_probs[:, targets].mean()")],
        "pair each row with its own target",
    ),
    ".item()": (
        [("return -log_probs[rows, targets].mean()", "return -log_probs[rows, targets].mean().item()")],
        "no .item()",
    ),
    "rebuilt with torch.tensor": (
        [
            (
                "return -log_probs[rows, targets].mean()",
                "return torch.tensor(-log_probs[rows, targets].mean().item())",
            )
        ],
        "backward() cannot go through",
    ),
    "log of the softmax": (
        [
            (
                "return nll_loss(torch.log_softmax(scores, dim=1), targets)",
                "return nll_loss(torch.log(torch.softmax(scores, dim=1)), targets)",
            )
        ],
        "log(0)",
    ),
    "no log_softmax in cross_entropy": (
        [("return nll_loss(torch.log_softmax(scores, dim=1), targets)", "return nll_loss(scores, targets)")],
        "apply torch.log_softmax",
    ),
    "log_softmax over dim 0": (
        [
            (
                "return nll_loss(torch.log_softmax(scores, dim=1), targets)",
                "return nll_loss(torch.log_softmax(scores, dim=0), targets)",
            )
        ],
        "over dim 0",
    ),
    "log_softmax before NLLLoss of the raw scores": (
        [
            (
                "return nll_loss(scores, targets)  # minus",
                "return nll_loss(torch.log_softmax(scores, dim=1), targets)  # minus",
            )
        ],
        "It is the cross-entropy",
    ),
    "a log before the probabilities": (
        [
            (
                "return nll_loss(torch.softmax(scores, dim=1), targets)  # minus",
                "return nll_loss(torch.log(torch.softmax(scores, dim=1)), targets)  # minus",
            )
        ],
        "It is the cross-entropy",
    ),
    "F.nll_loss": (
        [
            ("import torch\n", "import torch\nfrom torch.nn.functional import nll_loss as builtin_nll\n"),
            (
                "    rows = torch.arange(len(targets))  #",
                "    return builtin_nll(log_probs, targets)\n    rows = torch.arange(len(targets))  #",
            ),
        ],
        "uses torch.nn.functional.nll_loss",
    ),
}
