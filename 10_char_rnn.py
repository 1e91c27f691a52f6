"""Lecture 13 (13_3_char_rnn.py): a character RNN writes new words one character at a time, in the language you ask for.

python 10_char_rnn.py                 # train, then write words in five languages
python 10_char_rnn.py --save          # ... and keep the model in checkpoints/10_char_rnn.pt
python 10_char_rnn.py --generate --language spanish --start ca -n 10   # words from the saved model
python 10_char_rnn.py --generate --temperature 1.5   # bolder words (0.3: safer ones)
python 10_char_rnn.py --quick         # a seconds-long smoke run on fewer words
python 10_char_rnn.py --lecture       # the lecture's settings: 3 GRU layers of 100, Adam lr 0.001, ...
python 10_char_rnn.py --help          # every flag

The lecture trains a GRU on Shakespeare's lines, lower-cased with the spaces taken out, to predict each
next character, then writes by sampling a character and feeding it back in as the next input. We do the
same with the course's word list (data/words) instead: it ships with the course under free licences, it
trains on a CPU in a short run, and every word carries its language, so we can ask for a Polish
word and check that it looks Polish and is new.

Your turn: exercises/10_temperature.py (python exercises/check.py 10).
"""

import csv
import math

import lesson_tools as kit

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset

LESSON = "10_char_rnn"
WORDS_FILE = "words/words.csv"
LANGUAGES = ["dutch", "english", "polish", "portuguese", "spanish"]  # those of data/words/words.csv
TRAIN_WORDS, VALIDATION_WORDS = 24_000, 3_000  # by position in the (already shuffled) file; the rest test
# The lecture's GRU has 3 layers of 100, its embedding as wide; here one GRU layer of 128 and an embedding
# of 32: fewer weights in all, and quick enough for a CPU.
hidden_size, n_layers = 128, 1
embedding_size = 32
# Adam, as in the lecture, but with a one-cycle schedule (warm up, then anneal) at a higher peak: the
# lecture takes 100 epochs of single lines, we take a few of batches.
n_epochs = 2
LR = 0.02
batch_size = 128  # words per step; the lecture's is 1 line
# --lecture: 13_3_char_rnn.py's own settings. Only the data stays ours (words, not Shakespeare's lines), and
# so do the vocabulary and the end token that come with it (see PAD, END below).
LECTURE_HIDDEN_SIZE, LECTURE_N_LAYERS = 100, 3  # its embedding is as wide as the hidden state
LECTURE = {
    "epochs": 100,
    "lr": 0.001,
    "batch_size": 1,
    "model": (
        f"{LECTURE_N_LAYERS} GRU layers of {LECTURE_HIDDEN_SIZE}, embedding {LECTURE_HIDDEN_SIZE}",
        f"{n_layers} GRU layer of {hidden_size}, embedding {embedding_size}",
    ),
    "loss": ("summed over a line's characters", "the mean per character"),
    "learning_rate_schedule": ("none", "one-cycle"),
}
TEMPERATURE = 0.8  # the lecture's
MAX_LETTERS = 16  # the longest word in the list; a sample that gets there is cut off
NOVELTY_SAMPLES = 100  # words written per language at the end, to count how many are new
EVAL_BATCH = 500  # evaluation keeps no graph, so it takes bigger batches
# --quick: a short run needs steps more than words, so it takes smaller batches of fewer words.
QUICK_TRAIN, QUICK_EPOCHS, QUICK_BATCH = 1000, 2, 32
QUICK_LECTURE_TRAIN = 100  # --lecture --quick: the lecture's batches of one word take a step per word
# Padding is token 0 (for padding_idx and ignore_index); <end> lets a written word stop by itself. The
# lecture scores all 128 ASCII codes and has no end token: its generate() writes a fixed 100 characters.
PAD, END = 0, 1


def read_words():
    """The (word, language) rows in the file's fixed shuffled order, split by position as in lesson 09:
    the same training, validation and test words for every run and every --seed."""
    with open(kit.data_file(WORDS_FILE), encoding="utf-8", newline="") as file:
        rows = [(row["word"], row["language"]) for row in csv.DictReader(file)]
    end_of_validation = TRAIN_WORDS + VALIDATION_WORDS
    return rows[:TRAIN_WORDS], rows[TRAIN_WORDS:end_of_validation], rows[end_of_validation:]


