"""Run by tests/test_mnist.py under torchrun with 2 processes: lesson 12 on a small MNIST, observed.

Each rank writes OUT/rank<r>.json: one DDP step's gradients against the whole global batch's, the
lesson's train() and test() on a model that does not move against the same numbers computed here in one
process, which training and test images the rank read (in which order), and what main() returned.
"""

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
import lesson_tools as kit  # noqa: E402,F401  (as in the lessons: the same thread policy)

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.nn.parallel import DistributedDataParallel  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

TRAIN_IMAGES, TEST_IMAGES, GLOBAL_BATCH = 512, 200, 128
RUN_BATCH = 64  # main()'s --batch-size: not the lesson's default, to see that the flag is obeyed


class Recording(TensorDataset):
    """A TensorDataset that notes the index of every sample read, in order."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.seen = []

    def __getitem__(self, index):
        self.seen.append(int(index))
        return super().__getitem__(index)


def load_lesson():
    spec = importlib.util.spec_from_file_location("ddp_lesson", REPO / "12_ddp_mnist.py")
    lesson = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lesson)
    return lesson


def one_step_gradients(lesson, dataset):
    """Largest difference between the gradient DDP leaves on rank r after one backward of its own batch,
    and the gradient of the whole global batch (every rank's first batch) in one process."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    reference = lesson.Net()
    model = DistributedDataParallel(lesson.Net())
    model.module.load_state_dict(reference.state_dict())
    _, loader = lesson.make_train_loader(dataset, GLOBAL_BATCH, rank, world_size, seed=0)
    data, target = next(iter(loader))
    F.cross_entropy(model(data), target).backward()
    everyone = (
        [torch.empty_like(data) for _ in range(world_size)],
        [torch.empty_like(target) for _ in range(world_size)],
    )
    dist.all_gather(everyone[0], data)
    dist.all_gather(everyone[1], target)
    F.cross_entropy(reference(torch.cat(everyone[0])), torch.cat(everyone[1])).backward()
    scale = max(p.grad.abs().max().item() for p in reference.parameters())
    gap = max(
        (p.grad - q.grad).abs().max().item()
        for p, q in zip(model.module.parameters(), reference.parameters())
    )
    return {"local_batch": len(data), "gradient_gap": gap, "gradient_scale": scale}


def frozen_numbers(lesson, train_set, test_set):
    """The lesson's train() with a learning rate of 0 and its test(), on every rank, and the same mean loss
    per image and percent right computed here in one process over all the images, without the lesson's
    code: reduced right, they agree whatever the number of ranks."""
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(1)
    model = lesson.Net()
    ddp = DistributedDataParallel(model)
    _, loader = lesson.make_train_loader(train_set, GLOBAL_BATCH, rank, world_size, seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    loss = lesson.train(ddp, torch.device("cpu"), loader, torch.nn.CrossEntropyLoss(), optimizer, scheduler)
    accuracy, tested = lesson.test(model, torch.device("cpu"), test_set, rank, world_size)
    with torch.no_grad():
        images, labels = train_set.tensors
        expected_loss = F.cross_entropy(model(images), labels).item()
        test_images, test_labels = test_set.tensors
        right = (model(test_images).argmax(dim=1) == test_labels).sum().item()
    return {
        "loss": loss,
        "expected_loss": expected_loss,
        "accuracy": accuracy,
        "expected_accuracy": 100.0 * right / len(test_labels),
        "tested": tested,
    }


def main(out: Path, *flags):
    lesson = load_lesson()
    full_train, full_test = lesson.load_mnist(train=True), lesson.load_mnist(train=False)
    train_set = Recording(*(t[:TRAIN_IMAGES] for t in full_train.tensors))
    test_set = Recording(*(t[:TEST_IMAGES] for t in full_test.tensors))
    lesson.load_mnist = lambda train, limit=None: train_set if train else test_set

    # the lesson's own start, once: main() below finds the group ready (a second start could race)
    group = lesson.start_process_group("cpu")
    step = one_step_gradients(lesson, train_set)
    frozen = frozen_numbers(lesson, train_set, test_set)
    train_set.seen.clear(), test_set.seen.clear()
    lesson.start_process_group = lambda device_type: group
    rank = group[0]

    results = lesson.main(["--figures", str(out / "figures"), "--batch-size", str(RUN_BATCH), *flags])
    record = {"step": step, "frozen": frozen, "seen": train_set.seen, "tested": test_set.seen}
    (out / f"rank{rank}.json").write_text(json.dumps({**record, "results": results}, default=str))


if __name__ == "__main__":
    main(Path(sys.argv[1]), *sys.argv[2:])
