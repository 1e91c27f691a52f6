"""Exercise 01b's check: Engel's food data, the cost of y = x * w over a grid of w, and its graph."""

import copy
import csv
import math
import tempfile
from pathlib import Path

from checks.common import Wrong, call, close_number, kit, show

import numpy as np
import torch

NAME = "01b_cost_graph"
LESSON = "01"
LECTURE = "2"
SLIDE = "2-1"
IDEA = "another linear problem (Engel's food data): the cost of y = x * w over a grid of w, its lowest point, the graph"
HINTS = [
    "csv.DictReader(file) reads the first line as the column names, so row['income'] is one household's"
    " income, as text: float() makes it a number.",
    "The cost is one number for one w: add up (x * w - y)**2 over the pairs of zip(x_data, y_data), then"
    " divide by how many pairs there are.",
    "A household spends on food neither less than nothing nor more than it earns, so w lies between 0 and"
    " 1. A list comprehension over range(201) divided by 200 steps through that range 0.005 at a time.",
    "For the graph: plt.subplots() gives a figure and its axes; ax.plot(x values, y values), then"
    " ax.set_xlabel / ax.set_ylabel, and fig.savefig(path).",
]
FORBIDDEN = ["torch.nn.functional.mse_loss", "torch.nn.MSELoss"]

ENGEL = "engel/engel.csv"
# The cost is computed in float64 here; a right answer may use float32 (torch.tensor's default). Over 235
# squared errors float32 keeps about 6 digits, so 256 steps of float32's spacing (3e-5, relative) admit it
# and still tell apart every slip below, which change the cost by a factor or more.
ULPS = 256


def _engel():
    with open(kit.data_file(ENGEL), newline="") as file:
        rows = list(csv.DictReader(file))
    return [float(r["income"]) for r in rows], [float(r["foodexp"]) for r in rows]


def _cost(w, x, y):
    return math.fsum((a * w - b) ** 2 for a, b in zip(x, y)) / len(x)


def _floats(value, what, length=None):
    """A list of floats from a list, tuple, numpy array or 1-d tensor the learner returned."""
    if isinstance(value, torch.Tensor):
        value = value.detach().double().reshape(-1).tolist()
    elif isinstance(value, np.ndarray):
        value = value.astype(float).reshape(-1).tolist()
    if not isinstance(value, (list, tuple)):
        raise Wrong(f"{what} is {show(value)}, expected a list of numbers.")
    out = []
    for item in value:
        if isinstance(item, (torch.Tensor, np.ndarray)) and _size(item) == 1:
            item = float(item)
        if not isinstance(item, (int, float, np.floating, np.integer)) or isinstance(item, bool):
            raise Wrong(f"{what} holds {item!r}, expected numbers.")
        out.append(float(item))
    if length is not None and len(out) != length:
        raise Wrong(f"{what} has {len(out)} numbers, expected {length}.")
    return out


def _size(value):
    return value.numel() if isinstance(value, torch.Tensor) else np.size(value)


def _number(value, what):
    if isinstance(value, (torch.Tensor, np.ndarray)) and _size(value) == 1:
        return float(value)
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value)
    raise Wrong(f"{what} returned {show(value)}, expected one number.")


def _unchanged(what, given, kept):
    if given != kept:
        raise Wrong(
            f"{what} changed the lists it was given (sorted or edited them in place): the caller's x_data and"
            " y_data are not the same after the call. Work on copies, or build new lists."
        )


