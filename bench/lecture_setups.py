"""The videos' own settings, measured here, next to what the lessons use instead (README, "What changed").

    python bench/lecture_setups.py              # every measurement (several minutes on 2 cores)
    python bench/lecture_setups.py --only 02,06 # some lessons'
    python bench/lecture_setups.py --readme     # ... and write the table into README.md

For each lesson whose settings differ from the lecture's code (hunkim/PyTorchZeroToAll), it trains the
lecture's setting and the lesson's on the same data and split, here in one process, and reports what
each reaches and, for MNIST, how long it took. The lessons' own runs, as a learner starts them, are in
README's Results (run_course.py) and bench/README.md (benchmark.py).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import lesson_tools as kit  # noqa: E402  (before torch: see its top)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

SEEDS = range(3)


def seeds_text(values, spec=".3f"):
    return ", ".join(format(v, spec) for v in values) + " (seeds 0-2)"


def diabetes(scale="standardise"):
    """The lessons' split (lesson 03's split_rows) of the table. scale="lecture" maps each feature to
    [-1, 1] as in the lecture's copy of the table (data/diabetes.csv.gz there), with the training rows'
    minimum and maximum; "standardise" is the lessons' mean 0, spread 1."""
    path = kit.data_file("diabetes/pima-indians-diabetes.csv")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = torch.from_numpy(table[:, :-1]), torch.from_numpy(table[:, -1:])
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(20240101))
    train, test = order[192:], order[:192]
    if scale == "lecture":
        low, high = x[train].amin(0), x[train].amax(0)
        x = 2 * (x - low) / (high - low) - 1
    else:
        x = (x - x[train].mean(0)) / x[train].std(0)
    return x[train], y[train], x[test], y[test]


def accuracy(model, x, y):
    with torch.no_grad():
        return 100.0 * ((model(x) > 0.5).float() == y).float().mean().item()


def lesson_01():
    rows = []
    for epochs in (10, 20):  # the lecture's, the lesson's
        w = 1.0
        for _ in range(epochs):
            for x, y in zip([1.0, 2.0, 3.0], [2.0, 4.0, 6.0]):
                w -= 0.01 * 2 * x * (x * w - y)
        who = "the lecture" if epochs == 10 else "the lesson"
        rows.append(
            (
                "01",
                f"{who}: {epochs} epochs of per-sample gradient descent, lr 0.01",
                f"predict(4) = {4 * w:.2f}",
            )
        )
    return rows


