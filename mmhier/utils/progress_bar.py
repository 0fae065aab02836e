# Copyright (c) mmhier contributors. All rights reserved.
"""A progress bar that stays readable in a log file."""
import sys
import time
from typing import Optional, TextIO

from mmengine.utils import ProgressBar


class SparseProgressBar(ProgressBar):
    """mmengine's ``ProgressBar`` on a terminal, sparse lines elsewhere.

    mmengine's bar redraws itself with ``\\r`` on every update: fine on a
    terminal, but in a log file or a CI log every redraw is kept, one per
    image. When ``file`` is not a terminal this bar writes one plain line
    when another ``step`` of the work is done (10% by default) or
    ``interval`` seconds have passed since the last line, whichever comes
    first, and always at the end.

    Args:
        task_num (int): Number of steps in all (0: unknown).
        interval (float): Seconds between two lines at most, when not on a
            terminal. Defaults to 5.
        step (float): Fraction of ``task_num`` between two lines at most,
            when not on a terminal. Defaults to 0.1.
        desc (str): Text before each line, when not on a terminal.
        file (TextIO, optional): Where to write. Defaults to the
            ``sys.stdout`` of the moment.
        tty (bool, optional): Force terminal (``True``) or log (``False``)
            output; ``None`` asks ``file.isatty()``.

    Examples:
        >>> bar = SparseProgressBar(300, desc='train')
        >>> for _ in range(300):
        ...     bar.update()
        >>> bar.close()
        train: 30/300 (10%), 2999.1 task/s, elapsed: 0s, ETA: 0s
        ...
        train: 300/300 (100%), 3001.0 task/s, elapsed: 0s, ETA: 0s
    """

    def __init__(self,
                 task_num: int = 0,
                 interval: float = 5.0,
                 step: float = 0.1,
                 desc: str = '',
                 file: Optional[TextIO] = None,
                 tty: Optional[bool] = None):
        if interval <= 0 or not 0 < step <= 1:
            raise ValueError(f'interval={interval} must be > 0 and '
                             f'step={step} in (0, 1]')
        # looked up now, not at import, so that redirect_stdout applies
        file = sys.stdout if file is None else file
        if tty is None:
            isatty = getattr(file, 'isatty', None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.interval = interval
        self.step = step
        self.desc = desc
        super().__init__(task_num, file=file, start=True)

    def start(self) -> None:
        if self.tty:
            return super().start()
        # nothing to show yet: the first line comes with the first step
        self._t0 = self._last_time = time.monotonic()
        self._last_done = 0

    def update(self, num_tasks: int = 1) -> None:
        if self.tty:
            return super().update(num_tasks)
        if num_tasks <= 0:
            raise ValueError(f'num_tasks={num_tasks} must be positive')
        self.completed += num_tasks
        now = time.monotonic()
        done = (self.task_num > 0 and self.completed >= self.task_num)
        due_step = (
            self.task_num > 0
            and self.completed - self._last_done >= self.step * self.task_num)
        if done or due_step or now - self._last_time >= self.interval:
            self._write_line(now)

    def close(self) -> None:
        """End the bar: a newline on a terminal; a last line elsewhere,
        unless the last update already wrote one."""
        if self.tty:
            self.file.write('\n')
            self.file.flush()
        elif self.completed != self._last_done or self.completed == 0:
            self._write_line(time.monotonic())

    def _write_line(self, now: float) -> None:
        elapsed = now - self._t0
        fps = self.completed / elapsed if elapsed > 0 else float('inf')
        head = f'{self.desc}: ' if self.desc else ''
        if self.task_num > 0:
            frac = self.completed / self.task_num
            eta = elapsed * (1 - frac) / frac if frac > 0 else 0.0
            msg = (f'{head}{self.completed}/{self.task_num} '
                   f'({100 * frac:.0f}%), {fps:.1f} task/s, '
                   f'elapsed: {elapsed:.0f}s, ETA: {eta:.0f}s')
        else:
            msg = (f'{head}completed: {self.completed}, {fps:.1f} task/s, '
                   f'elapsed: {elapsed:.0f}s')
        self.file.write(msg + '\n')
        self.file.flush()
        self._last_time = now
        self._last_done = self.completed