class Vocabulary:
    """Token numbers: 0 padding, 1 end of word, then the characters, then one start token per language.
    The model scores only the tokens that can come next; a start token is always an input."""

    def __init__(self, chars: str, languages: list[str]):
        self.chars, self.languages = chars, list(languages)
        self.names = ["<pad>", "<end>", *chars, *(f"<{lang}>" for lang in languages)]
        self.index = {name: i for i, name in enumerate(self.names)}
        self.n_outputs = len(chars) + 2  # padding, end and the characters

    @classmethod
    def from_words(cls, words: list[str], languages: list[str]) -> "Vocabulary":
        # the training words only: a character that only held-out words use must not leak in
        return cls("".join(sorted({c for word in words for c in word})), languages)

    def encode(self, word: str, language: str) -> torch.Tensor:
        """<language> c1 c2 ... cn <end>, as token numbers."""
        return torch.tensor([self.index[f"<{language}>"], *(self.index[c] for c in word), END])

    def decode(self, tokens: list[int]) -> str:
        """The characters before the first <end>."""
        return "".join(self.names[t] for t in tokens[: tokens.index(END) if END in tokens else None])


class TextDataset(Dataset):
    """The lecture's Dataset class (text_loader.py), for words. The lecture's reads Shakespeare's file
    itself and gives a pair of strings (the line lower-cased without spaces, and as written); this one is
    given the rows of one split (read_words reads the file once for all three) and gives one word as
    tokens, <language> first. The DataLoader's collate_fn (make_batch) then pads and shifts them."""

    def __init__(self, rows: list[tuple[str, str]], vocab: Vocabulary):
        self.lines = [vocab.encode(word, language) for word, language in rows]
        self.len = len(self.lines)

    def __getitem__(self, index):
        return self.lines[index]

    def __len__(self):
        return self.len


