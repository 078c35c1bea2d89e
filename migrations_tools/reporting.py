"""What a run tells its operator: a progress display and a report file of every skipped and failed user.

Both are written as results arrive, so neither holds the run's users in memory.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm


@dataclass(frozen=True)
class Result:
    """The outcome for one user. ``outcome`` is one of ``OUTCOMES``; ``code``/``detail`` say why when not done."""

    user_id: Any
    username: str
    outcome: str
    code: str = ""
    detail: str = ""


OUTCOMES = ("created", "linked", "would_create", "would_link", "skipped", "failed")
REPORTED = {"skipped", "failed"}


class ReportWriter:
    """CSV or JSON (chosen by the file's extension or ``fmt``) of the skipped and failed users, streamed."""

    fields = ("user_id", "username", "outcome", "code", "detail")

    def __init__(self, path: Path, fmt: str | None = None) -> None:
        self.path = path
        self.format = (fmt or path.suffix.lstrip(".") or "csv").lower()
        if self.format not in {"csv", "json"}:
            raise ValueError(f"unknown report format {self.format!r} (csv or json)")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._count = 0
        if self.format == "csv":
            self._csv = csv.DictWriter(self._file, fieldnames=self.fields)
            self._csv.writeheader()
        else:
            self._file.write("[")

    def write(self, result: Result) -> None:
        row = {k: ("" if v is None else v) for k, v in asdict(result).items()}
        if self.format == "csv":
            self._csv.writerow(row)
        else:
            self._file.write(("," if self._count else "") + "\n  " + json.dumps(row, default=str))
        self._count += 1

    @property
    def count(self) -> int:
        return self._count

    def close(self) -> None:
        if self.format == "json":
            self._file.write("\n]\n" if self._count else "]\n")
        self._file.close()


class Progress:
    """A tqdm bar (rate and ETA) on a terminal; a plain line every ``interval`` seconds otherwise."""

    def __init__(
        self,
        total: int | None,
        stream: IO[str],
        *,
        interval: float = 10.0,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.done = 0
        self._last_line = self.started
        is_tty = stream.isatty() if tty is None else tty
        self.bar: tqdm[Any] | None = (
            tqdm(total=total, file=stream, unit="user", dynamic_ncols=True, smoothing=0.1) if is_tty else None
        )

    def update(self, counts: dict[str, int]) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({k: v for k, v in counts.items() if v}, refresh=False)
            return
        now = self.clock()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self.stream.write(self.line(counts) + "\n")
            self.stream.flush()

    def line(self, counts: dict[str, int]) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done}" + (f"/{self.total}" if self.total is not None else "") + " users"]
        parts.append(f"{rate:.1f}/s")
        if self.total and rate > 0:
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        parts.append(", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing yet")
        return "progress: " + " | ".join(parts)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"
