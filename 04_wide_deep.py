"""Lecture 7: wide and deep: stack linear layers with activations between them (8 -> 6 -> 4 -> 1).

python 04_wide_deep.py
python 04_wide_deep.py --activation sigmoid      # the lecture's choice: watch it train slower
python 04_wide_deep.py --help
"""

import torch
from torch import nn

import lesson_tools as kit

N_FEATURES = 8  # the first layer's size is fixed by the data: 8 clinical measurements per row
N_OUTPUTS = 1  # the last is fixed by the question: one probability, "diabetes or not"
HIDDEN = [6, 4]  # the sizes in between are a free choice; these are the lecture's


# Step 1: the model. Each nn.Linear mixes all of its inputs; the activation between two layers bends
# the result. Without it, two linear layers would collapse into one and depth would buy nothing.
class DeepNet(nn.Module):
    def __init__(self, hidden=HIDDEN, activation="relu"):
        super().__init__()
        sizes = [N_FEATURES, *hidden, N_OUTPUTS]
        self.layers = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:]))
        # The lecture used sigmoid between layers. Its slope is at most 0.25, so the gradient shrinks
        # at every layer it passes back through and early layers learn slowly ("vanishing gradient").
        # ReLU's slope is 1 wherever it is active, so the signal reaches every layer intact.
        self.activation = nn.ReLU() if activation == "relu" else nn.Sigmoid()

    def forward(self, x):
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return torch.sigmoid(self.layers[-1](x))  # the output is a probability, as in lesson 03


def train(model, x, y, epochs, lr, name, test=None):
    """Full-batch training; with test=(x_test, y_test) it prints how train and test accuracy move."""
    criterion = nn.BCELoss()
    # Adam adapts each weight's step size: it copes with sigmoid's small gradients far better than
    # plain SGD, so the comparison between activations is about the network, not the optimizer.
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    report_at = {1, epochs // 4, epochs // 2, 3 * epochs // 4, epochs}
    for epoch in kit.epoch_range(epochs):
        model.train()
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        kit.stop_if_diverged(losses[-1], lr, f"at epoch {epoch} ({name})", reference=losses[0])
        if test is not None and epoch in report_at:
            print(
                f"epoch {epoch:4d}   loss = {losses[-1]:.4f}   train accuracy {accuracy(model, x, y):.1%}"
                f"   test accuracy {accuracy(model, *test):.1%}"
            )
    return losses


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    return ((model(x) > 0.5).float() == y).float().mean().item()


def main(argv=None):
    # 100 epochs: test accuracy peaks around here on this small data set and falls after (overfitting).
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=100, lr=0.01)
    parser.add_argument(
        "--activation", choices=["relu", "sigmoid"], default="relu", help="activation between the layers"
    )
    parser.add_argument(
        "--hidden",
        type=kit.positive_int,
        nargs="+",
        default=HIDDEN,
        metavar="SIZE",
        help="hidden layer sizes; the first and last sizes are fixed by the data",
    )
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    torch.set_num_threads(1)  # tensors this small are quicker on one thread than split over two
    epochs = min(args.epochs, 60) if args.quick else args.epochs

    features, labels = kit.load_diabetes_table()
    train_idx, test_idx = kit.fixed_split(len(features))
    # Standardise with the training rows' statistics only (mean 0, spread 1 per feature): raw values
    # range from 0.1 (pedigree) to 800 (insulin), and such unequal scales make training crawl.
    mean, std = features[train_idx].mean(0), features[train_idx].std(0)
    features, labels = ((features - mean) / std).to(device), labels.to(device)
    x_train, y_train, x_test, y_test = (
        features[train_idx],
        labels[train_idx],
        features[test_idx],
        labels[test_idx],
    )

    model = DeepNet(args.hidden, args.activation).to(device)
    shape = " -> ".join(str(n) for n in [N_FEATURES, *args.hidden, N_OUTPUTS])
    print(
        f"network {shape} with {args.activation} between layers, "
        f"{sum(p.numel() for p in model.parameters())} weights, on {device}"
    )
    losses = train(model, x_train, y_train, epochs, args.lr, "deep network", test=(x_test, y_test))
    train_acc, test_acc = accuracy(model, x_train, y_train), accuracy(model, x_test, y_test)

    # Lesson 03's one-layer logistic model, written with nn.Sequential, trained the same way on the
    # same split: the honest baseline for the deeper network.
    baseline = nn.Sequential(nn.Linear(N_FEATURES, N_OUTPUTS), nn.Sigmoid()).to(device)
    train(baseline, x_train, y_train, epochs, args.lr, "baseline")
    baseline_acc = accuracy(baseline, x_test, y_test)

    print(f"deep network:     train accuracy {train_acc:.1%}   test accuracy {test_acc:.1%}")
    print(f"03's logistic baseline on the same split:   test accuracy {baseline_acc:.1%}")
    print(
        "On 192 test rows one row is 0.5 points, so a point or two is noise. With 576 training rows the\n"
        "deeper network has little to gain; train longer (--epochs 300) and watch it overfit: train\n"
        "accuracy keeps rising while test accuracy falls."
    )

    if kit.start_figures(args):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(range(1, epochs + 1), losses)
        ax.set(xlabel="epoch", ylabel="BCE loss", title=f"{shape} ({args.activation}): training loss")
        kit.save_figure(fig, f"04_training_loss_{args.activation}", args)

    return {
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "train_accuracy": train_acc,
        "test_accuracy": test_acc,
        "baseline_test_accuracy": baseline_acc,
        "summary": f"test accuracy {test_acc:.1%} ({args.activation}; 03 baseline {baseline_acc:.1%})",
    }


if __name__ == "__main__":
    kit.run(main)