def make_batch(sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad encoded words to the longest, then shift by one as the lecture does (input = line[:-1],
    target = line[1:]): at every position the target is the token that comes next."""
    padded = pad_sequence(sequences, batch_first=True, padding_value=PAD)
    return padded[:, :-1], padded[:, 1:]


# Step 1: the model, the lecture's RNN: embedding -> GRU -> linear. Its first input is the language's
# start token, so one network learns five spelling systems and we can ask it for any one of them. The
# lecture's forward() reads one character per call; this one reads a whole batch of words in one call.
class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, n_layers=1, embedding_size=None):
        super().__init__()
        embedding_size = embedding_size or hidden_size  # the lecture's embedding is as wide as its GRU
        self.embedding = nn.Embedding(input_size, embedding_size, padding_idx=PAD)
        self.gru = nn.GRU(embedding_size, hidden_size, n_layers, batch_first=True)
        self.linear = nn.Linear(hidden_size, output_size)

    def forward(self, input, hidden=None):
        """input: (batch, steps) tokens. Returns a score for each possible next token at every step, and
        the hidden state: all that was read so far, which generate() passes back in with the next one.
        hidden=None starts from zeros, which is what the lecture's init_hidden() makes."""
        output, hidden = self.gru(self.embedding(input), hidden)
        return self.linear(output), hidden


def make_decoder(lecture, vocab, device):
    """The lesson's RNN, or with --lecture the lecture's sizes: RNN(n_characters, hidden_size,
    n_characters, n_layers), its embedding as wide as the hidden state. Returns it and its sizes."""
    if lecture:
        sizes = {
            "hidden_size": LECTURE_HIDDEN_SIZE,
            "n_layers": LECTURE_N_LAYERS,
            "embedding_size": LECTURE_HIDDEN_SIZE,
        }
    else:
        sizes = {"hidden_size": hidden_size, "n_layers": n_layers, "embedding_size": embedding_size}
    decoder = RNN(
        len(vocab.names), sizes["hidden_size"], vocab.n_outputs, sizes["n_layers"], sizes["embedding_size"]
    )
    print(
        f"\nGRU: embedding {decoder.embedding.embedding_dim}, hidden {decoder.gru.hidden_size}, "
        f"{decoder.gru.num_layers} layer(s); on {device}"
    )
    return decoder.to(device), sizes


def train(decoder, device, train_loader, criterion, optimizer, scheduler=None):
    """Step 3 for one epoch, on batches of words. Returns the mean loss per predicted token, whether the
    criterion sums (the lecture's) or averages (ours) over them, so that both runs print the same measure."""
    decoder.train()
    total_loss, total_tokens = 0.0, 0
    for input, target in train_loader:
        input, target = input.to(device), target.to(device)
        output, _ = decoder(input)
        loss = criterion(output.flatten(0, 1), target.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:  # --lecture keeps the learning rate where it is
            scheduler.step()
        tokens = (target != PAD).sum().item()  # the tokens the loss is over: padding is ignored
        summed = loss.item() if criterion.reduction == "sum" else loss.item() * tokens
        total_loss, total_tokens = total_loss + summed, total_tokens + tokens
    return total_loss / total_tokens


@torch.inference_mode()
def loss_per_char(decoder, sequences, device):
    """Mean cross-entropy in nats over every token to predict in held-out words: each character and the
    <end>, never the padding."""
    decoder.eval()
    total, count = 0.0, 0
    for input, target in DataLoader(sequences, EVAL_BATCH, collate_fn=make_batch):
        output, _ = decoder(input.to(device))
        target = target.to(device).flatten()
        total += F.cross_entropy(output.flatten(0, 1), target, ignore_index=PAD, reduction="sum").item()
        count += (target != PAD).sum().item()
    return total / count


def pairs(sequences: list[torch.Tensor], vocab: Vocabulary):
    """Every prediction in the sequences as (language, previous token, next token): three tensors."""
    language = torch.cat([torch.full((len(s) - 1,), s[0].item() - vocab.n_outputs) for s in sequences])
    return language, torch.cat([s[:-1] for s in sequences]), torch.cat([s[1:] for s in sequences])


def bigram_baseline(vocab, train_set, val_set, test_set):
    """The bigram table's nats per character on the validation and on the test words."""
    bigram = bigram_table(train_set, vocab)
    bigram_val, bigram_test = (-bigram[pairs(part, vocab)].mean().item() for part in (val_set, test_set))
    print(
        "\nBaseline: a bigram table, P(next | language, previous character), on the validation words: "
        f"{bigram_val:.3f} nats per character"
    )
    return bigram_val, bigram_test


def bigram_table(sequences: list[torch.Tensor], vocab: Vocabulary) -> torch.Tensor:
    """The baseline to beat: log P(next | language, previous token), counted in the training words.

    Add-one (Laplace) smoothing gives every token that can follow one made-up sighting, so that a pair
    training never saw is unlikely rather than impossible. Unlike the GRU, which must remember the
    language from its first input, the table is told the language at every step.
    """
    counts = torch.zeros(len(vocab.languages), len(vocab.names), vocab.n_outputs)
    counts.index_put_(pairs(sequences, vocab), torch.tensor(1.0), accumulate=True)
    counts[:, :, END:] += 1  # every token but padding
    return (counts / counts.sum(dim=-1, keepdim=True)).log()


@torch.inference_mode()
def generate(decoder, vocab, language, n, temperature, device, prime_str=""):
    """n words at once, as the lecture's generate() writes one line: read the start token and prime_str
    (this primes the hidden state), then sample a character from softmax(scores / temperature), feed it
    back in, and repeat until <end>."""
    decoder.eval()
    prime_input = vocab.encode(prime_str, language)[:-1]  # <language> and the first letters, no <end>
    output, hidden = decoder(prime_input.repeat(n, 1).to(device))
    sampled = []
    for _ in range(max(MAX_LETTERS - len(prime_str), 0) + 1):  # + 1: room for the <end>
        # A temperature below 1 sharpens the odds towards the likeliest character; above 1 flattens them.
        # In float64, after subtracting the top score, no temperature that --temperature accepts overflows.
        scores = output[:, -1].cpu().double()
        scores[:, PAD] = -math.inf  # padding is not a character
        scores = (scores - scores.max(dim=1, keepdim=True).values) / temperature
        top_i = torch.multinomial(scores.softmax(dim=1), 1)
        sampled.append(top_i)
        if (torch.cat(sampled, dim=1) == END).any(dim=1).all():
            break
        output, hidden = decoder(top_i.to(device), hidden)
    # The last step was room for <end> only: a word still going there is cut at MAX_LETTERS.
    return [
        (prime_str + vocab.decode(row))[: max(MAX_LETTERS, len(prime_str))]
        for row in torch.cat(sampled, dim=1).tolist()
    ]


def shown(words: list[str]) -> str:
    """Words as printed: a word the model ended at once (<end> first) shows as <end>, not as nothing."""
    return " ".join(word or "<end>" for word in words)


def show_shift(vocab: Vocabulary, word: str, language: str) -> None:
    inputs, targets = make_batch([vocab.encode(word, language)])
    columns = [(vocab.names[i], vocab.names[t]) for i, t in zip(inputs[0].tolist(), targets[0].tolist())]
    widths = [max(len(i), len(t)) for i, t in columns]
    print(f'One training word, "{word}" ({language}), as the model sees it: the target is the next token')
    print("   input : " + " ".join(i.ljust(w) for (i, _), w in zip(columns, widths)))
    print("   target: " + " ".join(t.ljust(w) for (_, t), w in zip(columns, widths)))


def prepare_words(quick, lecture=False):
    """The vocabulary of the training words, and every word as tokens. A held-out word with a character
    that training never saw cannot be scored: it is left out of the validation and test words."""
    train_rows, val_rows, test_rows = read_words()
    if quick:
        train_rows = train_rows[: QUICK_LECTURE_TRAIN if lecture else QUICK_TRAIN]
    vocab = Vocabulary.from_words([word for word, _ in train_rows], LANGUAGES)
    train_set = TextDataset(train_rows, vocab)
    val_set, test_set = (
        TextDataset([(word, lang) for word, lang in part if set(word) <= set(vocab.chars)], vocab)
        for part in (val_rows, test_rows)
    )
    print(
        "The lecture learns from Shakespeare. We learn from the course's own words in five languages:\n"
        "small, shipped with the course, and labelled, so that a word written 'in Polish' can be checked.\n"
        f"{len(train_rows)} training words, {len(val_rows)} validation, {len(test_rows)} test "
        f"({len(val_set)} and {len(test_set)} of them scored: the others hold a character training never "
        f"saw); {len(vocab.chars)} characters: {vocab.chars}\n"
    )
    show_shift(vocab, *train_rows[0])
    return vocab, {word for word, _ in train_rows}, train_set, val_set, test_set


def main(argv=None):
    args = parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    if args.generate or args.load:
        return generate_from_saved(args, device)
    figures_on = kit.start_figures(args)
    epochs = min(args.epochs, QUICK_EPOCHS) if args.quick else args.epochs
    words_per_step = min(args.batch_size, QUICK_BATCH) if args.quick else args.batch_size
    vocab, training_words, train_set, val_set, test_set = prepare_words(args.quick, args.lecture)
    bigram_val, bigram_test = bigram_baseline(vocab, train_set, val_set, test_set)

    decoder, sizes = make_decoder(args.lecture, vocab, device)
    # Step 2: cross-entropy of the next token at every position (ignore_index skips the padding): the
    # lecture adds up a line's characters; we average over the real tokens, so that the learning rate
    # suits batches of any size. The lecture's Adam, which we drive with a one-cycle schedule (see LR).
    criterion = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum" if args.lecture else "mean")
    decoder_optimizer = torch.optim.Adam(decoder.parameters(), lr=args.lr)
    train_loader = DataLoader(
        dataset=train_set, batch_size=words_per_step, shuffle=True, collate_fn=make_batch
    )
    scheduler = None  # --lecture: Adam at a constant learning rate, as in the lecture
    if not args.lecture:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            decoder_optimizer, max_lr=args.lr, total_steps=epochs * len(train_loader)
        )

    # Step 3: the training cycle. The input is always the true previous character (teacher forcing, as the
    # lecture's train_teacher_forching does), so one call predicts every position of every word. The
    # lecture's loop calls its train() instead, which feeds back its own guess one step at a time.
    log = kit.EpochLog(epochs, args.lr, reference=math.log(vocab.n_outputs), seconds=True)
    for epoch in range(1, epochs + 1):
        train_loss = train(decoder, device, train_loader, criterion, decoder_optimizer, scheduler)
        val_loss = loss_per_char(decoder, val_set, device)
        samples = [generate(decoder, vocab, lang, 1, args.temperature, device)[0] for lang in LANGUAGES]
        log.end_epoch(epoch, train_loss=train_loss, validation_loss=val_loss, samples=shown(samples))

    test_loss = loss_per_char(decoder, test_set, device)
    print(f"\nTest words, nats per character: GRU {test_loss:.3f}, bigram {bigram_test:.3f}")
    samples, novel = write_samples(decoder, vocab, training_words, args.temperature, device)
    # --lecture's figure and bare --save carry "_lecture" in their names: they never replace the default's
    variant = "lecture" if args.lecture else ""
    if args.save:
        kit.save_checkpoint(
            args.save, LESSON, decoder, variant, vocabulary=vocab.chars, languages=LANGUAGES, **sizes
        )
    if figures_on:
        name = "10_char_rnn_loss_lecture" if args.lecture else "10_char_rnn_loss"
        kit.save_figure(loss_figure(log.history, bigram_val), name, args)
    return {
        "test_loss_per_char": test_loss,
        "bigram_loss_per_char": bigram_test,
        "bigram_validation_loss_per_char": bigram_val,
        "novel_share": novel,
        "samples": samples,
        "vocabulary": vocab.chars,
        "batches_per_epoch": len(train_loader),
        "history": log.history,
        "device": str(device),
        "decoder": decoder,  # the model, its loss and optimizer, for tests to look at (--lecture's)
        "criterion": criterion,
        "decoder_optimizer": decoder_optimizer,
        "summary": f"test {test_loss:.3f} nats/char, bigram {bigram_test:.3f}; {novel:.0f}% of samples new",
    }


def parse_args(argv):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=n_epochs, lr=LR, batch_size=batch_size)
    kit.add_lecture_flag(parser, LECTURE)
    kit.add_checkpoint_flags(parser, LESSON)
    parser.add_argument(
        "--temperature", type=kit.positive_float, default=TEMPERATURE, help="below 1 safer, above 1 bolder"
    )
    parser.add_argument("--generate", action="store_true", help="write words with a saved model")
    parser.add_argument("--language", choices=LANGUAGES, help="with --generate: this language only")
    parser.add_argument("--start", help="with --generate: the letters every word begins with (either case)")
    parser.add_argument("-n", type=kit.positive_int, default=10, help="with --generate: words per language")
    args = parser.parse_args(argv)
    saved = args.generate or args.load
    if args.save and saved:
        parser.error("--save keeps the model a run trains; --generate and --load train none")
    if (args.language or args.start) and not saved:
        parser.error("--language and --start go with --generate, which writes with a saved model")
    if args.lecture and saved:
        parser.error("--lecture sets how a model is trained; --generate and --load train none")
    kit.use_lecture_settings(args, parser, LECTURE)
    return args


