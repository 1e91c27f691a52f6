"""Exercise 02's check: one training loop with a closure, for SGD, Adam and LBFGS."""

from checks.common import Wrong, call, show

import torch

NAME = "02_optimizers"
LESSON = "02"
LECTURE = "5"
SLIDE = ""
IDEA = "one training loop for SGD, Adam and LBFGS: optimizer.step(closure)"
HINTS = [
    "LBFGS looks at the loss several times within one step, so optimizer.step() must be handed a function"
    " it can call for that: a closure, defined inside train().",
    "The closure does what one pass of lesson 02's loop does before the step: clear the gradients, compute"
    " the loss, backward(), and it hands the loss back.",
    "Then the loop only hands the closure to the optimizer's step, `steps` times. SGD and Adam call the closure once per"
    " step; LBFGS as often as its line search needs.",
]
FORBIDDEN = []
TIME_LIMIT = 20


def _counting(model, optimizer):
    """Count the optimizer's steps and zero_grad calls, and the steps taken with all gradients 0."""
    counts = {"zero_grad": 0, "step": 0, "zero gradients at the step": 0}
    step, zero_grad = optimizer.step, optimizer.zero_grad

    def all_zero():
        return all(p.grad is None or not p.grad.any() for p in model.parameters())

    def counted_step(closure=None):
        counts["step"] += 1
        if closure is None:
            counts["zero gradients at the step"] += all_zero()
            return step()

        def watched():
            loss = closure()
            counts["zero gradients at the step"] += all_zero()
            return loss

        return step(watched)

    def counted_zero_grad(*args, **kwargs):
        counts["zero_grad"] += 1
        return zero_grad(*args, **kwargs)

    optimizer.step, optimizer.zero_grad = counted_step, counted_zero_grad
    model.zero_grad = counted_zero_grad
    return counts


def check(module, draw):
    n = draw.integer(30, 60)
    x = (draw.rand(n, 1) * 4 - 2).float()
    true = [draw.sign() * draw.uniform(0.5, 2.0) for _ in range(3)]
    noise = 0.3 * draw.randn(n, 1).float()
    y = true[0] * x * x + true[1] * x + true[2] + noise
    # The least-squares fit, in float64: the lowest mean squared error any weights reach on this data.
    design = torch.cat([x * x, x, torch.ones_like(x)], dim=1).double()
    best = design @ torch.linalg.lstsq(design, y.double()).solution
    runs = [
        # Step counts that change with the seed: a loop with a number of its own shows. Over 40 seeds the
        # solution ended at most 0.005 from the fit with 120 SGD steps and 150 Adam steps (0.05 allowed).
        ("SGD(lr=0.1)", lambda p: torch.optim.SGD(p, lr=0.1), draw.integer(120, 160)),
        ("Adam(lr=0.2)", lambda p: torch.optim.Adam(p, lr=0.2), draw.integer(150, 190)),
        (
            "LBFGS(line_search_fn='strong_wolfe')",
            lambda p: torch.optim.LBFGS(p, line_search_fn="strong_wolfe"),
            5,
        ),
    ]
    worst = 0.0
    for label, make, steps in runs:
        model = module.Model()
        optimizer = make(model.parameters())
        start = [p.detach().clone() for p in model.parameters()]
        counts = _counting(model, optimizer)
        what = f"train(model, x_data, y_data, torch.optim.{label}, steps={steps})"
        try:
            call(module.train, model, x, y, optimizer, steps, what=what)
        except TypeError as error:
            if "closure" in str(error) and counts["step"]:
                raise Wrong(
                    f"with {label}: {error}.\nLBFGS looks at the loss several times per step, so its step()"
                    " must be handed a function to call: optimizer.step(closure)."
                ) from None
            if "NoneType" in str(error) and counts["step"]:
                raise Wrong(
                    f"with {label}: {error}.\nYour closure returned None: LBFGS needs the loss it computed."
                ) from None
            raise
        if counts["step"] != steps:
            raise Wrong(
                f"{what} called optimizer.step() {counts['step']} times: one step per requested step, {steps}."
            )
        with torch.no_grad():
            predictions = model(x).double()
        gap = (predictions - best).abs().max().item()
        # Within 0.05 of the least-squares fit's predictions, everywhere. y spans several units, so the
        # untrained model is off by more than 1; see the step counts above.
        worst = max(worst, gap)
        if not gap <= 0.05:
            lines = [
                f"with torch.optim.{label} for {steps} steps, your model's predictions end up {show(gap)} away",
                "from the least-squares fit's, the best any weights can do (at most 0.05 allowed).",
            ]
            unchanged = all(torch.equal(a, b.detach()) for a, b in zip(start, model.parameters()))
            if unchanged and counts["zero gradients at the step"] >= counts["step"] > 0:
                lines.append(
                    "The weights never changed: every time optimizer.step() ran, the gradients were all 0."
                    " Were they cleared after backward() instead of before?"
                )
            elif unchanged:
                lines.append("The weights never changed.")
            elif not torch.isfinite(predictions).all():
                lines.append(
                    "The weights ran away to nan or inf: each step was too large for this learning rate. Is the"
                    " loss the mean of the squared errors, as the criterion given computes it? A sum grows with the"
                    " number of samples, and every step with it."
                )
            elif counts["zero_grad"] == 0:
                lines.append(
                    "The gradients were never zeroed: backward() adds to .grad, so every step used the sum of"
                    " all the gradients so far."
                )
            raise Wrong("\n".join(lines))
    return f"at most {worst:.1g} from the least-squares fit"


