"""Lecture 14: sequence to sequence: an encoder reads a date as people write it, a decoder writes it as ISO.

python 11_seq2seq.py                # encoder and decoder (the lecture's 14_1): one summary of the input
python 11_seq2seq.py --attention    # the lecture's 14_2: the decoder looks back at every input character
python 11_seq2seq.py --quick        # a seconds-long smoke run on fewer dates
python 11_seq2seq.py --lecture      # 14_1's settings (with --attention, 14_2's): hidden 100, Adam lr 0.001, ...
python 11_seq2seq.py --help         # every flag

The lecture turns lower-cased Shakespeare lines without spaces back into the original lines. We turn
"thu 26.11.2026" or "Nov 26th, 2026" into "2026-11-26". The dates are generated here, so there is nothing to download;
every answer can be checked exactly; the inputs run from 8 to 37 characters, so we can see what length
does; and it is read and written one character at a time, like the lecture's.

Your turn: exercises/11_attention_mask.py (python exercises/check.py 11).
"""

import math
import random
from datetime import date, timedelta

import lesson_tools as kit

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader

DATA_SEED = 14  # the dates and their spellings are the same at every --seed; only the training varies
FIRST_DAY, LAST_DAY = date(1950, 1, 1), date(2049, 12, 31)
TEST_DATES = 2000  # calendar days that training never sees, in any spelling; each is written once
TRAIN_PAIRS = 20000
# EPOCHS, LR and TRAIN_PAIRS were chosen for --attention; without it the same settings fall far short
# (bench/README.md compares the two): one summary vector is what holds it back.
EPOCHS = 3
LR = 0.02  # Adam's peak learning rate in a one-cycle schedule
BATCH_SIZE = 128  # on a CPU a small batch is mostly overhead
# The lecture: hidden 100 (14_1) and 128 (14_2), each embedding as wide as the hidden state. Here one size
# for both runs, so that they differ only in attention; 64 is plenty for 57 input characters.
EMBEDDING_SIZE = 16
HIDDEN_SIZE = 64
QUICK_PAIRS, QUICK_EPOCHS, QUICK_BATCH, QUICK_TEST = 2000, 2, 64, 500  # --quick: more, smaller steps
QUICK_LECTURE_PAIRS = 200  # --lecture --quick: the lecture's batches of one pair take a step per pair
# --lecture: the settings of 14_1_seq2seq.py, or with --attention of 14_2_seq2seq_att.py. Only the data
# stays ours (dates, not Shakespeare's lines), with the characters and the padding that come with it.
# 14_1's HIDDEN_SIZE (without attention) and 14_2's (with it; there N_CHARS, 128); embeddings as wide
LECTURE_HIDDEN_SIZE = {False: 100, True: 128}


def lecture_settings(attention: bool | None) -> dict:
    """What --lecture changes, for kit.use_lecture_settings; attention=None: for --help, both scripts'."""
    hidden = "100 (128 with --attention)" if attention is None else LECTURE_HIDDEN_SIZE[attention]
    return {
        "epochs": 100,
        "lr": 0.001,
        "batch_size": 1,
        "model": (
            f"an encoder reading left to right, hidden {hidden}, embeddings as wide",
            f"an encoder reading both ways, hidden {HIDDEN_SIZE}, embeddings {EMBEDDING_SIZE}",
        ),
        "loss": ("summed over the written characters", "the mean per character"),
        "learning_rate_schedule": ("none", "one-cycle"),
    }


LENGTH_BUCKETS = ((8, 10), (11, 14), (15, 20), (21, 28), (29, 37))  # input lengths, for the accuracy table
EXAMPLES = 8  # held-out translations printed after training

# English names from these lists, not from strftime, whose names follow the computer's language setting
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def nth(day: int) -> str:
    return f"{day}{'th' if 10 < day < 14 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


