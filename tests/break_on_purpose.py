"""Put realistic bugs into a copy of the course, one at a time, and run the tests that must catch each.

python tests/break_on_purpose.py              # every bug (several minutes)
python tests/break_on_purpose.py 05 leak      # only the bugs whose description contains "05" or "leak"
python tests/break_on_purpose.py --readme     # ... and write the results into tests/README.md

The course is copied once into a temporary folder (the files git tracks, and new files it does not
ignore); each bug is one edit of that copy, undone after its tests ran. The working tree is never
written, so a run that is killed half-way leaves your files as they were.

Each bug is (class, description, file, the text it replaces, the broken text, the tests to run). A bug
whose text is no longer in its file is reported as not applied: after an edit of the lesson, write the
bug again. Add a bug here with every new test, and watch the test fail on it.
"""

import argparse
import datetime
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# ----------------------------------------------------------------------------- the bugs
# (class, description, file, correct text, broken text, tests)
BUGS = [
    # <bugs:01-05>
    (
        "worked example",
        "01 worked example multiplies by w where the chain rule wants x",
        "01_autograd.py",
        "d_loss_d_s, d_s_d_ypred, d_ypred_d_w = 2 * s, 1.0, x",
        "d_loss_d_s, d_s_d_ypred, d_ypred_d_w = 2 * s, 1.0, w",
        "tests/test_lessons_01_05.py -k worked_example",
    ),
    (
        "worked example",
        "01 worked example on the first sample, where x = w = 1",
        "01_autograd.py",
        "x, y, w = x_data[1], y_data[1], W_START",
        "x, y, w = x_data[0], y_data[0], W_START",
        "tests/test_lessons_01_05.py -k worked_example",
    ),
    (
        "worked example",
        "01 gradient zeroed between the two backward calls",
        "01_autograd.py",
        "    loss(torch.tensor(x, device=device), torch.tensor(y, device=device), w).backward()",
        "    w.grad.zero_()\n    loss(torch.tensor(x, device=device), torch.tensor(y, device=device), w).backward()",
        "tests/test_lessons_01_05.py -k worked_example",
    ),
    (
        "wrong number",
        "01 hand-derived gradient with x and w swapped",
        "01_autograd.py",
        "return 2 * x * (x * w - y)",
        "return 2 * w * (x * w - y)",
        "tests/test_lessons_01_05.py -k squared_error_and_its_slope",
    ),
    (
        "ignored flag",
        "01 hand-written loop ignores --lr",
        "01_autograd.py",
        "w = w - lr * grad",
        "w = w - LR * grad",
        "tests/test_lessons_01_05.py -k lr_reaches",
    ),
    (
        "ignored flag",
        "01 --quick ignored",
        "01_autograd.py",
        "epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs",
        "epochs = args.epochs",
        "tests/test_lessons_01_05.py -k quick_shortens",
    ),
    (
        "files",
        "01 shows its figure a second time (plt.show() after saving, as in the video)",
        "01_autograd.py",
        'kit.save_figure(fig, "01_loss_against_w", args)',
        'kit.save_figure(fig, "01_loss_against_w", args)\n        plt.show()',
        "tests/test_lessons_01_05.py -k figures_go",
    ),
    (
        "wrong number",
        '02 loss summed over the samples (reduction="sum")',
        "02_linear_regression.py",
        "criterion = nn.MSELoss()",
        'criterion = nn.MSELoss(reduction="sum")',
        "tests/test_lessons_01_05.py -k 02_reports",
    ),
    (
        "ignored flag",
        "02 --seed ignored",
        "02_linear_regression.py",
        "kit.seed_everything(args.seed)",
        "kit.seed_everything(0)",
        "tests/test_lessons_01_05.py -k 02_reports",
    ),
    (
        "ignored flag",
        "02 --quick ignored",
        "02_linear_regression.py",
        "epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs",
        "epochs = args.epochs",
        "tests/test_lessons_01_05.py -k quick_shortens",
    ),
    (
        "files",
        "02 figure drawn despite --no-figures",
        "02_linear_regression.py",
        "if kit.start_figures(args):",
        "if True:  # kit.start_figures(args)",
        "tests/test_lessons_01_05.py -k no_figures",
    ),
    (
        "structure",
        "02 model without a bias",
        "02_linear_regression.py",
        "self.linear = nn.Linear(1, 1)",
        "self.linear = nn.Linear(1, 1, bias=False)",
        "tests/test_lessons_01_05.py -k 02_model",
    ),
    (
        "leakage",
        "03 scaling statistics from all rows, held-out rows included",
        "03_logistic.py",
        "mean, std = x[train].mean(0), x[train].std(0)",
        "mean, std = x.mean(0), x.std(0)",
        "tests/test_lessons_01_05.py -k scaling",
    ),
    (
        "leakage",
        "03 test accuracy measured on the training rows",
        "03_logistic.py",
        "accuracy(model, x_test, y_test)",
        "accuracy(model, x_train, y_train)",
        "tests/test_lessons_01_05.py -k held_out_rows_only",
    ),
    (
        "leakage",
        "03 split drawn from torch's global generator, so it moves with --seed",
        "03_logistic.py",
        "order = torch.randperm(n, generator=torch.Generator().manual_seed(SPLIT_SEED))",
        "order = torch.randperm(n)",
        "tests/test_lessons_01_05.py -k held_out_rows_are_fixed",
    ),
    (
        "ignored flag",
        "03 --epochs ignored on the toy model",
        "03_logistic.py",
        "toy_losses = train(model, x_data.to(device), y_data.to(device), epochs, args.lr)",
        "toy_losses = train(model, x_data.to(device), y_data.to(device), EPOCHS, args.lr)",
        "tests/test_lessons_01_05.py -k epochs_reach",
    ),
    (
        "wrong number",
        '03 BCE summed over the samples (reduction="sum")',
        "03_logistic.py",
        "criterion = nn.BCELoss()",
        'criterion = nn.BCELoss(reduction="sum")',
        "tests/test_lessons_01_05.py -k mean_bce",
    ),
    (
        "wrong number",
        "03 accuracy as a fraction, not a percent",
        "03_logistic.py",
        "return 100.0 * ((model(x) > 0.5).float() == y).float().mean().item()",
        "return ((model(x) > 0.5).float() == y).float().mean().item()",
        "tests/test_lessons_01_05.py -k percent_of_right",
    ),
    (
        "wrong number",
        "03 always-no baseline counted on the training labels",
        "03_logistic.py",
        "majority = 100.0 * max(y_test.mean().item(), 1 - y_test.mean().item())",
        "majority = 100.0 * max(y_train.mean().item(), 1 - y_train.mean().item())",
        "tests/test_lessons_01_05.py -k 03_learns",
    ),
    (
        "structure",
        "03 model without its sigmoid",
        "03_logistic.py",
        "y_pred = torch.sigmoid(self.linear(x))",
        "y_pred = self.linear(x)",
        "tests/test_lessons_01_05.py -k 03_model",
    ),
    (
        "ignored flag",
        "04 baseline trained with the constant LR instead of --lr",
        "04_wide_deep.py",
        "baseline_history = train(baseline, x_train, y_train, x_test, y_test, epochs, args.lr, show=False)",
        "baseline_history = train(baseline, x_train, y_train, x_test, y_test, epochs, LR, show=False)",
        "tests/test_lessons_01_05.py -k lr_reaches",
    ),
    (
        "ignored flag",
        "04 baseline trained for the default epochs instead of --epochs",
        "04_wide_deep.py",
        "baseline_history = train(baseline, x_train, y_train, x_test, y_test, epochs, args.lr, show=False)",
        "baseline_history = train(baseline, x_train, y_train, x_test, y_test, EPOCHS, args.lr, show=False)",
        "tests/test_lessons_01_05.py -k epochs_reach",
    ),
    (
        "ignored flag",
        "04 --hidden ignored",
        "04_wide_deep.py",
        "model = Model(args.hidden, args.activation).to(device)",
        "model = Model(HIDDEN, args.activation).to(device)",
        "tests/test_lessons_01_05.py -k 04_main_builds",
    ),
    (
        "ignored flag",
        "04 --activation ignored",
        "04_wide_deep.py",
        "model = Model(args.hidden, args.activation).to(device)",
        "model = Model(args.hidden).to(device)",
        "tests/test_lessons_01_05.py -k 04_main_builds",
    ),
    (
        "ignored flag",
        "04 --hidden 0 accepted",
        "04_wide_deep.py",
        "type=kit.positive_int,\n        nargs=2,",
        "type=int,\n        nargs=2,",
        "tests/test_lessons_01_05.py -k refused",
    ),
    (
        "structure",
        "04 no activation after the second layer",
        "04_wide_deep.py",
        "out2 = self.activation(self.l2(out1))",
        "out2 = self.l2(out1)",
        "tests/test_lessons_01_05.py -k 04_model",
    ),
    (
        "structure",
        "04 baseline with a hidden layer, not lesson 03's one-layer model",
        "04_wide_deep.py",
        "baseline = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid()).to(device)",
        "baseline = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 1), nn.Sigmoid()).to(device)",
        "tests/test_lessons_01_05.py -k 04_main_builds",
    ),
    (
        "leakage",
        "04 scaling statistics from all rows, held-out rows included",
        "04_wide_deep.py",
        "mean, std = x_data[train].mean(0), x_data[train].std(0)",
        "mean, std = x_data.mean(0), x_data.std(0)",
        "tests/test_lessons_01_05.py -k scaling",
    ),
    (
        "leakage",
        "04 train accuracy measured on the held-out rows",
        "04_wide_deep.py",
        "train_accuracy=accuracy(model, x_train, y_train)",
        "train_accuracy=accuracy(model, x_test, y_test)",
        "tests/test_lessons_01_05.py -k held_out_rows_only",
    ),
    (
        "files",
        "04 figure name ignores --activation (a sigmoid run overwrites the relu figure)",
        "04_wide_deep.py",
        'f"04_training_loss_{args.activation}"',
        '"04_training_loss_relu"',
        "tests/test_lessons_01_05.py -k figures_go",
    ),
    (
        "ignored flag",
        "05 --workers ignored",
        "05_dataloader.py",
        "train_loader = make_loader(dataset, args.batch_size, args.workers)",
        "train_loader = make_loader(dataset, args.batch_size, WORKERS)",
        "tests/test_lessons_01_05.py -k workers_flag",
    ),
    (
        "ignored flag",
        "05 --batch-size ignored",
        "05_dataloader.py",
        "train_loader = make_loader(dataset, args.batch_size, args.workers)",
        "train_loader = make_loader(dataset, BATCH_SIZE, args.workers)",
        "tests/test_lessons_01_05.py -k batch_size_flag",
    ),
    (
        "ignored flag",
        "05 --lr ignored",
        "05_dataloader.py",
        "optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)",
        "optimizer = torch.optim.Adam(model.parameters(), lr=LR)",
        "tests/test_lessons_01_05.py -k lr_reaches",
    ),
    (
        "wrong number",
        "05 epoch loss as the mean of the batch means",
        "05_dataloader.py",
        "total_loss += loss.item() * len(inputs)\n    return total_loss / len(train_loader.dataset)",
        "total_loss += loss.item()\n    return total_loss / len(train_loader)",
        "tests/test_lessons_01_05.py -k mean_bce",
    ),
    (
        "leakage",
        "05 scaling statistics from all rows, held-out rows included",
        "05_dataloader.py",
        "mean, std = x_data[train].mean(0), x_data[train].std(0)",
        "mean, std = x_data.mean(0), x_data.std(0)",
        "tests/test_lessons_01_05.py -k scaling",
    ),
    (
        "leakage",
        "05 test accuracy measured on the training rows",
        "05_dataloader.py",
        "test_acc = test(model, x_test, y_test, device)",
        "test_acc = test(model, x_train, y_train, device)",
        "tests/test_lessons_01_05.py -k held_out_rows_only",
    ),
    (
        "structure",
        "05 no ReLU after the second layer",
        "05_dataloader.py",
        "out2 = torch.relu(self.l2(out1))",
        "out2 = self.l2(out1)",
        "tests/test_lessons_01_05.py -k 05_model",
    ),
    (
        "sequence detail",
        "05 last partial batch dropped (drop_last=True)",
        "05_dataloader.py",
        "persistent_workers=workers > 0,",
        "persistent_workers=workers > 0, drop_last=True,",
        "tests/test_lessons_01_05.py -k partial_batch",
    ),
    (
        "sequence detail",
        "05 shuffling with a generator of its own, ignoring --seed",
        "05_dataloader.py",
        "shuffle=True,  #",
        "generator=torch.Generator().manual_seed(0), shuffle=True,  #",
        "tests/test_lessons_01_05.py -k follows_the_seed",
    ),
    (
        "wrong number",
        "01 mse sums the squared errors instead of averaging them",
        "01_autograd.py",
        "for x, y in zip(x_data, y_data)) / len(x_data)",
        "for x, y in zip(x_data, y_data))",
        "tests/test_lessons_01_05.py -k mse_is_the_mean",
    ),
    (
        "wrong number",
        "04 baseline's test accuracy reported from its training rows",
        "04_wide_deep.py",
        '"baseline_test_accuracy": baseline_history[-1]["test_accuracy"]',
        '"baseline_test_accuracy": baseline_history[-1]["train_accuracy"]',
        "tests/test_lessons_01_05.py -k one_layer_baseline",
    ),
    # </bugs:01-05>
    # <bugs:06-07-12>
    (
        "ddp",
        "12 every rank reads rank 0's shard",
        "12_ddp_mnist.py",
        "num_replicas=world_size, rank=rank,",
        "num_replicas=world_size, rank=0,",
        "tests/test_mnist.py -k ranks_read",
    ),
    (
        "ddp",
        "12 set_epoch dropped: every epoch repeats the first shuffle",
        "12_ddp_mnist.py",
        "        sampler.set_epoch(epoch)  #",
        "        pass  #",
        "tests/test_mnist.py -k ranks_read",
    ),
    (
        "ddp",
        "12 every rank saves the checkpoint",
        "12_ddp_mnist.py",
        "if args.save and rank == 0:",
        "if args.save:",
        "tests/test_mnist.py -k only_rank_0",
    ),
    (
        "ddp",
        "12 test accuracy not reduced across ranks",
        "12_ddp_mnist.py",
        "    dist.all_reduce(counts)  # afterwards",
        "    pass  # afterwards",
        "tests/test_mnist.py -k only_rank_0",
    ),
    (
        "ddp",
        "12 the local batch equal to the global batch",
        "12_ddp_mnist.py",
        "local_batch = max(1, batch_size // world_size)",
        "local_batch = batch_size",
        "tests/test_mnist.py -k ddp_step",
    ),
    (
        "ddp",
        "12 training loss not reduced across ranks",
        "12_ddp_mnist.py",
        "    dist.all_reduce(totals)  # the sums",
        "    pass  # the sums",
        "tests/test_mnist.py -k only_rank_0",
    ),
    (
        "wrong number",
        "12 epoch loss as the mean of batch means",
        "12_ddp_mnist.py",
        "total_loss += loss.item() * len(data)",
        "total_loss += loss.item() * train_loader.batch_size",
        "tests/test_mnist.py -k 12_epoch_loss",
    ),
    (
        "wrong number",
        "06 epoch loss as the mean of batch means",
        "06_softmax_mnist.py",
        "    return total_loss / len(train_loader.dataset)",
        "    return total_loss / len(train_loader.dataset) * len(train_loader.dataset) / (len(train_loader) * train_loader.batch_size)",
        "tests/test_mnist.py -k epoch_loss_is_the_mean",
    ),
    (
        "wrong number",
        "07 test loss a sum of batch means over the images (the lecture's)",
        "07_cnn_mnist.py",
        "test_loss += criterion(output, target).item() * len(data)",
        "test_loss += criterion(output, target).item()",
        "tests/test_mnist.py -k epoch_loss_is_the_mean",
    ),
    (
        "leakage",
        "06 test accuracy on the training images",
        "06_softmax_mnist.py",
        "test_loss, accuracy = test(model, device, test_loader, criterion)\n        log",
        "test_loss, accuracy = test(model, device, train_loader, criterion)\n        log",
        "tests/test_mnist.py -k comes_from_the_test_images",
    ),
    (
        "leakage",
        "07 test set from the training files",
        "07_cnn_mnist.py",
        "    test_dataset = load_mnist(train=False)\n    train_loader",
        "    test_dataset = load_mnist(train=True, limit=10_000)\n    train_loader",
        "tests/test_mnist.py -k comes_from_the_test_images",
    ),
    (
        "ignored flag",
        "06 --batch-size ignored",
        "06_softmax_mnist.py",
        "batch_size=args.batch_size, shuffle=True",
        "batch_size=BATCH_SIZE, shuffle=True",
        "tests/test_mnist.py -k epochs_batch_size",
    ),
    (
        "ignored flag",
        "07 --lr ignored by the one-cycle schedule",
        "07_cnn_mnist.py",
        "optimizer, max_lr=args.lr,",
        "optimizer, max_lr=LR,",
        "tests/test_mnist.py -k learning_rate_flag",
    ),
    (
        "ignored flag",
        "07 --seed ignored",
        "07_cnn_mnist.py",
        "    kit.seed_everything(args.seed)\n    device",
        "    kit.seed_everything(0)\n    device",
        "tests/test_mnist.py -k epochs_batch_size",
    ),
    (
        "ignored flag",
        "07 a checkpoint's own network ignored on --load",
        "07_cnn_mnist.py",
        'inception = bool(checkpoint.get("inception", False))',
        "inception = args.inception",
        "tests/test_mnist.py -k inception_flag",
    ),
    (
        "ignored flag",
        "06 --quick trains on every image",
        "06_softmax_mnist.py",
        "limit=QUICK_IMAGES if args.quick else None",
        "limit=None",
        "tests/test_mnist.py -k quick_trains",
    ),
    (
        "files",
        "07 figures drawn despite --no-figures",
        "07_cnn_mnist.py",
        "    figures_on = kit.start_figures(args)\n    epochs",
        "    figures_on = True or kit.start_figures(args)\n    epochs",
        "tests/test_mnist.py -k no_figures",
    ),
    (
        "structure",
        "06 a ReLU missing between two layers",
        "06_softmax_mnist.py",
        "x = torch.relu(self.l2(x))",
        "x = self.l2(x)",
        "tests/test_mnist.py -k 06_net",
    ),
    (
        "structure",
        "07 inception's 5x5 branch without its padding",
        "07_cnn_mnist.py",
        "nn.Conv2d(16, 24, kernel_size=5, padding=2)",
        "nn.Conv2d(16, 24, kernel_size=3, padding=1)",
        "tests/test_mnist.py -k inception_module",
    ),
    (
        "worked example",
        "06 worked softmax without the exponential",
        "06_softmax_mnist.py",
        "probabilities = logits.exp() / logits.exp().sum()",
        "probabilities = logits / logits.sum()",
        "tests/test_mnist.py -k worked_softmax",
    ),
    (
        "structure",
        "07 InceptionNet without the ReLU after conv2",
        "07_cnn_mnist.py",
        "x = self.incept1(x)\n        x = F.relu(self.mp(self.conv2(x)))",
        "x = self.incept1(x)\n        x = self.mp(self.conv2(x))",
        "tests/test_mnist.py -k inception_net_is",
    ),
    (
        "structure",
        "12 Net without the ReLU after conv2",
        "12_ddp_mnist.py",
        "x = F.relu(self.mp(self.conv2(x)))",
        "x = self.mp(self.conv2(x))",
        "tests/test_mnist.py -k 12_net",
    ),
    (
        "wrong number",
        "12 epoch loss divided by the data set's size on every rank, not by the images read",
        "12_ddp_mnist.py",
        "[total_loss, len(train_loader.sampler)]",
        "[total_loss, len(train_loader.dataset)]",
        "tests/test_mnist.py -k reported_loss",
    ),
    (
        "leakage",
        "12 every rank tests rank 0's slice of the test set",
        "12_ddp_mnist.py",
        "range(rank, len(test_dataset), world_size)",
        "range(0, len(test_dataset), world_size)",
        "tests/test_mnist.py -k own_slice",
    ),
    (
        "ignored flag",
        "12 --seed does not reach the sampler's shuffle",
        "12_ddp_mnist.py",
        "shuffle=True, seed=seed)",
        "shuffle=True, seed=0)",
        "tests/test_mnist.py -k sampler_shuffles",
    ),
    (
        "ddp",
        "12 every rank draws the figure",
        "12_ddp_mnist.py",
        "if rank == 0 and kit.start_figures(args):",
        "if kit.start_figures(args):",
        "tests/test_mnist.py -k only_rank_0",
    ),
    (
        "ignored flag",
        "12 --batch-size ignored: the default global batch always",
        "12_ddp_mnist.py",
        "make_train_loader(train_dataset, args.batch_size, rank",
        "make_train_loader(train_dataset, GLOBAL_BATCH, rank",
        "tests/test_mnist.py -k only_rank_0",
    ),
    # </bugs:06-07-12>
    # <bugs:08-11>
    (
        "structure",
        "08 the RNN cell without its biases",
        "08_rnn.py",
        "hidden_size, batch_first=True)\n        self.fc",
        "hidden_size, batch_first=True, bias=False)\n        self.fc",
        "tests/test_rnn.py -k 08_a_step",
    ),
    (
        "structure",
        "08 --embedding model skips its Linear layer",
        "08_rnn.py",
        "return self.fc(out), hidden",
        "return out, hidden",
        "tests/test_rnn.py -k 08_a_step",
    ),
    (
        "sequence detail",
        "08 forward ignores the hidden state it is given",
        "08_rnn.py",
        "return self.rnn(F.one_hot(x, num_classes).float(), hidden)",
        "return self.rnn(F.one_hot(x, num_classes).float())",
        "tests/test_rnn.py -k 08_a_step",
    ),
    (
        "ignored flag",
        "08 --quick ignored (100 epochs)",
        "08_rnn.py",
        "epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs",
        "epochs = args.epochs",
        "tests/test_rnn.py -k 08_quick",
    ),
    (
        "ignored flag",
        "08 --lr ignored by the whole-word run",
        "08_rnn.py",
        "whole_word = train(Model(args.embedding).to(device), False, epochs, args.lr, device)",
        "whole_word = train(Model(args.embedding).to(device), False, epochs, LR, device)",
        "tests/test_rnn.py -k 08_quick",
    ),
    (
        "ignored flag",
        "08 --embedding ignored by the whole-word run",
        "08_rnn.py",
        "whole_word = train(Model(args.embedding).to(device), False",
        "whole_word = train(Model().to(device), False",
        "tests/test_rnn.py -k 08_learns",
    ),
    (
        "wrong number",
        "08 loss summed over the 6 steps, not their mean",
        "08_rnn.py",
        "criterion = nn.CrossEntropyLoss()",
        'criterion = nn.CrossEntropyLoss(reduction="sum")',
        "tests/test_rnn.py -k 08_learns",
    ),
    (
        "files",
        "08 draws its figure even with --no-figures",
        "08_rnn.py",
        "    if figures_on:\n        draw(",
        "    if True:\n        draw(",
        "tests/test_rnn.py -k 08_figure",
    ),
    (
        "structure",
        "09 RNNClassifier ignores bidirectional",
        "09_rnn_classification.py",
        "num_layers=n_layers, bidirectional=bidirectional,",
        "num_layers=n_layers, bidirectional=False,",
        "tests/test_rnn.py -k 09_a_padded_batch",
    ),
    (
        "sequence detail",
        "09 the RNN reads the padding (no packing)",
        "09_rnn_classification.py",
        "rnn_input = pack_padded_sequence(embedded, seq_lengths, batch_first=True, enforce_sorted=False)",
        "rnn_input = embedded",
        "tests/test_rnn.py -k 09_a_padded_batch",
    ),
    (
        "sequence detail",
        "09 characters numbered from 1, the first one colliding with UNKNOWN",
        "09_rnn_classification.py",
        "self.index = {c: i + 2 for i, c in enumerate(chars)}",
        "self.index = {c: i + 1 for i, c in enumerate(chars)}",
        "tests/test_rnn.py -k collide",
    ),
    (
        "wrong number",
        "09 epoch loss as the mean of the batch means",
        "09_rnn_classification.py",
        "total_loss += loss.item() * len(target)",
        "total_loss += loss.item() * train_loader.batch_size",
        "tests/test_rnn.py -k 09_epoch_loss",
    ),
    (
        "wrong number",
        "09 accuracy a fraction, not a percent",
        "09_rnn_classification.py",
        "return 100.0 * (guesses == torch.tensor(dataset.targets))",
        "return (guesses == torch.tensor(dataset.targets))",
        "tests/test_rnn.py -k 09_accuracy",
    ),
    (
        "leakage",
        "09 validation accuracy measured on the test words",
        "09_rnn_classification.py",
        "validation_accuracy, _ = test(classifier, device, validation_dataset)",
        "validation_accuracy, _ = test(classifier, device, test_dataset)",
        "tests/test_rnn.py -k 09_validation_and_test",
    ),
    (
        "leakage",
        "09 vocabulary from every word, test words included",
        "09_rnn_classification.py",
        "for word, _ in train_rows for c in word",
        "for word, _ in train_rows + validation_rows + test_rows for c in word",
        "tests/test_rnn.py -k vocabulary_comes",
    ),
    (
        "ignored flag",
        "09 --load builds the default model, not the checkpoint's shape",
        "09_rnn_classification.py",
        "classifier = RNNClassifier(len(vocab), len(languages), **shape)\n    kit.load_weights",
        "classifier = RNNClassifier(len(vocab), len(languages))\n    kit.load_weights",
        "tests/test_rnn.py -k 09_shape_flags",
    ),
    (
        "ignored flag",
        "09 --predict reads the bare save even when --load names another model",
        "09_rnn_classification.py",
        "path = args.load or kit.saved_checkpoint(LESSON)",
        "path = kit.saved_checkpoint(LESSON) or args.load",
        "tests/test_rnn.py -k 09_predict_uses",
    ),
    (
        "files",
        "09 a default run saves a checkpoint",
        "09_rnn_classification.py",
        "    if args.save:\n        kit.save_checkpoint(\n            args.save,",
        "    if True:\n        kit.save_checkpoint(\n            args.save or True,",
        "tests/test_rnn.py -k 09_default_run",
    ),
    (
        "sequence detail",
        "10 training loss counts the padding (ignore_index dropped)",
        "10_char_rnn.py",
        "criterion = nn.CrossEntropyLoss(ignore_index=PAD)",
        "criterion = nn.CrossEntropyLoss()",
        "tests/test_10_char_rnn.py -k reported_losses",
    ),
    (
        "wrong number",
        "10 loss_per_char counts the padding",
        "10_char_rnn.py",
        'target, ignore_index=PAD, reduction="sum")',
        'target, reduction="sum")',
        "tests/test_10_char_rnn.py -k loss_per_char",
    ),
    (
        "wrong number",
        "10 epoch loss weighted by padded places, not predicted tokens",
        "10_char_rnn.py",
        "tokens = (target != PAD).sum().item()",
        "tokens = target.numel()",
        "tests/test_10_char_rnn.py -k training_loss_is_the_mean",
    ),
    (
        "sequence detail",
        "10 padding not masked when sampling",
        "10_char_rnn.py",
        "        scores[:, PAD] = -math.inf",
        "        pass",
        "tests/test_10_char_rnn.py -k never_writes_padding",
    ),
    (
        "wrong number",
        "10 scores multiplied by the temperature",
        "10_char_rnn.py",
        ".values) / temperature",
        ".values) * temperature",
        "tests/test_10_char_rnn.py -k softmax_of_the_scores",
    ),
    (
        "wrong number",
        "10 bigram smoothing gives padding a sighting too",
        "10_char_rnn.py",
        "counts[:, :, END:] += 1",
        "counts += 1",
        "tests/test_10_char_rnn.py -k bigram_table",
    ),
    (
        "sequence detail",
        "10 language tokens numbered among the characters the model scores",
        "10_char_rnn.py",
        'self.names = ["<pad>", "<end>", *chars, *(f"<{lang}>" for lang in languages)]',
        'self.names = ["<pad>", "<end>", *(f"<{lang}>" for lang in languages), *chars]',
        "tests/test_10_char_rnn.py -k collide",
    ),
    (
        "leakage",
        "10 validation loss measured on the test words",
        "10_char_rnn.py",
        "val_loss = loss_per_char(decoder, val_set, device)",
        "val_loss = loss_per_char(decoder, test_set, device)",
        "tests/test_10_char_rnn.py -k reported_losses",
    ),
    (
        "ignored flag",
        "10 checkpoint sizes ignored on load",
        "10_char_rnn.py",
        "decoder = RNN(len(vocab.names), vocab.n_outputs, **sizes)",
        "decoder = RNN(len(vocab.names), vocab.n_outputs)",
        "tests/test_10_char_rnn.py -k own_sizes",
    ),
    (
        "ignored flag",
        "10 --language ignored by --generate",
        "10_char_rnn.py",
        "for lang in [args.language] if args.language else vocab.languages:",
        "for lang in vocab.languages:",
        "tests/test_10_char_rnn.py -k obeys_language",
    ),
    (
        "ignored flag",
        "10 -n 0 accepted",
        "10_char_rnn.py",
        '"-n", type=kit.positive_int',
        '"-n", type=int',
        "tests/test_10_char_rnn.py -k flag_misuse",
    ),
    (
        "files",
        "10 --generate reads the bare save even when --load names another model",
        "10_char_rnn.py",
        "path = args.load or kit.saved_checkpoint(LESSON)",
        "path = kit.saved_checkpoint(LESSON) or args.load",
        "tests/test_10_char_rnn.py -k bare_save",
    ),
    (
        "sequence detail",
        "11 attention not masked on padding",
        "11_seq2seq.py",
        'attn_scores.masked_fill(~real.unsqueeze(1), float("-inf")).softmax(dim=-1)',
        "attn_scores.softmax(dim=-1)",
        "tests/test_11_seq2seq.py -k attention_weights_are",
    ),
    (
        "structure",
        "11 attention scores h . e, without W",
        "11_seq2seq.py",
        "attn_scores = hidden @ self.attn(encoder_outputs).transpose(1, 2)",
        "attn_scores = hidden @ encoder_outputs.transpose(1, 2)",
        "tests/test_11_seq2seq.py -k attention_weights_are",
    ),
    (
        "structure",
        "11 encoder summary taken at the last padded position",
        "11_seq2seq.py",
        "summary = torch.cat([hidden[0], hidden[1]], dim=1)",
        "summary = output[:, -1]",
        "tests/test_11_seq2seq.py -k encoder_reads",
    ),
    (
        "leakage",
        "11 quick test set = the first 500 held-out dates",
        "11_seq2seq.py",
        'test_pairs = data["test"][:: TEST_DATES // n_test]',
        'test_pairs = data["test"][:n_test]',
        "tests/test_11_seq2seq.py -k fair_sample",
    ),
    (
        "leakage",
        "11 dates drawn with --seed instead of DATA_SEED",
        "11_seq2seq.py",
        "data = make_pairs(n_train)",
        "data = make_pairs(n_train, args.seed)",
        "tests/test_11_seq2seq.py -k dates_do_not_move",
    ),
    (
        "ignored flag",
        "11 --attention ignored",
        "11_seq2seq.py",
        "decoder = (AttnDecoderRNN() if args.attention else DecoderRNN()).to(device)",
        "decoder = DecoderRNN().to(device)",
        "tests/test_11_seq2seq.py -k dates_do_not_move",
    ),
    (
        "ignored flag",
        "11 --lr ignored by the one-cycle schedule",
        "11_seq2seq.py",
        "optimizer, args.lr, total_steps",
        "optimizer, LR, total_steps",
        "tests/test_11_seq2seq.py -k epochs_batch",
    ),
    (
        "wrong number",
        "11 epoch loss as the mean of the batch means",
        "11_seq2seq.py",
        "total_loss += loss.item() * len(target)",
        "total_loss += loss.item() * train_loader.batch_size",
        "tests/test_11_seq2seq.py -k training_loss_is_the_mean",
    ),
    (
        "wrong number",
        "11 character accuracy leaves out the EOS",
        "11_seq2seq.py",
        '"char_accuracy": 100.0 * right.float().mean().item()',
        '"char_accuracy": 100.0 * right[:, :-1].float().mean().item()',
        "tests/test_11_seq2seq.py -k percents_computed_right",
    ),
    (
        "files",
        "11 draws its figures even with --no-figures",
        "11_seq2seq.py",
        "    if figures_on:\n        kit.plot_curves(",
        "    if True:\n        kit.plot_curves(",
        "tests/test_11_seq2seq.py -k dates_do_not_move",
    ),
    (
        "sequence detail",
        "08 one character at a time restarts the hidden state at every step",
        "08_rnn.py",
        "out, hidden = model(inputs[:, t : t + 1], hidden)",
        "out, hidden = model(inputs[:, t : t + 1], model.init_hidden())",
        "tests/test_rnn.py -k 08_learns",
    ),
    (
        "ignored flag",
        "08 --seed ignored",
        "08_rnn.py",
        "kit.seed_everything(args.seed)  # the same starting weights",
        "kit.seed_everything(0)  # the same starting weights",
        "tests/test_rnn.py -k 08_learns",
    ),
    (
        "structure",
        "09 forward reads the first layer's hidden state, not the last's",
        "09_rnn_classification.py",
        "hidden[-self.n_directions :]",
        "hidden[: self.n_directions]",
        "tests/test_rnn.py -k 09_a_padded_batch",
    ),
    (
        "ignored flag",
        "09 --batch-size ignored",
        "09_rnn_classification.py",
        "batch_size=args.batch_size, shuffle=True",
        "batch_size=BATCH_SIZE, shuffle=True",
        "tests/test_rnn.py -k 09_epochs_batch",
    ),
    (
        "ignored flag",
        "09 --lr ignored by the one-cycle schedule",
        "09_rnn_classification.py",
        "max_lr=args.lr",
        "max_lr=LR",
        "tests/test_rnn.py -k 09_a_tiny_learning_rate",
    ),
    (
        "ignored flag",
        "09 --layers 0 accepted",
        "09_rnn_classification.py",
        '"--layers", type=kit.positive_int',
        '"--layers", type=int',
        "tests/test_rnn.py -k 09_bounds",
    ),
    (
        "leakage",
        "10 vocabulary from every word",
        "10_char_rnn.py",
        "Vocabulary.from_words([word for word, _ in train_rows], LANGUAGES)",
        "Vocabulary.from_words([word for word, _ in train_rows + val_rows + test_rows], LANGUAGES)",
        "tests/test_10_char_rnn.py -k vocabulary_holds",
    ),
    (
        "ignored flag",
        "10 --temperature ignored by --generate",
        "10_char_rnn.py",
        "args.n, args.temperature, device, prime_str)",
        "args.n, TEMPERATURE, device, prime_str)",
        "tests/test_10_char_rnn.py -k samples_use_only",
    ),
    (
        "ignored flag",
        "10 --batch-size ignored in quick mode",
        "10_char_rnn.py",
        "words_per_step = min(args.batch_size, QUICK_BATCH)",
        "words_per_step = QUICK_BATCH",
        "tests/test_10_char_rnn.py -k epochs_batch",
    ),
    (
        "sequence detail",
        "11 characters numbered from 0, the first one colliding with padding",
        "11_seq2seq.py",
        "IN_INDEX = {c: i + 1 for i, c in enumerate(IN_CHARS)}",
        "IN_INDEX = {c: i for i, c in enumerate(IN_CHARS)}",
        "tests/test_11_seq2seq.py -k collide",
    ),
    (
        "leakage",
        "11 held-out days trained on as well",
        "11_seq2seq.py",
        "train_days = [d for d in days if d not in test_days]",
        "train_days = days",
        "tests/test_11_seq2seq.py -k held_out_dates_never",
    ),
    (
        "ignored flag",
        "11 --batch-size ignored in quick mode",
        "11_seq2seq.py",
        "batch_size = min(batch_size, QUICK_BATCH)",
        "batch_size = QUICK_BATCH",
        "tests/test_11_seq2seq.py -k epochs_batch",
    ),
    (
        "leakage",
        "11 held-out dates in a set's order, which moves from process to process",
        "11_seq2seq.py",
        "for d in sorted(test_days)]",
        "for d in test_days]",
        "tests/test_11_seq2seq.py -k held_out_dates",
    ),
    (
        "wrong number",
        "11 accuracy by length computed over all dates in every row",
        "11_seq2seq.py",
        "exact[inside].float().mean()",
        "exact.float().mean()",
        "tests/test_11_seq2seq.py -k accuracy_by_length",
    ),
    (
        "sequence detail",
        "10 generate primes the model with <end> after the start letters",
        "10_char_rnn.py",
        "prime_input = vocab.encode(prime_str, language)[:-1]",
        "prime_input = vocab.encode(prime_str, language)",
        "tests/test_10_char_rnn.py -k primes",
    ),
    # </bugs:08-11>
    # <bugs:tools>
    (
        "files",
        "a checkpoint written straight onto its path",
        "lesson_tools.py",
        "        with atomic_path(path) as temporary:\n            torch.save(",
        "        with atomic_path(path) as temporary:\n            temporary = path\n            torch.save(",
        "tests/test_tools.py -k interrupted_checkpoint",
    ),
    (
        "files",
        "a figure written straight onto its path",
        "lesson_tools.py",
        "            fig.savefig(temporary,",
        "            fig.savefig(path,",
        "tests/test_tools.py -k interrupted_figure",
    ),
    (
        "files",
        "files keep mkstemp's private mode",
        "lesson_tools.py",
        "        os.chmod(temporary, 0o666 & ~umask)",
        "        pass",
        "tests/test_tools.py -k normal_files_mode",
    ),
    (
        "files",
        "the results file written straight onto its path",
        "lesson_tools.py",
        "        with atomic_path(Path(os.environ[RESULT_ENV])) as temporary:\n            temporary.write_text(",
        "        with atomic_path(Path(os.environ[RESULT_ENV])) as temporary:\n            temporary = Path(os.environ[RESULT_ENV])\n            temporary.write_text(",
        "tests/test_tools.py -k results_file",
    ),
    (
        "files",
        "a data file not in SHA256SUMS accepted",
        "lesson_tools.py",
        "    if expected is None:\n        raise",
        "    if expected is None and False:\n        raise",
        "tests/test_tools.py -k not_listed",
    ),
    (
        "files",
        "MNIST counted as prepared when the files merely exist",
        "lesson_tools.py",
        "return all((raw / name).stat().st_size == size for name, size in MNIST_FILES.items())",
        "return all((raw / name).stat().st_size >= 0 for name, size in MNIST_FILES.items())",
        "tests/test_tools.py -k wrong_size",
    ),
    (
        "ignored flag",
        "--device cpu falls back to auto when a GPU is present",
        "lesson_tools.py",
        '    if name == "auto":\n        if torch.accelerator',
        '    if name in ("auto", "cpu"):\n        if torch.accelerator',
        "tests/test_tools.py -k explicit_device",
    ),
    (
        "ignored flag",
        "a positive whole number lets 0 through",
        "lesson_tools.py",
        '    if value <= 0:\n        raise argparse.ArgumentTypeError(f"must be a positive whole number',
        '    if value < 0:\n        raise argparse.ArgumentTypeError(f"must be a positive whole number',
        "tests/test_tools.py -k refuse_bad_values",
    ),
    (
        "ignored flag",
        "the runner does not pass --quick on",
        "run_course.py",
        'flags = (["--quick"] if args.quick else [])',
        "flags = []",
        "tests/test_tools.py -k runner_passes",
    ),
    (
        "ignored flag",
        "the runner ignores --only",
        "run_course.py",
        "lessons = [lesson for lesson in LESSONS if lesson[:2] in wanted]",
        "lessons = LESSONS",
        "tests/test_tools.py -k runner_passes",
    ),
    (
        "files",
        "checkpoint loaded with weights_only=False",
        "lesson_tools.py",
        'map_location="cpu", weights_only=True)',
        'map_location="cpu", weights_only=False)',
        "tests/test_tools.py -k never_runs_code",
    ),
    (
        "wrong number",
        "EpochLog never stops a loss that grew tenfold",
        "lesson_tools.py",
        "    exploded = reference is not None and loss > 10 * reference",
        "    exploded = False",
        "tests/test_tools.py -k epoch_log",
    ),
    (
        "wrong number",
        "EpochLog judges divergence against the last epoch, not the first",
        "lesson_tools.py",
        "else self.history[0][loss]",
        "else self.history[-1][loss]",
        "tests/test_tools.py -k epoch_log",
    ),
    (
        "files",
        "atomic_path writes its temporary file in /tmp, not beside the target",
        "lesson_tools.py",
        'suffix=".tmp", dir=target.parent)',
        'suffix=".tmp")',
        "tests/test_tools.py -k beside",
    ),
    (
        "files",
        "a saved checkpoint's path printed absolute, not from the learner's folder",
        "lesson_tools.py",
        'print(f"checkpoint: {shown(path)}")',
        'print(f"checkpoint: {path}")',
        "tests/test_tools.py -k tilde",
    ),
    (
        "files",
        "~ in --save and --figures taken as a folder named ~",
        "lesson_tools.py",
        "else Path(path).expanduser().resolve()",
        "else Path(path).resolve()",
        "tests/test_tools.py -k tilde",
    ),
    (
        "files",
        "a bare --save in a read-only course is not found again in the user cache",
        "lesson_tools.py",
        'for folder in _user_folders("checkpoints"):',
        'for folder in _user_folders("checkpoints")[:1]:',
        "tests/test_tools.py -k user_cache",
    ),
    (
        "files",
        "run_course --markdown into a folder that does not exist yet",
        "run_course.py",
        "        path.parent.mkdir(parents=True, exist_ok=True)\n        with kit.atomic_path(path) as temporary:\n            temporary.write_text(markdown_table",
        "        with kit.atomic_path(path) as temporary:\n            temporary.write_text(markdown_table",
        "tests/test_tools.py -k runner_passes",
    ),
    (
        "ignored flag",
        "--lr inf let through",
        "lesson_tools.py",
        "if not (math.isfinite(value) and value > 0):",
        "if not value > 0:",
        "tests/test_tools.py -k refuse_bad",
    ),
    # </bugs:tools>
]


