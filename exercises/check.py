"""Check the exercises in order, as rustlings does: one line per exercise, then what to do next.

    python exercises/check.py               # every exercise, in order
    python exercises/check.py 04            # one exercise (07 checks 07a and 07b, 01 checks 01 and 01b)
    python exercises/check.py --hint 04     # a first hint for exercise 04; ask again for the next one
    python exercises/check.py --watch       # check again each time you save an exercise; Ctrl-C stops
    python exercises/check.py --solutions   # check the model answers in exercises/solutions/ instead
    python exercises/check.py --seed 1234   # the random inputs of an earlier run, to see a failure again

Every check runs your code on inputs drawn at random for this run and compares what comes back with what
PyTorch's own functions and modules give on the same inputs. Each exercise's check, hints and metadata are
in exercises/checks/<exercise>.py. Your code runs in a separate process with a time limit, so a loop that
never ends is stopped and shown, and nothing your code prints or does can pass for the checker's verdict.
"""

import argparse
import ast
import atexit
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

EXERCISES = Path(__file__).resolve().parent  # found from this file, so it runs from any folder
SOLUTIONS = EXERCISES / "solutions"
CHECKS = EXERCISES / "checks"
CHECK = EXERCISES / "check.py"
DEFAULT_TIME_LIMIT = 10  # seconds; checks/common.py has the same default
STARTUP_LIMIT = 120  # seconds for the worker to import torch, on a slow, busy machine
SHOWN_LINES = 12  # of what the learner's code printed
TIMEOUT = object()  # no reply in time


