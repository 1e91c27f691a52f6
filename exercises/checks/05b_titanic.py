"""Exercise 05b's check: the Titanic's passengers through the learner's Dataset, DataLoader and classifier,
trained by the learner's train() within a time budget and tested on the held-out passengers."""

import csv
import functools
import math
import statistics

from checks.common import Wrong, as_tensor, kit, show, train_on_loader

import torch
from torch import nn

NAME = "05b_titanic"
LESSON = "05"
LECTURE = "8"
SLIDE = "8-1"
IDEA = "the Titanic's passengers: a Dataset (missing ages, words as numbers), a DataLoader, a classifier"
HINTS = [
    "csv.DictReader gives each passenger as a dict of strings: row['sex'] == 'female' is True or False,"
    " which torch.tensor turns into 1.0 or 0.0 in a float32 tensor.",
    "An empty age is the empty string ''. Collect the known ages first, take their median, and use it"
    " (or age_fill, when given) wherever an age is missing; keep it as self.age_fill.",
    "Build every feature row in __init__ once, as one (passengers, features) tensor; __getitem__ then"
    " only indexes it. Divide ages by about 80 so that they are near 0 to 1 like the other numbers.",
    "train(): DataLoader(dataset, batch_size=..., shuffle=True), nn.BCELoss(), an optimizer such as Adam"
    " with lr 0.01, and for each of a few dozen epochs the loop over the loader: forward, loss,"
    " zero_grad, backward, step.",
]
FORBIDDEN = []
TIME_LIMIT = 40
BUDGET = 15  # seconds for the learner's train(); the model answer needs about 1 on a quiet 2-core machine
THRESHOLD = 0.75
# Why 75% of the 327 held-out passengers: answering the training set's majority ("died") for everyone
# scores 66.7% (the test file's 218 who died); a logistic regression on the model answer's 8 features
# (sex, class, age, whether the age is known, sibsp, parch), fitted to convergence with LBFGS, scores
# 78.3%, and the sex alone 78.9%. The model answer scored 79.2% to 82.0% over 20 seeds. 75% lies between
# the majority and those: a model below it has learned little more than "most passengers died".


@functools.cache
def _rows(name):
    with open(kit.data_file(f"titanic/{name}"), newline="") as file:
        return list(csv.DictReader(file))


def _item(dataset, index, what):
    item = dataset[index]
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise Wrong(f"{what}[{index}] is {show(item)}: an item is a pair, (features, label).")
    features = as_tensor(item[0], f"{what}[{index}]'s features", floating=True)
    label = item[1]
    if isinstance(label, torch.Tensor):
        if label.numel() != 1:
            raise Wrong(f"{what}[{index}]'s label has shape {tuple(label.shape)}: one number, shape (1,).")
        label = label.item()
    return features, label


def _features(dataset, what, rows):
    """Every item's features as one (n, features) float64 tensor, and the labels, checked on the way."""
    if len(dataset) != len(rows):
        extra = " Is the header line counted as a passenger?" if len(dataset) == len(rows) + 1 else ""
        raise Wrong(f"len({what}) is {len(dataset)}, but the file has {len(rows)} passengers.{extra}")
    xs, ys = [], []
    for i, row in enumerate(rows):
        features, label = _item(dataset, i, what)
        if features.dim() != 1 or (xs and features.shape != xs[0].shape):
            raise Wrong(
                f"{what}[{i}]'s features have shape {tuple(features.shape)}; every passenger needs the same"
                f" number of features, one row: {tuple(xs[0].shape) if xs else '(n_features,)'}."
            )
        if features.dtype != torch.float32:
            raise Wrong(f"{what}[{i}]'s features are {features.dtype}: the model's weights are float32.")
        if not torch.isfinite(features).all():
            missing = " Its age is missing in the file: fill it in." if row["age"] == "" else ""
            raise Wrong(f"{what}[{i}]'s features {show(features)} hold nan or inf.{missing}")
        expected = float(row["survived"] == "survived")
        if label != expected:
            raise Wrong(
                f"{what}[{i}]'s label is {label!r}, but that passenger {row['survived']}: 1.0 for survived, 0.0"
                " for died."
            )
        xs.append(features)
        ys.append(expected)
    return torch.stack(xs).double(), torch.tensor(ys, dtype=torch.float64).unsqueeze(1)


def _kept_fill(dataset):
    """The dataset's age_fill as a finite number (a one-element tensor's too), or None."""
    fill = getattr(dataset, "age_fill", None)
    if isinstance(fill, torch.Tensor) and fill.numel() == 1:
        fill = fill.item()
    if isinstance(fill, bool) or not isinstance(fill, (int, float)) or not math.isfinite(fill):
        return None
    return fill