# Nine ways to write date d. No two put day and month in the same places with the same separator, so
# each string has one meaning. A 2-digit year yy means 20yy below 50 and 19yy from 50 on: exactly the
# range 1950-2049, so no input is ambiguous.
FORMATS = [
    lambda d: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
    lambda d: f"{d.day:02}/{d.month:02}/{d.year % 100:02}",
    lambda d: f"{MONTHS[d.month - 1][:3]} {nth(d.day)}, {d.year}",
    lambda d: f"{d.day} {MONTHS[d.month - 1][:3].lower()} {d.year}",
    lambda d: f"{d.year}/{d.month:02}/{d.day:02}",
    lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    lambda d: f"{WEEKDAYS[d.weekday()][:3].lower()} {d.day}.{d.month}.{d.year}",
    lambda d: f"{d.day}-{MONTHS[d.month - 1][:3].upper()}-{d.year % 100:02}",
    lambda d: f"{WEEKDAYS[d.weekday()]} the {nth(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
]
# Every character any format writes (a whole year of dates has them all); index 0 is the padding.
IN_CHARS = sorted({c for f in FORMATS for n in range(366) for c in f(date(2000, 1, 1) + timedelta(n))})
IN_INDEX = {c: i + 1 for i, c in enumerate(IN_CHARS)}
PAD = 0
# The decoder writes digits and "-", then EOS_token to say it is done; it starts from SOS_token, as in the
# lecture (whose tokens are ASCII codes: SOS_token is chr(0), EOS_token the code 1; here they are the two
# numbers after the output characters'.
OUT_CHARS = "0123456789-"
SOS_token, EOS_token = len(OUT_CHARS), len(OUT_CHARS) + 1
N_OUT = len(OUT_CHARS) + 2
OUT_STEPS = len("YYYY-MM-DD") + 1  # every answer has this length, EOS included, so outputs need no padding


def make_pairs(n_train: int, seed: int = DATA_SEED) -> dict[str, list[tuple[str, str]]]:
    """(written date, ISO date) pairs. The test dates are a random set of calendar days kept out of
    training altogether, so a right answer is a date the model worked out, not one it remembers."""
    rng = random.Random(seed)
    days = [FIRST_DAY + timedelta(n) for n in range((LAST_DAY - FIRST_DAY).days + 1)]
    test_days = set(rng.sample(days, TEST_DATES))
    test = [(rng.choice(FORMATS)(d), d.isoformat()) for d in sorted(test_days)]
    train_days = [d for d in days if d not in test_days]
    train = [(rng.choice(FORMATS)(d), d.isoformat()) for d in rng.choices(train_days, k=n_train)]
    return {"train": train, "test": test}


def encode(pairs):
    """Each pair -> (the input's character indices, the output: SOS_token, the 10 characters, EOS_token):
    the lecture's str2tensor, for both sides of a pair."""
    inputs = [torch.tensor([IN_INDEX[c] for c in text]) for text, _ in pairs]
    outputs = torch.tensor([[SOS_token, *(OUT_CHARS.index(c) for c in iso), EOS_token] for _, iso in pairs])
    return list(zip(inputs, outputs))


def collate(batch):
    """Pads the inputs to the batch's longest and keeps their true lengths; splits each output into what
    the decoder reads (SOS_token and the true characters) and what it must write (the same, one step on)."""
    inputs, outputs = zip(*batch)
    lengths = torch.tensor([len(x) for x in inputs])  # on the CPU, where pack_padded_sequence wants them
    outputs = torch.stack(outputs)
    return pad_sequence(inputs, batch_first=True, padding_value=PAD), lengths, outputs[:, :-1], outputs[:, 1:]


# Step 1: the models. The encoder turns the input into vectors, the decoder turns vectors into the output.
class EncoderRNN(nn.Module):
    """One vector per input position (for attention), and a summary of it all (the decoder's start).

    The lecture's GRU reads left to right only (bidirectional=False, what --lecture builds). At the "M" of
    "May" it cannot yet tell May from March, nor at the "2" of "2nd" whether another digit follows. Read
    both ways (bidirectional=True, this lesson's choice; docs/changes.md names it), every position knows
    its neighbours on either side: hidden_size // 2 numbers each way, hidden_size side by side.
    The lecture's n_layers is 1 in both scripts: one layer here, without the argument.
    """

    def __init__(self, input_size, hidden_size, embedding_size=None, bidirectional=False):
        super().__init__()
        self.embedding = nn.Embedding(input_size, embedding_size or hidden_size, padding_idx=PAD)
        size = hidden_size // 2 if bidirectional else hidden_size
        self.gru = nn.GRU(self.embedding.embedding_dim, size, batch_first=True, bidirectional=bidirectional)

    def forward(self, word_inputs, lengths):
        # Packing (lesson 09) starts and stops each direction at the input's own ends, never in padding.
        embedded = pack_padded_sequence(
            self.embedding(word_inputs), lengths, batch_first=True, enforce_sorted=False
        )
        output, hidden = self.gru(embedded)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=word_inputs.shape[1])
        # The forward direction's last state has read the input left to right, the backward one's right to
        # left: side by side, they are the summary the decoder starts from (the lecture's encoder_hidden).
        summary = torch.cat([hidden[0], hidden[1]], dim=1) if self.gru.bidirectional else hidden[0]
        return output, summary.unsqueeze(0)  # (batch, steps, hidden_size) and (1, batch, hidden_size)


