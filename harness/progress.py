"""What a person sees while a command runs, one policy for every step: progress bars on stderr, notes on stdout.

On a terminal a bar redraws in place. When stderr is a file or a pipe (CI, `| tee`, nohup) a bar writes a
plain line at most every tenth of the way and LOG_INTERVAL_S apart, and its final state once, so a log gets
about a dozen lines per step, never thousands of carriage returns. A step shorter than DELAY_S shows no bar.
`--quiet` (quiet()) turns off bars and notes alike: what is left is errors, warnings and the final summary.
"""
import contextlib
import math
import sys

from tqdm import tqdm

DELAY_S = 1.0  # a bar appears only once its step has run this long: quick steps stay silent
LOG_STEPS = 10  # in a log, a line at most every 1/LOG_STEPS of the total ...
LOG_INTERVAL_S = 5.0  # ... and at least this many seconds after the previous one
LOG_UNKNOWN_TOTAL_S = 60.0  # with no total to divide, time alone spaces the lines
LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"

_quiet = [False]


@contextlib.contextmanager
def quiet(on: bool = True):
    """No bars and no notes inside the block (the CLI's --quiet)."""
    before, _quiet[0] = _quiet[0], on
    try:
        yield
    finally:
        _quiet[0] = before


def is_quiet() -> bool:
    return _quiet[0]


def is_terminal(stream) -> bool:
    """True when `stream` is an interactive terminal, where a bar can redraw in place."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def bar(total=None, desc: str = "", unit: str = "it", disable: bool = False, **kwargs) -> tqdm:
    """A progress bar for one step on stderr, drawn by this module's policy; advance it with update(n) and
    close it (or use it as a context manager). `kwargs` go to tqdm (unit_scale, initial, ...)."""
    stream = sys.stderr
    common = dict(total=total, desc=desc, unit=unit, disable=disable or is_quiet(), delay=DELAY_S, leave=True)
    if is_terminal(stream):
        return tqdm(file=stream, dynamic_ncols=True, **common, **kwargs)
    spaced = dict(miniters=max(1, math.ceil(total / LOG_STEPS)), mininterval=LOG_INTERVAL_S) if total else \
        dict(miniters=1, mininterval=LOG_UNKNOWN_TOTAL_S)
    # maxinterval=inf: tqdm's monitor thread would otherwise drop miniters to 1 after 10 quiet seconds
    return _LogBar(file=_Lines(stream), position=0, maxinterval=math.inf, bar_format=LOG_FORMAT if total else None,
                   **spaced, **common, **kwargs)


def say(message: str) -> None:
    """A note on what a step is doing, on stdout beside Keras' epoch lines; nothing with --quiet."""
    if not is_quiet():
        tqdm.write(message, file=sys.stdout)  # clears a bar being drawn on the same terminal, then redraws it
        sys.stdout.flush()  # a pipe buffers stdout: keep the notes in order with the bars on stderr


class _LogBar(tqdm):
    """tqdm for a log, where a line once written stays: the final state is written exactly once."""

    def close(self):
        if not self.disable:
            if self.start_t + self.delay <= self._time():
                self.delay = 0  # a step that outlasted the delay between two lines still gets its final line
            if self.n == self.last_print_n:
                self.leave = False  # the last line written already shows the final state
        super().close()


class _Lines:
    """The stream tqdm writes to in a log: each redraw ('\\r' + status + padding) becomes one plain line."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        line = text.replace("\r", "").rstrip()
        if line:  # blank redraws (tqdm clearing its line) and bare line ends are dropped
            self.stream.write(line + "\n")

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name):  # encoding, isatty, ... as the real stream has them
        return getattr(self.stream, name)
