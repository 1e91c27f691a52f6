"""What every tool that writes a generated section shares: the machine's description, and the section
itself, put between its markers.

A generated section of a Markdown file lies between `<!-- name:start -->` and `<!-- name:end -->`; only
the command that made it writes it again, and it says beside its table which command, machine and day.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import lesson_tools as kit  # noqa: E402


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line(device: str) -> str:
    import torch

    return (
        f"{cpu_model()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, "
        f"torch {torch.__version__}, device {device}, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}"
    )


def replace_section(name: str, text: str, path: Path) -> None:
    """Put text between the file's <!-- name:start --> and <!-- name:end --> markers, atomically."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = path.read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{kit.shown(path)} has no {start} ... {end} section to fill")
    before, rest = content.split(start, 1)
    after = rest.split(end, 1)[1]
    with kit.atomic_path(path) as temporary:
        temporary.write_text(f"{before}{start}\n{text}{end}{after}")
    print(f"{kit.shown(path)}: {name} section updated")
