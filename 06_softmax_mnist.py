"""Lecture 9: softmax and cross-entropy, then a fully connected classifier for handwritten digits (MNIST).

python 06_softmax_mnist.py                # worked example, then train and test (~10 s on 2 cores)
python 06_softmax_mnist.py --quick        # seconds: one epoch on a sixth of the training images
python 06_softmax_mnist.py --save checkpoints/06.pt
python 06_softmax_mnist.py --load checkpoints/06.pt   # test a saved model, no training
python 06_softmax_mnist.py --help         # every flag
"""

import time

import torch
from torch import nn

import lesson_tools as kit

LESSON = "06_softmax_mnist"
EPOCHS = 4  # with the one-cycle schedule below, 4 passes reach 98.3-98.5% (measured over seeds 0-2)
LR = 3e-3  # the peak learning rate of the one-cycle schedule
BATCH_SIZE = 256  # big batches use a CPU well; 512 ran faster per sample but needed a 5th epoch (measured)
WEIGHT_DECAY = 0.01
HIDDEN = (512, 256)  # two wide hidden layers: fewer multiply-adds than the lecture's 520-320-240-120 stack
TARGET = 98.0  # percent test accuracy the defaults must reach; the benchmark checks it
QUICK_TRAIN = 10_000  # --quick trains on this many images for one epoch
EVAL_BATCH = 2000  # testing needs no gradients, so big batches are cheap
PROGRESS_EVERY = 3.0  # seconds between progress lines inside a long epoch

# The well-known mean and standard deviation of MNIST pixels scaled to [0, 1] (see data/mnist/PROVENANCE.md).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


# --------------------------------------------------------------------------- softmax, worked by hand


def softmax_by_hand():
    """Lecture 9: logits -> probabilities -> cross-entropy, by hand and with nn.CrossEntropyLoss."""
    print("1) Softmax and cross-entropy, worked by hand (lecture 9)")
    logits = torch.tensor([2.0, 1.0, 0.1])  # the model's raw scores for 3 classes: any real numbers
    target = 0  # the true class
    # softmax: exponentiate (everything becomes positive) and divide by the sum (everything adds to 1)
    probabilities = logits.exp() / logits.exp().sum()
    one_hot = torch.zeros(3)
    one_hot[target] = 1.0
    # cross-entropy: -sum(one_hot * log(p)) keeps only -log(probability of the true class)
    by_hand = -(one_hot * probabilities.log()).sum()
    # nn.CrossEntropyLoss wants the raw logits and the class *index*, not probabilities and a one-hot vector:
    # it does log-softmax and the pick-the-true-class itself, in one numerically safe step. That is why the
    # model below ends with a plain Linear layer and has no softmax layer: softmax would be applied twice.
    builtin = nn.CrossEntropyLoss()(logits.unsqueeze(0), torch.tensor([target]))
    print(f"   logits         {fmt(logits)}")
    print(f"   softmax        {fmt(probabilities)}   (positive, sum = {probabilities.sum():.3f})")
    print(f"   one-hot target {fmt(one_hot)}   (class {target})")
    print(f"   loss by hand   -log({probabilities[target]:.3f}) = {by_hand:.4f}")
    print(f"   nn.CrossEntropyLoss(logits, class index {target}) = {builtin:.4f}")
    wrong = nn.CrossEntropyLoss()(logits.unsqueeze(0), torch.tensor([2]))
    print(
        f"   had the true class been 2 (a low score), the loss would be {wrong:.4f}: "
        "confident and wrong costs most"
    )
    return by_hand.item(), builtin.item()


def fmt(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values.tolist()) + "]"


# --------------------------------------------------------------------------- data


def prepare(dataset, device, limit=None):
    """torchvision's MNIST dataset -> (images, labels) tensors on device, normalised once, in bulk.

    Lesson 05 taught the DataLoader, which asks a Dataset for one sample at a time and stacks them. For
    MNIST that means a PIL image and a transform per sample: 60,000 Python calls per epoch, costing more
    than the training itself. torchvision has already decoded the files into one uint8 tensor (dataset.data),
    so we normalise all of it at once and batch by slicing: ToTensor + Normalize's numbers, far faster.
    """
    images, labels = dataset.data, dataset.targets  # uint8 [N, 28, 28] and int64 [N]
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    # on a GPU the whole set (188 MB as float) stays there, so no batch is ever copied from the CPU
    images = images.to(device).float()
    images.div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)  # in place: no second 188 MB copy at the peak
    return images.unsqueeze(1), labels.to(device)  # [N, 1, 28, 28]: one grey channel; mean 0, std 1


def batches(n, batch_size, device, shuffle=True):
    """Index tensors of one epoch's batches: a fresh random order each epoch, no Python per sample."""
    order = torch.randperm(n, device=device) if shuffle else torch.arange(n, device=device)
    return order.split(batch_size)


# --------------------------------------------------------------------------- the model


class Net(nn.Module):
    """784 pixels -> hidden layers with ReLU -> 10 scores (logits), one per digit."""

    def __init__(self, hidden=HIDDEN):
        super().__init__()
        layers, width = [], 28 * 28
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 10))  # raw logits: CrossEntropyLoss applies the softmax
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.flatten(1))  # [N, 1, 28, 28] -> [N, 784]: this model ignores the 2-D layout


# --------------------------------------------------------------------------- training and testing


