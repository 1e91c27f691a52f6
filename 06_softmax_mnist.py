"""Lecture 9: softmax and cross-entropy, then a fully connected classifier for handwritten digits (MNIST).

python 06_softmax_mnist.py                # worked example, then train and test
python 06_softmax_mnist.py --quick        # seconds: one epoch on a sixth of the training images
python 06_softmax_mnist.py --save         # also keep the trained model (checkpoints/06_softmax_mnist.pt)
python 06_softmax_mnist.py --load checkpoints/06_softmax_mnist.pt   # test a saved model, no training
python 06_softmax_mnist.py --help         # every flag

Your turn: exercises/06_softmax_cross_entropy.py (python exercises/check.py 06).
"""

import math

import lesson_tools as kit

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

LESSON = "06_softmax_mnist"
# The lecture trains 9 epochs of batches of 64 with SGD (lr 0.01, momentum 0.5). AdamW with a one-cycle
# schedule (the learning rate warms up, then anneals to almost 0) gets there in fewer epochs; README
# ("What changed since the videos") measures the lecture's settings against these.
EPOCHS = 4
LR = 3e-3  # the peak learning rate of the one-cycle schedule
BATCH_SIZE = 256  # big batches use a CPU well
QUICK_IMAGES = 10_000  # --quick trains on this many images for one epoch
TEST_BATCH = 1000  # testing keeps no gradients, so big batches are cheap
# The mean and standard deviation of all MNIST training pixels scaled to [0, 1] (data/mnist/PROVENANCE.md)
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def softmax_by_hand():
    """Lecture 9: logits -> probabilities -> cross-entropy, by hand and with nn.CrossEntropyLoss.

    The lecture's 09_01 first scores ready-made probabilities ([0.7, 0.2, 0.1]) with numpy; here the
    probabilities come from the softmax of its logits [2.0, 1.0, 0.1], so that both steps show."""
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
    # A batch, as the model will give it: one row of logits per sample, and one class index per sample.
    # The loss is the mean over the rows. These are the lecture's numbers.
    targets = torch.tensor([2, 0, 1])
    good = torch.tensor(
        [[0.1, 0.2, 0.9], [1.1, 0.1, 0.2], [0.2, 2.1, 0.1]]
    )  # highest score on the true class
    poor = torch.tensor([[0.8, 0.2, 0.3], [0.2, 0.3, 0.5], [0.2, 0.2, 0.5]])  # highest score elsewhere
    criterion = nn.CrossEntropyLoss()
    print(
        f"   a batch of 3 with targets {targets.tolist()}: loss {criterion(good, targets):.4f} for logits that"
        f" pick {good.argmax(dim=1).tolist()}, {criterion(poor, targets):.4f} for logits that pick"
        f" {poor.argmax(dim=1).tolist()}"
    )
    return by_hand.item(), builtin.item()


def fmt(values):
    return "[" + ", ".join(f"{v:.3f}" for v in values.tolist()) + "]"


def load_mnist(train, limit=None):
    """The lecture's datasets.MNIST, as a TensorDataset of normalised images.

    download=True as in the lecture: lesson_tools has already put the shipped files where torchvision
    looks (kit.mnist_root()), so nothing is downloaded. The lecture passes transform=transforms.ToTensor(),
    which turns every image from a PIL picture into a tensor again on every epoch. torchvision has
    already decoded all the images into one uint8 tensor (.data), so we scale them to [0, 1] once, as
    ToTensor does. We also normalise them to mean 0 and spread 1 (the lecture does not; pytorch/examples'
    MNIST does, with Normalize): centred inputs suit the larger learning rates used here.
    """
    dataset = datasets.MNIST(kit.mnist_root(), train=train, download=True)
    images, labels = dataset.data[:limit], dataset.targets[:limit]  # uint8 [N, 28, 28], int64 [N]
    images = images.float().div_(255).sub_(MNIST_MEAN).div_(MNIST_STD)  # in place: no second copy
    return TensorDataset(images.unsqueeze(1), labels)  # [N, 1, 28, 28]: one grey channel


