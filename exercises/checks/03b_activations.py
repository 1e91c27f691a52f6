"""Exercise 03b's check: relu, leaky_relu, elu, tanh and softplus by hand, each equal to PyTorch's on
float32 inputs up to ±1000; then logistic regression with one of them, trained on the diabetes data."""

import functools

from checks.common import Wrong, as_tensor, call, close, kit

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NAME = "03b_activations"
LESSON = "03"
LECTURE = "6"
SLIDE = "6-1"
IDEA = "relu, leaky_relu, elu, tanh, softplus by hand, safe at ±1000; logistic regression with one of them"
HINTS = [
    "torch.where(condition, a, b) takes a where the condition holds and b elsewhere: relu, leaky_relu and"
    " elu are each one torch.where. Use the slope and alpha you are given, not the defaults.",
    "exp overflows in float32 above about 88. For tanh, divide the top and the bottom by exp(|x|): every"
    " exp is then of -2|x|, between 0 and 1, and torch.sign(x) gives back the sign.",
    "For softplus: log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)); torch.clamp and torch.log1p help.",
    "For the model: tanh runs from -1 to 1. Add 1 and halve it, and it runs from 0 to 1, like a probability.",
]
FORBIDDEN = [
    "torch.relu",
    "torch.Tensor.relu",
    "torch.nn.functional.relu",
    "torch.nn.ReLU",
    "torch.nn.functional.leaky_relu",
    "torch.nn.LeakyReLU",
    "torch.nn.functional.elu",
    "torch.nn.ELU",
    "torch.tanh",
    "torch.Tensor.tanh",
    "torch.nn.functional.tanh",
    "torch.nn.Tanh",
    "torch.nn.functional.softplus",
    "torch.nn.Softplus",
    "torch.sigmoid",
    "torch.Tensor.sigmoid",
    "torch.nn.functional.sigmoid",
    "torch.nn.Sigmoid",
    "torch.special.expit",
    "torch.nn.functional.hardsigmoid",
    "torch.nn.Hardsigmoid",
]
TIME_LIMIT = 20


def _inputs(draw):
    """float32 rows on their own scales, and the values where the usual formulas break (±30 ... ±1000)."""
    rows, cols = draw.integer(3, 7), draw.integer(4, 9)
    scales = torch.tensor([10 ** draw.uniform(-3, 2) for _ in range(rows)], dtype=torch.float64)
    x = (draw.randn(rows, cols) * scales.unsqueeze(1)).float()
    special = torch.tensor([0.0, 1e-3, -1e-3, 30.0, -30.0, 89.0, -89.0, 100.0, -100.0, 1000.0, -1000.0])
    flat = x.reshape(-1).clone()
    where = draw.random.sample(range(flat.numel()), min(len(special), flat.numel()))
    flat[where] = special[: len(where)] * draw.sign()
    flat[where[0]] = 1000.0  # at least one very large positive and one very large negative value
    flat[where[1]] = -1000.0
    return flat.reshape(rows, cols)


def _compare(module, name, x, expected, slips, *args):
    what = f"{name}(x{', ' if args else ''}{', '.join(f'{a:.3g}' for a in args)})"
    got = as_tensor(call(getattr(module, name), x, *args, what=what), what, x.shape, floating=True)
    if got.dtype != x.dtype:
        raise Wrong(
            f"{what} returned {got.dtype} for a {x.dtype} input: PyTorch's {name} keeps the input's dtype."
            " Convert back with .to(x.dtype) if you computed in another."
        )
    if close(got, expected, torch.float32):
        return
    bad = (got.double() - expected).abs().nan_to_num(float("inf")) > 1e-4 * (1 + expected.abs())
    i = tuple(bad.nonzero()[0].tolist())
    why = ""
    if not torch.isfinite(got[i]):
        why = slips.get("overflow", "")
    else:
        why = next((w for value, w in slips.get("values", []) if close(got, value, torch.float32)), "")
    raise Wrong(
        f"{what} differs from PyTorch's on a float32 input of shape {tuple(x.shape)}:\n"
        f"at x = {x[i].item():.6g} it gave {got[i].item():.6g}, expected {expected[i].item():.6g}.\n{why}".rstrip()
    )