def _check_load(module):
    x, y = _engel()
    got = call(module.load_data, kit.data_file(ENGEL), what="load_data(path)")
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"load_data(path) returned {show(got)}: return two lists, (x_data, y_data).")
    gx = _floats(got[0], "load_data(path)'s x_data", len(x))
    gy = _floats(got[1], "load_data(path)'s y_data", len(y))
    if all(close_number(a, b, torch.float32, 1.0, 8) for a, b in zip(gx + gy, x + y)):
        return x, y
    if all(close_number(a, b, torch.float32, 1.0, 8) for a, b in zip(gx + gy, y + x)):
        raise Wrong(
            "load_data(path) returned the columns the other way round: x_data is the income (the input,"
            " the first column), y_data the food expenditure (what the model predicts)."
        )
    raise Wrong(
        f"load_data(path) returned x_data starting {show(gx[:3])} and y_data starting {show(gy[:3])};"
        f" the file's income column starts {show(x[:3])} and its foodexp column {show(y[:3])}."
    )


def _cost_slip(got, w, x, y):
    """The usual slip that explains a wrong cost, verified by computing it; '' if none does."""
    n = len(x)
    r = [a * w - b for a, b in zip(x, y)]
    mse = _cost(w, x, y)
    slips = [
        (mse * n, f"It is {n} times too big: take the mean over the {n} samples, not the sum."),
        (math.sqrt(mse), "It is the square root of the mean squared error: lecture 2's cost has no root."),
        (math.fsum(abs(v) for v in r) / n, "It is the mean absolute error: square each error instead."),
        (math.fsum(r) / n, "It is the mean error, not squared: positive and negative errors cancel out."),
        (_cost(w, y, x), "It predicts x from y: y_pred = x * w, and the error is y_pred - y."),
    ]
    return next((words for value, words in slips if close_number(got, value, torch.float32, 1.0, ULPS)), "")


def _check_cost(module, draw, engel):
    cases = []
    for _ in range(4):
        n, scale = draw.integer(3, 40), 10 ** draw.uniform(-1, 3)  # sizes and scales that differ per seed
        slope = draw.uniform(-3, 3)
        x = [draw.uniform(-1, 1) * scale for _ in range(n)]
        y = [a * slope + draw.uniform(-0.5, 0.5) * scale for a in x]
        cases.append((draw.uniform(-4, 4), x, y, f"{n} samples drawn at random"))
    cases.append((round(draw.uniform(0.3, 0.9), 2), *engel, "Engel's data"))
    for w, x, y, words in cases:
        kept = (copy.copy(x), copy.copy(y))
        got = _number(call(module.cost, w, x, y, what="cost(w, x_data, y_data)"), "cost(w, x_data, y_data)")
        _unchanged("cost()", (x, y), kept)
        expected = _cost(w, x, y)
        if close_number(got, expected, torch.float32, 1.0, ULPS):
            continue
        why = _cost_slip(got, w, x, y)
        other = w + 1.0
        if not why and close_number(
            _number(call(module.cost, other, x, y, what="cost()"), "cost()"), got, torch.float32, 1.0, ULPS
        ):
            why = (
                f"cost() gives the same for w = {w:.4g} and w = {other:.4g}: does it use its argument w? (The"
                " lecture's forward() reads a global w.)"
            )
        raise Wrong(
            f"cost(w={w:.4g}) on {words} gave {got:.8g}, expected {expected:.8g}, the mean of (x * w - y)**2.\n"
            f"x_data starts {show(x[:4])}, y_data starts {show(y[:4])}.\n{why}".rstrip()
        )