# Step 1: the model. 784 pixels in, ten scores (logits) out, one per digit. The lecture stacks four hidden
# layers (520, 320, 240, 120); two wide ones need a fifth fewer multiply-adds per image (README, "What
# changed since the videos").
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


def train(model, device, train_loader, criterion, optimizer, scheduler):
    """Step 3 for one epoch, the lecture's loop over the DataLoader. Returns the mean loss per image."""
    model.train()
    total_loss = 0.0
    for data, target in train_loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        loss = criterion(output, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()  # one step along the one-cycle schedule per batch
        total_loss += loss.item() * len(data)
    return total_loss / len(train_loader.dataset)


@torch.inference_mode()
def test(model, device, test_loader, criterion):
    """The lecture's test(): the average loss per test image, and the percent whose highest score is
    the true digit. (09_2 divides a sum of batch means by the number of images, which prints about a
    64th of the average; here each batch's mean is turned back into its sum first.)"""
    model.eval()
    test_loss, correct = 0.0, 0
    for data, target in test_loader:
        data, target = data.to(device), target.to(device)
        output = model(data)
        test_loss += criterion(output, target).item() * len(data)  # the batch's mean, back to a sum
        correct += (output.argmax(dim=1) == target).sum().item()
    return test_loss / len(test_loader.dataset), 100.0 * correct / len(test_loader.dataset)


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    kit.add_checkpoint_flags(parser, LESSON)
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    if args.load:
        return load_and_test(args, device)
    figures_on = kit.start_figures(args)
    epochs = 1 if args.quick else args.epochs

    by_hand, builtin = softmax_by_hand()

    print(f"\n2) MNIST: 28x28 grey images of the digits 0-9, on {device}")
    train_dataset = load_mnist(train=True, limit=QUICK_IMAGES if args.quick else None)
    test_dataset = load_mnist(train=False)
    train_loader = DataLoader(dataset=train_dataset, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=TEST_BATCH)
    print(f"   {len(train_dataset):,} training and {len(test_dataset):,} test images")

    model = Net().to(device)
    print("   " + str(model).replace("\n", "\n   "))

    # Step 2: the loss of the worked example above, and AdamW with a one-cycle schedule instead of the
    # lecture's SGD (see EPOCHS at the top).
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
    )

    # Step 3: the training cycle: train on every batch, then test, once per epoch.
    print(f"\n3) Training: {epochs} epoch(s) of {len(train_loader)} batches of {args.batch_size}")
    # a blind guess, the same score for all ten digits, has a loss of ln(10): far above it, training diverged
    log = kit.EpochLog(epochs, args.lr, reference=math.log(10), seconds=True)
    for epoch in range(1, epochs + 1):
        train_loss = train(model, device, train_loader, criterion, optimizer, scheduler)
        test_loss, accuracy = test(model, device, test_loader, criterion)
        log.end_epoch(epoch, train_loss=train_loss, test_loss=test_loss, test_accuracy=accuracy)

    if args.save:
        kit.save_checkpoint(args.save, LESSON, model, test_accuracy=accuracy)
    if figures_on:
        kit.plot_curves(log.history, f"{LESSON}_curves", args)
    return {
        "softmax_loss_by_hand": by_hand,
        "softmax_loss_builtin": builtin,
        "batches_per_epoch": len(train_loader),
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "history": log.history,
        "device": str(device),
        "summary": f"test accuracy {accuracy:.2f}%",
    }


def load_and_test(args, device):
    """--load: test a model saved with --save; no training."""
    model = Net().to(device)
    kit.load_checkpoint(args.load, LESSON, model)
    test_loader = DataLoader(dataset=load_mnist(train=False), batch_size=TEST_BATCH)
    test_loss, accuracy = test(model, device, test_loader, nn.CrossEntropyLoss())
    print(f"Loaded {args.load}: test loss {test_loss:.4f}, test accuracy {accuracy:.2f}%")
    return {
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "summary": f"loaded model: test accuracy {accuracy:.2f}%",
    }


if __name__ == "__main__":
    kit.run(main)
