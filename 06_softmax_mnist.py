"""Lecture 9: softmax and cross-entropy, then a fully connected classifier for handwritten digits (MNIST).

python 06_softmax_mnist.py                # worked example, then train and test
python 06_softmax_mnist.py --quick        # seconds: one epoch on a sixth of the training images
python 06_softmax_mnist.py --lecture      # the lecture's own run: its network, SGD, batches of 64, 9 epochs
python 06_softmax_mnist.py --save         # also keep the trained model (checkpoints/06_softmax_mnist.pt)
python 06_softmax_mnist.py --load checkpoints/06_softmax_mnist.pt   # test a saved model, no training
python 06_softmax_mnist.py --help         # every flag

Your turn: exercises/06_softmax_cross_entropy.py (python exercises/check.py 06), exercises/06b_nll_loss.py, the slides' 9-1 (check.py 06b), and exercises/06c_digits.py, the slides' 9-2 (check.py 06c).
"""

import math

import lesson_tools as kit

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

LESSON = "06_softmax_mnist"
# The lesson's settings. The lecture trains 9 epochs of batches of 64 with SGD (LECTURE below). AdamW with
# a one-cycle schedule (the learning rate warms up, then anneals to almost 0) gets there in fewer epochs;
# README ("The lecture's settings against the lessons'") compares the two.
EPOCHS = 4
LR = 3e-3  # the peak learning rate of the one-cycle schedule
BATCH_SIZE = 256  # big batches use a CPU well
QUICK_IMAGES = 10_000  # --quick trains on this many images for one epoch
# testing keeps no gradients, so big batches are cheap; the lecture tests in batches of 64: the same numbers
TEST_BATCH = 1000
# --lecture: the settings of the lecture's code (09_2_softmax_mnist.py, and lecture 9's slides).
LECTURE = {
    "epochs": 9,  # range(1, 10)
    "lr": 0.01,
    "batch_size": 64,
    "model": ("LectureNet 784-520-320-240-120-10", "Net 784-512-256-10"),
    "optimizer": ("SGD, momentum 0.5", "AdamW, one-cycle schedule"),
}


def softmax_by_hand():
    """Lecture 9's 09_01_softmax_loss.py: the cross-entropy of two sets of logits for one sample, then
    of two batches, by hand and with nn.CrossEntropyLoss. Returns the losses it printed.

    09_01 scores ready-made probabilities ([0.7, 0.2, 0.1]) with numpy first; here the probabilities are
    the softmax of its logits, so that both steps, softmax then cross-entropy, show."""
    print("1) Softmax and cross-entropy, worked by hand (lecture 9)")
    # nn.CrossEntropyLoss wants the raw logits and the class *index*, not probabilities and a one-hot vector:
    # it does log-softmax and the pick-the-true-class itself, in one numerically safe step. That is why the
    # model below ends with a plain Linear layer and has no softmax layer: softmax would be applied twice.
    loss = nn.CrossEntropyLoss()
    Y = torch.tensor([0])  # the true class of one sample: an index
    Y_pred1 = torch.tensor([[2.0, 1.0, 0.1]])  # logits, any real numbers: the highest is on class 0
    Y_pred2 = torch.tensor([[0.5, 2.0, 0.3]])  # the highest is on class 1: a wrong guess
    one_hot = F.one_hot(Y, num_classes=3).float()  # 09_01's numpy half writes it out: [1, 0, 0]
    print(f"   Y = {Y.tolist()}: the true class of one sample (one-hot {fmt(one_hot[0])})")
    worked = {}
    for name, logits in (("Y_pred1", Y_pred1), ("Y_pred2", Y_pred2)):
        # softmax: exponentiate (everything becomes positive) and divide by the sum (everything adds to 1)
        probabilities = logits.exp() / logits.exp().sum()
        # cross-entropy: -sum(one_hot * log(p)) keeps only -log(probability of the true class)
        by_hand = -(one_hot * probabilities.log()).sum()
        builtin = loss(logits, Y)
        print(
            f"   {name} = {fmt(logits[0])}: softmax {fmt(probabilities[0])}, predicts {logits.argmax().item()};"
            f" loss by hand -log({probabilities[0, Y.item()]:.3f}) = {by_hand:.4f},"
            f" nn.CrossEntropyLoss {builtin:.4f}"
        )
        worked[name] = (by_hand.item(), builtin.item())
    print("   the wrong guess costs more: the loss is large when the true class gets a small probability")
    # A batch, as the model will give it: one row of logits per sample and one class index per sample.
    # The loss is the mean over the rows. The lecture's numbers again.
    Y = torch.tensor([2, 0, 1])
    Y_pred1 = torch.tensor([[0.1, 0.2, 0.9], [1.1, 0.1, 0.2], [0.2, 2.1, 0.1]])  # each row right
    Y_pred2 = torch.tensor([[0.8, 0.2, 0.3], [0.2, 0.3, 0.5], [0.2, 0.2, 0.5]])  # each row wrong
    l1, l2 = loss(Y_pred1, Y), loss(Y_pred2, Y)
    print(
        f"   a batch of 3, Y = {Y.tolist()}: Batch Loss1 {l1:.4f} (Y_pred1 predicts"
        f" {Y_pred1.argmax(dim=1).tolist()}), Batch Loss2 {l2:.4f} (Y_pred2 predicts {Y_pred2.argmax(dim=1).tolist()})"
    )
    worked["batch"] = (l1.item(), l2.item())
    return worked