class DecoderRNN(nn.Module):
    """14_1: writes one character per step, starting from the encoder's summary and nothing else.
    It takes encoder_outputs and real only so that both decoders are called alike; it ignores them.
    The lecture's also has an init_hidden(), which 14_1 never calls: it starts from encoder_hidden."""

    def __init__(self, hidden_size, output_size, embedding_size=None):
        super().__init__()
        self.embedding = nn.Embedding(output_size, embedding_size or hidden_size)
        self.gru = nn.GRU(self.embedding.embedding_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, output_size)

    def forward(self, input, hidden, encoder_outputs=None, real=None):
        """input: (batch, steps) the characters read. Returns the scores, the hidden state, no weights."""
        output, hidden = self.gru(self.embedding(input), hidden)
        return self.out(output), hidden, None


class AttnDecoderRNN(nn.Module):
    """14_2: before writing each character, the decoder also looks back at every input position.
    Like the lecture's, it has no init_hidden(): it starts from the encoder's summary."""

    def __init__(self, hidden_size, output_size, embedding_size=None):
        super().__init__()
        # The lecture's Linear for attention has a bias, but h . b is the same for every position, and the
        # softmax cancels it: bias=False.
        self.attn = nn.Linear(hidden_size, hidden_size, bias=False)
        self.embedding = nn.Embedding(output_size, embedding_size or hidden_size)
        # The lecture's GRU has dropout=0.1, which acts only between layers: with its one layer, none.
        self.gru = nn.GRU(self.embedding.embedding_dim, hidden_size, batch_first=True)
        self.out = nn.Linear(2 * hidden_size, output_size)

    def forward(self, word_input, last_hidden, encoder_hiddens, real):
        """real: (batch, in steps), False on padding. Returns the scores, the hidden state, the weights."""
        rnn_output, hidden = self.gru(self.embedding(word_input), last_hidden)
        attn_weights = self.get_att_weight(rnn_output, encoder_hiddens, real)
        context = attn_weights @ encoder_hiddens  # the weighted average of the input's vectors
        return self.out(torch.cat([rnn_output, context], dim=-1)), hidden, attn_weights

    def get_att_weight(self, hidden, encoder_hiddens, real):
        """Scores turned into weights: for every output step, a softmax over the input positions."""
        attn_scores = self.get_att_score(hidden, encoder_hiddens)  # (batch, out steps, in steps)
        # Padding is no character at all: a score of -inf becomes a weight of exactly 0, and the weights
        # of the real characters add up to 1.
        return attn_scores.masked_fill(~real.unsqueeze(1), float("-inf")).softmax(dim=-1)

    def get_att_score(self, hidden, encoder_hiddens):
        """The lecture's score h . (W h_e): how useful is input character j for the character about to be
        written? The lecture's get_att_score scores one input position per call, and get_att_weight loops
        over them; here one matrix product scores every position of every step of every date at once."""
        return hidden @ self.attn(encoder_hiddens).transpose(1, 2)


def make_models(attention, lecture, device):
    """The encoder and the decoder 14_1 (or with attention 14_2) uses: this lesson's sizes, or with
    --lecture the lecture's, EncoderRNN(N_CHARS, HIDDEN_SIZE) reading left to right, each embedding as
    wide as the hidden state (embedding_size None)."""
    hidden_size = LECTURE_HIDDEN_SIZE[attention] if lecture else HIDDEN_SIZE
    embedding_size = None if lecture else EMBEDDING_SIZE
    encoder = EncoderRNN(len(IN_CHARS) + 1, hidden_size, embedding_size, bidirectional=not lecture)
    Decoder = AttnDecoderRNN if attention else DecoderRNN
    decoder = Decoder(hidden_size, N_OUT, embedding_size)
    ways = "both ways" if encoder.gru.bidirectional else "left to right"
    how = "WITH attention (14_2)" if attention else "WITHOUT attention (14_1): only the summary"
    print(
        f"EncoderRNN ({ways}) -> {type(decoder).__name__} {how}; hidden {decoder.gru.hidden_size}, "
        f"embeddings {decoder.embedding.embedding_dim}, on {device}"
    )
    return encoder.to(device), decoder.to(device)


def encode_input(encoder, word_inputs, lengths):
    """Run the encoder; also say which input positions are real characters and which are padding."""
    encoder_outputs, encoder_hidden = encoder(word_inputs, lengths)
    real = (
        torch.arange(word_inputs.shape[1], device=word_inputs.device)
        < lengths.to(word_inputs.device)[:, None]
    )
    return encoder_outputs, encoder_hidden, real


