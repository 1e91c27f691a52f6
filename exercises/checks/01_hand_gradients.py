"""Exercise 01's check: the gradients of a quadratic model by hand, then gradient descent with them."""

import inspect
import math

from checks.common import Wrong, as_number, show

import torch

NAME = "01_hand_gradients"
LESSON = "01"
LECTURE = "2-4"
SLIDE = "3-1, 3-2"
IDEA = "gradients of x²·w2 + x·w1 + b by hand, checked against autograd; gradient descent with them"
HINTS = [
    "Give the error y_hat - y a name first. The loss is its square, so d loss/d y_hat is twice the error.",
    "The chain rule: each weight's gradient is d loss/d y_hat times d y_hat/d that weight, which is the"
    " factor that multiplies the weight in y_hat (x**2 for w2, x for w1, 1 for b).",
    "In train(), compute all three gradients at the same weights, then move each weight a step of lr"
    " against its own gradient; do that for every sample, every epoch, and return the three weights.",
]
FORBIDDEN = [
    "torch.Tensor.backward",
    "torch.autograd.grad",
    "torch.autograd.backward",
]  # by hand: no autograd


def _autograd(x, y, w2, w1, b):
    """Autograd's d loss/d w2, w1, b for y_hat = x**2 * w2 + x * w1 + b and loss (y_hat - y)**2."""
    weights = torch.tensor([w2, w1, b], dtype=torch.float64, requires_grad=True)
    loss = (x * x * weights[0] + x * weights[1] + weights[2] - y) ** 2
    loss.backward()
    return weights.grad.tolist()


def _what_went_wrong(name, ratio, x):
    """Name the usual slip behind a gradient that is autograd's divided by ratio, if one explains it."""
    local = f"d y_hat/d {name} = {dict(w2='x**2', w1='x', b='1')[name]}, and the chain rule multiplies it in."
    named = [
        (-1.0, "It has the wrong sign: the error is y_hat - y, and d/d y_hat of its square is twice it."),
        (2.0, "It is half of autograd's: d/d y_hat of (y_hat - y)**2 is 2 * (y_hat - y). Was the 2 lost?"),
        (0.5, "It is twice autograd's: is there a factor 2 too many?"),
        (x, f"It is off by a factor of x: did the chain rule stop early? {local}"),
        (x * x, f"It is off by a factor of x**2: did the chain rule stop early? {local}"),
        (1 / x, f"It has one factor of x too many: {local}"),
        (1 / (x * x), f"It has a factor of x**2 too many: {local}"),
    ]
    for factor, words in named:
        if math.isclose(ratio, factor, rel_tol=1e-6):
            return words
    return f"Work it out step by step, from d loss/d y_hat; {local}"


def check(module, draw):
    for _ in range(6):
        # |x| between 2.6 and 3.6 keeps the usual slips apart: a factor of x is then never 1 or 2.
        x = draw.sign() * draw.uniform(2.6, 3.6)
        y, w2, w1, b = (draw.uniform(-2, 2) for _ in range(4))
        got = module.gradients(x, y, w2, w1, b)
        if not isinstance(got, (tuple, list)) or len(got) != 3:
            raise Wrong(f"gradients() returned {got!r}: return three numbers, (d_w2, d_w1, d_b).")
        got = [as_number(g, "gradients()") for g in got]
        expected = _autograd(x, y, w2, w1, b)
        for name, g, e in zip(("w2", "w1", "b"), got, expected):
            # Python floats are float64; a learner working in float32 tensors is within 1e-6 as well.
            if not math.isclose(g, e, rel_tol=1e-6, abs_tol=1e-9):
                why = _what_went_wrong(name, e / g, x) if g != 0 else "Yours is 0."
                raise Wrong(
                    f"d loss/d {name} is {g:.6g}, autograd says {e:.6g}\non the sample x = {x:.4g}, y = {y:.4g}"
                    f" with w2 = {w2:.4g}, w1 = {w1:.4g}, b = {b:.4g}.\n{why}"
                )

    # The data comes from weights drawn now, with no noise: those weights fit it exactly (loss 0), and
    # gradient descent approaches them as closely as it is run for.
    true = [draw.sign() * draw.uniform(0.5, 2.0) for _ in range(3)]
    x_data = [-2 + 0.4 * (i + draw.random.random()) for i in range(10)]  # one in each tenth of [-2, 2]
    draw.random.shuffle(x_data)
    y_data = [true[0] * x * x + true[1] * x + true[2] for x in x_data]
    calls, first = 0, None
    hand_gradients = module.gradients

    def counted(*args, **kwargs):
        nonlocal calls, first
        calls += 1
        if first is None:  # the weights of the first step: where the descent started
            try:
                first = inspect.signature(hand_gradients).bind(*args, **kwargs).arguments
            except TypeError:
                first = {}
        return hand_gradients(*args, **kwargs)

    module.gradients = counted  # train() looks gradients up when it runs, so it finds this one
    try:
        got = module.train(list(x_data), list(y_data))
    except OverflowError:
        raise Wrong(
            "train(): the weights grew until Python's floats overflowed: gradient descent diverged.\n"
            "Look at the sign of each step, and at the learning rate."
        ) from None
    finally:
        module.gradients = hand_gradients
    if calls == 0:
        raise Wrong("train() never called gradients(): descend with your own gradients.")
    start = [first.get(name) for name in ("w2", "w1", "b")]
    if all(w is not None for w in start) and any(
        as_number(w, "train()'s starting weights") != 0 for w in start
    ):
        raise Wrong(
            f"train() took its first step from (w2, w1, b) = ({', '.join(show(float(w)) for w in start)}): the"
            " descent starts from w2 = w1 = b = 0, as the exercise says, so that every run of it is the same."
        )
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise Wrong(f"train() returned {got!r}: return the three learned weights, (w2, w1, b).")
    got = [as_number(g, "train()") for g in got]
    # Within 0.01 of the true weights. Every true weight is at least 0.5 from 0, the start, so weights
    # that did not move are 0.5 or more off. The solution (lr 0.02, 1000 epochs) ended within 1e-14 of
    # them for 2000 seeds: with the x spread over [-2, 2], descent converges to rounding error.
    if not all(math.isfinite(g) for g in got) or max(abs(g - t) for g, t in zip(got, true)) > 0.01:
        if got == [0.0, 0.0, 0.0]:
            why = "The weights never moved from 0: does train() update them, and return the updated ones?"
        elif calls < 10 * 1000:
            why = f"gradients() was called {calls} times: 10 samples for 1000 epochs is 10000 steps."
        elif not all(math.isfinite(g) for g in got) or max(abs(g) for g in got) > 100:
            why = "They ran away: is each step taken against the gradient?"
        else:
            why = "Look at how each step moves each weight, for every sample and every epoch."
        raise Wrong(
            f"train() learned (w2, w1, b) = ({show(got[0])}, {show(got[1])}, {show(got[2])}), but the data "
            f"was made with ({show(true[0])}, {show(true[1])}, {show(true[2])}); each must be within 0.01.\n"
            f"x_data = {show(x_data, 3)}, y = x**2 * w2 + x * w1 + b, no noise.\n{why}"
        )
    return ""