def shown(path):
    """A path as the learner can open it from where they stand: relative below the current folder."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Exercise:
    name: str  # the file name without .py
    lesson: str
    lecture: str
    slide: str
    idea: str
    hints: tuple
    time_limit: float

    @property
    def number(self):
        return self.name.split("_")[0]


def _metadata(path):
    """The literal assignments of a check module (NAME, LESSON, ...), read without running it."""
    values = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return values


@cache
def catalogue():
    """Every exercise with a check module in exercises/checks/, in NAME order (01, 01b, 02, ...)."""
    exercises = []
    for path in sorted(CHECKS.glob("[0-9]*.py")):
        meta = _metadata(path)
        exercises.append(
            Exercise(
                name=meta.get("NAME", path.stem),
                lesson=meta.get("LESSON", ""),
                lecture=meta.get("LECTURE", ""),
                slide=meta.get("SLIDE", ""),
                idea=meta.get("IDEA", ""),
                hints=tuple(meta.get("HINTS", ())),
                time_limit=meta.get("TIME_LIMIT", DEFAULT_TIME_LIMIT),
            )
        )
    return exercises


def find(name):
    """The exercises a name selects: '07a' exactly 07a; '07' every exercise numbered 07 (07, 07a, 07b);
    a file name or path its exercise. An unknown name ends with the nearest ones named."""
    stem = Path(name).name.removesuffix(".py")
    everything = catalogue()
    if re.fullmatch(r"\d\d", stem):  # 07: 07a and 07b; 01: 01 and 01b
        chosen = [e for e in everything if re.fullmatch(stem + r"[a-z]?", e.number)]
    else:
        chosen = [e for e in everything if stem in (e.name, e.number)]
    if chosen:
        return chosen
    digits = re.match(r"\d+", stem)
    if digits:
        wanted = int(digits.group())
        distance = min(abs(int(e.number[:2]) - wanted) for e in everything)
        near = [e.number for e in everything if abs(int(e.number[:2]) - wanted) == distance]
    else:
        near = [e.number for e in everything]
    raise SystemExit(
        f"no exercise {name}: exercise numbers have two digits and maybe a letter. The nearest: {', '.join(near)}."
    )


def alone(exercise):
    """The shortest name that selects this exercise only: its number, or its file name where the number
    also selects others (06 selects 06 and 06b)."""
    return exercise.number if [e.name for e in find(exercise.number)] == [exercise.name] else exercise.name


def follows(exercise):
    """Which lesson and lecture an exercise follows, as its docstring says it."""
    if exercise.lecture == "bonus":
        return f"lesson {exercise.lesson} (the bonus lesson; no lecture)"
    return f"lesson {exercise.lesson} (lecture{'s' if '-' in exercise.lecture else ''} {exercise.lecture})"


def markdown_table(prefix="exercises/"):
    """README's table of the exercises, from their check modules' metadata; links start with prefix."""
    lines = ["| exercise | lesson | lecture | slide | what you write |", "|---|---|---|---|---|"]
    for e in catalogue():
        lines.append(
            f"| [`{e.name}.py`]({prefix}{e.name}.py) | {e.lesson} | {e.lecture} | {e.slide or ''} | {e.idea} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- hints, one step at a time


def hints_file():
    base = os.environ.get("XDG_CACHE_HOME") or os.environ.get("LOCALAPPDATA") or Path.home() / ".cache"
    return Path(base) / "pytorch-zero-to-all" / "exercise-hints.json"


def _hints_given():
    try:
        return json.loads(hints_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def next_hint(exercise):
    """The next hint of an exercise (the first, the second ... then the last again), and remember it."""
    given = _hints_given()
    step = min(int(given.get(exercise.name, 0)), len(exercise.hints) - 1)
    given[exercise.name] = step + 1
    try:
        path = hints_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(given, indent=1), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only home: the first hint each time
    lines = [f"Hint {step + 1} of {len(exercise.hints)} for {exercise.name}.py, {follows(exercise)}:"]
    lines.append(textwrap.fill(exercise.hints[step], 104, initial_indent="  ", subsequent_indent="  "))
    if step + 1 < len(exercise.hints):
        lines.append(f"Still stuck? Ask again: python {shown(CHECK)} --hint {alone(exercise)}")
    else:
        lines.append(
            f"That was the last hint. The model answer: {shown(SOLUTIONS / (exercise.name + '.py'))}"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the worker process


@dataclass
class Result:
    status: str  # "done", "not done", "wrong" or "error"
    message: str  # what happened, for the learner: the first line sums it up
    summary: str = ""  # a few words for the exercise's line in the list
    printed: str = field(default="")  # what the learner's code printed while it was checked


class Worker:
    """One process that imports torch once and checks one exercise after another for this run. The
    learner's code runs there: a loop that never ends is stopped at the time limit (and the worker started
    afresh), its prints are caught in a file, and its verdict travels on a pipe its code never sees."""

    def __init__(self):
        self.process = None
        self.folder = Path(tempfile.mkdtemp(prefix="exercise-check-"))

    def start(self):
        self.nonce = secrets.token_hex(16)
        self.log = open(self.folder / "worker.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, str(CHECK), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.replies = queue.Queue()
        threading.Thread(target=self._read, args=(self.process, self.replies), daemon=True).start()
        self.process.stdin.write(self.nonce + "\n")
        self.process.stdin.flush()
        if not isinstance(self._reply(STARTUP_LIMIT), dict):
            self.stop()
            log = (self.folder / "worker.log").read_text(encoding="utf-8", errors="replace").strip()
            raise RuntimeError(f"the checker's worker process did not start:\n{log[-3000:]}")

    def _read(self, process, replies):
        for line in process.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("nonce") == self.nonce:
                replies.put(message)
        replies.put(None)

    def _reply(self, timeout):
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            return TIMEOUT

    def stop(self):
        if self.process is not None:
            try:
                self.process.kill()
                self.process.wait(timeout=10)
            except (OSError, subprocess.SubprocessError):
                pass
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.log.close()
        self.process = None

    def close(self):
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def check(self, exercise, folder, seed, time_limit=None):
        limit = exercise.time_limit if time_limit is None else time_limit
        path = Path(folder).resolve() / f"{exercise.name}.py"
        if self.process is None or self.process.poll() is not None:
            self.stop()
            self.start()
        output, dump = self.folder / "output.txt", self.folder / "dump.txt"
        for file in (output, dump):
            file.unlink(missing_ok=True)
        request = dict(name=exercise.name, folder=str(Path(folder).resolve()), seed=seed)
        request.update(output=str(output), dump=str(dump), limit=limit)
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError:
            pass  # it died on its own: reported below
        reply = self._reply(limit + 15)  # the worker stops itself at the limit; this is in case it cannot
        printed = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        if isinstance(reply, dict):
            return Result(reply["status"], reply["message"], reply["summary"], printed)
        try:  # the reply pipe closed: the process is ending on its own; its own exit status says how
            code = self.process.wait(timeout=5 if reply is None else 0.01)
        except subprocess.TimeoutExpired:
            code = None
        self.stop()
        stack = dump.read_text(encoding="utf-8", errors="replace") if dump.exists() else ""
        if stack or reply is TIMEOUT:
            return Result("error", *_timed_out(limit, stack, path), printed)
        return Result("error", *_ended(code), printed)


def _ended(code):
    """(message, summary) for a worker that stopped replying without a verdict, saying only what its exit
    status shows: an exit of its own (os._exit, sys.exit outside the check), a signal, or still running."""
    again = "\nThe exercises after it are checked in a new process."
    if code is None:
        message = (
            "the checker's process stopped answering while it checked your code (its reply pipe closed), and"
            " it was still running: it was stopped." + again
        )
        return message, "the checker's process stopped answering"
    if code >= 0:
        message = (
            f"your code ended the checker's process with exit status {code} while it was being checked"
            " (os._exit() or the like).\nAn exercise's code must return its answers, not end the program."
            + again
        )
        return message, f"your code ended the process (exit status {code})"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"signal {-code}"
    message = f"the checker's process was ended by {name} while it checked your code." + again
    return message, f"the process was ended by {name}"


def _timed_out(limit, stack, path):
    """(message, summary) for a check stopped at its time limit, with the learner's line it was running."""
    frames = re.findall(r'File "(.*)", line (\d+) in (\S+)', stack)  # faulthandler: most recent call first
    mine = [(int(line), function) for file, line, function in frames if Path(file) == path]
    if not mine:
        message = (
            f"stopped after {limit:g} s: the check did not finish in time, and your file's lines were not running"
            " at that moment.\nIs something your code made very large or very slow?"
        )
        return message, f"stopped after {limit:g} s"
    line, function = mine[0]
    try:
        text = path.read_text(encoding="utf-8").splitlines()[line - 1].strip()
    except (OSError, IndexError):
        text = ""
    message = (
        f"stopped after {limit:g} s: your code was still running, at line {line} of {shown(path)}, in"
        f" {function}():\n    {text}\nIs there a loop that never ends, or one that runs far more often than it should?"
    )
    return message, f"stopped after {limit:g} s at line {line}, in {function}()"


