"""Lecture 14: sequence to sequence: an encoder reads a date as people write it, a decoder writes it as ISO.

python 11_seq2seq.py                # encoder and decoder (the lecture's 14_1): one summary of the input
python 11_seq2seq.py --attention    # the lecture's 14_2: the decoder looks back at every input character
python 11_seq2seq.py --quick        # a seconds-long smoke run on fewer dates
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
# (README, "Results"): one summary vector is what holds it back.
EPOCHS = 3
LR = 0.02  # Adam's peak learning rate in a one-cycle schedule
BATCH_SIZE = 128  # on a CPU a small batch is mostly overhead
# The lecture: hidden 100 (14_1) and 128 (14_2), each embedding as wide as the hidden state. Here one size
# for both runs, so that they differ only in attention; 64 is plenty for 57 input characters.
EMBEDDING_SIZE = 16
HIDDEN_SIZE = 64
QUICK_PAIRS, QUICK_EPOCHS, QUICK_BATCH, QUICK_TEST = 2000, 2, 64, 500  # --quick: more, smaller steps
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
# The decoder writes digits and "-", then EOS to say it is done; it starts from SOS, as in the lecture.
OUT_CHARS = "0123456789-"
SOS, EOS = len(OUT_CHARS), len(OUT_CHARS) + 1
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
    """Each pair -> (the input's character indices, the output: SOS, the 10 characters, EOS)."""
    inputs = [torch.tensor([IN_INDEX[c] for c in text]) for text, _ in pairs]
    outputs = torch.tensor([[SOS, *(OUT_CHARS.index(c) for c in iso), EOS] for _, iso in pairs])
    return list(zip(inputs, outputs))


def collate(batch):
    """Pads the inputs to the batch's longest and keeps their true lengths; splits each output into what
    the decoder reads (SOS and the true characters) and what it must write (the same, one step on)."""
    inputs, outputs = zip(*batch)
    lengths = torch.tensor([len(x) for x in inputs])  # on the CPU, where pack_padded_sequence wants them
    outputs = torch.stack(outputs)
    return pad_sequence(inputs, batch_first=True, padding_value=PAD), lengths, outputs[:, :-1], outputs[:, 1:]


# Step 1: the models. The encoder turns the input into vectors, the decoder turns vectors into the output.
class EncoderRNN(nn.Module):
    """One vector per input position (for attention), and a summary of it all (the decoder's start).

    The lecture's GRU reads left to right only. At the "M" of "May" it cannot yet tell May from March,
    nor at the "2" of "2nd" whether another digit follows. Reading both ways (bidirectional=True), every
    position knows its neighbours on either side (a choice of this lesson; README, "What changed since
    the videos", names it).
    """

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(len(IN_CHARS) + 1, EMBEDDING_SIZE, padding_idx=PAD)
        self.gru = nn.GRU(EMBEDDING_SIZE, HIDDEN_SIZE // 2, batch_first=True, bidirectional=True)

    def forward(self, word_inputs, lengths):
        # Packing (lesson 09) starts and stops each direction at the input's own ends, never in padding.
        embedded = pack_padded_sequence(
            self.embedding(word_inputs), lengths, batch_first=True, enforce_sorted=False
        )
        output, hidden = self.gru(embedded)
        output, _ = pad_packed_sequence(output, batch_first=True, total_length=word_inputs.shape[1])
        # The forward direction's last state has read the input left to right, the backward one's right to
        # left: side by side, they are the summary the decoder starts from (the lecture's encoder_hidden).
        summary = torch.cat([hidden[0], hidden[1]], dim=1)
        return output, summary.unsqueeze(0)  # (batch, steps, HIDDEN_SIZE) and (1, batch, HIDDEN_SIZE)


class DecoderRNN(nn.Module):
    """14_1: writes one character per step, starting from the encoder's summary and nothing else.
    It takes encoder_outputs and real only so that both decoders are called alike; it ignores them."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(N_OUT, EMBEDDING_SIZE)
        self.gru = nn.GRU(EMBEDDING_SIZE, HIDDEN_SIZE, batch_first=True)
        self.out = nn.Linear(HIDDEN_SIZE, N_OUT)

    def forward(self, input, hidden, encoder_outputs=None, real=None):
        """input: (batch, steps) the characters read. Returns the scores, the hidden state, no weights."""
        output, hidden = self.gru(self.embedding(input), hidden)
        return self.out(output), hidden, None


class AttnDecoderRNN(nn.Module):
    """14_2: before writing each character, the decoder also looks back at every input position."""

    def __init__(self):
        super().__init__()
        # The lecture's Linear for attention has a bias, but h . b is the same for every position, and the
        # softmax cancels it: bias=False.
        self.attn = nn.Linear(HIDDEN_SIZE, HIDDEN_SIZE, bias=False)
        self.embedding = nn.Embedding(N_OUT, EMBEDDING_SIZE)
        self.gru = nn.GRU(EMBEDDING_SIZE, HIDDEN_SIZE, batch_first=True)
        self.out = nn.Linear(2 * HIDDEN_SIZE, N_OUT)

    def forward(self, input, hidden, encoder_outputs, real):
        """real: (batch, in steps), False on padding. Returns the scores, the hidden state, the weights."""
        rnn_output, hidden = self.gru(self.embedding(input), hidden)
        attn_weights = self.get_att_weight(rnn_output, encoder_outputs, real)
        context = attn_weights @ encoder_outputs  # the weighted average of the input's vectors
        return self.out(torch.cat([rnn_output, context], dim=-1)), hidden, attn_weights

    def get_att_weight(self, hidden, encoder_outputs, real):
        """The lecture's score h . (W h_e) for every output step and input position: how useful is input
        character j for the character about to be written? The lecture loops over the positions; one
        matrix product scores them all."""
        attn_scores = hidden @ self.attn(encoder_outputs).transpose(1, 2)  # (batch, out steps, in steps)
        # Padding is no character at all: a score of -inf becomes a weight of exactly 0, and the weights
        # of the real characters add up to 1.
        return attn_scores.masked_fill(~real.unsqueeze(1), float("-inf")).softmax(dim=-1)


def encode_input(encoder, word_inputs, lengths):
    """Run the encoder; also say which input positions are real characters and which are padding."""
    encoder_outputs, encoder_hidden = encoder(word_inputs, lengths)
    real = (
        torch.arange(word_inputs.shape[1], device=word_inputs.device)
        < lengths.to(word_inputs.device)[:, None]
    )
    return encoder_outputs, encoder_hidden, real


def train(encoder, decoder, device, train_loader, criterion, optimizer, scheduler):
    """Step 3 for one epoch. Teacher forcing: the decoder reads the TRUE previous character at every step,
    so all steps run in one call. Returns the mean loss per written character."""
    encoder.train(), decoder.train()
    total_loss = 0.0
    for src, lengths, decoder_input, target in train_loader:
        src, decoder_input, target = src.to(device), decoder_input.to(device), target.to(device)
        encoder_outputs, hidden, real = encode_input(encoder, src, lengths)
        output, _, _ = decoder(decoder_input, hidden, encoder_outputs, real)
        loss = criterion(output.flatten(0, 1), target.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        total_loss += loss.item() * len(target)  # every answer has OUT_STEPS characters
    return total_loss / len(train_loader.dataset)


@torch.inference_mode()
def translate(encoder, decoder, word_inputs, lengths):
    """Greedy decoding: each step reads the model's OWN previous guess, as it must on a new input. The
    lecture samples with a temperature; the likeliest character (argmax) is its temperature 0."""
    encoder_outputs, hidden, real = encode_input(encoder, word_inputs, lengths)
    dec_input = torch.full((len(word_inputs), 1), SOS, device=word_inputs.device)
    guesses, attentions = [], []
    for _ in range(OUT_STEPS):
        output, hidden, attention = decoder(dec_input, hidden, encoder_outputs, real)
        dec_input = output.argmax(dim=-1)
        guesses.append(dec_input)
        attentions.append(attention)
    return torch.cat(guesses, dim=1), None if attentions[0] is None else torch.cat(attentions, dim=1)


def test(encoder, decoder, items, device):
    """Greedy translations; a date counts as right only if all 10 characters and the EOS are."""
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
    """Output indices -> text, up to the first EOS."""
    chars = guess.tolist()
    chars = chars[: chars.index(EOS)] if EOS in chars else chars
    return "".join(OUT_CHARS[c] if c < len(OUT_CHARS) else "?" for c in chars)


def main(argv=None):
    parser = kit.lesson_parser(__doc__.splitlines()[0], epochs=EPOCHS, lr=LR, batch_size=BATCH_SIZE)
    parser.add_argument("--attention", action="store_true", help="14_2: look back at every input character")
    args = parser.parse_args(argv)
    kit.seed_everything(args.seed)
    device = kit.pick_device(args.device)
    figures_on = kit.start_figures(args)
    n_train, epochs, batch_size, n_test = TRAIN_PAIRS, args.epochs, args.batch_size, TEST_DATES
    if args.quick:
        n_train, epochs, n_test = QUICK_PAIRS, min(epochs, QUICK_EPOCHS), QUICK_TEST
        batch_size = min(batch_size, QUICK_BATCH)
    data = make_pairs(n_train)
    test_pairs = data["test"][:: TEST_DATES // n_test]  # --quick: every 4th, still spread over 1950-2049
    show_formats(n_train, len(test_pairs))
    # The lecture trains on one pair at a time and warns that this is extremely slow: here a batch of
    # pairs, padded to its longest input, goes through at once, shuffled so that each batch mixes formats.
    train_loader = DataLoader(encode(data["train"]), batch_size, shuffle=True, collate_fn=collate)
    test_items = encode(test_pairs)

    encoder = EncoderRNN().to(device)
    decoder = (AttnDecoderRNN() if args.attention else DecoderRNN()).to(device)
    how = "WITH attention (14_2)" if args.attention else "WITHOUT attention (14_1): only the summary"
    print(f"EncoderRNN (both ways) -> {type(decoder).__name__} {how}; hidden {HIDDEN_SIZE}, on {device}")

    # Step 2: cross-entropy over the output characters at every step, averaged (the lecture sums the steps:
    # the mean keeps the loss, and so the learning rate, the same whatever the answer's length). Adam as in
    # the lecture, at a higher rate in a one-cycle schedule (warm up, then anneal to almost 0; lesson 06).
    criterion = nn.CrossEntropyLoss()
    params = list(encoder.parameters()) + list(decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=args.lr)
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
        kit.plot_curves(
            log.history, f"11_seq2seq_curves{'_attention' * args.attention}", args, right="test_exact_match"
        )
    if figures_on and args.attention:
        i = max(range(len(texts)), key=lambda i: len(texts[i]))  # the longest input shows the most
        draw_attention(texts[i], result["guesses"][i], result["attentions"][i], args)
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


def draw_attention(text, guess, weights, args) -> None:
    """The weights while writing one date: a row per written character, a column per input character."""
    import matplotlib.pyplot as plt

    written = [*text_of(guess), "EOS"]
    fig, ax = plt.subplots(figsize=(0.25 * len(text) + 2, 0.25 * len(written) + 1.5))
    ax.imshow(weights[: len(written), : len(text)].cpu().numpy(), cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(len(text)), [c if c != " " else "␣" for c in text])
    ax.set_yticks(range(len(written)), written)
    ax.set(xlabel="input", ylabel="written", title="Attention: where the decoder looks for each character")
    kit.save_figure(fig, "11_seq2seq_attention", args)


if __name__ == "__main__":
    kit.run(main)
