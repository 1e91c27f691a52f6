"""Lecture 7: wide and deep: stack linear layers with activations between them (8 -> 6 -> 4 -> 1).

python 04_wide_deep.py
python 04_wide_deep.py --activation sigmoid      # the lecture's activation, with this lesson's optimizer
python 04_wide_deep.py --lecture                 # the lecture code's own run: sigmoids, SGD lr 0.1
python 04_wide_deep.py --epochs 300              # train longer and watch it overfit
python 04_wide_deep.py --help

Your turn: exercises/04_deep_network.py, the slides' 7-1 (python exercises/check.py 04), and exercises/04b_deep_titanic.py, 7-1 on another data set (check.py 04b).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn

EPOCHS = 100  # the lecture's
LR = 0.01  # Adam's usual range; the lecture's SGD used 0.1 (see Step 2)
HIDDEN = (6, 4)  # the lecture's sizes between the 8 inputs and the 1 output; any sizes work
ACTIVATION = "relu"  # between the layers; the lecture's is "sigmoid"
QUICK_EPOCHS = 60
# --lecture: the settings of the lecture's code (07_diabets_logistic.py) where this lesson's differ. Its
# sizes (8-6-4-1) and its loss (BCELoss, the mean over the rows) are this lesson's already.
LECTURE = {
    "epochs": 100,
    "lr": 0.1,
    "activation": "sigmoid",
    "optimizer": ("SGD", "Adam"),
}


def load_diabetes(device):
    """The CSV read with np.loadtxt as the lecture reads it, then the course's one split (lesson 03 says
    why): 576 training rows and 192 held-out rows, each feature put on one scale by the training rows."""
    xy = np.loadtxt(kit.data_file(kit.DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x_data = torch.from_numpy(xy[:, 0:-1])
    y_data = torch.from_numpy(xy[:, [-1]])
    return [part.to(device) for part in kit.diabetes_split(x_data, y_data)]


# Step 1: the model. The first layer's size is fixed by the data (8 measurements per row) and the last by
# the question (one probability); the sizes in between are a free choice. Each nn.Linear mixes all of
# its inputs; the activation between two layers bends the result. Without it, l3(l2(l1(x))) would be
# one linear map again, and depth would buy nothing.
class Model(nn.Module):
    def __init__(self, hidden=HIDDEN, activation=ACTIVATION):
        super().__init__()
        self.l1 = nn.Linear(8, hidden[0])
        self.l2 = nn.Linear(hidden[0], hidden[1])
        self.l3 = nn.Linear(hidden[1], 1)
        # The lecture uses self.sigmoid between the layers too. Its slope is at most 0.25, so the gradient
        # shrinks at every layer it passes back through and early layers learn slowly ("vanishing
        # gradient", as the lecture's slides say). ReLU's slope is 1 wherever it is active, so it does not
        # shrink the gradient on the way back. Hence the name self.activation: it is a choice here.
        self.activation = nn.ReLU() if activation == "relu" else nn.Sigmoid()
        self.sigmoid = nn.Sigmoid()  # the output is a probability, as in lesson 03

    def forward(self, x):
        out1 = self.activation(self.l1(x))
        out2 = self.activation(self.l2(out1))
        y_pred = self.sigmoid(self.l3(out2))
        return y_pred


# Step 2: the loss of lesson 03 and an optimizer. The lecture's is SGD at lr 0.1 (--lecture); this lesson
# uses Adam, which adapts each weight's step size and so copes with sigmoid's small gradients far better
# than plain SGD: comparing the two activations then compares the networks, not how well SGD suits each.
# docs/changes.md says what the lecture's setting does on these rows.
def loss_and_optimizer(model, lr, lecture=False):
    criterion = nn.BCELoss()  # the mean over the rows, as the lecture's reduction='mean'
    if lecture:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    return criterion, optimizer


@torch.no_grad()
def accuracy(model, x, y):
    """Percent of samples whose predicted class (probability > 0.5) is the true one."""
    model.eval()
    return 100.0 * ((model(x) > 0.5).float() == y).float().mean().item()


# Step 3: the training cycle, full-batch as in the lecture: each epoch is one step on all training rows.
# The lecture writes this loop at the top level of its script; here it is a function because two models
# train the same way (the network and its baseline). The lecture prints every epoch's loss; this prints
# epochs 1-3, every quarter and the last, with train and test accuracy.
def train(model, criterion, optimizer, data, epochs, show=True):
    """Train for `epochs`; each row of the history holds an epoch's loss (computed before its step)
    and the train and test accuracy after it."""
    x_train, y_train, x_test, y_test = data
    lr = optimizer.param_groups[0]["lr"]
    log = kit.EpochLog(epochs, lr, every=max(epochs // 4, 1), show=show)
    for epoch in range(1, epochs + 1):  # from 1: the slide prints range(100)'s 0-based epoch
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


def make_parser():
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR)
    parser.add_argument(
        "--activation", choices=["relu", "sigmoid"], default=ACTIVATION, help="activation between the layers"
    )
    parser.add_argument(
        "--hidden",
        type=kit.positive_int,
        nargs=2,
        default=HIDDEN,
        metavar="SIZE",
        help="the two hidden sizes",
    )
    kit.add_lecture_flag(parser, LECTURE)
    return parser


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    # The data stays this lesson's with --lecture too: the lecture's copy of the table has 759 rows,
    # pre-scaled to [-1, 1], and it trains on all of them and prints only its loss (docs/changes.md).
    data = load_diabetes(device)
    model = Model(args.hidden, args.activation).to(device)
    shape = f"8 -> {args.hidden[0]} -> {args.hidden[1]} -> 1"
    parameters = sum(p.numel() for p in model.parameters())
    criterion, optimizer = loss_and_optimizer(model, args.lr, args.lecture)
    print(
        f"network {shape} with {args.activation} between layers, {parameters} weights, "
        f"{type(optimizer).__name__} lr {args.lr:g}, on {device}"
    )
    history = train(model, criterion, optimizer, data, epochs)

    # Lesson 03's one-layer logistic model, written with nn.Sequential, trained here exactly as the deep
    # network was (the same optimizer, epochs, learning rate and rows): the honest baseline for it.
    baseline = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()).to(device)
    baseline_history = train(
        baseline, *loss_and_optimizer(baseline, args.lr, args.lecture), data, epochs, show=False
    )

    always_no = 100.0 * (data[3] == 0).float().mean().item()  # the share of "no" among the test rows
    report(history, baseline_history, always_no)
    if kit.start_figures(args):
        name = f"04_training_loss_{args.activation}" + ("_lecture" if args.lecture else "")
        kit.save_figure(loss_figure(history, f"{shape} ({args.activation})"), name, args)

    return {
        "parameters": parameters,
        "model": model,
        "criterion": criterion,
        "optimizer": optimizer,
        "loss_first": history[0]["loss"],
        "loss_last": history[-1]["loss"],
        "train_accuracy": history[-1]["train_accuracy"],
        "test_accuracy": history[-1]["test_accuracy"],
        "always_no_accuracy": always_no,
        "history": history,
        "baseline": baseline,
        "baseline_parameters": sum(p.numel() for p in baseline.parameters()),
        "baseline_history": baseline_history,
        "baseline_test_accuracy": baseline_history[-1]["test_accuracy"],
        "summary": (
            f"test accuracy {history[-1]['test_accuracy']:.1f}% ({args.activation}"
            f"{', the lecture' if args.lecture else ''}; one layer trained the same way "
            f"{baseline_history[-1]['test_accuracy']:.1f}%)"
        ),
    }


def report(history, baseline_history, always_no):
    last = history[-1]
    print(
        f"deep network:   train accuracy {last['train_accuracy']:.1f}%   "
        f"test accuracy {last['test_accuracy']:.1f}%"
    )
    # Shown to see overfitting happen, not to pick an epoch: chosen by test accuracy, the number would
    # flatter the model. Lesson 09 keeps separate validation words for choices like that.
    best = max(history, key=lambda row: row["test_accuracy"])  # the first epoch of the highest
    print(f"   (its test accuracy was highest at epoch {best['epoch']}: {best['test_accuracy']:.1f}%)")
    print(
        f"one layer (lesson 03's model), trained the same way:   "
        f"test accuracy {baseline_history[-1]['test_accuracy']:.1f}%"
    )
    # A model that learned nothing answers "no" to everyone, and scores the share of "no" on the test rows.
    verdict = "above" if last["test_accuracy"] > always_no else "no better than"
    print(f'always answering "no": {always_no:.1f}% of the test rows; the deep network is {verdict} that')
    if verdict == "above":
        print(
            "On 192 test rows one row is about 0.5 points, so a point or two is noise. With 576 training\n"
            "rows the deeper network has little to gain over one layer; train longer (--epochs 300) and\n"
            "watch train accuracy keep rising while test accuracy stops rising or falls: overfitting."
        )
    else:
        print(
            "It has learned nothing a blind guess does not know: too few epochs, or steps too small for\n"
            "this network. Between sigmoids the gradient shrinks at every layer (Step 1), and plain SGD's\n"
            "steps shrink with it; Adam adapts its steps. Compare a run without --lecture."
        )


def loss_figure(history, title):
    """The training loss of each epoch, epochs numbered from 1 as printed."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot([row["epoch"] for row in history], [row["loss"] for row in history])
    ax.set(xlabel="epoch", ylabel="BCE loss", title=f"{title}: training loss")
    return fig


if __name__ == "__main__":
    kit.run(main)