def _check_activations(module, draw):
    x = _inputs(draw)
    d = x.double()
    _compare(
        module,
        "relu",
        x,
        F.relu(d),
        {
            "values": [
                (
                    d.clamp(max=0),
                    "It keeps the negative part: relu keeps x where x > 0 and gives 0 elsewhere.",
                ),
                (d.abs(), "It is |x|: below 0 relu gives 0, not -x."),
            ]
        },
    )
    slope = round(draw.uniform(0.02, 0.3), 3)
    _compare(
        module,
        "leaky_relu",
        x,
        F.leaky_relu(d, slope),
        {
            "values": [
                (
                    F.leaky_relu(d, 0.01),
                    f"It used the slope 0.01, not the negative_slope it was given ({slope}).",
                ),
                (
                    torch.where(d > 0, slope * d, d),
                    "The slope is on the wrong side: it belongs where x <= 0.",
                ),
            ]
        },
        slope,
    )
    alpha = round(draw.uniform(0.3, 2.5), 3)
    _compare(
        module,
        "elu",
        x,
        F.elu(d, alpha),
        {
            "values": [
                (
                    F.elu(d, 1.0),
                    f"It ignores alpha: below 0, elu is alpha * (exp(x) - 1), here alpha = {alpha}.",
                ),
                (
                    torch.where(d > 0, d, alpha * d.exp()),
                    "Below 0, elu is alpha * (exp(x) - 1): the - 1 is missing.",
                ),
            ],
            "overflow": "exp(1000) is inf in float32: keep exp away from the large positive x.",
        },
        alpha,
    )
    _compare(
        module,
        "tanh",
        x,
        torch.tanh(d),
        {
            "overflow": "exp(x) overflows to inf in float32 for x above about 88 (and exp(-x) below -88), and"
            " inf / inf is nan.\nDivide the top and the bottom by exp(|x|), so that every exp is of -2|x|.",
            "values": [(torch.sigmoid(d), "That is the sigmoid, from 0 to 1: tanh runs from -1 to 1.")],
        },
    )
    _compare(
        module,
        "softplus",
        x,
        F.softplus(d),
        {
            "overflow": "exp(x) overflows to inf in float32 for x above about 88, and so does log(1 + inf).\n"
            "Use log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)).",
            "values": [
                (d.clamp(min=0), "It is relu: softplus adds log(1 + exp(-|x|)), which matters near 0.")
            ],
        },
    )


