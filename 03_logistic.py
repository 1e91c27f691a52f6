"""Lecture 6: logistic regression: a sigmoid turns a linear score into a probability, BCELoss scores it.

python 03_logistic.py
python 03_logistic.py --help

Your turn: exercises/03_stable_bce.py (python exercises/check.py 03), and exercises/03b_activations.py, the slides' 6-1: other activations (check.py 03b).
"""

import lesson_tools as kit

import numpy as np
import torch
from torch import nn

# The lecture's toy data: hours studied -> failed (0) or passed (1).
x_data = torch.tensor([[1.0], [2.0], [3.0], [4.0]])
y_data = torch.tensor([[0.0], [0.0], [1.0], [1.0]])
EPOCHS = 1000  # the lecture's
# Ten times the lecture's 0.01: at 0.01 the sigmoid is still shallow after 1000 epochs, and one hour of
# study gets a P(pass) not far below 0.5 where the data allow a confident "fail" (docs/changes.md).
# The diabetes model trains with it too. --lecture trains both with 0.01.
LR = 0.1
QUICK_EPOCHS = 300
LECTURE = {"epochs": 1000, "lr": 0.01}  # its BCELoss is the mean too (size_average=True in the video)


def load_diabetes(device):
    """Real data: 768 patients, 8 clinical measurements each, and whether diabetes followed.

    Lecture 6 stops at the toy data: this part has no counterpart there. The table arrives in lecture 7,
    with a deeper network; trying the one-layer model on it first gives lesson 04 its baseline. Read with
    np.loadtxt as lecture 7 (07_diabets_logistic.py) reads it, then split by kit.diabetes_split: a quarter
    of the rows held out (the model never trains on them), the same rows on every run, every feature
    scaled with the training rows' mean and spread. The lecture's copy of the table differs (759 rows,
    pre-scaled to [-1, 1], the label the other way round: data/README.md); ours is the original.
    """
    xy = np.loadtxt(kit.data_file(kit.DIABETES_CSV), delimiter=",", skiprows=1, dtype=np.float32)
    x, y = torch.from_numpy(xy[:, 0:-1]), torch.from_numpy(xy[:, [-1]])  # y stays a column: [768, 1]
    return tuple(part.to(device) for part in kit.diabetes_split(x, y))


# Step 1: the model. Linear regression's x * w + b, squashed by a sigmoid into (0, 1) so that it
# reads as the probability of class 1. The lecture's model has one input; n_features lets the same
# class read the 8 measurements of the diabetes table.
class Model(nn.Module):
    def __init__(self, n_features=1):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        # The video writes F.sigmoid, which PyTorch 0.4.1 deprecated for torch.sigmoid, the same function
        # (the repository's 06_logistic_regression.py imports torch's sigmoid already).
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
    kit.add_lecture_flag(parser, LECTURE)
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    print(f"1) Pass or fail from hours studied (the lecture's toy data): SGD lr {args.lr:g}, {epochs} epochs")
    model = Model().to(device)
    toy_losses = train(model, x_data.to(device), y_data.to(device), epochs, args.lr)
    model.eval()
    p_pass = {}
    with torch.no_grad():
        for hours in (1.0, 7.0):  # the lecture's two questions
            hour_var = torch.tensor([[hours]], device=device)
            p_pass[hours] = model(hour_var).item()
            verdict = "pass" if p_pass[hours] > 0.5 else "fail"
            print(f"   predict {hours:g} hour(s) of study: P(pass) = {p_pass[hours]:.3f} -> {verdict}")
    toy = model  # drawn in the figure at the end

    print("\n2) The same model on real data: onset of diabetes from 8 clinical measurements")
    print(
        f"   (lecture 6 has no such part; the table comes in lecture 7): SGD lr {args.lr:g}, {epochs} epochs"
    )
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
        name = "03_logistic_lecture" if args.lecture else "03_logistic"
        kit.save_figure(figure(toy, losses, device), name, args)

    return {
        "toy_loss_first": toy_losses[0],
        "toy_loss_last": toy_losses[-1],
        "toy_losses": toy_losses,
        "p_pass_1_hour": p_pass[1.0],
        "p_pass_7_hours": p_pass[7.0],
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "losses": losses,
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "majority_accuracy": majority,
        "toy_model": toy,
        "model": model,
        "lr": args.lr,
        "epochs": epochs,
        "summary": f"diabetes test accuracy {test_acc:.1f}% (train {train_acc:.1f}%)",
    }


def figure(toy, losses, device):
    """The toy model's probability curve beside the diabetes model's training loss, epochs from 1."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    hours = torch.linspace(0, 8, 81).unsqueeze(1)
    with torch.no_grad():
        left.plot(hours.flatten(), toy(hours.to(device)).cpu().flatten(), label="P(pass)")
    left.scatter(x_data.flatten(), y_data.flatten(), color="black", zorder=3, label="data")
    left.axhline(0.5, linestyle=":", color="gray")
    left.set(xlabel="hours studied", ylabel="probability", title="Sigmoid of a linear score")
    left.legend()
    right.plot(range(1, len(losses) + 1), losses)
    right.set(xlabel="epoch", ylabel="BCE loss", title="Diabetes: training loss")
    return fig


if __name__ == "__main__":
    kit.run(main)
