"""Lectures 2-4: the linear model y = x * w, gradient descent by hand, then the same with autograd.

python 01_autograd.py            # sweep w, train by hand, train with autograd
python 01_autograd.py --help     # every flag
"""

import torch

import lesson_tools as kit

# The lecture's data: hours studied -> points. The true answer is w = 2, so the prediction for 4 hours is 8.
X = [1.0, 2.0, 3.0]
Y = [2.0, 4.0, 6.0]
W_START = 1.0  # the lecture's random guess; any start works for this convex loss


def forward(x, w):
    """Our model, y_hat = x * w: one weight, no bias."""
    return x * w


def loss_fn(x, y, w):
    """Squared error of one sample; averaged over the data it is the mean squared error (MSE)."""
    return (forward(x, w) - y) ** 2


def hand_gradient(x, y, w):
    """d loss / d w, worked out on paper: d/dw (x*w - y)^2 = 2 * x * (x*w - y)."""
    return 2 * x * (x * w - y)


def sweep_loss(figures_on, args):
    """Lecture 2: try many w and look at the loss; the lowest point is the w we want."""
    print("1) Loss against w (lecture 2): try w from 0 to 4 and average the loss over the data")
    ws = [i / 10 for i in range(41)]
    mses = [sum(loss_fn(x, y, w) for x, y in zip(X, Y)) / len(X) for w in ws]
    for w, mse in zip(ws, mses):
        if round(w * 10) % 5 == 0:  # every 0.5, to keep the output short
            print(f"   w = {w:.1f}   MSE = {mse:6.2f}")
    best = ws[mses.index(min(mses))]
    print(f"   the loss is lowest at w = {best:.1f}: gradient descent should find it without a sweep")
    if figures_on:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(ws, mses)
        ax.set(xlabel="w", ylabel="MSE loss", title="Loss against w for y = x * w")
        ax.axvline(best, linestyle=":", color="gray")
        kit.save_figure(fig, "01_loss_against_w", args)
    return best


def train_by_hand(epochs, lr):
    """Lecture 3: gradient descent with the gradient we derived ourselves, one sample at a time."""
    w, first = W_START, None
    for epoch in kit.epoch_range(epochs):
        try:
            for x, y in zip(X, Y):
                loss = loss_fn(x, y, w)
                w = w - lr * hand_gradient(x, y, w)  # step downhill: against the slope
        except OverflowError:  # Python floats raise instead of becoming inf
            loss = float("inf")
        first = first or loss
        kit.stop_if_diverged(loss, lr, f"at epoch {epoch}", reference=first)
        if epoch <= 3 or epoch == epochs:
            print(f"   epoch {epoch:3d}   w = {w:.4f}   loss = {loss:.6f}")
    return w


def show_graph_and_accumulation(device):
    """Lecture 4: what autograd does for us, and why the gradient must be zeroed."""
    # Variable was merged into Tensor in PyTorch 0.4: a plain tensor with requires_grad=True records
    # every operation done with it, so old code's Variable(...) wrapper is no longer needed.
    w = torch.tensor(W_START, requires_grad=True, device=device)
    x, y = torch.tensor(X[0], device=device), torch.tensor(Y[0], device=device)
    loss = loss_fn(x, y, w)
    # Each operation left a node in a graph; grad_fn is the last one. backward() walks this graph from
    # the loss back to w and multiplies the local derivatives on the way: that is the chain rule.
    print(f"   loss = (x * w - y) ** 2 was recorded as a graph: {loss.grad_fn.name()}", end="")
    node = loss.grad_fn
    while node is not None and node.next_functions:
        node = node.next_functions[0][0]
        if node is not None:
            print(f" <- {node.name()}", end="")
    print()
    loss.backward()
    first = w.grad.item()
    print(
        f"   after one backward():  w.grad = {first:.1f}   (by hand: {hand_gradient(X[0], Y[0], W_START):.1f})"
    )
    loss_fn(x, y, w).backward()  # a second backward() without zeroing: PyTorch *adds* to w.grad
    print(
        f"   after a second one, not zeroed:  w.grad = {w.grad.item():.1f}   <- doubled: gradients accumulate"
    )
    w.grad.zero_()
    return first, w.grad.item()


def train_with_autograd(epochs, lr, device):
    """Lecture 4: the same loop, but loss.backward() computes the gradient for us."""
    w, first = torch.tensor(W_START, requires_grad=True, device=device), None
    for epoch in kit.epoch_range(epochs):
        for x, y in zip(X, Y):
            loss = loss_fn(torch.tensor(x, device=device), torch.tensor(y, device=device), w)
            loss.backward()  # fills w.grad with d loss / d w
            # The update must not itself become part of the graph, hence no_grad(). Old code wrote
            # w.data -= ...; .data silently hides the change from autograd and can give wrong gradients.
            with torch.no_grad():
                w -= lr * w.grad
            w.grad.zero_()  # otherwise the next backward() would add to this sample's gradient
        first = first or loss.item()
        kit.stop_if_diverged(loss.item(), lr, f"at epoch {epoch}", reference=first)
        if epoch <= 3 or epoch == epochs:
            print(f"   epoch {epoch:3d}   w = {w.item():.4f}   loss = {loss.item():.6f}")
    return w.detach()


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=20, lr=0.01)
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    torch.set_num_threads(1)  # tensors this small are quicker on one thread than split over two
    epochs = min(args.epochs, 10) if args.quick else args.epochs
    figures_on = kit.start_figures(args)

    best_w = sweep_loss(figures_on, args)

    print(f"\n2) Gradient descent with the hand-derived gradient (lecture 3), lr = {args.lr}")
    print(f"   prediction for x = 4 before training: {forward(4.0, W_START):.4f}")
    w_hand = train_by_hand(epochs, args.lr)
    print(f"   prediction for x = 4 after training:  {forward(4.0, w_hand):.4f}")

    print(f"\n3) Autograd (lecture 4) on {device}")
    first_grad, zeroed_grad = show_graph_and_accumulation(device)
    w_auto = train_with_autograd(epochs, args.lr, device)
    after = forward(4.0, w_auto).item()
    print(f"   prediction for x = 4 after training:  {after:.4f}")
    print(f"   hand-derived and autograd training ended at the same w: {w_hand:.6f} vs {w_auto.item():.6f}")

    return {
        "best_w_from_sweep": best_w,
        "w_by_hand": w_hand,
        "w_by_autograd": w_auto.item(),
        "prediction_before": forward(4.0, W_START),
        "prediction_after": after,
        "first_gradient": first_grad,
        "summary": f"w = {w_auto.item():.3f}, predict(4) = {after:.2f}",
    }


if __name__ == "__main__":
    kit.run(main)