@functools.cache
def _diabetes():
    table = np.loadtxt(kit.data_file(kit.DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    return kit.diabetes_split(torch.from_numpy(table[:, :-1]), torch.from_numpy(table[:, -1:]))


def _probabilities(out, what):
    if not (torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1):
        raise Wrong(
            f"{what} runs from {out.min().item():.4g} to {out.max().item():.4g}: a probability lies between 0"
            " and 1 for every input.\nrelu, elu and softplus have no top; tanh has, from -1 to 1, and can be"
            " shifted and scaled into 0 to 1."
        )


def _check_model(module):
    x, y, x_test, y_test = _diabetes()
    model = module.Model()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 1 or (linears[0].in_features, linears[0].out_features) != (8, 1):
        shapes = [(m.in_features, m.out_features) for m in linears]
        raise Wrong(
            f"Model's nn.Linear layers are {shapes}: logistic regression is one nn.Linear(8, 1), the 8"
            " measurements to one score, then your activation."
        )
    with torch.no_grad():
        start = as_tensor(model(x), "Model()(x) for 576 rows", (len(x), 1), floating=True)
        far = model(torch.cat([x, 100 * x]))  # far from 0, where relu or tanh alone leave [0, 1]
    _probabilities(torch.cat([start, far]), "Model's output")
    # The checker's own training: BCELoss, Adam at lr 0.05, 200 steps on all 576 training rows at once.
    # Lesson 03's sigmoid model trained so reaches 74.0% on the 192 held-out rows (loss 0.460); answering
    # "no diabetes" for everyone scores 64.6%. Over 20 starts each, (tanh + 1) / 2 reached 74.0%, the
    # normal distribution's CDF (probit) 74.0%, softsign shifted into (0, 1) 74.5%, and a hard sigmoid
    # made with clamp, whose gradient is 0 wherever it is flat, 71.4% to 75.0%. 70% sits between the
    # majority answer and them: a model below it has learned little beyond the base rate.
    # Up to three starts, from fresh weights each: an activation that is flat somewhere (the hard sigmoid)
    # can stall one start whose scores all land where its gradient is 0, through no fault of the answer.
    criterion = nn.BCELoss()
    majority = 1 - y_test.mean().item()
    best = None
    for attempt in range(3):
        if attempt:
            model = module.Model()  # a fresh start, as exercise 04's check gives its deep networks
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        first = None
        for _ in range(200):
            out = model(x)
            _probabilities(out.detach(), "During training, Model's output")
            loss = criterion(out, y)
            first = loss.item() if first is None else first
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            last = criterion(model(x), y).item()
            accuracy = ((model(x_test) > 0.5).float() == y_test).float().mean().item()
        if accuracy >= 0.70:
            return f"held-out accuracy {accuracy:.1%} (the majority answer: {majority:.1%})"
        best = max(best or (accuracy, first, last), (accuracy, first, last))
    accuracy, first, last = best
    lines = [
        f"trained by the checker (BCELoss, Adam lr 0.05, 200 steps) from three starts, Model reaches at best"
        f" {accuracy:.1%} on the held-out rows; it must reach 70% (answering the majority, no diabetes, scores"
        f" {majority:.1%})."
    ]
    if not last < first - 0.01:
        lines.append(
            f"The training loss did not fall ({first:.3f} at the start, {last:.3f} at the end): does forward()"
            " use self.linear's score, and does the probability change with it?"
        )
    raise Wrong("\n".join(lines))


def check(module, draw):
    _check_activations(module, draw)
    return _check_model(module)


# --------------------------------------------------------------------------- answers for the tests

CORRECT = {
    "float64 inside, probit model": """
import math

import torch
from torch import nn


def relu(x):
    return x * (x > 0)


def leaky_relu(x, negative_slope=0.01):
    return torch.maximum(x, torch.zeros_like(x)) + negative_slope * torch.minimum(x, torch.zeros_like(x))


def elu(x, alpha=1.0):
    d = x.double()
    return torch.where(d > 0, d, alpha * (torch.exp(d.clamp(max=0)) - 1)).to(x.dtype)


def tanh(x):
    d = x.double()
    return (1 - 2 / (torch.exp(2 * d) + 1)).to(x.dtype)


def softplus(x):
    d = x.double()
    return torch.where(d > 30, d, torch.log(1 + torch.exp(d.clamp(max=30)))).to(x.dtype)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 1)

    def forward(self, x):
        z = self.linear(x)
        return 0.5 * (1 + torch.erf(z / math.sqrt(2)))  # the normal distribution's CDF: probit regression
""",
    "logaddexp and a hard sigmoid": """
import torch
from torch import nn


def relu(x):
    return x.clamp(min=0)


def leaky_relu(x, negative_slope=0.01):
    out = x.clone()
    out[x < 0] = x[x < 0] * negative_slope
    return out


def elu(x, alpha=1.0):
    out = x.clone()
    negative = x <= 0
    out[negative] = alpha * torch.expm1(x[negative])
    return out


def tanh(x):
    e = torch.exp(-2 * x.abs())
    return torch.where(x >= 0, (1 - e) / (1 + e), (e - 1) / (1 + e))


def softplus(x):
    return torch.logaddexp(x, torch.zeros_like(x))


def hard_sigmoid(z):
    return torch.clamp(z / 6 + 0.5, 0.0, 1.0)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 1)

    def forward(self, x):
        return hard_sigmoid(self.fc(x))
""",
    "loops over the elements, softsign model": """
import torch
from torch import nn


def _each(x, f):
    flat = [f(v) for v in x.reshape(-1).tolist()]
    return torch.tensor(flat, dtype=x.dtype).reshape(x.shape)


def relu(x):
    return _each(x, lambda v: v if v > 0 else 0.0)


def leaky_relu(x, negative_slope=0.01):
    return _each(x, lambda v: v if v > 0 else negative_slope * v)


def elu(x, alpha=1.0):
    import math

    return _each(x, lambda v: v if v > 0 else alpha * math.expm1(v))


def tanh(x):
    import math

    def one(v):
        e = math.exp(-2 * abs(v))
        return math.copysign((1 - e) / (1 + e), v)

    return _each(x, one)


def softplus(x):
    import math

    return _each(x, lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v))))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(8, 1)

    def forward(self, x):
        z = self.linear(x)
        return (z / (1 + z.abs()) + 1) / 2  # softsign, from -1 to 1, moved into 0 to 1
""",
}

WRONG = {
    "relu keeps the negative part": (
        [("return torch.where(x > 0, x, torch.zeros_like(x))", "return torch.clamp(x, max=0)")],
        "keeps the negative part",
    ),
    "leaky_relu with the default slope": (
        [("return torch.where(x > 0, x, negative_slope * x)", "return torch.where(x > 0, x, 0.01 * x)")],
        "not the negative_slope it was given",
    ),
    "elu without alpha": (
        [("alpha * torch.expm1(negative)", "torch.expm1(negative)")],
        "It ignores alpha",
    ),
    "tanh as written": (
        [
            (
                "    e = torch.exp(-2 * x.abs())\n    return torch.sign(x) * (1 - e) / (1 + e)",
                "    return (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))",
            )
        ],
        "inf / inf is nan",
    ),
    "softplus as written": (
        [
            (
                "return torch.clamp(x, min=0) + torch.log1p(torch.exp(-x.abs()))",
                "return torch.log(1 + torch.exp(x))",
            )
        ],
        "max(x, 0) + log(1 + exp(-|x|))",
    ),
    "relu in place": (
        [("return torch.where(x > 0, x, torch.zeros_like(x))", "return x.clamp_(min=0)")],
        "changed its input `x` in place",
    ),
    "float64 returned": (
        [("e = torch.exp(-2 * x.abs())", "e = torch.exp(-2 * x.double().abs())")],
        "keeps the input's dtype",
    ),
    "tanh alone as the probability": (
        [("return (tanh(self.linear(x)) + 1) / 2", "return tanh(self.linear(x))")],
        "a probability lies between 0",
    ),
    "relu as the probability": (
        [("return (tanh(self.linear(x)) + 1) / 2", "return relu(self.linear(x))")],
        "a probability lies between 0",
    ),
    "the score is never used": (
        [("return (tanh(self.linear(x)) + 1) / 2", "return (tanh(self.linear(x) * 0) + 1) / 2")],
        "The training loss did not fall",
    ),
    "two layers": (
        [
            (
                "self.linear = nn.Linear(8, 1)  #",
                "self.hidden = nn.Linear(8, 8)\n        self.linear = nn.Linear(8, 1)  #",
            ),
            (
                "return (tanh(self.linear(x)) + 1) / 2",
                "return (tanh(self.linear(relu(self.hidden(x)))) + 1) / 2",
            ),
        ],
        "logistic regression is one nn.Linear(8, 1)",
    ),
    "torch's sigmoid": (
        [("return (tanh(self.linear(x)) + 1) / 2", "return torch.sigmoid(self.linear(x))")],
        "uses torch.sigmoid",
    ),
}