def lesson_02():
    x, y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [4.0], [6.0]])
    rows = []
    for who, reduction, lr in (
        ("the lecture", "sum", 0.01),
        ("-", "mean", 0.01),
        ("the lesson", "mean", 0.05),
    ):
        predictions = []
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = nn.Linear(1, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            for _ in range(500):
                loss = nn.MSELoss(reduction=reduction)(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            predictions.append(model(torch.tensor([[4.0]])).item())
        label = f"MSELoss(reduction={reduction!r}), SGD lr {lr}, 500 epochs"
        rows.append(
            ("02", f"{who}: {label}" if who != "-" else label, f"predict(4) = {seeds_text(predictions)}")
        )
    return rows


def lesson_03():
    hours, passed = torch.tensor([[1.0], [2.0], [3.0], [4.0]]), torch.tensor([[0.0], [0.0], [1.0], [1.0]])
    rows = []
    for who, lr in (("the lecture", 0.01), ("the lesson", 0.1)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid())
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(1000):
            loss = nn.BCELoss()(model(hours), passed)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            p1, p7 = model(torch.tensor([[1.0], [7.0]])).flatten().tolist()
        rows.append(
            (
                "03",
                f"{who}: toy data, SGD lr {lr}, 1000 epochs",
                f"P(pass) for 1 hour {p1:.2f}, for 7 hours {p7:.2f} (seed 0)",
            )
        )
    return rows


def diabetes_net(activation):
    """Lectures 7 and 8: 8 -> 6 -> 4 -> 1, the given activation between the layers, a sigmoid at the end."""
    return nn.Sequential(
        nn.Linear(8, 6), activation(), nn.Linear(6, 4), activation(), nn.Linear(4, 1), nn.Sigmoid()
    )


def lesson_04():
    always_no = 100.0 * (1 - diabetes()[3].mean().item())
    rows = [("04", "always answering no", f"{always_no:.1f}% on the test rows")]
    setups = [
        (
            "the lecture: sigmoid net, SGD lr 0.1, 100 epochs, features in [-1, 1]",
            nn.Sigmoid,
            "sgd",
            "lecture",
        ),
        (
            "the lesson: ReLU net, Adam lr 0.01, 100 epochs, standardised features",
            nn.ReLU,
            "adam",
            "standardise",
        ),
    ]
    for label, activation, optimizer_name, scale in setups:
        x_train, y_train, x_test, y_test = diabetes(scale)
        results = []
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = diabetes_net(activation)
            if optimizer_name == "sgd":
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            else:
                optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            for _ in range(100):
                loss = nn.BCELoss()(model(x_train), y_train)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            results.append(accuracy(model, x_test, y_test))
        rows.append(("04", label, f"test accuracy {seeds_text(results, '.1f')}"))
    return rows


def lesson_05():
    rows = []
    setups = [
        (
            "the lecture: sigmoid net, BCELoss(reduction='sum'), SGD lr 0.1, 2 epochs, features in [-1, 1]",
            nn.Sigmoid,
            "lecture",
        ),
        (
            "the lesson: ReLU net, the mean loss, Adam lr 0.01, 50 epochs, standardised features",
            nn.ReLU,
            "standardise",
        ),
    ]
    for label, activation, scale in setups:
        x_train, y_train, x_test, y_test = diabetes(scale)
        results = []
        for seed in SEEDS:
            torch.manual_seed(seed)
            model = diabetes_net(activation)
            lecture = scale == "lecture"
            if lecture:
                optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            else:
                optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            criterion = nn.BCELoss(reduction="sum" if lecture else "mean")
            for _ in range(2 if lecture else 50):
                for inputs, labels in DataLoader(
                    TensorDataset(x_train, y_train), batch_size=32, shuffle=True
                ):
                    loss = criterion(model(inputs), labels)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
            results.append(accuracy(model, x_test, y_test))
        rows.append(("05", label + ", batches of 32", f"test accuracy {seeds_text(results, '.1f')}"))
    return rows


def mnist(normalise):
    from torchvision import datasets

    sets = []
    for train in (True, False):
        data = datasets.MNIST(kit.mnist_root(), train=train, download=True)
        images = data.data.float().div_(255)
        if normalise:
            images.sub_(0.1307).div_(0.3081)
        sets.append(TensorDataset(images.unsqueeze(1), data.targets))
    return sets


def mnist_run(model, optimizer, scheduler, batch_size, epochs, normalise):
    """Train and test, in this process; returns (test accuracy after each epoch, seconds)."""
    train_set, test_set = mnist(normalise)
    torch.manual_seed(0)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    started, accuracies = time.perf_counter(), []
    for _ in range(epochs):
        model.train()
        for data, target in loader:
            loss = nn.functional.cross_entropy(model(data), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler:
                scheduler.step()
        model.eval()
        with torch.no_grad():
            images, labels = test_set.tensors
            correct = sum(
                (model(images[i : i + 1000]).argmax(1) == labels[i : i + 1000]).sum().item()
                for i in range(0, 10_000, 1000)
            )
        accuracies.append(correct / 100)
        print(f"   epoch {len(accuracies)}: {accuracies[-1]:.2f}%", flush=True)
    return accuracies, time.perf_counter() - started


def lecture_setting(model):
    """The lectures' MNIST setting: SGD lr 0.01, momentum 0.5, batches of 64, 9 epochs, pixels in [0, 1]."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    accuracies, seconds = mnist_run(model, optimizer, None, 64, 9, normalise=False)
    best = max(range(9), key=accuracies.__getitem__)
    return f"{accuracies[-1]:.2f}% after 9 epochs (best {accuracies[best]:.2f}% after {best + 1}), {seconds:.0f} s of training"


def lesson_setting(model, lr, batch_size, epochs=4):
    """The lessons' setting: AdamW with a one-cycle schedule peaking at lr, on normalised images."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * math.ceil(60_000 / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    accuracies, seconds = mnist_run(model, optimizer, scheduler, batch_size, epochs, normalise=True)
    return f"{accuracies[-1]:.2f}% after {epochs} epochs, {seconds:.0f} s of training"


def mlp(*sizes):
    layers = [nn.Flatten()]
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def lesson_06():
    from torchvision import datasets, transforms

    mnist_data = datasets.MNIST(kit.mnist_root(), train=True, download=True, transform=transforms.ToTensor())
    started = time.perf_counter()
    for _ in DataLoader(mnist_data, batch_size=64, shuffle=True):
        pass
    one_pass = time.perf_counter() - started
    lecture_layers = (784, 520, 320, 240, 120, 10)
    rows = [
        (
            "06",
            "the lecture's DataLoader with transform=ToTensor(), one pass, no training",
            f"{one_pass:.1f} s",
        )
    ]
    torch.manual_seed(0)
    rows.append(
        (
            "06",
            "the lecture: 784-520-320-240-120-10, SGD lr 0.01 momentum 0.5, batch 64",
            lecture_setting(mlp(*lecture_layers)),
        )
    )
    torch.manual_seed(0)
    rows.append(
        (
            "06",
            "the lecture's layers with the lesson's AdamW one-cycle, peak lr 0.003, batch 256",
            lesson_setting(mlp(*lecture_layers), 3e-3, 256),
        )
    )
    torch.manual_seed(0)
    rows.append(
        (
            "06",
            "the lesson: 784-512-256-10, AdamW one-cycle, peak lr 0.003, batch 256",
            lesson_setting(mlp(784, 512, 256, 10), 3e-3, 256),
        )
    )
    return rows


class LectureCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, 5)
        self.conv2 = nn.Conv2d(10, 20, 5)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(320, 10)

    def forward(self, x):
        x = torch.relu(self.mp(self.conv1(x)))
        x = torch.relu(self.mp(self.conv2(x)))
        return self.fc(x.flatten(1))


def lesson_07():
    torch.manual_seed(0)
    lecture = lecture_setting(LectureCNN().to(memory_format=torch.channels_last))
    torch.manual_seed(0)
    lesson = lesson_setting(LectureCNN().to(memory_format=torch.channels_last), 8e-3, 128)
    return [
        ("07", "the lecture: the CNN, SGD lr 0.01 momentum 0.5, batch 64, pixels in [0, 1]", lecture),
        ("07", "the lesson: the same CNN, AdamW one-cycle, peak lr 0.008, batch 128, normalised", lesson),
    ]


MEASUREMENTS = {
    "01": lesson_01,
    "02": lesson_02,
    "03": lesson_03,
    "04": lesson_04,
    "05": lesson_05,
    "06": lesson_06,
    "07": lesson_07,
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(MEASUREMENTS), help="comma-separated lesson numbers")
    parser.add_argument("--readme", action="store_true", help="write the table into README.md")
    args = parser.parse_args(argv)
    rows = []
    for lesson in args.only.split(","):
        for row in MEASUREMENTS[lesson.strip()]():
            rows.append(row)
            print(" | ".join(row), flush=True)
    if args.readme:
        sys.path.insert(0, str(REPO / "bench"))
        from run_course import replace_readme_section

        from benchmark import environment_lines

        table = [
            "| lesson | setting | result |",
            "|---|---|---|",
            *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        ]
        notes = ["Measured with `python bench/lecture_setups.py --readme`, each setting in one process:"]
        text = "\n".join(notes + [""] + table + [""] + [f"- {line}" for line in environment_lines()]) + "\n"
        replace_readme_section("lecture-setups", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
