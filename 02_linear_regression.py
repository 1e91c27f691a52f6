"""Lecture 5: linear regression "the PyTorch way": a model class, a loss and an optimizer, a training cycle.

python 02_linear_regression.py
python 02_linear_regression.py --help

Your turn: exercises/02_optimizers.py (python exercises/check.py 02), and exercises/02b_every_optimizer.py, the slides' 5-1: every optimizer (check.py 02b).
"""

import lesson_tools as kit

import torch
from torch import nn

# The same data as lesson 01, now as column tensors: one row per sample, one column per feature.
x_data = torch.tensor([[1.0], [2.0], [3.0]])
y_data = torch.tensor([[2.0], [4.0], [6.0]])
EPOCHS = 500  # the lecture's
# The lecture sums the squared errors (MSELoss(reduction='sum'); size_average=False in the video) with lr
# 0.01. With 3 samples that sum is 3 times the mean, so its steps are those of lr 0.03 on the mean. We use
# the mean, PyTorch's default, because its step size does not change with the number of samples in a
# batch, and raise the learning rate past that 0.03, to 0.05, so that 500 epochs come closer to 8
# (docs/changes.md). --lecture trains with the sum and lr 0.01.
LR = 0.05
QUICK_EPOCHS = 200
LECTURE = {
    "epochs": 500,
    "lr": 0.01,
    "loss": ("the sum, MSELoss(reduction='sum')", "the mean, MSELoss()"),
}


# Step 1: the model as a class. nn.Linear(1, 1) holds a weight w and a bias b and computes x * w + b.
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(1, 1)  # one input feature, one output

    def forward(self, x):
        y_pred = self.linear(x)
        return y_pred


def least_squares(x, y):
    """The exact answer, for comparison: solve [x 1] @ [w b] = y in the least-squares sense."""
    design = torch.cat([x, torch.ones_like(x)], dim=1)
    w, b = torch.linalg.lstsq(design, y).solution.flatten()
    return w.item(), b.item()


@torch.no_grad()  # no graph needed for a prediction
def predict(model, hours, device):
    model.eval()  # testing mode for layers like dropout; this model has none, but every evaluation starts so
    hour_var = torch.tensor([[hours]], device=device)
    return model(hour_var).item()


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR)
    kit.add_lecture_flag(parser, LECTURE)
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    model = Model().to(device)
    print(f"prediction for x = 4 before training: {predict(model, 4.0, device):.4f}")

    # Step 2: a loss and an optimizer from the PyTorch API instead of our own formulas.
    criterion = nn.MSELoss()  # the mean of the squared errors over the batch (see LR above)
    if args.lecture:
        criterion = nn.MSELoss(reduction="sum")  # the lecture's: their sum
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)  # w -= lr * w.grad, for every parameter
    what = "the sum of the squared errors" if criterion.reduction == "sum" else "the mean squared error"
    print(f"training: loss = {what}, SGD lr {args.lr:g}, {epochs} epochs")

    # Step 3: the training cycle: forward, loss, backward, update; the whole data set is one batch.
    x, y = x_data.to(device), y_data.to(device)
    log = kit.EpochLog(epochs, args.lr, every=100)
    for epoch in range(1, epochs + 1):
        y_pred = model(x)  # forward
        loss = criterion(y_pred, y)
        optimizer.zero_grad()  # clear last step's gradients: backward() adds to them (lesson 01)
        loss.backward()  # backward: d loss / d w and d loss / d b
        optimizer.step()  # w -= lr * w.grad and b -= lr * b.grad, for us
        log.end_epoch(epoch, loss=loss.item())
    losses = [row["loss"] for row in log.history]

    prediction = predict(model, 4.0, device)
    w, b = model.linear.weight.item(), model.linear.bias.item()
    w_exact, b_exact = least_squares(x_data, y_data)
    print(f"prediction for x = 4 after training:  {prediction:.4f}")
    print(f"learned        w = {w:.4f}   b = {b:+.4f}")
    print(
        f"least squares  w = {w_exact:.4f}   b = {b_exact:+.4f}   (the exact answer gradient descent approaches)"
    )

    if kit.start_figures(args):
        name = "02_training_loss_lecture" if args.lecture else "02_training_loss"
        kit.save_figure(loss_figure(losses, what), name, args)

    return {
        "prediction": prediction,
        "w": w,
        "b": b,
        "w_least_squares": w_exact,
        "b_least_squares": b_exact,
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "losses": losses,
        "reduction": criterion.reduction,
        "lr": args.lr,
        "epochs": epochs,
        "summary": f"predict(4) = {prediction:.3f}, w = {w:.3f}, b = {b:+.3f}",
    }


def loss_figure(losses, what):
    """The loss of every epoch, numbered from 1, on a log scale: a straight fall is a steady factor."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(range(1, len(losses) + 1), losses)
    ax.set(xlabel="epoch", ylabel=f"{what} (log scale)", title="Linear regression: training loss")
    return fig


if __name__ == "__main__":
    kit.run(main)
