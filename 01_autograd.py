"""Lectures 2-4: the linear model y = x * w, gradient descent by hand, backpropagation, then autograd.

python 01_autograd.py            # sweep w, train by hand, backpropagate by hand, train with autograd
python 01_autograd.py --help     # every flag

Your turn: exercises/01_hand_gradients.py, the slides' exercises 3-1 and 3-2 (python exercises/check.py 01), and exercises/01b_cost_graph.py, the slides' 2-1 (check.py 01b).
"""

# lesson_tools holds the course's plumbing (flags, device, seeds, data files, figures, clear messages),
# so that the lesson itself holds only the lesson.
import lesson_tools as kit

import torch

# The lecture's data: hours studied -> points. The true answer is w = 2, so the prediction for 4 hours is 8.
x_data = [1.0, 2.0, 3.0]
y_data = [2.0, 4.0, 6.0]
W_START = 1.0  # the lecture's "random guess"; any start works for this bowl-shaped loss
# Lecture 3's slide code reads `for epoch in range(100)`, but the output printed beside it stops after 10
# epochs (progress 0 to 9, predict(4) = 7.80), and the repository's 02_manual_gradient.py runs range(10),
# as does lecture 4's 03_auto_gradient.py. Those 10 stop short of predict(4) = 8; the lesson runs 20.
EPOCHS = 20
LR = 0.01  # the lecture's learning rate
QUICK_EPOCHS = 10
LECTURE = {"epochs": 10, "lr": 0.01}  # --lecture: the 10 epochs the lecture ran


# The lecture's three functions read w from a global variable; here w is passed in, so that the same
# functions serve the sweep, both training loops and the worked example.
def forward(x, w):
    """Our model, y_pred = x * w: one weight, no bias."""
    return x * w


def loss(x, y, w):
    """Squared error of one sample; its average over the data is the mean squared error (MSE)."""
    y_pred = forward(x, w)
    return (y_pred - y) ** 2


def gradient(x, y, w):
    """d loss / d w, worked out on paper: d/dw (x*w - y)^2 = 2 * x * (x*w - y)."""
    return 2 * x * (x * w - y)


def mse(w):
    """The loss of w on the whole data set: the number gradient descent drives down."""
    return sum(loss(x, y, w) for x, y in zip(x_data, y_data)) / len(x_data)


def sweep_loss():
    """Lecture 2: try many w and look at the loss; the lowest point is the w we want."""
    print("1) Loss against w (lecture 2): try w from 0 to 4 and average the loss over the data")
    w_list = [i / 10 for i in range(41)]
    mse_list = [mse(w) for w in w_list]
    for w, l in zip(w_list, mse_list):
        if round(w * 10) % 5 == 0:  # every 0.5, without the lecture's per-sample lines, to keep it short
            print(f"   w = {w:.1f}   MSE = {l:6.2f}")
    best = w_list[mse_list.index(min(mse_list))]
    print(f"   the loss is lowest at w = {best:.1f}: gradient descent should find it without a sweep")
    return best, w_list, mse_list