def course_files() -> list[Path]:
    """What a fresh clone would hold, plus new files not yet committed (but nothing git ignores)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [Path(name) for name in listed.split("\0") if name and (REPO / name).is_file()]


def copy_course(into: Path) -> Path:
    for name in course_files():
        (into / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, into / name)
    return into


def run_bug(copy: Path, bug) -> tuple[str, str]:
    kind, description, file, correct, broken, tests = bug
    path = copy / file
    original = path.read_text(encoding="utf-8")
    if original.count(correct) != 1:
        return "NOT APPLIED", f"the text occurs {original.count(correct)} times in {file}"
    path.write_text(original.replace(correct, broken), encoding="utf-8")
    try:
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests.split()]
        done = subprocess.run(command, cwd=copy, capture_output=True, text=True, timeout=600)
    finally:
        path.write_text(original, encoding="utf-8")
    failed = [
        line.split(" - ")[0].removeprefix("FAILED ").removeprefix("ERROR ")
        for line in done.stdout.splitlines()
        if line.startswith(("FAILED", "ERROR"))
    ]
    if done.returncode == 0:
        return "SURVIVED", "no test failed"
    if not failed:
        return "BROKEN RUN", done.stdout[-500:] + done.stderr[-500:]
    return "caught", "; ".join(failed)


def markdown(rows) -> str:
    caught = sum(verdict == "caught" for *_, verdict, _ in rows)
    lines = [
        f"Run with `python tests/break_on_purpose.py --readme` on {datetime.date.today().isoformat()}: "
        f"{caught} of {len(rows)} bugs caught.",
        "",
        "| class | bug put into a copy of the course | result |",
        "|---|---|---|",
    ]
    for kind, description, verdict, detail in rows:
        where = (
            ", ".join(f"`{name.split('/')[-1]}`" for name in detail.split("; "))
            if verdict == "caught"
            else detail
        )
        lines.append(f"| {kind} | {description} | {verdict}: {where} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "only", nargs="*", help="run only bugs whose class or description contains one of these"
    )
    parser.add_argument("--readme", action="store_true", help="write the results into tests/README.md")
    args = parser.parse_args(argv)
    bugs = [bug for bug in BUGS if not args.only or any(w in f"{bug[0]} {bug[1]}" for w in args.only)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="break-on-purpose-") as folder:
        copy = copy_course(Path(folder))
        print(f"copied the course into {copy}", flush=True)
        for bug in bugs:
            verdict, detail = run_bug(copy, bug)
            rows.append((bug[0], bug[1], verdict, detail))
            print(f"{bug[1]}: {verdict}: {detail}", flush=True)
    missed = [row[1] for row in rows if row[2] != "caught"]
    print(
        f"\n{len(rows) - len(missed)} of {len(rows)} bugs caught"
        + (f"; not caught: {missed}" if missed else "")
    )
    if args.readme:
        from run_course import replace_readme_section

        replace_readme_section("bugs", markdown(rows), readme=REPO / "tests" / "README.md")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
