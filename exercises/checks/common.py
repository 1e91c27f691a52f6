"""What every exercise's check shares: drawing inputs, comparing answers, calling the learner's code.

An exercise's check lives in its own module beside this one, exercises/checks/<NAME>.py, which defines

    NAME = "06_softmax_cross_entropy"   # exercises/<NAME>.py and exercises/solutions/<NAME>.py
    LESSON, LECTURE, SLIDE = "06", "9", "9-1"   # the lesson it follows, the lecture(s), the slide's exercise
    IDEA = "one line: the idea it practises"
    HINTS = ["a first nudge", "a closer one"]   # one per --hint request; none is the finished line
    FORBIDDEN = ["torch.softmax", ...]   # what the learner must compute without; refused however imported
    TIME_LIMIT = 30                      # optional, for checks that train: seconds the check may run (default
                                         # DEFAULT_TIME_LIMIT); the worker pays torch's one-time costs first
    def check(module, draw) -> str       # raises Wrong(message); returns a short note for the "done" line
    CORRECT = {"style": change, ...}     # >= 3 right answers in other styles than the solution
    WRONG = {"mistake": (change, "a fragment the message must contain"), ...}   # >= 5 realistic mistakes

A change is either the whole text of an exercise file (a str) or a list of edits of the solution file,
(old, new) pairs, each old text found exactly once in it (or (old, new, count): found count times). The
metadata are plain literals: check.py reads them without importing torch.

A check calls the learner's code through call(), which refuses the FORBIDDEN functions while it runs and
verifies that the learner's code left its inputs as they were, and compares with close(), whose tolerance
follows from the dtype and the size of the numbers compared. Every diagnosis a message gives must be
verified first (compute what the slip would give, and compare), never guessed.
"""

import ast
import functools
import importlib
import inspect
import math
import os
import random
import sys
import time
import traceback
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

CHECKS = Path(__file__).resolve().parent
EXERCISES = CHECKS.parent
SOLUTIONS = EXERCISES / "solutions"
if str(EXERCISES.parent) not in sys.path:
    sys.path.insert(0, str(EXERCISES.parent))  # the course folder, for lesson_tools

import lesson_tools as kit  # noqa: E402  (the course folder, on the path above)

import numpy as np  # noqa: E402
import torch  # noqa: E402

DEFAULT_TIME_LIMIT = 10  # seconds a check may run unless its module sets TIME_LIMIT


class Wrong(Exception):
    """A wrong answer; its message says what was expected, what came, on which input, and where to look."""


class Draw:
    """The random inputs of one check, all from one seed, so that --seed repeats them exactly."""

    def __init__(self, seed):
        self.seed = seed
        self.random = random.Random(seed)
        self.generator = torch.Generator().manual_seed(seed)

    def integer(self, low, high):
        return self.random.randint(low, high)

    def uniform(self, low, high):
        return self.random.uniform(low, high)

    def sign(self):
        return self.random.choice((-1.0, 1.0))

    def choice(self, options):
        return self.random.choice(list(options))

    def randn(self, *shape, dtype=torch.float64):
        return torch.randn(*shape, generator=self.generator, dtype=torch.float64).to(dtype)

    def rand(self, *shape, dtype=torch.float64):
        return torch.rand(*shape, generator=self.generator, dtype=torch.float64).to(dtype)

    def randint(self, high, shape):
        return torch.randint(high, shape, generator=self.generator)


def _state():
    """The process-wide settings an exercise file can change for every later one (torch's default dtype
    and device, grad mode, deterministic algorithms, anomaly detection, matmul precision, numpy's error
    handling, the warnings filters, the working folder), as they are now."""
    return dict(
        dtype=torch.get_default_dtype(),
        device=torch.get_default_device(),
        grad=torch.is_grad_enabled(),
        deterministic=(
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        anomaly=(torch.is_anomaly_enabled(), torch.is_anomaly_check_nan_enabled()),
        matmul=torch.get_float32_matmul_precision(),
        numpy=np.geterr(),
        warnings=list(warnings.filters),
        folder=os.getcwd(),
        recursion=sys.getrecursionlimit(),
    )


_CLEAN = _state()  # as this module found them: each check starts from these


def restore_state():
    """Put back what an earlier exercise file may have changed, so that each check starts clean: a
    `torch.set_default_dtype(torch.float64)` at the top of one exercise must not fail the next one."""
    clean = _CLEAN
    if torch.get_default_dtype() != clean["dtype"]:
        torch.set_default_dtype(clean["dtype"])
    if torch.get_default_device() != clean["device"]:
        torch.set_default_device(None if clean["device"].type == "cpu" else clean["device"])
    torch.set_grad_enabled(clean["grad"])
    torch.use_deterministic_algorithms(clean["deterministic"][0], warn_only=clean["deterministic"][1])
    torch.set_anomaly_enabled(*clean["anomaly"])
    torch.set_float32_matmul_precision(clean["matmul"])
    np.seterr(**clean["numpy"])
    if warnings.filters != clean["warnings"]:
        warnings.filters[:] = clean["warnings"]
        getattr(warnings, "_filters_mutated", lambda: None)()  # the warnings already shown are forgotten
    sys.setrecursionlimit(clean["recursion"])
    try:
        os.chdir(clean["folder"])
    except OSError:
        pass


def reseed(seed):
    """Seed every generator the learner's code may draw from (a model's starting weights, say)."""
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)