@torch.inference_mode()
def evaluate(model, images, labels):
    """Percent of test images whose highest score is the true digit."""
    model.eval()
    correct = sum(
        (model(images[i : i + EVAL_BATCH]).argmax(1) == labels[i : i + EVAL_BATCH]).sum().item()
        for i in range(0, len(images), EVAL_BATCH)
    )
    return 100.0 * correct / len(images)


def train(model, train_set, test_set, args, device, clock):
    """The lecture's loop: forward, loss, zero_grad, backward, step; test after each epoch."""
    images, labels = train_set
    steps_per_epoch = -(-len(images) // args.batch_size)
    criterion = nn.CrossEntropyLoss()
    # AdamW with a one-cycle schedule (warm up, then anneal) reached 98% in the fewest epochs we measured
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch
    )
    history = {"loss": [], "accuracy": [], "seconds": []}
    seconds_to_target = None
    for epoch in kit.epoch_range(args.epochs):
        model.train()
        started = last_note = time.perf_counter()
        total = torch.zeros((), device=device)  # summed on the device: .item() every step would wait for it
        for step, batch in enumerate(batches(len(images), args.batch_size, device), 1):
            outputs = model(images[batch])
            loss = criterion(outputs, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.detach()
            if time.perf_counter() - last_note > PROGRESS_EVERY:
                last_note = time.perf_counter()
                print(
                    f"   epoch {epoch}: {step}/{steps_per_epoch} batches, loss {loss.item():.4f}", flush=True
                )
        train_loss = total.item() / steps_per_epoch
        kit.stop_if_diverged(train_loss, args.lr, f"in epoch {epoch}")
        seconds = time.perf_counter() - started
        accuracy = evaluate(model, *test_set)
        history["loss"].append(train_loss)
        history["accuracy"].append(accuracy)
        history["seconds"].append(clock.seconds())
        if seconds_to_target is None and accuracy >= TARGET:
            seconds_to_target = clock.seconds()
        print(
            f"   epoch {epoch}/{args.epochs}   train loss {train_loss:.4f}   test accuracy {accuracy:.2f}%   "
            f"{seconds:.1f} s (total {clock.seconds():.1f} s)   "
            f"{len(images) / seconds:,.0f} samples/s (training)",
            flush=True,
        )
    return history, seconds_to_target


def plot_curves(history, args, lesson=LESSON, target=TARGET):
    """Training loss and test accuracy per epoch (lesson 07 draws its curves with this too)."""
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["loss"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, history["loss"], marker="o")
    left.set(xlabel="epoch", ylabel="cross-entropy", title="Training loss")
    right.plot(epochs, history["accuracy"], marker="o", color="tab:green")
    right.axhline(target, linestyle=":", color="gray", label=f"target {target}%")
    right.set(xlabel="epoch", ylabel="percent", title="Test accuracy")
    right.legend()
    for ax in (left, right):
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # whole epochs only
    kit.save_figure(fig, f"{lesson}_curves", args)


# --------------------------------------------------------------------------- main


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    kit.add_checkpoint_flags(parser)
    parser.epilog = "--load PATH tests the saved model on the test set; it does not resume training."
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    figures_on = kit.start_figures(args)
    if args.quick:
        args.epochs = 1

    by_hand, builtin = softmax_by_hand()

    print(f"\n2) MNIST: 28x28 grey images of the digits 0-9, on {device}")
    clock = kit.Stopwatch()
    train_set = prepare(kit.mnist(train=True), device, QUICK_TRAIN if args.quick else None)
    test_set = prepare(kit.mnist(train=False), device)
    print(
        f"   {len(train_set[0]):,} training and {len(test_set[0]):,} test images, "
        f"loaded in {clock.seconds():.1f} s"
    )

    model = Net().to(device)
    print(f"   model: {model.layers}".replace("\n", "\n   "))
    if args.load:
        kit.load_checkpoint(args.load, LESSON, model)
        accuracy = evaluate(model, *test_set)
        print(f"\n3) Loaded {args.load}: test accuracy {accuracy:.2f}%")
        return {"test_accuracy": accuracy, "summary": f"loaded model: test accuracy {accuracy:.2f}%"}

    print(
        f"\n3) Training: {args.epochs} epoch{'s' * (args.epochs != 1)}, batch {args.batch_size}, "
        f"AdamW with one-cycle lr up to {args.lr:g}"
    )
    history, seconds_to_target = train(model, train_set, test_set, args, device, clock)
    accuracy = history["accuracy"][-1]
    seconds = clock.seconds()
    print(f"   final test accuracy {accuracy:.2f}% after {seconds:.1f} s (target {TARGET}%)")
    if args.save:
        kit.save_checkpoint(args.save, LESSON, model, test_accuracy=accuracy, epochs=args.epochs)
    if figures_on:
        plot_curves(history, args)
    return {
        "softmax_loss_by_hand": by_hand,
        "softmax_loss_builtin": builtin,
        "test_accuracy": accuracy,
        "accuracy_history": history["accuracy"],
        "train_loss_first": history["loss"][0],
        "train_loss_last": history["loss"][-1],
        "seconds": seconds,
        "seconds_to_target": seconds_to_target,
        "target": TARGET,
        "device": str(device),
        "summary": f"test accuracy {accuracy:.2f}%",
    }


if __name__ == "__main__":
    kit.run(main)