def _check_sweep(module, x, y):
    kept = (copy.copy(x), copy.copy(y))
    got = call(module.sweep, x, y, what="sweep(x_data, y_data)")
    _unchanged("sweep()", (x, y), kept)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"sweep() returned {show(got)}: return two lists, (w_list, cost_list).")
    w_list = _floats(got[0], "sweep()'s w_list")
    cost_list = _floats(got[1], "sweep()'s cost_list", len(w_list))
    if len(w_list) < 10:
        raise Wrong(f"sweep() tried {len(w_list)} values of w: a graph needs a grid, ten points or more.")
    wx, xs, ys = np.asarray(w_list), np.asarray(x), np.asarray(y)
    costs = ((wx[:, None] * xs[None, :] - ys[None, :]) ** 2).mean(1)  # every w at once, in float64
    for w, c, expected in zip(w_list, cost_list, costs.tolist()):
        if not close_number(c, expected, torch.float32, 1.0, ULPS):
            raise Wrong(
                f"sweep()'s cost_list says {c:.8g} for w = {w:.6g}, but the cost of that w on Engel's data is"
                f" {_cost(w, x, y):.8g}. Compute each cost with the w it stands beside."
            )
    # The exact answer, on paper: d cost/d w = 2 * mean(x * (x * w - y)) = 0 where w = sum(x*y) / sum(x*x).
    exact = math.fsum(a * b for a, b in zip(x, y)) / math.fsum(a * a for a in x)
    if not min(w_list) < exact < max(w_list):
        raise Wrong(
            f"sweep()'s grid runs from w = {min(w_list):.4g} to {max(w_list):.4g}, and the cost still falls at"
            f" its {'upper' if max(w_list) < exact else 'lower'} end: the lowest point is outside it. Widen"
            " the grid until the cost rises on both sides."
        )
    grid = sorted(w_list)
    i = int(np.argmin(((np.asarray(grid)[:, None] * xs[None, :] - ys[None, :]) ** 2).mean(1)))
    step = max(grid[min(i + 1, len(grid) - 1)] - grid[i], grid[i] - grid[max(i - 1, 0)])
    if step > 0.01 + 1e-9 or abs(grid[i] - exact) > 0.01:
        raise Wrong(
            f"sweep()'s grid steps by {step:.3g} around its lowest point, w = {grid[i]:.4g}: too coarse to"
            " find the best w to 0.01. Step by 0.01 or less (at least near the bottom)."
        )
    return w_list, cost_list, exact


def _check_lowest(module, draw, w_list, cost_list, exact):
    n = draw.integer(6, 12)
    ws = [round(draw.uniform(-5, 5), 3) for _ in range(n)]  # not in order, so that an index is not a w
    costs = [round(draw.uniform(0, 100), 3) for _ in range(n)]
    for given_w, given_c, words in [(ws, costs, "on made-up lists"), (w_list, cost_list, "on your sweep")]:
        kept = (list(given_w), list(given_c))
        got = _number(call(module.lowest, given_w, given_c, what="lowest()"), "lowest(w_list, cost_list)")
        _unchanged("lowest()", (given_w, given_c), kept)
        best = min(range(len(given_c)), key=given_c.__getitem__)
        if got == given_w[best] or close_number(got, given_w[best], torch.float32, 1.0, 4):
            continue
        why = ""
        if close_number(got, given_c[best], torch.float32, 1.0, 4):
            why = "That is the lowest cost itself: return the w that stands beside it."
        elif got == best:
            why = "That is the position of the lowest cost in the list: return the w at that position."
        elif close_number(
            got, given_w[max(range(len(given_c)), key=given_c.__getitem__)], torch.float32, 1.0, 4
        ):
            why = "That is the w of the highest cost: the best w has the lowest."
        raise Wrong(
            f"lowest() {words} gave {got:.6g}, expected {given_w[best]:.6g}.\nw_list = {show(given_w[:8])},"
            f" cost_list = {show(given_c[:8])}\n{why}".rstrip()
        )
    return _number(call(module.lowest, w_list, cost_list, what="lowest()"), "lowest()")