CORRECT = {
    "model.zero_grad, F.mse_loss": [
        ("        optimizer.zero_grad()  #", "        model.zero_grad()  #"),
        (
            "        loss = criterion(model(x_data), y_data)",
            "        loss = torch.nn.functional.mse_loss(model(x_data), y_data)",
        ),
    ],
    "a while loop, squared error by hand": [
        (
            "        loss = criterion(model(x_data), y_data)",
            "        loss = ((model(x_data) - y_data) ** 2).mean()",
        ),
        (
            "    for _ in range(steps):\n        optimizer.step(closure)",
            "    done = 0\n    while done < steps:\n        optimizer.step(closure)\n        done += 1",
        ),
    ],
    "closure outside the loop's function": """
import torch
from torch import nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        return self.linear(torch.cat([x * x, x], dim=1))


criterion = nn.MSELoss()


def make_closure(model, optimizer, x_data, y_data):
    def closure():
        optimizer.zero_grad(set_to_none=False)
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        loss.backward()
        return loss

    return closure


def train(model, x_data, y_data, optimizer, steps):
    closure = make_closure(model, optimizer, x_data, y_data)
    for step in range(steps):
        optimizer.step(closure=closure)
""",
}

WRONG = {
    "the sum of the squared errors": (
        [
            (
                "        loss = criterion(model(x_data), y_data)",
                "        loss = ((model(x_data) - y_data) ** 2).sum()",
            )
        ],
        "A sum grows with the number of samples",
    ),
    "step() without the closure": (
        [("optimizer.step(closure)  #", "closure()\n        optimizer.step()  #")],
        "LBFGS looks at the loss several times",
    ),
    "no zero_grad": ([("        optimizer.zero_grad()  #", "        #")], "never zeroed"),
    "closure returns nothing": ([("        return loss  #", "        #")], "returned None"),
    "half the steps": (
        [("    for _ in range(steps):", "    for _ in range(steps // 2):")],
        "called optimizer.step()",
    ),
    "one step too few": (
        [("    for _ in range(steps):", "    for _ in range(1, steps):")],
        "called optimizer.step()",
    ),
    "gradients cleared after backward": (
        [
            ("        optimizer.zero_grad()  #", "        #"),
            ("        loss.backward()\n", "        loss.backward()\n        optimizer.zero_grad()\n"),
        ],
        "every time optimizer.step() ran, the gradients were all 0",
    ),
    "loss computed once, outside": (
        [
            ("    def closure():\n", "    loss = criterion(model(x_data), y_data)\n\n    def closure():\n"),
            ("        loss = criterion(model(x_data), y_data)\n", ""),
        ],
        "backward through the graph a second time",
    ),
}