def fmt(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values.tolist()) + "]"


def load_mnist(train, limit=None):
    """The lecture's datasets.MNIST, as a TensorDataset of normalised images.

    download=True as in the lecture: lesson_tools has already put the shipped files where torchvision
    looks (kit.mnist_root()), so nothing is downloaded. The lecture passes transforms.ToTensor() and
    transforms.Normalize((0.1307,), (0.3081,)) (the slides; the repository's 09_2 leaves Normalize out),
    which turn every image from a PIL picture into a tensor again on every epoch. torchvision has already
    decoded all the images into one uint8 tensor (.data), so we do the same arithmetic once: scale to
    [0, 1] as ToTensor does, then subtract the mean and divide by the spread as Normalize does.
    """
    dataset = datasets.MNIST(kit.mnist_root(), train=train, download=True)
    images, labels = dataset.data[:limit], dataset.targets[:limit]  # uint8 [N, 28, 28], int64 [N]
    images = images.float().div_(255).sub_(kit.MNIST_MEAN).div_(kit.MNIST_STD)  # in place: no second copy
    return TensorDataset(images.unsqueeze(1), labels)  # [N, 1, 28, 28]: one grey channel


# Step 1: the model. 784 pixels in, ten scores (logits) out, one per digit. The lecture stacks four hidden
# layers (520, 320, 240, 120: LectureNet below, which --lecture trains); two wide ones need a fifth fewer
# multiply-adds per image.
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 512)
        self.l2 = nn.Linear(512, 256)
        self.l3 = nn.Linear(256, 10)

    def forward(self, x):
        x = x.view(-1, 784)  # flatten the data (n, 1, 28, 28) -> (n, 784): this model ignores the 2-D layout
        x = torch.relu(self.l1(x))
        x = torch.relu(self.l2(x))
        return self.l3(x)  # raw logits: CrossEntropyLoss applies the softmax


class LectureNet(nn.Module):
    """The lecture's Net (09_2 and the slides), layer for layer: 784-520-320-240-120-10."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(784, 520)
        self.l2 = nn.Linear(520, 320)
        self.l3 = nn.Linear(320, 240)
        self.l4 = nn.Linear(240, 120)
        self.l5 = nn.Linear(120, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.l1(x))
        x = F.relu(self.l2(x))
        x = F.relu(self.l3(x))
        x = F.relu(self.l4(x))
        return self.l5(x)  # no activation: raw logits, as in Net


def train(model, device, train_loader, criterion, optimizer, scheduler=None):
    """Step 3 for one epoch, the lecture's loop over the DataLoader. Returns the mean loss per image."""
    model.train()
    total_loss = 0.0
    # batch_idx: the lecture printed every 10th batch's loss; this lesson prints once per epoch
    for batch_idx, (data, target) in enumerate(train_loader):  # noqa: B007
        data, target = data.to(device), target.to(device)
        output = model(data)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:  # the lecture's SGD (--lecture) keeps one learning rate throughout
            scheduler.step()  # one step along the one-cycle schedule per batch
        total_loss += loss.item() * len(data)
    return total_loss / len(train_loader.dataset)


@torch.inference_mode()
def test(model, device, test_loader, criterion):
    """The lecture's test(): the average loss per test image, and the percent whose highest score is
    the true digit. The slides add up each batch's summed loss (size_average=False), then divide by the
    number of images, so the video prints the true average. The repository's 09_2 adds up batch *means*
    before dividing by the number of images: it prints about a 64th of the average. Here each batch's
    mean is turned back into its sum, as the slides do."""
    model.eval()
    test_loss, correct = 0.0, 0
    for data, target in test_loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        test_loss += criterion(output, target).item() * len(data)  # the batch's mean, back to a sum
        correct += (output.argmax(dim=1) == target).sum().item()
    return test_loss / len(test_loader.dataset), 100.0 * correct / len(test_loader.dataset)