def _check_graph(module, w_list, cost_list):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cost.png"
        fig = call(module.save_cost_graph, list(w_list), list(cost_list), path, what="save_cost_graph()")
        try:
            if not path.is_file():
                raise Wrong(
                    "save_cost_graph(w_list, cost_list, path) wrote no file at path: save the figure there"
                    " (fig.savefig(path))."
                )
            if not path.read_bytes().startswith(b"\x89PNG"):
                raise Wrong(
                    "save_cost_graph() wrote a file that is not a PNG image: fig.savefig(path) makes one."
                )
            if not isinstance(fig, Figure):
                raise Wrong(
                    f"save_cost_graph() returned {show(fig)}: return the figure (plt.subplots() gives it)."
                )
            drawn = []
            for ax in fig.axes:
                for line in ax.get_lines():
                    drawn.append(
                        (ax, np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
                    )
                for collection in ax.collections:
                    points = np.asarray(collection.get_offsets(), float)
                    if points.ndim == 2 and points.shape[1] == 2:
                        drawn.append((ax, points[:, 0], points[:, 1]))
            w, c = np.asarray(w_list, float), np.asarray(cost_list, float)

            def same(a, b):
                return a.shape == b.shape and np.allclose(a, b, rtol=1e-6)

            found = [ax for ax, xs, ys in drawn if same(xs, w) and same(ys, c)]
            if not found:
                if any(same(xs, c) and same(ys, w) for _, xs, ys in drawn):
                    raise Wrong(
                        "save_cost_graph() drew w against the cost: the cost goes up the y axis, w along x."
                    )
                raise Wrong(
                    f"save_cost_graph()'s figure has no curve through the {len(w)} points (w, cost) it was given:"
                    " plot cost_list against w_list."
                )
            ax = found[0]
            xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
            if "w" not in xlabel or not any(k in ylabel.lower() for k in ("cost", "loss", "mse", "error")):
                raise Wrong(
                    f"save_cost_graph()'s axes are labelled x: {xlabel!r}, y: {ylabel!r}. Label them so that a"
                    " reader knows what they show: w along x, and the cost (or loss, MSE) up y."
                )
        finally:
            if isinstance(fig, Figure):
                plt.close(fig)
            plt.close("all")


def check(module, draw):
    x, y = _check_load(module)
    _check_cost(module, draw, (x, y))
    w_list, cost_list, exact = _check_sweep(module, x, y)
    best = _check_lowest(module, draw, w_list, cost_list, exact)
    _check_graph(module, w_list, cost_list)
    return f"lowest cost at w = {best:.3f}, the exact answer {exact:.4f}"


# --------------------------------------------------------------------------- answers for the tests

_NUMPY = """
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def load_data(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    return table[:, 0].tolist(), table[:, 1].tolist()


def cost(w, x_data, y_data):
    x, y = np.asarray(x_data), np.asarray(y_data)
    return float(np.mean((x * w - y) ** 2))


def sweep(x_data, y_data):
    w_list = np.linspace(0.0, 2.0, 2001)
    return w_list, np.array([cost(w, x_data, y_data) for w in w_list])


def lowest(w_list, cost_list):
    return w_list[int(np.argmin(cost_list))]


def save_cost_graph(w_list, cost_list, path):
    plt.figure()
    plt.plot(w_list, cost_list, "b-")
    plt.xlabel("w")
    plt.ylabel("Loss")
    plt.savefig(path)
    return plt.gcf()
"""

_TORCH = """
import csv

import matplotlib
import torch

matplotlib.use("Agg")
from matplotlib import pyplot as plt


def load_data(path):
    incomes, food = [], []
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)
        for income, foodexp in reader:
            incomes.append(float(income))
            food.append(float(foodexp))
    return incomes, food


def cost(w, x_data, y_data):
    x, y = torch.tensor(x_data), torch.tensor(y_data)  # float32
    return ((x * w - y) ** 2).mean()


def sweep(x_data, y_data):
    w = torch.arange(0.0, 1.0, 0.005)
    return w, torch.stack([cost(v.item(), x_data, y_data) for v in w])


def lowest(w_list, cost_list):
    return w_list[torch.as_tensor(cost_list).argmin()]


def save_cost_graph(w_list, cost_list, path):
    fig = plt.figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.plot(torch.as_tensor(w_list).numpy(), torch.as_tensor(cost_list).numpy())
    ax.set_xlabel("weight w")
    ax.set_ylabel("MSE")
    fig.savefig(str(path))
    return fig
"""

CORRECT = {
    "numpy arrays, pyplot's state": _NUMPY,
    "float32 tensors, tensors returned": _TORCH,
    "explicit loops, a grid centred on the exact answer, points not a line": [
        (
            "    return sum((x * w - y) ** 2 for x, y in zip(x_data, y_data)) / len(x_data)",
            "    total = 0.0\n    for i in range(len(x_data)):\n        error = x_data[i] * w - y_data[i]\n"
            "        total += error * error\n    return total / len(x_data)",
        ),
        (
            "    w_list = [i / 200 for i in range(201)]",
            "    centre = sum(x * y for x, y in zip(x_data, y_data)) / sum(x * x for x in x_data)\n"
            "    w_list = [centre + k / 200 for k in range(-100, 101)]",
        ),
        ("    ax.plot(w_list, cost_list)", "    ax.scatter(w_list, cost_list, s=4)"),
        (
            '    fig.savefig(path, format="png", bbox_inches="tight")',
            "    fig.savefig(path)\n    plt.close(fig)",
        ),
    ],
}

WRONG = {
    "sum, not mean": (
        [
            (
                "    return sum((x * w - y) ** 2 for x, y in zip(x_data, y_data)) / len(x_data)",
                "    return sum((x * w - y) ** 2 for x, y in zip(x_data, y_data))",
            )
        ],
        "times too big",
    ),
    "absolute error": (
        [("sum((x * w - y) ** 2 for", "sum(abs(x * w - y) for")],
        "mean absolute error",
    ),
    "a global w, as the lecture's forward()": (
        [
            (
                "import csv\n",
                "import csv\n\nw = 1.0  # a random guess, as in lecture 2\n\n\ndef forward(x):\n    return x * w\n",
            ),
            ("sum((x * w - y) ** 2 for", "sum((forward(x) - y) ** 2 for"),
        ],
        "does it use its argument w",
    ),
    "the lecture's grid, steps of 0.1": (
        [("    w_list = [i / 200 for i in range(201)]", "    w_list = [i / 10 for i in range(41)]")],
        "too coarse",
    ),
    "a grid that stops short of the bottom": (
        [("    w_list = [i / 200 for i in range(201)]", "    w_list = [i / 200 for i in range(101)]")],
        "Widen the grid",
    ),
    "lowest() returns the cost": (
        [("    return w_list[cost_list.index(min(cost_list))]", "    return min(cost_list)")],
        "the lowest cost itself",
    ),
    "lowest() returns the position": (
        [
            (
                "    return w_list[cost_list.index(min(cost_list))]",
                "    return cost_list.index(min(cost_list))",
            )
        ],
        "position of the lowest cost",
    ),
    "columns the other way round": (
        [
            (
                '    return [float(row["income"]) for row in rows], [float(row["foodexp"]) for row in rows]',
                '    return [float(row["foodexp"]) for row in rows], [float(row["income"]) for row in rows]',
            )
        ],
        "other way round",
    ),
    "w drawn against the cost": (
        [("    ax.plot(w_list, cost_list)", "    ax.plot(cost_list, w_list)")],
        "drew w against the cost",
    ),
    "axes not labelled": (
        [
            (
                '    ax.set(xlabel="w (share of income spent on food)", ylabel="cost (MSE)", title="Cost against w")\n',
                "",
            )
        ],
        "Label them",
    ),
    "figure never saved": (
        [('    fig.savefig(path, format="png", bbox_inches="tight")', "    pass")],
        "wrote no file",
    ),
    "PyTorch's mse_loss": (
        [
            ("import csv\n", "import csv\n\nimport torch\n"),
            (
                "    return sum((x * w - y) ** 2 for x, y in zip(x_data, y_data)) / len(x_data)",
                "    x, y = torch.tensor(x_data), torch.tensor(y_data)\n"
                "    return torch.nn.functional.mse_loss(x * w, y).item()",
            ),
        ],
        "uses torch.nn.functional.mse_loss",
    ),
}