def _check_datasets(module):
    train_rows, test_rows = _rows("train.csv"), _rows("test.csv")
    train_set = module.TitanicDataset(kit.data_file("titanic/train.csv"))
    fill = _kept_fill(train_set)
    if fill is None:
        raise Wrong(
            f"TitanicDataset(train.csv).age_fill is {show(getattr(train_set, 'age_fill', None))}: keep the age"
            " used for missing ones."
        )
    known = sorted(float(row["age"]) for row in train_rows if row["age"] != "")
    low, high = statistics.median_low(known), statistics.median_high(known)  # either middle value will do
    median = statistics.median(known)
    if not low - 1e-6 <= fill <= high + 1e-6:
        mean = statistics.fmean(known)
        what = (
            " (that is their mean: the median is the middle value)"
            if abs(fill - mean) < 1e-6 * abs(mean)
            else ""
        )
        raise Wrong(
            f"TitanicDataset(train.csv).age_fill is {show(fill)}{what}, but the median of the training file's"
            f" known ages is {show(median)}: fill the missing ages with the median."
        )
    x, y = _features(train_set, "TitanicDataset(train.csv)", train_rows)
    n = getattr(train_set, "n_features", None)
    if n != x.shape[1]:
        raise Wrong(f"TitanicDataset's n_features is {show(n)}, but each item has {x.shape[1]} features.")
    for column in range(x.shape[1]):
        largest = x[:, column].abs().max().item()
        # 20: features standardised to mean 0 and standard deviation 1 reach 9.4 here (parch), ages in years 80
        if largest > 20:
            known = torch.tensor([row["age"] != "" for row in train_rows])
            ages = torch.tensor(
                [float(row["age"]) for row in train_rows if row["age"] != ""], dtype=torch.float64
            )
            what = " (the age in years)" if torch.allclose(x[known, column], ages, atol=1e-4) else ""
            raise Wrong(
                f"feature {column} runs up to {largest:.4g}{what}: put every feature on a small scale, near 0 to 1,"
                " as the exercise asks (divide the ages by about 80, say). Numbers in the tens swamp the 0/1"
                " columns in the first layer's sums, and a learning rate right for them is too large for those."
            )
        if torch.equal(x[:, column], y[:, 0]) or torch.equal(x[:, column], 1 - y[:, 0]):
            raise Wrong(
                f"feature {column} of every passenger is whether they survived: the label must not be among"
                " the features, or the model learns nothing it could use on a new passenger."
            )
    test_path = kit.data_file("titanic/test.csv")
    test_set = module.TitanicDataset(test_path, age_fill=fill)
    x_test, y_test = _features(test_set, "TitanicDataset(test.csv, age_fill=...)", test_rows)
    other_set = module.TitanicDataset(test_path, age_fill=fill + 30)
    other, _ = _features(other_set, "TitanicDataset(test.csv)", test_rows)
    missing = torch.tensor([row["age"] == "" for row in test_rows])
    if torch.equal(other[missing], x_test[missing]):
        raise Wrong(
            "TitanicDataset(test.csv, age_fill=a) gives the passengers whose age is missing the same features"
            " whatever a is: fill their ages with age_fill when it is given (the training file's median)."
        )
    if not torch.equal(other[~missing], x_test[~missing]):
        raise Wrong(
            "TitanicDataset(test.csv, age_fill=a) changed passengers whose age is known: fill only the missing."
        )
    kept = _kept_fill(other_set)
    if kept is None or not math.isclose(kept, fill + 30, rel_tol=1e-6):
        raise Wrong(
            f"TitanicDataset(test.csv, age_fill={show(fill + 30)}).age_fill is"
            f" {show(getattr(other_set, 'age_fill', None))}: keep the value used, the"
            " one given as well as the median, so that anyone can see which age filled the gaps."
        )
    return train_set, x, y, x_test, y_test


def _probabilities(model, x, what):
    with torch.no_grad():
        out = as_tensor(model(x.float()), what, (len(x), 1), floating=True).double()
    if not (torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1):
        raise Wrong(
            f"{what} runs from {out.min().item():.4g} to {out.max().item():.4g}: forward() returns the probability"
            " of survival, between 0 and 1 (end with a sigmoid)."
        )
    return out


def _bce(p, y):
    return nn.functional.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y).item()