def train(encoder, decoder, device, train_loader, criterion, optimizer, scheduler=None):
    """Step 3 for one epoch. Teacher forcing: the decoder reads the TRUE previous character at every step,
    so all steps run in one call. Returns the mean loss per written character, whether the criterion sums
    (the lecture's) or averages (ours), so that both runs print the same measure."""
    encoder.train(), decoder.train()
    total_loss, total_characters = 0.0, 0
    for src, lengths, decoder_input, target in train_loader:
        src, decoder_input, target = src.to(device), decoder_input.to(device), target.to(device)
        encoder_outputs, hidden, real = encode_input(encoder, src, lengths)
        output, _, _ = decoder(decoder_input, hidden, encoder_outputs, real)
        loss = criterion(output.flatten(0, 1), target.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:  # --lecture keeps the learning rate where it is
            scheduler.step()
        summed = loss.item() if criterion.reduction == "sum" else loss.item() * target.numel()
        total_loss, total_characters = total_loss + summed, total_characters + target.numel()
    return total_loss / total_characters


@torch.inference_mode()
def translate(encoder, decoder, word_inputs, lengths):
    """Greedy decoding: each step reads the model's OWN previous guess, as it must on a new input. The
    lecture samples with a temperature; the likeliest character (argmax) is its temperature 0."""
    encoder_outputs, hidden, real = encode_input(encoder, word_inputs, lengths)
    dec_input = torch.full((len(word_inputs), 1), SOS_token, device=word_inputs.device)
    guesses, attentions = [], []
    for _ in range(OUT_STEPS):
        output, hidden, attention = decoder(dec_input, hidden, encoder_outputs, real)
        dec_input = output.argmax(dim=-1)
        guesses.append(dec_input)
        attentions.append(attention)
    return torch.cat(guesses, dim=1), None if attentions[0] is None else torch.cat(attentions, dim=1)


def test(encoder, decoder, items, device):
    """Greedy translations; a date counts as right only if all 10 characters and the EOS_token are."""
    encoder.eval(), decoder.eval()
    src, lengths, _, target = collate(items)
    guesses, attentions = translate(encoder, decoder, src.to(device), lengths)
    right = guesses.cpu() == target
    return {
        "exact": right.all(dim=1),
        "exact_match": 100.0 * right.all(dim=1).float().mean().item(),
        "char_accuracy": 100.0 * right.float().mean().item(),
        "guesses": guesses.cpu(),
        "attentions": attentions,
    }


def text_of(guess) -> str:
    """Output indices -> text, up to the first EOS_token."""
    chars = guess.tolist()
    chars = chars[: chars.index(EOS_token)] if EOS_token in chars else chars
    return "".join(OUT_CHARS[c] if c < len(OUT_CHARS) else "?" for c in chars)


def parse_args(argv):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument("--attention", action="store_true", help="14_2: look back at every input character")
    kit.add_lecture_flag(parser, lecture_settings(None))
    args = parser.parse_args(argv)
    kit.use_lecture_settings(args, parser, lecture_settings(args.attention))
    return args


def main(argv=None):
    args = parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    figures_on = kit.start_figures(args)
    n_train, epochs, batch_size, n_test = TRAIN_PAIRS, args.epochs, args.batch_size, TEST_DATES
    if args.quick:
        n_train = QUICK_LECTURE_PAIRS if args.lecture else QUICK_PAIRS
        epochs, n_test = min(epochs, QUICK_EPOCHS), QUICK_TEST
        batch_size = min(batch_size, QUICK_BATCH)
    data = make_pairs(n_train)
    test_pairs = data["test"][:: TEST_DATES // n_test]  # --quick: every 4th, still spread over 1950-2049
    show_formats(n_train, len(test_pairs))
    # The lecture trains on one pair at a time and warns that this is extremely slow: here a batch of
    # pairs, padded to its longest input, goes through at once, shuffled so that each batch mixes formats.
    train_loader = DataLoader(encode(data["train"]), batch_size, shuffle=True, collate_fn=collate)
    test_items = encode(test_pairs)

    encoder, decoder = make_models(args.attention, args.lecture, device)

    # Step 2: cross-entropy over the output characters at every step. The lecture sums the steps; we
    # average them, which keeps the loss, and so the learning rate, the same whatever the batch's size.
    # Adam as in the lecture, which we drive at a higher rate in a one-cycle schedule (warm up, then
    # anneal to almost 0; lesson 06); --lecture keeps its constant lr 0.001.
    criterion = nn.CrossEntropyLoss(reduction="sum" if args.lecture else "mean")
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)
    scheduler = None
    if not args.lecture:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, args.lr, total_steps=epochs * len(train_loader)
        )

    # Step 3: the training cycle, with teacher forcing (see train); the test decodes greedily, each step
    # reading the model's OWN previous guess, and exact match counts the dates right in every character.
    log = kit.EpochLog(epochs, args.lr, reference=math.log(N_OUT), seconds=True)
    for epoch in range(1, epochs + 1):
        train_loss = train(encoder, decoder, device, train_loader, criterion, optimizer, scheduler)
        result = test(encoder, decoder, test_items, device)
        log.end_epoch(epoch, train_loss=train_loss, test_exact_match=result["exact_match"])

    texts = [text for text, _ in test_pairs]
    examples = show_examples(test_pairs, result)
    table = accuracy_by_length(texts, result["exact"])
    if figures_on:
        draw_figures(log.history, texts, result, args)
    mode = "with attention" if args.attention else "without attention"
    return {
        "attention": args.attention,
        "test_exact_match": result["exact_match"],
        "test_char_accuracy": result["char_accuracy"],
        "accuracy_by_length": table,
        "batches_per_epoch": len(train_loader),
        "history": log.history,
        "examples": examples,
        "device": str(device),
        "encoder": encoder,  # the models, the loss and the optimizer, for tests to look at (--lecture's)
        "decoder": decoder,
        "criterion": criterion,
        "optimizer": optimizer,
        "summary": f"{mode}: held-out exact match {result['exact_match']:.1f}% ({result['char_accuracy']:.1f}% of characters)",
    }


