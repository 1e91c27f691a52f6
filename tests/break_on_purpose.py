"""Put each bug of issue 13's survivor classes back into the course, one at a time, and run the tests
that must catch it; the file is restored after each run, whatever happens.

python tests/break_on_purpose.py            # every bug (a few minutes)
python tests/break_on_purpose.py 05 11      # only the bugs whose description contains "05" or "11"

Each bug is one edit: (description, file, the text it replaces, the broken text, the tests to run). A
bug whose text is no longer in its file is reported as not applied: after an edit of the lesson, write
the bug again. Add a bug here with every new test, and watch the test fail on it.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BUGS = [
    (
        "03 test accuracy on the training rows",
        "03_logistic.py",
        "accuracy(model, x_test, y_test)",
        "accuracy(model, x_train, y_train)",
        "tests/test_lessons_01_05.py -k held_out_rows_only",
    ),
    (
        "05 test accuracy on the training rows",
        "05_dataloader.py",
        "model(x_test.to(device)) > 0.5).float() == y_test.to(device)",
        "model(x_train.to(device)) > 0.5).float() == y_train.to(device)",
        "tests/test_lessons_01_05.py -k held_out_rows_only",
    ),
    (
        "09 vocabulary from every word, test words included",
        "09_rnn_classification.py",
        "for word, _ in train_rows for c in word",
        "for word, _ in train_rows + validation_rows + test_rows for c in word",
        "tests/test_rnn.py -k vocabulary",
    ),
    (
        "04 no activation between the layers",
        "04_wide_deep.py",
        "out1 = self.activation(self.l1(x))\n        out2 = self.activation(self.l2(out1))",
        "out1 = self.l1(x)\n        out2 = self.l2(out1)",
        "tests/test_lessons_01_05.py -k 04",
    ),
    (
        "07 first ReLU removed",
        "07_cnn_mnist.py",
        "x = F.relu(self.mp(self.conv1(x)))\n        x = F.relu(self.mp(self.conv2(x)))\n        x = x.flatten(1)",
        "x = self.mp(self.conv1(x))\n        x = F.relu(self.mp(self.conv2(x)))\n        x = x.flatten(1)",
        "tests/test_mnist.py -k relu_after",
    ),
    (
        "01 hand-written loop ignores --lr",
        "01_autograd.py",
        "w = w - lr * hand_gradient(x, y, w)",
        "w = w - LR * hand_gradient(x, y, w)",
        "tests/test_lessons_01_05.py -k 01_obeys",
    ),
    (
        "04 ignores --activation",
        "04_wide_deep.py",
        "model = DeepNet(args.hidden, args.activation)",
        "model = DeepNet(args.hidden)",
        "tests/test_lessons_01_05.py -k activation_flag",
    ),
    (
        "05 shuffling ignores --seed (a generator of its own)",
        "05_dataloader.py",
        "shuffle=True,  #",
        "generator=torch.Generator().manual_seed(0), shuffle=True,  #",
        "tests/test_lessons_01_05.py -k follows_the_seed",
    ),
    (
        "05 drop_last=True",
        "05_dataloader.py",
        "persistent_workers=workers > 0,",
        "persistent_workers=workers > 0, drop_last=True,",
        "tests/test_lessons_01_05.py -k partial_batch",
    ),
    (
        "a data file not in SHA256SUMS accepted",
        "lesson_tools.py",
        "    if expected is None:\n        raise",
        "    if expected is None and False:\n        raise",
        "tests/test_tools.py -k not_listed",
    ),
    (
        "checkpoint written straight onto its path",
        "lesson_tools.py",
        "        with atomic_path(path) as temporary:\n            torch.save(",
        "        with atomic_path(path) as temporary:\n            temporary = path\n            torch.save(",
        "tests/test_tools.py -k interrupted_checkpoint",
    ),
    (
        "figure written straight onto its path",
        "lesson_tools.py",
        "            fig.savefig(temporary,",
        "            fig.savefig(path,",
        "tests/test_tools.py -k interrupted_figure",
    ),
    (
        "MNIST counted as prepared when the files merely exist",
        "lesson_tools.py",
        "return all((raw / name).stat().st_size == size for name, size in MNIST_FILES.items())",
        "return all((raw / name).stat().st_size >= 0 for name, size in MNIST_FILES.items())",
        "tests/test_tools.py -k wrong_size",
    ),
    (
        "--device cpu falls back to auto when a GPU is present",
        "lesson_tools.py",
        '    if name == "auto":\n        if torch.accelerator',
        '    if name in ("auto", "cpu"):\n        if torch.accelerator',
        "tests/test_tools.py -k explicit_device",
    ),
    (
        "checkpoint loaded with weights_only=False",
        "lesson_tools.py",
        'map_location="cpu", weights_only=True)',
        'map_location="cpu", weights_only=False)',
        "tests/test_tools.py -k never_runs_code",
    ),
    (
        "--predict's unseen characters case-sensitive",
        "09_rnn_classification.py",
        "unseen = sorted({c for c in word.lower() if c not in vocab.index})",
        "unseen = sorted({c for c in word if c not in vocab.index})",
        "tests/test_rnn.py -k unseen",
    ),
    (
        "01 gradients not accumulated (zeroed between the two backward calls)",
        "01_autograd.py",
        "    loss_fn(torch.tensor(x, device=device), torch.tensor(y, device=device), w_tensor).backward()",
        "    w_tensor.grad.zero_()\n    loss_fn(torch.tensor(x, device=device), torch.tensor(y, device=device), w_tensor).backward()",
        "tests/test_lessons_01_05.py -k accumulate",
    ),
    (
        "01 loss that is smooth but wrong",
        "01_autograd.py",
        "return (forward(x, w) - y) ** 2",
        "return (forward(x, w) - y) ** 2 / 2",
        "tests/test_lessons_01_05.py -k squared_error",
    ),
    (
        "11 attention not masked on padding",
        "11_seq2seq.py",
        'scores.masked_fill(~real.unsqueeze(1), float("-inf")).softmax(dim=-1)',
        "scores.softmax(dim=-1)",
        "tests/test_11_seq2seq.py -k weights",
    ),
    (
        "12 every rank reads rank 0's shard",
        "12_ddp_mnist.py",
        "num_replicas=world_size, rank=rank,",
        "num_replicas=world_size, rank=0,",
        "tests/test_mnist.py -k two_processes",
    ),
    (
        "06 test accuracy on the training images",
        "06_softmax_mnist.py",
        "        accuracy = test(model, test_loader, device)\n        seconds",
        "        accuracy = test(model, train_loader, device)\n        seconds",
        "tests/test_mnist.py -k comes_from_the_test_images",
    ),
    (
        "07 test accuracy on the training images",
        "07_cnn_mnist.py",
        "        accuracy = test(model, test_loader, device)\n        seconds",
        "        accuracy = test(model, DataLoader(train_set, batch_size=TEST_BATCH), device)\n        seconds",
        "tests/test_mnist.py -k comes_from_the_test_images",
    ),
    (
        "08 --embedding ignored",
        "08_rnn.py",
        "model = HelloRNN(args.embedding).to(device)",
        "model = HelloRNN().to(device)",
        "tests/test_rnn.py -k 08",
    ),
    (
        "10 vocabulary from every word, held-out words included",
        "10_char_rnn.py",
        "vocab = Vocabulary.from_words([word for word, _ in train_rows], LANGUAGES)",
        "vocab = Vocabulary.from_words([word for word, _ in train_rows + val_rows + test_rows], LANGUAGES)",
        "tests/test_10_char_rnn.py -k vocabulary",
    ),
    (
        "10 target not shifted",
        "10_char_rnn.py",
        "return padded[:, :-1], padded[:, 1:]",
        "return padded[:, :-1], padded[:, :-1]",
        "tests/test_10_char_rnn.py -k shifted",
    ),
    (
        "10 written words not cut at the longest word's length",
        "10_char_rnn.py",
        "(start + vocab.decode(row))[: max(MAX_LETTERS, len(start))]",
        "(start + vocab.decode(row))",
        "tests/test_10_char_rnn.py -k samples",
    ),
    (
        "11 held-out dates also in training",
        "11_seq2seq.py",
        "train_days = [d for d in days if d not in test_days]",
        "train_days = days",
        "tests/test_11_seq2seq.py -k never_appear",
    ),
]


def main(only):
    rows = []
    for description, file, correct, broken, tests in BUGS:
        if only and not any(word in description for word in only):
            continue
        path = REPO / file
        original = path.read_text(encoding="utf-8")
        if original.count(correct) != 1:
            rows.append(
                (description, f"NOT APPLIED: the text occurs {original.count(correct)} times in {file}")
            )
            continue
        path.write_text(original.replace(correct, broken), encoding="utf-8")
        try:
            command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests.split()]
            done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
        finally:
            path.write_text(original, encoding="utf-8")
        failed = [
            line.split(" - ")[0].removeprefix("FAILED ")
            for line in done.stdout.splitlines()
            if line.startswith("FAILED")
        ]
        verdict = f"caught by {'; '.join(failed)}" if done.returncode else "SURVIVED: no test failed"
        rows.append((description, verdict))
        print(f"{description}: {verdict}", flush=True)
    survived = [d for d, v in rows if not v.startswith("caught")]
    print(
        f"\n{len(rows) - len(survived)} of {len(rows)} bugs caught"
        + (f"; not caught: {survived}" if survived else "")
    )
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