def main(argv=None):
    args = parse_args(argv)
    if args.load:
        return load_and_test(args)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    figures_on = kit.start_figures(args)
    epochs = 1 if args.quick else args.epochs

    worked = softmax_by_hand()

    print(f"\n2) MNIST: 28x28 grey images of the digits 0-9, on {device}")
    train_loader, test_loader = mnist_loaders(args)

    model = (LectureNet() if args.lecture else Net()).to(device)
    print("   " + str(model).replace("\n", "\n   "))

    # Step 2: the loss of the worked example above (the lecture's too), and AdamW with a one-cycle schedule
    # instead of the lecture's SGD (see EPOCHS at the top); --lecture takes the lecture's.
    criterion = nn.CrossEntropyLoss()
    if args.lecture:
        optimizer, scheduler = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.5), None
    else:
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
        )

    # Step 3: the training cycle: train on every batch, then test, once per epoch.
    full = f" (--quick; the full run has {args.epochs})" if args.quick else ""
    print(f"\n3) Training: {epochs} epoch(s){full} of {len(train_loader)} batches of {args.batch_size}")
    # a blind guess, the same score for all ten digits, has a loss of ln(10): far above it, training diverged
    log = kit.EpochLog(epochs, args.lr, reference=math.log(10), seconds=True)
    for epoch in range(1, epochs + 1):
        train_loss = train(model, device, train_loader, criterion, optimizer, scheduler)
        test_loss, accuracy = test(model, device, test_loader, criterion)
        log.end_epoch(epoch, train_loss=train_loss, test_loss=test_loss, test_accuracy=accuracy)

    figures = keep(args, model, log.history, figures_on)
    return {
        "worked_example": worked,
        "batches_per_epoch": len(train_loader),
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "history": log.history,
        "model": model,
        "criterion": criterion,
        "optimizer": optimizer,
        "figures": figures,
        "device": str(device),
        "summary": f"test accuracy {accuracy:.2f}%" + (" (--lecture)" if args.lecture else ""),
    }


def parse_args(argv):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    kit.add_lecture_flag(parser, LECTURE)
    kit.add_checkpoint_flags(parser, LESSON)
    args = parser.parse_args(argv)
    if not args.load:  # --load trains nothing: the checkpoint says which network it holds
        kit.use_lecture_settings(args, parser, LECTURE)  # prints the line that lists what --lecture changed
    return args


def mnist_loaders(args):
    """The lecture's two DataLoaders: shuffled training batches of --batch-size, and the test images."""
    train_dataset = load_mnist(train=True, limit=QUICK_IMAGES if args.quick else None)
    test_dataset = load_mnist(train=False)
    train_loader = DataLoader(dataset=train_dataset, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=TEST_BATCH)
    print(f"   {len(train_dataset):,} training and {len(test_dataset):,} test images")
    return train_loader, test_loader


def keep(args, model, history, figures_on):
    """--save's checkpoint and the curves figure, named for the run's options so that a --lecture run
    never overwrites the default's files. Returns the figures drawn."""
    variant = "lecture" if args.lecture else ""
    if args.save:
        kit.save_checkpoint(
            args.save,
            LESSON,
            model,
            variant,
            lecture=args.lecture,
            test_accuracy=history[-1]["test_accuracy"],
        )
    figures = {}
    if figures_on:
        figures["curves"] = kit.curves_figure(history)
        kit.save_figure(figures["curves"], "_".join(filter(None, [LESSON, variant, "curves"])), args)
    return figures


def load_and_test(args):
    """--load: test a model saved with --save; no training. The checkpoint says which network it holds
    (--lecture is not needed)."""
    device = kit.pick_device(args.device)
    checkpoint = kit.load_checkpoint(args.load, LESSON)
    lecture = bool(checkpoint.get("lecture", False))
    model = (LectureNet() if lecture else Net()).to(device)
    kit.load_weights(model, checkpoint, args.load)
    test_loader = DataLoader(dataset=load_mnist(train=False), batch_size=TEST_BATCH)
    test_loss, accuracy = test(model, device, test_loader, nn.CrossEntropyLoss())
    network = "the lecture's LectureNet" if lecture else "Net"
    print(f"Loaded {args.load} ({network}): test loss {test_loss:.4f}, test accuracy {accuracy:.2f}%")
    return {
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "lecture": lecture,
        "summary": f"loaded model: test accuracy {accuracy:.2f}%",
    }


if __name__ == "__main__":
    kit.run(main)