def show_formats(n_train, n_test):
    ways = [f(date(2026, 11, 26)) for f in FORMATS]
    print(f"Dates as people write them -> ISO 8601 (YYYY-MM-DD). 26 November 2026, {len(FORMATS)} ways:")
    print("   " + " · ".join(ways[:5]) + "\n   " + " · ".join(ways[5:]))
    print(f"{n_train} training pairs; {n_test} held-out dates that training never sees, in any format")


def show_examples(test_pairs, result):
    print("Held-out dates, translated greedily:")
    examples = []
    picks = [*range(0, len(test_pairs), len(test_pairs) // EXAMPLES)][:EXAMPLES]
    wrong = [i for i, right in enumerate(result["exact"].tolist()) if not right]
    if wrong and result["exact"][picks].all():
        picks[-1] = wrong[0]  # show a mistake when there is one
    for i in picks:
        (text, iso), output = test_pairs[i], text_of(result["guesses"][i])
        examples.append({"input": text, "output": output, "target": iso, "right": output == iso})
        mark = "✓" if output == iso else f"✗ (right: {iso})"
        print(f"   {text:36} -> {output}  {mark}")
    return examples


def accuracy_by_length(texts, exact) -> dict[str, float]:
    print("Exact match by input length:")
    table = {}
    for low, high in LENGTH_BUCKETS:
        inside = torch.tensor([low <= len(text) <= high for text in texts])
        table[f"{low}-{high}"] = 100.0 * exact[inside].float().mean().item()
        print(f"   {low:2d}-{high} characters  {table[f'{low}-{high}']:5.1f}%   ({int(inside.sum())} dates)")
    return table


def draw_figures(history, texts, result, args) -> None:
    """The curves, and with --attention the heatmap of the longest input, which shows the most. Each
    run's figures carry its options in their names, so that no run replaces another's."""
    options = "_attention" * args.attention + "_lecture" * args.lecture
    kit.plot_curves(history, f"11_seq2seq_curves{options}", args, right="test_exact_match")
    if args.attention:
        i = max(range(len(texts)), key=lambda i: len(texts[i]))
        figure = attention_figure(texts[i], result["guesses"][i], result["attentions"][i])
        kit.save_figure(figure, f"11_seq2seq{options}", args)


def attention_figure(text, guess, weights):
    """The weights while writing one date: a row per written character (up to the first EOS_token), a
    column per input character. Each row adds up to 1 over the input: no weight went to padding."""
    import matplotlib.pyplot as plt

    written = [*text_of(guess), *(["EOS"] if EOS_token in guess.tolist() else [])]
    fig, ax = plt.subplots(figsize=(0.25 * len(text) + 2, 0.25 * len(written) + 1.5))
    ax.imshow(weights[: len(written), : len(text)].cpu().numpy(), cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(len(text)), [c if c != " " else "␣" for c in text])
    ax.set_yticks(range(len(written)), written)
    ax.set(xlabel="input", ylabel="written", title="Attention: where the decoder looks for each character")
    return fig


if __name__ == "__main__":
    kit.run(main)