def serve():
    """The worker's side (check.py --worker): read requests, check, reply with the verdict and the nonce."""
    import faulthandler

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)  # the learner's input() reads nothing, never a request
    os.dup2(2, 1)  # stray prints go to the worker's log, never onto the reply pipe
    sys.path.insert(0, str(EXERCISES))
    from checks import common

    warmed = False
    nonce = requests.readline().strip()

    def send(message):
        replies.write(json.dumps({**message, "nonce": nonce}) + "\n")
        replies.flush()

    log = os.dup(2)
    send({"ready": True})
    for line in requests:
        request = json.loads(line)
        # Fresh standard streams for each check: an earlier exercise's file may have closed or replaced
        # them (sys.stdout.close()), and the next exercise's prints must still be caught.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
        sys.stderr = open(2, "w", encoding="utf-8", errors="replace", closefd=False, buffering=1)
        common.restore_state()
        if not warmed and common.time_limit(request["name"]) > common.DEFAULT_TIME_LIMIT:
            common.warm_up()  # a check that trains: torch's one-time costs are paid before its clock runs
            warmed = True
        output = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        with open(request["dump"], "w", encoding="utf-8") as dump:
            faulthandler.dump_traceback_later(request["limit"], exit=True, file=dump)
            try:
                verdict = common.run_check(request["name"], request["folder"], request["seed"])
            except BaseException as error:  # noqa: BLE001  (the checker's own failure, reported as such)
                verdict = common.result("error", f"the checker failed: {type(error).__name__}: {error}")
            finally:
                faulthandler.cancel_dump_traceback_later()
                for stream in (sys.stdout, sys.stderr):
                    try:
                        stream.flush()
                    except (OSError, ValueError):
                        pass
                os.dup2(log, 1)
                os.dup2(log, 2)
        send(verdict)


_WORKER = None  # one per run of check.py: started at the first check, reused for every other one


def worker():
    global _WORKER
    if _WORKER is None:
        _WORKER = Worker()
        atexit.register(close_worker)
    return _WORKER


def close_worker():
    global _WORKER
    if _WORKER is not None:
        _WORKER.close()
        _WORKER = None  # one per run of check.py: started at the first check, reused for every other one


def check(name, folder=EXERCISES, seed=None, time_limit=None):
    """Check one exercise (name as in find(), selecting exactly one) in folder; returns a Result."""
    chosen = find(name)
    if len(chosen) != 1:
        raise ValueError(f"{name!r} selects {len(chosen)} exercises; name one")
    exercise = chosen[0]
    path = Path(folder).resolve() / f"{exercise.name}.py"
    if not path.is_file():
        return Result("error", f"{shown(path)} is missing (git restores it).", "file missing")
    return worker().check(exercise, folder, new_seed() if seed is None else seed, time_limit)


# --------------------------------------------------------------------------- what the learner sees


def new_seed():
    return int.from_bytes(os.urandom(4), "little") % 10**9


LABELS = {"done": "done", "not done": "not done yet", "wrong": "wrong", "error": "error"}


def _printed(text):
    lines = text.rstrip().splitlines()
    shown_lines = [f"      | {line}" for line in lines[:SHOWN_LINES]]
    if len(lines) > SHOWN_LINES:
        shown_lines.append(f"      | ... ({len(lines) - SHOWN_LINES} more lines)")
    return "\n".join(["      your code printed:", *shown_lines])