CORRECT = {
    "an error variable": [
        (
            "    d_loss_d_yhat = 2 * (forward(x, w2, w1, b) - y)",
            "    e = x**2 * w2 + x * w1 + b - y\n    d_loss_d_yhat = 2.0 * e",
        )
    ],
    "powers and float()": [
        (
            "    return d_loss_d_yhat * x * x, d_loss_d_yhat * x, d_loss_d_yhat",
            "    return float(d_loss_d_yhat * x**2), float(d_loss_d_yhat * x**1), float(d_loss_d_yhat * x**0)",
        )
    ],
    "index loop, tuple update": [
        (
            "        for x, y in zip(x_data, y_data):\n"
            "            d_w2, d_w1, d_b = gradients(x, y, w2, w1, b)  # all three at the same point, then step\n"
            "            w2 -= lr * d_w2\n            w1 -= lr * d_w1\n            b -= lr * d_b",
            "        for i in range(len(x_data)):\n            g = gradients(x_data[i], y_data[i], w2, w1, b)\n"
            "            w2, w1, b = w2 - lr * g[0], w1 - lr * g[1], b - lr * g[2]",
        )
    ],
    "a list of weights": [
        (
            "    w2, w1, b = 0.0, 0.0, 0.0\n    for _ in range(epochs):\n        for x, y in zip(x_data, y_data):\n"
            "            d_w2, d_w1, d_b = gradients(x, y, w2, w1, b)  # all three at the same point, then step\n"
            "            w2 -= lr * d_w2\n            w1 -= lr * d_w1\n            b -= lr * d_b\n    return w2, w1, b",
            "    w = [0.0, 0.0, 0.0]\n    for epoch in range(epochs):\n        for x, y in zip(x_data, y_data):\n"
            "            grads = gradients(x, y, *w)\n            w = [wi - lr * gi for wi, gi in zip(w, grads)]\n"
            "    return tuple(w)",
        )
    ],
}

WRONG = {
    "autograd instead of the chain rule by hand": (
        [
            (
                "    return d_loss_d_yhat * x * x, d_loss_d_yhat * x, d_loss_d_yhat",
                "    import torch\n\n    ws = [torch.tensor(float(v), requires_grad=True) for v in (w2, w1, b)]\n"
                "    ((forward(x, *ws) - y) ** 2).backward()\n    return tuple(w.grad.item() for w in ws)",
            )
        ],
        "backward",
    ),
    "chain rule stops early (w1)": (
        [("d_loss_d_yhat * x * x, d_loss_d_yhat * x,", "d_loss_d_yhat * x * x, d_loss_d_yhat,")],
        "off by a factor of x: did the chain rule stop early?",
    ),
    "x instead of x**2 (w2)": (
        [("d_loss_d_yhat * x * x, d_loss_d_yhat * x,", "d_loss_d_yhat * x, d_loss_d_yhat * x,")],
        "d loss/d w2 is",
    ),
    "y - y_hat": ([("2 * (forward(x, w2, w1, b) - y)", "2 * (y - forward(x, w2, w1, b))")], "wrong sign"),
    "the 2 lost": ([("2 * (forward(x, w2, w1, b) - y)", "(forward(x, w2, w1, b) - y)")], "Was the 2 lost?"),
    "step along the gradient": ([("w1 -= lr * d_w1", "w1 += lr * d_w1")], "against the gradient"),
    "one epoch": ([("    for _ in range(epochs):\n", "    for _ in range(1):\n")], "called 10 times"),
    "a random start": (
        [
            (
                "    w2, w1, b = 0.0, 0.0, 0.0\n",
                "    import random\n\n    w2, w1, b = (random.uniform(-1, 1) for _ in range(3))\n",
            )
        ],
        "starts from w2 = w1 = b = 0",
    ),
    "returns the start": (
        [
            ("    w2, w1, b = 0.0, 0.0, 0.0\n", "    w2, w1, b = 0.0, 0.0, 0.0\n    start = (w2, w1, b)\n"),
            ("    return w2, w1, b", "    return start"),
        ],
        "never moved",
    ),
}