def check(module, draw):
    train_set, x, y, x_test, y_test = _check_datasets(module)
    model = module.Model(x.shape[1])
    before = _bce(_probabilities(model, x, f"Model({x.shape[1]})(features)"), y)

    took = train_on_loader(module, model, train_set, BUDGET)
    model.eval()
    p, p_test = (
        _probabilities(model, x, "the trained Model"),
        _probabilities(model, x_test, "the trained Model"),
    )
    after = _bce(p, y)
    accuracy = ((p_test > 0.5).double() == y_test).double().mean().item()
    train_accuracy = ((p > 0.5).double() == y).double().mean().item()
    majority = ((y_test == float(y.mean() > 0.5)).double().mean()).item()
    if accuracy >= THRESHOLD:
        return f"held-out accuracy {accuracy:.1%} (everyone 'died': {majority:.1%}), training {took:.1f} s"
    lines = [
        f"after your train(), Model gets {accuracy:.1%} of the 327 held-out passengers right; at least"
        f" {THRESHOLD:.0%} is needed (answering 'died' for everyone scores {majority:.1%})."
    ]
    if after > before + 0.02:
        lines.append(
            f"The loss did not fall, it rose: the training passengers' BCE was {before:.3f} before train() and"
            f" {after:.3f} after. A learning rate too large for features on this scale?"
        )
    elif not after < before - 0.02:
        lines.append(
            f"The loss did not fall: the training passengers' BCE was {before:.3f} before train() and {after:.3f}"
            " after. Does the loop call optimizer.step(), with a learning rate that moves the weights?"
        )
    elif train_accuracy - accuracy > 0.08:
        lines.append(
            f"It overfitted: {train_accuracy:.1%} right on the training passengers, {accuracy:.1%} on the held-out"
            " ones. It learned the training passengers rather than the pattern: fewer epochs or a smaller model."
        )
    elif accuracy <= majority + 0.01:
        same = (p_test > 0.5).all() or (p_test <= 0.5).all()
        lines.append(
            "It never beat the majority answer"
            + (": it gives every passenger the same answer." if same else ".")
            + " Are the features informative (sex, class, age as numbers) and on a small scale?"
        )
    constant = [
        c for c in range(x.shape[1]) if torch.all(x[:, c] == x[0, c]) and torch.all(x_test[:, c] == x[0, c])
    ]
    if constant:
        lines.append(
            f"Feature{'s' if len(constant) > 1 else ''} {', '.join(map(str, constant))} {'are' if len(constant) > 1 else 'is'}"
            " the same for every passenger, so it tells the model nothing: do the comparisons match the file's"
            " words exactly ('female', '1st', 'survived')?"
        )
    raise Wrong("\n".join(lines))


# --------------------------------------------------------------------------- answers for the tests

_NUMPY_STYLE = """
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class TitanicDataset(Dataset):
    def __init__(self, path, age_fill=None):
        table = np.genfromtxt(path, delimiter=",", skip_header=1, dtype=str)
        pclass, survived, sex = table[:, 0], table[:, 1], table[:, 2]
        ages = np.array([float(a) if a else np.nan for a in table[:, 3]])
        self.age_fill = float(np.nanmedian(ages)) if age_fill is None else float(age_fill)
        ages = np.where(np.isnan(ages), self.age_fill, ages)
        sibsp, parch = table[:, 4].astype(float), table[:, 5].astype(float)
        columns = [sex == "male", pclass == "1st", pclass == "3rd", (ages - 30) / 15, sibsp, parch]
        self.features = torch.from_numpy(np.stack(columns, 1).astype(np.float32))
        self.labels = torch.from_numpy((survived == "survived").astype(np.float32)).unsqueeze(1)
        self.n_features = self.features.shape[1]

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.features[i], self.labels[i]


class Model(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, 32), nn.Tanh(), nn.Linear(32, 1), nn.Sigmoid())

    def forward(self, x):
        return self.net(x)


def train(model, dataset):
    loader = DataLoader(dataset, batch_size=16, shuffle=True)
    loss_fn = nn.BCELoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    for _ in range(10):
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
"""

_ROW_BY_ROW = """
import csv
import statistics

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

CLASSES = {"1st": [1, 0, 0], "2nd": [0, 1, 0], "3rd": [0, 0, 1]}


class TitanicDataset(Dataset):
    def __init__(self, path, age_fill=None):
        with open(path) as f:
            self.rows = list(csv.DictReader(f))
        if age_fill is None:
            age_fill = statistics.median(float(r["age"]) for r in self.rows if r["age"] != "")
        self.age_fill = age_fill
        self.n_features = 7

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        age = float(r["age"]) if r["age"] != "" else self.age_fill
        x = [1.0 if r["sex"] == "female" else 0.0] + CLASSES[r["pclass"]]
        x += [age / 100, min(int(r["sibsp"]), 3) / 3, min(int(r["parch"]), 3) / 3]
        y = [1.0] if r["survived"] == "survived" else [0.0]
        return torch.tensor(x), torch.tensor(y)


class Model(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)  # logistic regression is a classifier too

    def forward(self, x):
        return torch.sigmoid(self.linear(x))


def train(model, dataset):
    loader = DataLoader(dataset, batch_size=50, shuffle=True, num_workers=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for epoch in range(8):
        for inputs, labels in loader:
            loss = F.binary_cross_entropy(model(inputs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
"""