def report(selected, folder, seed, time_limit=None):
    """Check the selected exercises in order and print one line each (and what each one's code printed),
    then the first one to work on. Returns the exit status: 0 when all of them are done."""
    command = f"python {shown(CHECK)}"
    if Path(folder).resolve() == SOLUTIONS:
        command += " --solutions"
    elif Path(folder).resolve() != EXERCISES:
        command += f" --folder {shown(folder)}"
    print(f"Checking {shown(folder)}/ with seed {seed} (to repeat these inputs: --seed {seed})", flush=True)
    width = max(len(e.name) for e in selected) + 5  # the name, .py and two spaces
    results = []
    for exercise in selected:
        result = check(exercise.name, folder, seed, time_limit)
        results.append((exercise, result))
        summary = result.summary if len(result.summary) <= 90 else result.summary[:87] + "..."
        print(
            f"  {LABELS[result.status]:<12}  {exercise.name + '.py':<{width}}{summary}".rstrip(), flush=True
        )
        if result.printed.strip():
            print(_printed(result.printed), flush=True)
    done = sum(result.status == "done" for _, result in results)
    print(f"\n{done} of {len(results)} done.")
    todo = next(((e, r) for e, r in results if r.status != "done"), None)
    if todo is None:
        return 0
    exercise, result = todo
    print(f"\nNext: {shown(Path(folder) / (exercise.name + '.py'))}, {follows(exercise)}: {exercise.idea}")
    print("  " + result.message.replace("\n", "\n  "))
    print(f"Check it alone: {command} {alone(exercise)}")
    if result.status != "not done" and exercise.hints:
        print(f"Stuck? A first hint: {command} --hint {alone(exercise)}")
    return 1


def watch(selected, folder, seed, interval=0.5, time_limit=None):
    """Report, then again each time one of the selected exercise files is saved; Ctrl-C ends it."""
    files = [Path(folder) / f"{e.name}.py" for e in selected]

    def stamps():
        return [path.stat().st_mtime_ns if path.exists() else None for path in files]

    try:
        while True:
            seen = stamps()
            report(selected, folder, new_seed() if seed is None else seed, time_limit)
            print("\nWatching the exercise files: save one to check again, Ctrl-C to stop.", flush=True)
            while stamps() == seen:
                time.sleep(interval)
            print("\n" + "-" * 100)
    except KeyboardInterrupt:
        print("\nStopped watching.")
        return 0


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check the exercises, in order, and say what to do next.",
        epilog=__doc__.split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="EXERCISE",
        help="which to check: 04, 07 (07a and 07b), 07a, or a file name",
    )
    parser.add_argument(
        "--hint",
        nargs="?",
        const="",
        metavar="EXERCISE",
        help="a hint, one more each time you ask (without EXERCISE: the next one's)",
    )
    parser.add_argument("--watch", action="store_true", help="check again whenever an exercise file is saved")
    parser.add_argument("--solutions", action="store_true", help="check exercises/solutions/ instead")
    parser.add_argument("--folder", type=Path, help="check the exercise files in this folder instead")
    parser.add_argument(
        "--seed", type=int, help="the seed of the random inputs (default: a new one each run)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="seconds each check may run (default: each exercise's own)",
    )
    parser.add_argument(
        "--table", action="store_true", help="print the exercises' table, in Markdown, and stop"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        serve()
        return 0
    if args.table:
        print(markdown_table(), end="")
        return 0
    folder = args.folder or (SOLUTIONS if args.solutions else EXERCISES)
    selected = [e for name in args.names for e in find(name)] if args.names else list(catalogue())
    selected = [e for e in catalogue() if e in selected]  # in order, once each
    if args.hint is not None:
        if args.hint:
            hinted = find(args.hint)
        else:  # the first exercise not done yet
            seed = new_seed() if args.seed is None else args.seed
            hinted = [
                next((e for e in selected if check(e.name, folder, seed).status != "done"), selected[-1])
            ]
        print("\n\n".join(next_hint(exercise) for exercise in hinted))
        return 0
    if args.watch:
        return watch(selected, folder, args.seed, time_limit=args.time_limit)
    return report(selected, folder, new_seed() if args.seed is None else args.seed, args.time_limit)


def run():
    """main() as a command: Ctrl-C and a closed pipe (check.py | head) end quietly; the worker ends too."""
    try:
        status = main()
        close_worker()
    except KeyboardInterrupt:
        close_worker()
        print("\nStopped by Ctrl-C.", file=sys.stderr)
        status = 130
    except BrokenPipeError:
        close_worker()
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        status = 1
    sys.exit(status)


if __name__ == "__main__":
    run()
