"""Lecture 6: logistic regression: a sigmoid turns a linear score into a probability, BCELoss scores it.

python 03_logistic.py
python 03_logistic.py --help

Your turn: exercises/03_stable_bce.py (python exercises/check.py 03).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn

# The lecture's toy data: hours studied -> failed (0) or passed (1).
x_data = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y_data = torch.tensor([[0.0], [0.0], [1.0], [1.0]])
EPOCHS = 1000  # the lecture's
# Ten times the lecture's 0.01: at 0.01, 1000 epochs leave the model barely on the "fail" side for one
# hour of study (README, "What changed since the videos"). The diabetes model trains with it too.
LR = 0.1
QUICK_EPOCHS = 300

# Real data: 768 patients, 8 clinical measurements each, and whether diabetes followed. Lecture 6 stops at
# the toy data; this table arrives in lecture 7, with a deeper network. Trying the one-layer model on it
# first gives lesson 04 its baseline. The lecture's copy of the table differs (759 rows, pre-scaled, the
# label the other way round: data/README.md); ours is the original.
DIABETES_CSV = "diabetes/pima-indians-diabetes.csv"
TEST_ROWS = 192  # a quarter of the rows is held out: the model never trains on them
SPLIT_SEED = 20240101  # the split never moves with --seed, so results stay comparable between runs


def split_rows(n):
    """Row numbers of the training and the test rows: a fixed shuffle, the same on every run."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[TEST_ROWS:], order[:TEST_ROWS]


def load_diabetes(device):
    """The CSV read with np.loadtxt as in lecture 7 (07_diabets_logistic.py), split into training and test rows, standardised."""
    table = np.loadtxt(kit.data_file(DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x, y = torch.from_numpy(table[:, :-1]), torch.from_numpy(table[:, -1:])  # y stays a column: [768, 1]
    train, test = split_rows(len(x))
    # Put every feature on the same scale (mean 0, spread 1) using the training rows only, so that no
    # number from the test rows leaks into training. Raw values run from under 0.1 (pedigree) to over 800
    # (insulin), and one learning rate cannot suit weights for both. The lecture's copy of the table came
    # already scaled to [-1, 1]; ours is the original table (data/diabetes/PROVENANCE.md).
    mean, std = x[train].mean(0), x[train].std(0)
    x = (x - mean) / std
    return x[train].to(device), y[train].to(device), x[test].to(device), y[test].to(device)


# Step 1: the model. Linear regression's x * w + b, squashed by a sigmoid into (0, 1) so that it
# reads as the probability of class 1. The lecture's model has one input; n_features lets the same
# class read the 8 measurements of the diabetes table.
class Model(nn.Module):
    def __init__(self, n_features=1):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        y_pred = torch.sigmoid(self.linear(x))
        return y_pred


def train(model, x, y, epochs, lr):
    # Step 2: binary cross-entropy, -(y log p + (1 - y) log(1 - p)): small when the probability p
    # given to the true class is near 1, and very large when the model is confidently wrong.
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    # Step 3: the training cycle, on the whole (small) data set at once.
    model.train()  # the mode for training; no layer here behaves differently in eval(), but habits stick
    log = kit.EpochLog(epochs, lr, every=max(epochs // 4, 1))
    for epoch in range(1, epochs + 1):
        y_pred = model(x)
        loss = criterion(y_pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        log.end_epoch(epoch, loss=loss.item())
    return [row["loss"] for row in log.history]


@torch.no_grad()
def accuracy(model, x, y):
    """Percent of samples whose predicted class (probability > 0.5) is the true one."""
    model.eval()
    return 100.0 * ((model(x) > 0.5).float() == y).float().mean().item()


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR)
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    print("1) Pass or fail from hours studied (the lecture's toy data)")
    model = Model().to(device)
    toy_losses = train(model, x_data.to(device), y_data.to(device), epochs, args.lr)
    model.eval()
    with torch.no_grad():
        hours = torch.tensor([[1.0], [7.0]], device=device)  # the lecture's hour_var holds the prediction
        p_one, p_seven = model(hours).flatten().tolist()
    for hours, p in ((1, p_one), (7, p_seven)):
        print(f"   {hours} hour(s) of study: P(pass) = {p:.3f} -> {'pass' if p > 0.5 else 'fail'}")
    toy = model  # drawn in the figure at the end

    print("\n2) The same model on real data: onset of diabetes from 8 clinical measurements")
    x_train, y_train, x_test, y_test = load_diabetes(device)
    print(f"   {len(x_train)} training rows, {len(x_test)} held-out test rows, {x_train.shape[1]} features")
    model = Model(n_features=x_train.shape[1]).to(device)
    losses = train(model, x_train, y_train, epochs, args.lr)
    train_acc, test_acc = accuracy(model, x_train, y_train), accuracy(model, x_test, y_test)
    majority = 100.0 * max(y_test.mean().item(), 1 - y_test.mean().item())
    print(
        f"   train accuracy {train_acc:.1f}%   test accuracy {test_acc:.1f}%   "
        f"(always guessing the commoner class: {majority:.1f}%)"
    )
    print("   This one-layer model is the baseline that lesson 04's deeper network tries to beat.")

    if kit.start_figures(args):
        draw(toy, losses, device, args)

    return {
        "toy_loss_first": toy_losses[0],
        "toy_loss_last": toy_losses[-1],
        "p_pass_1_hour": p_one,
        "p_pass_7_hours": p_seven,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "majority_accuracy": majority,
        "summary": f"diabetes test accuracy {test_acc:.1f}% (train {train_acc:.1f}%)",
    }


def draw(toy, losses, device, args):
    """The toy model's probability curve beside the diabetes model's training loss."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    hours = torch.linspace(0, 8, 100).unsqueeze(1)
    with torch.no_grad():
        left.plot(hours, toy(hours.to(device)).cpu(), label="P(pass)")
    left.scatter(x_data, y_data, color="black", zorder=3, label="data")
    left.axhline(0.5, linestyle=":", color="gray")
    left.set(xlabel="hours studied", ylabel="probability", title="Sigmoid of a linear score")
    left.legend()
    right.plot(losses)
    right.set(xlabel="epoch", ylabel="BCE loss", title="Diabetes: training loss")
    kit.save_figure(fig, "03_logistic", args)


if __name__ == "__main__":
    kit.run(main)
