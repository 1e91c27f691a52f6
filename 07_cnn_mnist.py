"""Lectures 10-11: a convolutional neural network (CNN) for MNIST, and the inception module.

python 07_cnn_mnist.py                # each layer's output shape, then train and test
python 07_cnn_mnist.py --quick        # seconds: one epoch on a tenth of the training images
python 07_cnn_mnist.py --inception    # lecture 11: the network with two inception modules (slower)
python 07_cnn_mnist.py --lecture      # the lecture's own run: SGD, batches of 64, 9 epochs, raw pixels
python 07_cnn_mnist.py --save         # also keep the trained model (checkpoints/07_cnn_mnist.pt)
python 07_cnn_mnist.py --load checkpoints/07_cnn_mnist.pt   # test a saved model, no training
python 07_cnn_mnist.py --help         # every flag

Your turn: exercises/07a_conv_sizes.py and exercises/07b_residual_block.py (python exercises/check.py 07).
"""

import math

import lesson_tools as kit

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchvision import datasets

LESSON = "07_cnn_mnist"
# The lesson's settings. The lecture trains 9 epochs of batches of 64 with SGD (LECTURE below). AdamW with
# a one-cycle schedule gets there in fewer epochs; README ("The lecture's settings against the lessons'")
# compares the two.
EPOCHS = 4
LR = 8e-3  # the peak learning rate of the one-cycle schedule
BATCH_SIZE = 128  # half of 06's: more steps per epoch
QUICK_IMAGES = 6000  # --quick trains on this many images for one epoch
# testing keeps no gradients, so big batches are cheap; the lecture tests in batches of 64: the same numbers
TEST_BATCH = 1000
MISTAKES_SHOWN = 24  # misclassified test digits drawn in the figure
# --lecture: the settings of the lecture's code (10_1_cnn_mnist.py; 11_1_toy_inception_mnist.py has the same).
LECTURE = {
    "epochs": 9,  # range(1, 10)
    "lr": 0.01,
    "batch_size": 64,
    "loss": ("F.log_softmax in the model, then F.nll_loss", "nn.CrossEntropyLoss on raw scores"),
    "optimizer": ("SGD, momentum 0.5", "AdamW, one-cycle schedule"),
    "pixels": ("in [0, 1]", "mean 0, spread 1"),
}


def load_mnist(train, limit=None, normalise=True):
    """The lecture's datasets.MNIST, as a TensorDataset of images.

    As in lesson 06: download=True finds the files lesson_tools put in place, so nothing is downloaded;
    the images are scaled to [0, 1] once, in bulk, as the lecture's ToTensor does on every epoch. Then
    they are normalised to mean 0 and spread 1, as lecture 9's slides do with transforms.Normalize((0.1307,),
    (0.3081,)): centred inputs suit the larger learning rates used here. The code of lectures 10 and 11
    (10_1, 11_1) passes ToTensor alone, pixels in [0, 1]: --lecture does the same (normalise=False).
    """
    dataset = datasets.MNIST(kit.mnist_root(), train=train, download=True)
    images, labels = dataset.data[:limit], dataset.targets[:limit]  # uint8 [N, 28, 28], int64 [N]
    images = images.float().div_(255)  # in place: no second copy
    if normalise:
        images.sub_(kit.MNIST_MEAN).div_(kit.MNIST_STD)
    return TensorDataset(images.unsqueeze(1), labels)  # [N, 1, 28, 28]: one grey channel


def pixels(images, normalised):
    """Images as pixels in [0, 1] again, to draw them."""
    return images * kit.MNIST_STD + kit.MNIST_MEAN if normalised else images


# Step 1: the model (lecture 10). A convolution slides one small filter (5x5 pixels here) over the whole
# image. The same 25 weights are used at every position (shared weights), so a stroke is detected
# wherever it appears, with far fewer weights than a fully connected layer. Max pooling keeps the
# strongest response in each 2x2 block: half the height and width, and a small shift of the digit barely
# changes the result. The second convolution looks at 5x5 patches of the first one's maps, i.e. at 14x14
# pixels of the image: deeper layers combine small strokes into larger shapes.
class Net(nn.Module):
    def __init__(self, log_softmax=False):
        super().__init__()
        # True (--lecture): end with F.log_softmax, as the lecture's model does
        self.log_softmax = log_softmax
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)  # 28x28 -> 24x24: a 5x5 window fits 24 times
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)  # 12x12 -> 8x8
        self.mp = nn.MaxPool2d(2)  # halves height and width
        self.fc = nn.Linear(20 * 4 * 4, 10)  # 20 maps of 4x4 = 320 numbers -> 10 logits

    def forward(self, x):
        # Pooling before the ReLU gives the same numbers as after it (both keep the maximum) with a
        # quarter of the ReLU work, as in the lecture's code.
        x = F.relu(self.mp(self.conv1(x)))
        x = F.relu(self.mp(self.conv2(x)))
        # flatten the tensor, [N, 20, 4, 4] -> [N, 320]: the lecture's x.view(in_size, -1), which
        # refuses the channels_last layout used below on a CPU; flatten accepts any layout
        x = x.flatten(1)
        x = self.fc(x)
        # raw logits: nn.CrossEntropyLoss applies the softmax (lesson 06). The lecture's model returns
        # F.log_softmax(x) for F.nll_loss: the same loss in two calls.
        return F.log_softmax(x, dim=1) if self.log_softmax else x