def write_samples(decoder, vocab, training_words, temperature, device):
    """NOVELTY_SAMPLES words per language, and the percent of them that are not training words."""
    samples = {
        lang: generate(decoder, vocab, lang, NOVELTY_SAMPLES, temperature, device) for lang in LANGUAGES
    }
    written = [word for words in samples.values() for word in words]
    novel = 100.0 * sum(word not in training_words for word in written) / len(written)
    print(f"{novel:.0f}% of {len(written)} samples at temperature {temperature:g} are not training words:")
    for lang, words in samples.items():
        print(f"   {lang:10} {shown(words[:8])}")
    return samples, novel


def loss_figure(history: list[dict], bigram_val: float):
    """Each epoch's losses, numbered from 1, and the bigram table's on the validation words."""
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(epochs, [h["train_loss"] for h in history], marker="o", label="GRU, training words (epoch mean)")
    ax.plot(epochs, [h["validation_loss"] for h in history], marker="o", label="GRU, validation words")
    ax.axhline(bigram_val, linestyle=":", color="gray", label="bigram table, validation words")
    ax.set(xlabel="epoch", ylabel="nats per character", title="Cross-entropy of the next character")
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2))  # below the plot, clear of every line
    return fig


def generate_from_saved(args, device):
    """--generate (or --load): words from a saved model; no data and no training."""
    path = args.load or kit.saved_checkpoint(LESSON)
    if path is None or not path.exists():
        where = f" {kit.shown(path)}" if path else ""
        raise kit.LessonError(
            f"no saved model {'at' + where if path else 'yet'}: make one with: python 10_char_rnn.py --save{where}"
        )
    checkpoint = kit.load_checkpoint(path, LESSON)
    vocab = Vocabulary(checkpoint["vocabulary"], checkpoint["languages"])
    sizes = {key: checkpoint[key] for key in ("hidden_size", "n_layers", "embedding_size")}
    decoder = RNN(
        len(vocab.names), sizes["hidden_size"], vocab.n_outputs, sizes["n_layers"], sizes["embedding_size"]
    )
    kit.load_weights(decoder, checkpoint, path)
    decoder.to(device)
    prime_str = (args.start or "").lower()  # the words are lower case, so "Ca" means "ca"
    if unknown := sorted(set(prime_str) - set(vocab.chars)):
        raise kit.LessonError(
            f"--start {args.start!r}: the model never saw {' '.join(unknown)} in training; it knows {vocab.chars}"
        )
    print(f"Words from {kit.shown(path)} at temperature {args.temperature:g}:")
    samples = []
    for lang in [args.language] if args.language else vocab.languages:
        words = generate(decoder, vocab, lang, args.n, args.temperature, device, prime_str)
        print(f"   {lang:10} {shown(words)}")
        samples += words
    return {"samples": samples, "summary": f"{len(samples)} words: {' '.join(samples[:5])} ..."}


if __name__ == "__main__":
    kit.run(main)
