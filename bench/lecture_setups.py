"""The videos' own settings, measured here, next to what the lessons use instead (README, "What changed").

    python bench/lecture_setups.py            # every measurement (a few minutes on 2 cores)
    python bench/lecture_setups.py --only 06  # one lesson's

For each lesson whose settings differ from the lecture's code (hunkim/PyTorchZeroToAll), it trains the
lecture's setting on the same data and split as the lesson, and prints what it reaches and how long it
took. The lessons' own numbers come from bench/benchmark.py and run_course.py.
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


def diabetes():
    """The lessons' split (lesson 03's split_rows) of the table, each feature scaled to [-1, 1] as in the
    lecture's copy of it (data/diabetes.csv.gz there), here with the training rows' minimum and maximum."""
    path = kit.data_file("diabetes/pima-indians-diabetes.csv")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    x, y = torch.from_numpy(table[:, :-1]), torch.from_numpy(table[:, -1:])
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(20240101))
    train, test = order[192:], order[:192]
    low, high = x[train].amin(0), x[train].amax(0)
    x = 2 * (x - low) / (high - low) - 1
    return x[train], y[train], x[test], y[test]


def accuracy(model, x, y):
    with torch.no_grad():
        return ((model(x) > 0.5).float() == y).float().mean().item()


def lesson_02():
    X, Y = torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([[2.0], [4.0], [6.0]])
    for reduction, lr in (("sum", 0.01), ("mean", 0.01), ("mean", 0.05)):
        predictions = []
        for seed in range(3):
            torch.manual_seed(seed)
            model = nn.Linear(1, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            for _ in range(500):
                loss = nn.MSELoss(reduction=reduction)(model(X), Y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            predictions.append(model(torch.tensor([[4.0]])).item())
        print(
            f"02: MSELoss(reduction={reduction!r}), SGD lr {lr}, 500 epochs: predict(4) = "
            + ", ".join(f"{p:.3f}" for p in predictions)
            + " (seeds 0-2)"
        )


def lesson_03():
    hours, passed = torch.tensor([[1.0], [2.0], [3.0], [4.0]]), torch.tensor([[0.0], [0.0], [1.0], [1.0]])
    for lr in (0.01, 0.1):
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
        print(
            f"03: toy data, SGD lr {lr}, 1000 epochs (seed 0): P(pass | 1 hour) = {p1:.2f}, P(pass | 7 hours) = {p7:.2f}"
        )


def lecture_diabetes_net():
    """Lectures 7 and 8: 8 -> 6 -> 4 -> 1 with a sigmoid after every layer."""
    return nn.Sequential(
        nn.Linear(8, 6), nn.Sigmoid(), nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid()
    )


def lesson_04():
    x_train, y_train, x_test, y_test = diabetes()
    for seed in range(3):
        torch.manual_seed(seed)
        model = lecture_diabetes_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(100):
            loss = nn.BCELoss()(model(x_train), y_train)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(
            f"04: the lecture's 8-6-4-1 sigmoid net, SGD lr 0.1, 100 epochs, features in [-1, 1] (seed {seed}): "
            f"test accuracy {accuracy(model, x_test, y_test):.1%}, always 'no': {1 - y_test.mean().item():.1%}"
        )


def lesson_05():
    x_train, y_train, x_test, y_test = diabetes()
    for seed in range(3):
        torch.manual_seed(seed)
        model = lecture_diabetes_net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(2):
            for inputs, labels in DataLoader(TensorDataset(x_train, y_train), batch_size=32, shuffle=True):
                loss = nn.BCELoss(reduction="sum")(model(inputs), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        print(
            f"05: the lecture's sigmoid net, BCELoss(reduction='sum'), SGD lr 0.1, batches of 32, 2 epochs, "
            f"features in [-1, 1] (seed {seed}): test accuracy {accuracy(model, x_test, y_test):.1%}"
        )


def mnist(limit=None, normalise=False):
    from torchvision import datasets

    sets = []
    for train in (True, False):
        data = datasets.MNIST(kit.mnist_root(), train=train, download=False)
        images = data.data[: limit if train else None].float().div_(255)
        if normalise:
            images.sub_(0.1307).div_(0.3081)
        sets.append(TensorDataset(images.unsqueeze(1), data.targets[: limit if train else None]))
    return sets


def mnist_run(label, model, optimizer, scheduler, batch_size, epochs, train_set, test_set):
    torch.manual_seed(0)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
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
                for i in range(0, len(images), 1000)
            )
        print(
            f"   {label}: epoch {epoch}: test accuracy {correct / 100:.2f}%, {time.perf_counter() - started:.1f} s",
            flush=True,
        )


def lecture_setting_run(label, model):
    """The lectures' MNIST setting: SGD lr 0.01, momentum 0.5, batches of 64, 9 epochs, pixels in [0, 1]."""
    train_set, test_set = mnist()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    mnist_run(
        f"{label}, SGD lr 0.01 momentum 0.5, batch 64, pixels in [0, 1]",
        model,
        optimizer,
        None,
        64,
        9,
        train_set,
        test_set,
    )