# Lecture 11: the inception module looks at the same input through 1x1, 5x5 and two stacked 3x3 filters
# and through an average pooling, side by side. Each branch keeps the height and width (padding), so
# their outputs stack along the channel axis: 16 + 24 + 24 + 24 = 88 channels, and the next layer learns
# which filter size was useful. A 1x1 convolution mixes the channels of each pixel before the larger
# filters; in GoogLeNet it shrinks them to make those filters cheap, here it takes 10 channels to 16 in
# incept1 and 20 to 16 in incept2. These are the lecture's branches and sizes.
class InceptionA(nn.Module):
    def __init__(self, in_channels):
        super().__init__()
        self.branch1x1 = nn.Conv2d(in_channels, 16, kernel_size=1)

        self.branch5x5_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch5x5_2 = nn.Conv2d(16, 24, kernel_size=5, padding=2)

        self.branch3x3dbl_1 = nn.Conv2d(in_channels, 16, kernel_size=1)
        self.branch3x3dbl_2 = nn.Conv2d(16, 24, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = nn.Conv2d(24, 24, kernel_size=3, padding=1)

        self.branch_pool = nn.Conv2d(in_channels, 24, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return torch.cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], dim=1)  # dim 1: channels


class InceptionNet(nn.Module):
    """The lecture's 11_1 network, which it also calls Net: conv 1 -> 10, inception (88 channels),
    conv 88 -> 20, inception (88), 1408 -> 10. Two classes cannot share a name in one file."""

    def __init__(self, log_softmax=False):
        super().__init__()
        self.log_softmax = log_softmax  # as in Net
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(88, 20, kernel_size=5)
        self.incept1 = InceptionA(in_channels=10)
        self.incept2 = InceptionA(in_channels=20)
        self.mp = nn.MaxPool2d(2)
        self.fc = nn.Linear(88 * 4 * 4, 10)  # 1408 = 88 channels of 4x4

    def forward(self, x):
        x = F.relu(self.mp(self.conv1(x)))
        x = self.incept1(x)
        x = F.relu(self.mp(self.conv2(x)))
        x = self.incept2(x)
        x = x.flatten(1)  # flatten the tensor (the lecture's x.view(in_size, -1), as in Net)
        x = self.fc(x)
        return F.log_softmax(x, dim=1) if self.log_softmax else x


@torch.inference_mode()
def show_shapes(model, images):
    """Run one small batch through the model and print the output shape of every layer, in call order.

    A forward hook is a function PyTorch calls after a layer's forward(): a way to look inside a model
    without changing its code.
    """
    model.eval()
    names = {module: name for name, module in model.named_modules() if name}
    hooks = [
        module.register_forward_hook(
            lambda module, _, out: print(f"   {names[module]:26s} {tuple(out.shape)}")
        )
        for module in names
    ]
    print(f"   {'input':26s} {tuple(images.shape)}   (batch, channels, height, width)")
    model(images)
    for hook in hooks:
        hook.remove()


def build_model(inception, device, lecture=False):
    model = (InceptionNet if inception else Net)(log_softmax=lecture).to(device)
    if device.type == "cpu":
        # channels_last stores the channels of one pixel side by side, a layout CPU convolutions and max
        # pooling usually handle faster. Shapes and maths do not change.
        model = model.to(memory_format=torch.channels_last)
    return model


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
    the true digit. The lecture sums each batch's loss (size_average=False), then divides by the number
    of images; here each batch's mean is turned back into its sum."""
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

    print(f"1) MNIST: 28x28 grey images of the digits 0-9, on {device}")
    train_loader, test_loader = mnist_loaders(args)

    model = build_model(args.inception, device, lecture=args.lecture)
    print("\n2) The output shape of every layer, for a batch of 4 images: watch 28x28 shrink")
    show_shapes(model, train_loader.dataset.tensors[0][:4].to(device))

    # Step 2: the loss and optimizer of lesson 06. The lecture's model ends with F.log_softmax and its loss
    # is F.nll_loss (nn.NLLLoss): together the same numbers as nn.CrossEntropyLoss on raw scores, in two
    # calls. --lecture takes the lecture's loss and its SGD.
    criterion = nn.NLLLoss() if args.lecture else nn.CrossEntropyLoss()
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

    figures = keep(args, model, log.history, test_loader, device, figures_on)
    return {
        "batches_per_epoch": len(train_loader),
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "history": log.history,
        "inception": args.inception,
        "model": model,
        "criterion": criterion,
        "optimizer": optimizer,
        "figures": figures,
        "device": str(device),
        "summary": f"test accuracy {accuracy:.2f}%" + "".join(f" (--{name})" for name in variant(args)),
    }