# --------------------------------------------------------------------------- showing and comparing


def show(value, digits=4):
    """A number or a tensor, short enough for one line of a message."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dim() == 0:
            return show(value.item(), digits)
        items = value.tolist()
        if value.dim() == 1:
            parts = [show(v, digits) for v in items[:8]] + (["..."] if len(items) > 8 else [])
            return "[" + ", ".join(parts) + "]"
        return "[" + ", ".join(show(row, digits) for row in value[:4]) + (", ...]" if len(value) > 4 else "]")
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v, digits) for v in value[:12]) + (", ...]" if len(value) > 12 else "]")
    return repr(value)


def as_tensor(value, what, shape=None, floating=False, dtype=None):
    """What the learner's code returned, as a tensor of the expected shape (and dtype, where given: the
    input's, as PyTorch's own functions keep it), or a Wrong that says why not."""
    if not isinstance(value, torch.Tensor):
        if value is None:
            kind = "None (is a return missing?)"
        elif isinstance(value, (int, float)):
            kind = f"the number {value!r} (a Python {type(value).__name__}: was it .item()?)"
        else:
            kind = f"a {type(value).__name__}"
        raise Wrong(f"{what} returned {kind}, not a tensor.")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise Wrong(f"{what} returned a tensor of shape {tuple(value.shape)}, expected {tuple(shape)}.")
    if floating and not value.is_floating_point():
        raise Wrong(f"{what} returned a tensor of {value.dtype}, expected floating-point numbers.")
    if dtype is not None and value.dtype != dtype:
        raise Wrong(
            f"{what} returned {value.dtype} for {dtype} input: PyTorch's own function keeps the input's dtype."
            " If you computed in another, convert back with .to(the input's dtype)."
        )
    return value.detach()


def as_number(value, what, tensor=False):
    """One number from a one-element tensor (or, unless tensor=True, a float or an int)."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise Wrong(
                f"{what} returned {value.numel()} numbers (shape {tuple(value.shape)}), expected one:"
                " the mean over the batch."
            )
        return value.detach().double().item()
    if tensor and isinstance(value, (int, float)):
        raise Wrong(
            f"{what} returned the Python {type(value).__name__} {value!r}, expected a tensor of one number"
            " (a loss must stay a tensor for backward(): no .item())."
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise Wrong(f"{what} returned {value!r}, expected a number.")


def tolerance(dtype=torch.float64, scale=1.0, ulps=64):
    """How far a right answer may be from the exact one: `ulps` steps of the dtype's spacing at the size
    of the numbers the answer was computed from (`scale`, at least 1). Exercise 06's softmax of float32
    scores near 1000 is computed from numbers whose spacing is 6e-5, so that is the finest it can be."""
    return ulps * torch.finfo(dtype).eps * max(1.0, float(torch.as_tensor(scale).detach()))


def close(got, expected, dtype=torch.float64, scale=1.0, ulps=64):
    """Equal up to the rounding of `dtype` at numbers of size `scale`; nan or inf where a finite number
    belongs is never close. Compared in float64."""
    got, expected = torch.as_tensor(got).detach().double(), torch.as_tensor(expected).detach().double()
    if got.shape != expected.shape:
        return False
    tol = tolerance(dtype, scale, ulps)
    return torch.allclose(got, expected, rtol=tol, atol=tol)


def close_number(got, expected, dtype=torch.float64, scale=1.0, ulps=64):
    return close(torch.tensor(float(got)), torch.tensor(float(expected)), dtype, scale, ulps)


def coarser(*dtypes):
    """The dtype with the widest spacing among the floating ones given (the precision an answer has)."""
    floating = [d for d in dtypes if d is not None and d.is_floating_point]
    return max(floating, key=lambda d: torch.finfo(d).eps, default=torch.float64)


# --------------------------------------------------------------------------- calling the learner's code

_FORBIDDEN: tuple = ()  # the exercise's FORBIDDEN names, refused while call() runs the learner's code


class UsedBuiltin(Wrong):
    """The learner's code called the PyTorch function that the exercise asks them to write."""


def _owner(name):
    owner_name, attribute = name.rsplit(".", 1)
    return functools.reduce(getattr, owner_name.split(".")[1:], torch), attribute


def _refused_message(name, where=""):
    return (
        f"your code uses {name}{where}: the exercise is to compute it yourself, with tensor arithmetic.\n"
        "The checker compares your answer with PyTorch's own."
    )


@contextmanager
def refusing(names):
    """While the learner's code runs, the PyTorch functions named here refuse to work. Each refusal is
    also recorded, so that a learner's `except Exception` cannot hide it."""
    saved, used = [], []

    def refuse(name):
        def refused(*args, **kwargs):
            used.append(name)
            raise UsedBuiltin(_refused_message(name))

        return refused

    try:
        for name in names:
            owner, attribute = _owner(name)
            saved.append((owner, attribute, attribute in vars(owner), getattr(owner, attribute)))
            setattr(owner, attribute, refuse(name))
        yield used
    finally:
        for owner, attribute, own, original in reversed(saved):
            if own:
                setattr(owner, attribute, original)
            else:  # inherited, e.g. torch.Tensor.softmax: removing our copy uncovers it again
                delattr(owner, attribute)


def _argument_names(function, args, kwargs):
    try:
        target = function.forward if isinstance(function, torch.nn.Module) else function
        bound = inspect.signature(target).bind(*args, **kwargs)
        named = []
        for name, value in bound.arguments.items():
            if (
                isinstance(value, tuple)
                and inspect.signature(target).parameters[name].kind == inspect.Parameter.VAR_POSITIONAL
            ):
                named += [(f"{name}[{i}]", v) for i, v in enumerate(value)]
            elif (
                isinstance(value, dict)
                and inspect.signature(target).parameters[name].kind == inspect.Parameter.VAR_KEYWORD
            ):
                named += list(value.items())
            else:
                named.append((name, value))
        return named
    except (TypeError, ValueError):
        return [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _snapshot(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, torch.nn.Module):
        return {k: v.detach().clone() for k, v in value.state_dict().items()}
    return None


def _same(value, copy):
    if isinstance(value, torch.Tensor):
        return value.shape == copy.shape and torch.equal(
            torch.nan_to_num(value.detach(), 0.0, 1.0, -1.0), torch.nan_to_num(copy, 0.0, 1.0, -1.0)
        )
    state = value.state_dict()
    return state.keys() == copy.keys() and all(_same(state[k], copy[k]) for k in copy)


def call(function, *args, what, **kwargs):
    """function(*args, **kwargs), the learner's: the exercise's FORBIDDEN functions refuse to work while it
    runs, and a Wrong says so if it changed a tensor it was given (compared before and after)."""
    named = _argument_names(function, args, kwargs)
    before = [(name, value, _snapshot(value)) for name, value in named if isinstance(value, torch.Tensor)]
    with refusing(_FORBIDDEN) as used:
        try:
            result = function(*args, **kwargs)
        except UsedBuiltin:
            raise Wrong(_refused_message(used[0])) from None
    if used:
        raise Wrong(_refused_message(used[0]))
    for name, value, copy in before:
        if not _same(value, copy):
            raise Wrong(
                f"{what} changed its input `{name}` in place: the caller's tensor is not the same after the"
                " call.\nWork on a new tensor: `x = x.clamp(min=0)` instead of `x.clamp_(min=0)`,"
                " `x = x + out` instead of `x += out`."
            )
    return result


def train_on_loader(module, model, dataset, budget):
    """The learner's train(model, dataset), for the exercises that train on a shipped table; returns its
    seconds. A Wrong if it never read the dataset's items (no DataLoader over it), read them in the same
    order, 0, 1, 2, ..., in every one of two epochs or more (the mini-batches were never shuffled), trained
    on the whole dataset as one batch at every step, or ran over its budget of seconds."""
    dataset_class = type(dataset)
    getitem, order = dataset_class.__getitem__, []

    def counted(self, index):
        order.append(int(index) if isinstance(index, (int, torch.Tensor, np.integer)) else -1)
        return getitem(self, index)

    batches = []  # the size of every batch the model was trained on (a forward pass that builds a graph)

    def seen(_, inputs):
        if torch.is_grad_enabled() and inputs and isinstance(inputs[0], torch.Tensor) and inputs[0].dim() > 0:
            batches.append(len(inputs[0]))

    hook = model.register_forward_pre_hook(seen)
    dataset_class.__getitem__ = counted
    start = time.perf_counter()
    try:
        call(module.train, model, dataset, what="train(model, dataset)")
    finally:
        dataset_class.__getitem__ = getitem
        hook.remove()
    took = time.perf_counter() - start
    if not order:
        raise Wrong(
            "train() never read an item of the dataset: build a DataLoader over it and loop over its batches."
        )
    n = len(dataset)
    if len(order) >= 2 * n and all(index == i % n for i, index in enumerate(order)):
        raise Wrong(
            f"train() read the items in the file's order, 0, 1, 2, ..., in each of its {len(order) // n} epochs:"
            " the mini-batches were never shuffled. A DataLoader with shuffle=True deals new ones each epoch"
            " (lecture 8), so that the model does not learn from the order of the file."
        )
    if batches and all(size == n for size in batches):
        raise Wrong(
            f"train() gave the model all {n} items at once in each of its {len(batches)} steps: one batch of the"
            " whole dataset, not mini-batches. A batch_size of 32 to 128 takes many smaller steps per epoch"
            " (lecture 8)."
        )
    if took > budget:
        raise Wrong(f"train() took {took:.1f} s; the budget is {budget} s. Fewer epochs, or larger batches.")
    return took


# --------------------------------------------------------------------------- forbidden builtins


def refuse_forbidden(module, source, forbidden):
    """A Wrong if the learner's file names one of the forbidden functions: as an attribute anywhere
    (torch.softmax, F.softmax, scores.softmax), imported by name (from torch import sigmoid), or held
    in one of the module's names (s = torch.sigmoid)."""
    if not forbidden:
        return
    last = {}
    for name in forbidden:
        last.setdefault(name.rsplit(".", 1)[1], name)
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        named = None
        if isinstance(node, ast.Attribute) and node.attr in last:
            named = ast.unparse(node)  # as the learner wrote it: torch.softmax, F.softmax, scores.softmax
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            hits = [alias.name for alias in node.names if alias.name in last]
            named = f"{node.module}.{hits[0]}" if hits else None
        if named:
            line = lines[node.lineno - 1].strip() if node.lineno <= len(lines) else ""
            raise Wrong(_refused_message(named, f" (line {node.lineno}: `{line}`)"))
    objects = {}
    for name in forbidden:
        try:
            owner, attribute = _owner(name)
            objects[id(getattr(owner, attribute))] = name
        except AttributeError:
            continue
    for key, value in vars(module).items():
        if id(value) in objects and not key.startswith("__"):
            raise Wrong(_refused_message(objects[id(value)], f" (your file's name `{key}`)"))


# --------------------------------------------------------------------------- the catalogue and a run


def names():
    """Every exercise that has a check module, in NAME order (01, 01b, 02, ...)."""
    return sorted(p.stem for p in CHECKS.glob("[0-9]*.py"))


def load_check(name):
    """The check module of exercise `name` (exercises/checks/<name>.py)."""
    if str(EXERCISES) not in sys.path:
        sys.path.insert(0, str(EXERCISES))
    return importlib.import_module(f"checks.{name}")


def apply(source, change):
    """An exercise file's text: the solution's `source` with `change` made (see the module's docstring)."""
    if isinstance(change, str):
        return change
    for old, new, *count in change:
        found = source.count(old)
        if found != (count[0] if count else 1):
            raise ValueError(f"{old!r} occurs {found} times in the solution, not {count[0] if count else 1}")
        source = source.replace(old, new)
    return source


def load(path, source):
    """Import an exercise file afresh from its current text (no cached bytecode), so that an edit is seen
    at once; its `if __name__ == "__main__":` part does not run."""
    module = types.ModuleType(f"exercise_{path.stem}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # some tools look a class's module up by name
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _same_file(filename, path):
    try:
        return Path(filename).resolve() == path.resolve()
    except (OSError, ValueError):
        return False


def _unwritten(error, path):
    """The function of the exercise file that raised NotImplementedError, e.g. 'Model.__init__'."""
    code, tb = None, error.__traceback__
    while tb is not None:
        if _same_file(tb.tb_frame.f_code.co_filename, path):
            code = tb.tb_frame.f_code
        tb = tb.tb_next
    return None if code is None else getattr(code, "co_qualname", code.co_name)


def learner_error(error, path):
    """The exception, with every line of the traceback that is in the exercise file and no other."""
    kind = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    frames = [
        frame for frame in traceback.extract_tb(error.__traceback__) if _same_file(frame.filename, path)
    ]
    if not frames:
        return f"checking what your code returned raised {kind}"
    lines = [f"your code raised {kind}", "Traceback (your lines only):"]
    for frame in frames:
        lines.append(f'  File "{kit.shown(path)}", line {frame.lineno}, in {frame.name}')
        if frame.line:
            lines.append(f"    {frame.line}")
    return "\n".join(lines)


def result(status, message, summary=None):
    return {
        "status": status,
        "message": message,
        "summary": message.splitlines()[0] if summary is None else summary,
    }


def run_check(name, folder, seed, source=None):
    """Check exercise `name` in `folder` (or the given source text, as if it were that file) on the
    inputs of `seed`. Returns {"status": "done" | "not done" | "wrong" | "error", "message", "summary"}."""
    global _FORBIDDEN
    spec = load_check(name)
    path = Path(folder).resolve() / f"{name}.py"
    if source is None:
        if not path.is_file():
            return result("error", f"{kit.shown(path)} is missing (git restores it).", "file missing")
        source = path.read_text(encoding="utf-8")
    restore_state()  # what an earlier exercise's file changed (default dtype, grad mode...) is undone
    reseed(seed)  # the random starts of the learner's models, from the same seed
    threads = torch.get_num_threads()
    # The checks' tensors are tiny: split over several threads, the work is smaller than the cost of the
    # threads waiting for each other, above all beside another busy program. One thread does it faster.
    torch.set_num_threads(1)
    _FORBIDDEN = tuple(getattr(spec, "FORBIDDEN", ()))
    try:
        module = load(path, source)
        refuse_forbidden(module, source, _FORBIDDEN)
        note = spec.check(module, Draw(seed))
    except NotImplementedError as error:
        function = _unwritten(error, path)
        if function is None:
            return result("error", learner_error(error, path))
        return result(
            "not done",
            f"not done yet: write {function}() in {kit.shown(path)} (it still raises NotImplementedError).",
            f"write {function}()",
        )
    except Wrong as wrong:
        return result("wrong", str(wrong))
    except SyntaxError as error:
        if not _same_file(error.filename or "", path):
            return result("error", learner_error(error, path))
        text = "".join(traceback.format_exception_only(type(error), error)).replace(
            str(path), kit.shown(path)
        )
        return result(
            "error", f"your file does not parse:\n{text.rstrip()}", f"{type(error).__name__}: {error.msg}"
        )
    except (Exception, SystemExit, KeyboardInterrupt) as error:
        return result("error", learner_error(error, path))
    finally:
        _FORBIDDEN = ()
        torch.set_num_threads(threads)
        restore_state()  # and again after it, for the checker's own work in this process
    return result("done", note if isinstance(note, str) else "", note if isinstance(note, str) else "")


def warm_up():
    """Pay the one-time costs of a process before any check's clock runs: the first optimizer step
    imports torch._dynamo, which takes seconds on a busy machine."""
    layer = torch.nn.Linear(1, 1)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.ones(1, 1)).sum().backward()
    optimizer.step()


def time_limit(name):
    return getattr(load_check(name), "TIME_LIMIT", DEFAULT_TIME_LIMIT)


def float_dtype_of(*tensors):
    return coarser(*(t.dtype for t in tensors if isinstance(t, torch.Tensor)))


def finite(value):
    return isinstance(value, float) and math.isfinite(value)


def linear_stack_without_activation(model, x):
    """Whether every nn.Linear of model hands its output to the next one unchanged, in one forward pass of
    x: then nothing (no activation, no normalisation) stands between any two of them, and the whole stack
    computes one affine map, however many layers it has. Checked on the tensors themselves, so the verdict
    holds whatever the weights."""
    calls = []
    hooks = [
        layer.register_forward_hook(lambda _, args, out: calls.append((args[0], out)))
        for layer in model.modules()
        if isinstance(layer, torch.nn.Linear)
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return len(calls) > 1 and all(
        a_out.shape == b_in.shape and torch.equal(a_out, b_in)
        for (_, a_out), (b_in, _) in zip(calls, calls[1:])
    )


NO_ACTIVATION = (
    "Model's nn.Linear layers hand their outputs straight to the next one: with no activation between\n"
    "them, the whole stack computes one affine map, x @ W + b, as one nn.Linear would, however many layers\n"
    "there are. Put an activation (ReLU, say) between the layers, as lesson 04 does."
)