def lesson_setting_run(label, model, lr, batch_size, train_set, test_set, epochs=4):
    """The lessons' setting: AdamW with a one-cycle schedule peaking at lr, on normalised images."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train_set) / batch_size)  # the last partial batch is a step too
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    mnist_run(
        f"{label} with the lesson's AdamW one-cycle, batch {batch_size}",
        model,
        optimizer,
        scheduler,
        batch_size,
        epochs,
        train_set,
        test_set,
    )


def lecture_mlp():
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 520),
        nn.ReLU(),
        nn.Linear(520, 320),
        nn.ReLU(),
        nn.Linear(320, 240),
        nn.ReLU(),
        nn.Linear(240, 120),
        nn.ReLU(),
        nn.Linear(120, 10),
    )


def lesson_06():
    from torchvision import datasets, transforms

    mnist_data = datasets.MNIST(kit.mnist_root(), train=True, download=False, transform=transforms.ToTensor())
    started = time.perf_counter()
    for _ in DataLoader(mnist_data, batch_size=64, shuffle=True):
        pass
    print(
        f"06: one pass of the lecture's DataLoader over datasets.MNIST(transform=ToTensor()): "
        f"{time.perf_counter() - started:.1f} s, before any training",
        flush=True,
    )
    torch.manual_seed(0)
    lecture_setting_run("06 the lecture's 520-320-240-120", lecture_mlp())
    train_set, test_set = mnist(normalise=True)
    model = lecture_mlp()
    torch.manual_seed(0)
    lesson_setting_run("06 the lecture's 520-320-240-120", model, 3e-3, 256, train_set, test_set)


class LectureCNN(nn.Module):
    def __init__(self, channels=(10, 20)):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels[0], 5)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 5)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(channels[1] * 16, 10)

    def forward(self, x):
        x = torch.relu(self.mp(self.conv1(x)))
        x = torch.relu(self.mp(self.conv2(x)))
        return self.fc(x.flatten(1))


def lesson_07():
    torch.manual_seed(0)
    lecture_setting_run(
        "07 the lecture's CNN (10, 20 filters)", LectureCNN().to(memory_format=torch.channels_last)
    )
    train_set, test_set = mnist(normalise=True)
    for seed in range(3):
        torch.manual_seed(seed)
        model = LectureCNN().to(memory_format=torch.channels_last)
        lesson_setting_run(
            f"07 the lecture's CNN (10, 20 filters), seed {seed}", model, 8e-3, 128, train_set, test_set
        )


MEASUREMENTS = {
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
    args = parser.parse_args(argv)
    for lesson in args.only.split(","):
        MEASUREMENTS[lesson.strip()]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