CORRECT = {
    "numpy, other columns, SGD with momentum": _NUMPY_STYLE,
    "row by row in __getitem__, logistic regression": _ROW_BY_ROW,
    "a BatchNorm layer, logits and BCEWithLogitsLoss inside": [
        (
            "        self.l1 = nn.Linear(n_features, 16)\n        self.l2 = nn.Linear(16, 1)",
            "        self.l1 = nn.Linear(n_features, 16)\n        self.norm = nn.BatchNorm1d(16)\n"
            "        self.l2 = nn.Linear(16, 1)",
        ),
        (
            "        return torch.sigmoid(self.l2(torch.relu(self.l1(x))))",
            "        return torch.sigmoid(self.scores(x))\n\n    def scores(self, x):\n"
            "        return self.l2(torch.relu(self.norm(self.l1(x))))",
        ),
        ("    criterion = nn.BCELoss()", "    criterion = nn.BCEWithLogitsLoss()"),
        ("            y_pred = model(inputs)", "            y_pred = model.scores(inputs)"),
    ],
}

WRONG = {
    "one batch of the whole dataset": (
        [
            (
                "DataLoader(dataset, batch_size=64, shuffle=True)",
                "DataLoader(dataset, batch_size=len(dataset), shuffle=True)",
            )
        ],
        "one batch of the whole dataset",
    ),
    "age_fill kept only when it is the median": (
        [
            (
                "        self.age_fill = known[len(known) // 2] if age_fill is None else age_fill",
                "        self.age_fill = known[len(known) // 2]\n        fill = self.age_fill if age_fill is None else age_fill",
            ),
            (
                'age = float(row["age"]) if row["age"] else self.age_fill',
                'age = float(row["age"]) if row["age"] else fill',
            ),
        ],
        "keep the value used",
    ),
    "ages in years, not scaled": (
        [
            (
                "                    age / 80,  # ages up to 80: numbers near 0 to 1, like the other columns",
                "                    age,",
            )
        ],
        "(the age in years)",
    ),
    "mini-batches never shuffled": (
        [("DataLoader(dataset, batch_size=64, shuffle=True)", "DataLoader(dataset, batch_size=64)")],
        "never shuffled",
    ),
    "missing ages left as nan": (
        [
            (
                '            age = float(row["age"]) if row["age"] else self.age_fill',
                '            age = float(row["age"]) if row["age"] else float("nan")',
            )
        ],
        "hold nan or inf",
    ),
    "the mean, not the median": (
        [("known[len(known) // 2] if age_fill is None", "sum(known) / len(known) if age_fill is None")],
        "that is their mean",
    ),
    "the held-out file's own median": (
        [
            (
                "        self.age_fill = known[len(known) // 2] if age_fill is None else age_fill",
                "        self.age_fill = known[len(known) // 2]",
            )
        ],
        "fill their ages with age_fill when it is given",
    ),
    "the label among the features": (
        [
            (
                '                    float(row["parch"]) / 6,\n',
                '                    float(row["parch"]) / 6,\n                    row["survived"] == "survived",\n',
            )
        ],
        "the label must not be among the features",
    ),
    "labels the other way round": (
        [('float(row["survived"] == "survived")', 'float(row["survived"] == "died")')],
        "1.0 for survived",
    ),
    "no optimizer step": (
        [("            optimizer.step()\n", "")],
        "The loss did not fall",
    ),
    "learning rate far too high": (
        [("torch.optim.Adam(model.parameters(), lr=0.01)", "torch.optim.SGD(model.parameters(), lr=50.0)")],
        "at least 75%",
    ),
    "no DataLoader: one made-up batch": (
        [
            (
                "    train_loader = DataLoader(dataset, batch_size=64, shuffle=True)\n",
                "    train_loader = [(torch.zeros(64, 8), torch.zeros(64, 1))]\n",
            ),
        ],
        "never read an item of the dataset",
    ),
    "the words misspelled": (
        [
            ('row["sex"] == "female"', 'row["sex"] == "Female"'),
            ('row["pclass"] == "1st"', 'row["pclass"] == "1"'),
            ('row["pclass"] == "2nd"', 'row["pclass"] == "2"'),
            ('row["pclass"] == "3rd"', 'row["pclass"] == "3"'),
        ],
        "the same for every passenger",
    ),
}
