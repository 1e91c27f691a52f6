"""Lecture 7: wide and deep: stack linear layers with activations between them (8 -> 6 -> 4 -> 1).

python 04_wide_deep.py
python 04_wide_deep.py --activation sigmoid      # the lecture's choice
python 04_wide_deep.py --epochs 300              # train longer and watch it overfit
python 04_wide_deep.py --help

Your turn: exercises/04_deep_network.py (python exercises/check.py 04).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn

EPOCHS = 100  # the lecture's
LR = 0.01  # Adam's usual range; the lecture's SGD used 0.1 (see the optimizer below)
HIDDEN = (6, 4)  # the lecture's sizes between the 8 inputs and the 1 output; any sizes work
QUICK_EPOCHS = 60

# The same data, split and scaling as lesson 03.
DIABETES_CSV = "diabetes/pima-indians-diabetes.csv"
TEST_ROWS = 192  # a quarter of the rows is held out: the model never trains on them
SPLIT_SEED = 20240101  # the split never moves with --seed, so results stay comparable between runs


def split_rows(n):
    """Row numbers of the training and the test rows: a fixed shuffle, the same on every run."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[TEST_ROWS:], order[:TEST_ROWS]


def load_diabetes(device):
    """The CSV as the lecture loads it (np.loadtxt), split into training and test rows, standardised."""
    xy = np.loadtxt(kit.data_file(DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x_data, y_data = torch.from_numpy(xy[:, 0:-1]), torch.from_numpy(xy[:, [-1]])
    train, test = split_rows(len(x_data))
    # mean 0 and spread 1 per feature, from the training rows only (lesson 03 says why)
    mean, std = x_data[train].mean(0), x_data[train].std(0)
    x_data = (x_data - mean) / std
    return (
        x_data[train].to(device),
        y_data[train].to(device),
        x_data[test].to(device),
        y_data[test].to(device),
    )


# Step 1: the model. The first layer's size is fixed by the data (8 measurements per row) and the last by
# the question (one probability); the sizes in between are a free choice. Each nn.Linear mixes all of
# its inputs; the activation between two layers bends the result. Without it, l3(l2(l1(x))) would be
# one linear map again, and depth would buy nothing.
class Model(nn.Module):
    def __init__(self, hidden=HIDDEN, activation="relu"):
        super().__init__()
        self.l1 = nn.Linear(8, hidden[0])
        self.l2 = nn.Linear(hidden[0], hidden[1])
        self.l3 = nn.Linear(hidden[1], 1)
        # The lecture used sigmoid between layers too. Its slope is at most 0.25, so the gradient shrinks
        # at every layer it passes back through and early layers learn slowly ("vanishing gradient").
        # ReLU's slope is 1 wherever it is active, so it does not shrink the gradient on the way back.
        self.activation = nn.ReLU() if activation == "relu" else nn.Sigmoid()
        self.sigmoid = nn.Sigmoid()  # the output is a probability, as in lesson 03

    def forward(self, x):
        out1 = self.activation(self.l1(x))
        out2 = self.activation(self.l2(out1))
        y_pred = self.sigmoid(self.l3(out2))
        return y_pred


@torch.no_grad()
def accuracy(model, x, y):
    """Percent of samples whose predicted class (probability > 0.5) is the true one."""
    model.eval()
    return 100.0 * ((model(x) > 0.5).float() == y).float().mean().item()


def train(model, x_train, y_train, x_test, y_test, epochs, lr, show=True):
    """Full-batch training; each epoch records the loss and how train and test accuracy move."""
    # Step 2: the loss of lesson 03, and Adam instead of the lecture's SGD (lr 0.1). Adam adapts each
    # weight's step size, which copes with sigmoid's small gradients far better than plain SGD, so
    # comparing the two activations compares the networks, not how well SGD suits each. The lecture's
    # own setting is compared with this one in README ("What changed since the videos").
    criterion = nn.BCELoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    # Step 3: the training cycle, on all training rows at once.
    log = kit.EpochLog(epochs, lr, every=max(epochs // 4, 1), show=show)
    for epoch in range(1, epochs + 1):
        model.train()  # accuracy() switched to eval() after the last epoch
        y_pred = model(x_train)
        loss = criterion(y_pred, y_train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        log.end_epoch(
            epoch,
            loss=loss.item(),
            train_accuracy=accuracy(model, x_train, y_train),
            test_accuracy=accuracy(model, x_test, y_test),
        )
    return log.history


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR)
    parser.add_argument(
        "--activation", choices=["relu", "sigmoid"], default="relu", help="activation between the layers"
    )
    parser.add_argument(
        "--hidden",
        type=kit.positive_int,
        nargs=2,
        default=HIDDEN,
        metavar="SIZE",
        help="the two hidden sizes",
    )
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    x_train, y_train, x_test, y_test = load_diabetes(device)
    model = Model(args.hidden, args.activation).to(device)
    shape = f"8 -> {args.hidden[0]} -> {args.hidden[1]} -> 1"
    parameters = sum(p.numel() for p in model.parameters())
    print(f"network {shape} with {args.activation} between layers, {parameters} weights, on {device}")
    history = train(model, x_train, y_train, x_test, y_test, epochs, args.lr)

    # Lesson 03's one-layer logistic model, written with nn.Sequential, trained here exactly as the deep
    # network was (Adam, the same epochs and learning rate, the same rows): the honest baseline for it.
    baseline = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()).to(device)
    baseline_history = train(baseline, x_train, y_train, x_test, y_test, epochs, args.lr, show=False)

    report(history, baseline_history)
    if kit.start_figures(args):
        draw(history, f"{shape} ({args.activation})", f"04_training_loss_{args.activation}", args)

    return {
        "parameters": parameters,
        "loss_first": history[0]["loss"],
        "loss_last": history[-1]["loss"],
        "train_accuracy": history[-1]["train_accuracy"],
        "test_accuracy": history[-1]["test_accuracy"],
        "history": history,
        "baseline_parameters": sum(p.numel() for p in baseline.parameters()),
        "baseline_history": baseline_history,
        "baseline_test_accuracy": baseline_history[-1]["test_accuracy"],
        "summary": (
            f"test accuracy {history[-1]['test_accuracy']:.1f}% ({args.activation}; one layer trained "
            f"the same way {baseline_history[-1]['test_accuracy']:.1f}%)"
        ),
    }


def report(history, baseline_history):
    best = max(history, key=lambda row: row["test_accuracy"])
    print(
        f"deep network:   train accuracy {history[-1]['train_accuracy']:.1f}%   "
        f"test accuracy {history[-1]['test_accuracy']:.1f}%"
    )
    # Shown to see overfitting happen, not to pick an epoch: chosen by test accuracy, the number would
    # flatter the model. Lesson 09 keeps separate validation words for choices like that.
    print(f"   (its test accuracy was highest at epoch {best['epoch']}: {best['test_accuracy']:.1f}%)")
    print(
        f"one layer (lesson 03's model), trained the same way:   "
        f"test accuracy {baseline_history[-1]['test_accuracy']:.1f}%"
    )
    print(
        "On 192 test rows one row is 0.5 points, so a point or two is noise. With 576 training rows the\n"
        "deeper network has little to gain; train longer (--epochs 300) and watch it overfit: train\n"
        "accuracy keeps rising while test accuracy falls."
    )


def draw(history, title, name, args):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([row["epoch"] for row in history], [row["loss"] for row in history])
    ax.set(xlabel="epoch", ylabel="BCE loss", title=f"{title}: training loss")
    kit.save_figure(fig, name, args)


if __name__ == "__main__":
    kit.run(main)