def parse_args(argv):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument(
        "--inception", action="store_true", help="lecture 11's network with inception modules"
    )
    kit.add_lecture_flag(parser, LECTURE)
    kit.add_checkpoint_flags(parser, LESSON)
    args = parser.parse_args(argv)
    if not args.load:  # --load trains nothing: the checkpoint says which network it holds, and how
        kit.use_lecture_settings(args, parser, LECTURE)  # prints the line that lists what --lecture changed
    return args


def mnist_loaders(args):
    """The lecture's two DataLoaders: shuffled training batches of --batch-size, and the test images."""
    limit = QUICK_IMAGES if args.quick else None
    train_dataset = load_mnist(train=True, limit=limit, normalise=not args.lecture)
    test_dataset = load_mnist(train=False, normalise=not args.lecture)
    train_loader = DataLoader(dataset=train_dataset, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=TEST_BATCH)
    print(f"   {len(train_dataset):,} training and {len(test_dataset):,} test images")
    return train_loader, test_loader


def variant(args):
    """The options a run's files are named for, e.g. ["inception", "lecture"]."""
    return [name for name in ("inception", "lecture") if getattr(args, name)]


def keep(args, model, history, test_loader, device, figures_on):
    """--save's checkpoint and the figures, named for the run's options (07_cnn_mnist_inception.pt,
    07_cnn_mnist_lecture_curves.png, ...) so that no run overwrites another's files. Returns the figures."""
    name = "_".join([LESSON, *variant(args)])
    if args.save:
        accuracy = history[-1]["test_accuracy"]
        extra = {"inception": args.inception, "lecture": args.lecture, "test_accuracy": accuracy}
        kit.save_checkpoint(args.save, LESSON, model, "_".join(variant(args)), **extra)
    figures = {}
    if figures_on:
        figures["curves"] = kit.curves_figure(history)
        images, labels = test_loader.dataset.tensors
        predicted = predict(model, test_loader, device)
        figures["mistakes"] = mistakes_figure(pixels(images, not args.lecture), labels, predicted)
        for kind, fig in figures.items():
            kit.save_figure(fig, f"{name}_{kind}", args)
    return figures


def load_and_test(args):
    """--load: test a model saved with --save; no training. The checkpoint says which network it holds
    and how it was trained (--lecture: log-probabilities out, pixels not normalised), so --inception and
    --lecture are not needed."""
    device = kit.pick_device(args.device)
    checkpoint = kit.load_checkpoint(args.load, LESSON)
    inception, lecture = bool(checkpoint.get("inception", False)), bool(checkpoint.get("lecture", False))
    model = build_model(inception, device, lecture=lecture)
    kit.load_weights(model, checkpoint, args.load)
    test_loader = DataLoader(dataset=load_mnist(train=False, normalise=not lecture), batch_size=TEST_BATCH)
    test_loss, accuracy = test(model, device, test_loader, nn.NLLLoss() if lecture else nn.CrossEntropyLoss())
    network = ("inception" if inception else "CNN") + (", trained with --lecture" if lecture else "")
    print(f"Loaded {args.load} ({network}): test loss {test_loss:.4f}, test accuracy {accuracy:.2f}%")
    return {
        "test_loss": test_loss,
        "test_accuracy": accuracy,
        "inception": inception,
        "lecture": lecture,
        "summary": f"loaded model: test accuracy {accuracy:.2f}%",
    }


@torch.inference_mode()
def predict(model, loader, device):
    """The predicted digit of every image of loader, in order."""
    model.eval()
    return torch.cat([model(data.to(device)).argmax(dim=1).cpu() for data, _ in loader])


def mistakes_figure(images, labels, predicted):
    """A grid of the first test digits the model got wrong, each titled 'predicted (true)'.
    images: [N, 1, 28, 28] pixels in [0, 1]; labels and predicted: [N]."""
    import matplotlib.pyplot as plt

    wrong = (predicted != labels).nonzero().flatten()
    columns, shown = 8, wrong[:MISTAKES_SHOWN].tolist()
    rows = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, shown):
        ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{predicted[i].item()} ({labels[i].item()})", fontsize=9, color="tab:red")
    fig.suptitle(f"Misclassified test digits: predicted (true), {len(shown)} of {len(wrong)}")
    return fig


if __name__ == "__main__":
    kit.run(main)
