"""Exercise 07b's check: a residual block, two 3x3 convolutions and a skip connection."""

import copy

from checks.common import Wrong, as_tensor, call, close, show

import torch
import torch.nn.functional as F
from torch import nn

NAME = "07b_residual_block"
LESSON = "07"
LECTURE = "10-11"
SLIDE = ""
IDEA = (
    "a residual block: two 3x3 convolutions plus a skip connection; keeps its shape, passes x through, trains"
)
HINTS = [
    "x + out needs out to have x's shape: the number of channels stays `channels`, and a 3x3 filter keeps"
    " the height and width only with a ring of zeros around the input (padding).",
    "forward() follows the formula in the docstring from the inside out: the first convolution, the"
    " activation, the second convolution; then the addition, then the activation again.",
    "The `x +` is the skip connection: add to a new tensor (out = x + out), never into x itself, which"
    " belongs to the caller.",
]
FORBIDDEN = []
TIME_LIMIT = 30


def _convolutions(block, channels):
    convs = [(name, layer) for name, layer in block.named_modules() if isinstance(layer, nn.Conv2d)]
    if len(convs) != 2:
        raise Wrong(
            f"ResidualBlock({channels}) has {len(convs)} nn.Conv2d: the exercise asks for two, one after the"
            " other, before the skip connection adds x back."
        )
    for name, conv in convs:
        if tuple(conv.kernel_size) != (3, 3):
            size = "x".join(map(str, conv.kernel_size))
            raise Wrong(
                f"ResidualBlock's {name} has a {size} kernel: the exercise asks for 3x3 convolutions."
            )
        if (conv.in_channels, conv.out_channels) != (channels, channels):
            raise Wrong(
                f"ResidualBlock({channels})'s {name} maps {conv.in_channels} channels to {conv.out_channels}:"
                f" both convolutions keep the {channels} channels, so that x + out adds like to like."
            )
    return convs


def _run_block(block, x, what):
    """block(x) through call(), noting the order the convolutions ran in and any change of height or width."""
    shapes = []
    hooks = [
        layer.register_forward_hook(
            lambda _, args, out, name=name: shapes.append((name, args[0].shape, out.shape))
        )
        for name, layer in block.named_modules()
        if isinstance(layer, nn.Conv2d)
    ]
    try:
        out = call(block, x, what=what)
    except RuntimeError:
        out = None  # reported below if a convolution changed the size, as the learner's error otherwise
    finally:
        for hook in hooks:
            hook.remove()
    for name, before, after in shapes:
        if before[-2:] != after[-2:]:
            raise Wrong(
                f"ResidualBlock's {name} turned {before[-2]}x{before[-1]} into {after[-2]}x{after[-1]}: x + out"
                " needs the height and width to stay.\nA 3x3 convolution needs padding=1 to keep them."
            )
    if out is None:
        out = call(block, x, what=what)  # again, so that the learner's own error shows
    return out, [name for name, _, _ in shapes]