def loss_figure(w_list, mse_list, best):
    """The lecture's plot of the loss against w, with a dotted line at the lowest point."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(w_list, mse_list)
    ax.set(xlabel="w", ylabel="MSE loss", title="Loss against w for y = x * w")
    ax.axvline(best, linestyle=":", color="gray")
    return fig


def train_by_hand(epochs, lr):
    """Lecture 3: gradient descent with the gradient we derived ourselves, one sample at a time."""
    w = W_START
    log = kit.EpochLog(epochs, lr, reference=mse(w), every=5)
    for epoch in range(1, epochs + 1):
        for x_val, y_val in zip(x_data, y_data):
            grad = gradient(x_val, y_val, w)
            w = w - lr * grad  # step downhill: against the slope
        try:
            l = mse(w)  # the loss of the w this epoch ended with, over all the data
        except OverflowError:  # a Python float too large to square: the run has diverged
            l = float("inf")
        log.end_epoch(epoch, w=w, loss=l)
    return w


def backprop_by_hand(device):
    """Lecture 4: the chain rule on the graph of one sample, then autograd's answer for the same sample.

    The sample is x = 2, y = 4 and the weight w = 1: with x and w different, a slip that multiplies by
    w where the chain rule wants x would show in the answer."""
    x, y, w = x_data[1], y_data[1], W_START
    # forward: each node computes a value from the values before it
    y_pred = x * w
    s = y_pred - y
    l = s**2
    print(f"   forward:   y_pred = x * w = {y_pred:g}   s = y_pred - y = {s:g}   loss = s ** 2 = {l:g}")
    # backward: each node knows only its own local gradient ...
    d_loss_d_s, d_s_d_ypred, d_ypred_d_w = 2 * s, 1.0, x
    print(
        f"   local gradients:   d loss/d s = 2s = {d_loss_d_s:g}   d s/d y_pred = {d_s_d_ypred:g}"
        f"   d y_pred/d w = x = {d_ypred_d_w:g}"
    )
    # ... and the chain rule multiplies them on the way back from the loss to w
    by_hand = d_loss_d_s * d_s_d_ypred * d_ypred_d_w
    print(f"   chain rule:   d loss/d w = {d_loss_d_s:g} * {d_s_d_ypred:g} * {d_ypred_d_w:g} = {by_hand:g}")

    # Autograd does the same walk. A tensor made with requires_grad=True records every operation done
    # with it (old code wrapped it in Variable, merged into Tensor in PyTorch 0.4).
    w = torch.tensor(W_START, requires_grad=True, device=device)
    l = loss(torch.tensor(x, device=device), torch.tensor(y, device=device), w)
    # Walk the graph backwards, as backward() does: grad_fn is the node of the last operation, and each
    # node's next_functions lists the nodes of its inputs (None for an input that needs no gradient, like
    # x and y here). Following the first real one leads from the loss down to w.
    nodes, node = [], l.grad_fn
    while node is not None:
        nodes.append(node.name().split("::")[-1])  # torch::autograd::AccumulateGrad -> AccumulateGrad
        node = next((child for child, _ in node.next_functions if child is not None), None)
    # AccumulateGrad is w's own node: backward() ends there and adds the gradient into w.grad
    print(f"   autograd's graph, from the loss back to w:   {' <- '.join(nodes)}")
    l.backward()
    autograd = w.grad.item()
    print(f"   l.backward() gives w.grad = {autograd:g}   (by hand: {by_hand:g})")
    loss(torch.tensor(x, device=device), torch.tensor(y, device=device), w).backward()
    accumulated = w.grad.item()
    print(
        f"   a second backward() without zeroing: w.grad = {accumulated:g}, {accumulated / autograd:g} times the"
        " first: PyTorch *adds* to .grad, which is why part 4's loop zeroes it after each update, as the"
        " lecture's loop does"
    )
    return by_hand, autograd, accumulated, nodes


def train_with_autograd(epochs, lr, device):
    """Lecture 4: the same loop as train_by_hand, but l.backward() computes the gradient for us."""
    w = torch.tensor(W_START, requires_grad=True, device=device)
    log = kit.EpochLog(epochs, lr, reference=mse(W_START), every=5)
    for epoch in range(1, epochs + 1):
        for x_val, y_val in zip(x_data, y_data):
            l = loss(torch.tensor(x_val, device=device), torch.tensor(y_val, device=device), w)
            l.backward()  # fills w.grad with d loss / d w
            # The update itself must not be recorded, hence no_grad(). The lecture writes w.data = ...;
            # .data hides the change from autograd and can silently give wrong gradients.
            with torch.no_grad():
                w -= lr * w.grad
            # The lecture zeroes here too, after the update: otherwise the next backward() would add to
            # this sample's gradient. (Lesson 02's optimizer.zero_grad() does it before backward() instead.)
            w.grad.zero_()
        log.end_epoch(epoch, w=w.item(), loss=mse(w.item()))
    return w.item()


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, seed=None)
    kit.add_lecture_flag(parser, LECTURE)
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, LECTURE)
    device = kit.pick_device(args.device)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs

    best_w, w_list, mse_list = sweep_loss()
    if kit.start_figures(args):
        kit.save_figure(loss_figure(w_list, mse_list, best_w), "01_loss_against_w", args)

    print(
        f"\n2) Gradient descent with the hand-derived gradient (lecture 3): lr {args.lr:g}, {epochs} epochs"
    )
    print("   (loss: the mean squared error, over the three samples, of the w the epoch ended with)")
    print(f"   prediction for x = 4 before training: {forward(4.0, W_START):.4f}")
    w_hand = train_by_hand(epochs, args.lr)
    print(f"   prediction for x = 4 after training:  {forward(4.0, w_hand):.4f}")

    print(f"\n3) Backpropagation by hand and by autograd (lecture 4), on {device}")
    by_hand, autograd, accumulated, nodes = backprop_by_hand(device)

    print(f"\n4) Part 2's loop, with autograd's gradient (lecture 4): lr {args.lr:g}, {epochs} epochs")
    w_auto = train_with_autograd(epochs, args.lr, device)
    prediction = forward(4.0, w_auto)
    print(f"   prediction for x = 4 after training:  {prediction:.4f}")
    # w is a float32 tensor here and a Python float (64 bits) in part 2: the same steps agree to about 6 digits
    same = abs(w_hand - w_auto) <= 1e-5 * abs(w_hand)
    verdict = "the same w" if same else "different w's"
    print(f"   by hand and by autograd, training ended at {verdict}: {w_hand:.6f} and {w_auto:.6f}")

    return {
        "best_w_from_sweep": best_w,
        "sweep": (w_list, mse_list),
        "w_by_hand": w_hand,
        "w_by_autograd": w_auto,
        "prediction_after": prediction,
        "backprop_by_hand": by_hand,
        "backprop_by_autograd": autograd,
        "gradient_after_second_backward": accumulated,
        "graph": nodes,
        "epochs": epochs,
        "lr": args.lr,
        "summary": f"w = {w_auto:.3f}, predict(4) = {prediction:.2f}",
    }


if __name__ == "__main__":
    kit.run(main)