def check(module, draw):
    for channels in (draw.integer(2, 4), draw.integer(5, 8)):
        block = module.ResidualBlock(channels)
        convs = dict(_convolutions(block, channels))
        x = draw.randn(
            draw.integer(2, 4), channels, draw.integer(5, 11), draw.integer(5, 11), dtype=torch.float32
        )
        what = f"ResidualBlock({channels}) on an input of shape {tuple(x.shape)}"
        out, order = _run_block(block, x, what)
        out = as_tensor(out, what, floating=True)
        if out.shape != x.shape:
            raise Wrong(
                f"{what} gave shape {tuple(out.shape)}: a residual block keeps the shape of its input."
            )
        scale = x.abs().max() + out.abs().max()
        plain = [m for m in block.modules() if not list(m.children()) and list(m.parameters())]
        if len(plain) == 2 and len(order) == 2 and order[0] != order[1]:
            # Only the two convolutions hold weights: the block must be relu(x + c2(relu(c1(x)))) with them.
            c1, c2 = convs[order[0]], convs[order[1]]
            with torch.no_grad():
                inner = c1(x)
                expected = F.relu(x + c2(F.relu(inner)))
                slips = [
                    (x + c2(F.relu(inner)), "There is no ReLU after the addition: relu(x + out)."),
                    (F.relu(x + c2(inner)), "There is no ReLU between the two convolutions."),
                    (F.relu(c2(F.relu(inner))), "The input is not added back: there is no skip connection."),
                    (
                        F.relu(x) + c2(F.relu(inner)),
                        "The ReLU is applied to x before the addition, not to the sum.",
                    ),
                ]
            if not close(out, expected, torch.float32, scale):
                why = next((w for value, w in slips if close(out, value, torch.float32, scale)), "")
                raise Wrong(
                    f"{what} differs from relu(x + conv2(relu(conv1(x)))) computed with your own {order[0]} and"
                    f" {order[1]}.\n{why}".rstrip()
                )
        zero = copy.deepcopy(block)
        with torch.no_grad():
            for parameter in zero.parameters():
                parameter.zero_()
            passed = zero(x.clone())
        if not (close(passed, x, torch.float32, scale) or close(passed, x.relu(), torch.float32, scale)):
            why = ""
            if passed.abs().max() < 1e-6:
                why = "It gave zeros: the input was not added back, so there is no skip connection."
            raise Wrong(
                f"with every weight and bias set to 0, your block gave {show(passed.flatten())}"
                f" for x = {show(x.flatten())}.\nA residual block then passes x on (x, or relu(x)), because its"
                f" convolutions add nothing. {why}".rstrip()
            )

    # Training: the learner's block, from its usual start, learns to copy a second block of the same
    # kind whose weights are drawn larger, on a fixed batch: the mean squared error between the two.
    teacher, student = module.ResidualBlock(channels), module.ResidualBlock(channels)
    with torch.no_grad():
        for parameter in teacher.parameters():
            parameter.copy_(draw.randn(*parameter.shape, dtype=torch.float32) * 0.3)
    x = draw.randn(16, channels, 8, 8, dtype=torch.float32)
    with torch.no_grad():
        target = teacher(x)
    optimizer = torch.optim.Adam(student.parameters(), lr=0.03)
    losses = []
    for step in range(100):
        loss = F.mse_loss(student(x), target)
        optimizer.zero_grad()
        if step == 0:
            if loss.grad_fn is not None:
                loss.backward()
            for name, parameter in student.named_parameters():
                if parameter.grad is None or not parameter.grad.abs().sum() > 0:
                    raise Wrong(
                        f"ResidualBlock's {name} got no gradient: backward() cannot follow the output back to it.\n"
                        "Is it used in forward(), without .detach(), .data or torch.no_grad() on the way?"
                    )
        else:
            loss.backward()
        optimizer.step()
        losses.append(loss.item())
    # The loss must fall below half of where it started: a block that does not learn stays at its start.
    # Over 100 seeds the solution's loss fell to 1%-22% of its start.
    if not losses[-1] < 0.5 * losses[0]:
        raise Wrong(
            f"trained for 100 steps of Adam (lr 0.03) to copy another block, your block's loss went from"
            f" {losses[0]:.3g} to {losses[-1]:.3g};\nit must fall below half of its start."
        )
    return f"trained, its loss fell to {losses[-1] / losses[0]:.0%} of its start"


CORRECT = {
    "nn.Sequential body": """
import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x):
        return torch.relu(x + self.body(x))
""",
    "a BatchNorm block": """
import torch.nn.functional as F
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + x)
""",
    "padding='same', step by step": [
        ("padding=1)", 'padding="same")', 2),
        (
            "        out = self.conv2(torch.relu(self.conv1(x)))\n        return torch.relu(x + out)",
            "        out = self.conv1(x)\n        out = torch.relu(out)\n        out = self.conv2(out)\n"
            "        out += x\n        return torch.relu(out)",
        ),
    ],
}

WRONG = {
    "no skip connection": ([("return torch.relu(x + out)", "return torch.relu(out)")], "no skip connection"),
    "no padding": ([("padding=1)", "padding=0)", 2)], "needs padding=1"),
    "output detached": (
        [
            (
                "out = self.conv2(torch.relu(self.conv1(x)))",
                "out = self.conv2(torch.relu(self.conv1(x))).detach()",
            )
        ],
        "got no gradient",
    ),
    "one convolution": (
        [
            ("        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)\n", ""),
            ("out = self.conv2(torch.relu(self.conv1(x)))", "out = self.conv1(x)"),
        ],
        "has 1 nn.Conv2d",
    ),
    "5x5 kernels": ([("kernel_size=3, padding=1)", "kernel_size=5, padding=2)", 2)], "5x5 kernel"),
    "x += out in place": (
        [("        return torch.relu(x + out)", "        x += out\n        return torch.relu(x)")],
        "changed its input `x` in place",
    ),
    "no ReLU between the convolutions": (
        [("out = self.conv2(torch.relu(self.conv1(x)))", "out = self.conv2(self.conv1(x))")],
        "no ReLU between the two convolutions",
    ),
    "conv2 twice": (
        [("out = self.conv2(torch.relu(self.conv1(x)))", "out = self.conv2(torch.relu(self.conv2(x)))")],
        "conv1.weight got no gradient",
    ),
}
