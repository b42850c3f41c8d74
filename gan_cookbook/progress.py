"""The progress bar of the loop: Keras' own, right after a resume, with a total.

Keras' ``ProgbarLogger`` times a bar from the bar's first step, and takes the step
number it is given for the number of steps it has timed. A bar that starts at step
55 of an epoch (a run resumed there) would divide the first second by 55 and show an
ETA that climbs for the rest of the epoch. :class:`ResumedProgbar` times only the
steps it has seen; :class:`ProgressLogger` uses it and, once the first steps are
timed, prints one line estimating the time the whole run has left.
"""

from __future__ import annotations

import time
from typing import Any

import keras


class ResumedProgbar(keras.utils.Progbar):
    """A ``keras.utils.Progbar`` that begins at step ``initial`` + 1 of its target.

    Args:
        target: Steps in the epoch.
        initial: Steps of the epoch done before this bar began.
        **kwargs: As ``keras.utils.Progbar`` takes them.
    """

    def __init__(self, target: int, initial: int = 0, **kwargs: Any):
        super().__init__(target, **kwargs)
        self.initial = initial

    def _estimate_step_duration(self, current: int, now: float) -> float:
        # Keras' estimate, over the steps this bar has seen.
        return super()._estimate_step_duration(current - self.initial, now)


def format_duration(seconds: float) -> str:
    """``"1 h 05 min"``, ``"4 min 10 s"`` or ``"12 s"``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class ProgressLogger(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, with a right ETA after a resume and a total estimate.

    Args:
        estimate_after: Steps timed (after the first, which compiles) before the
            line with the estimated time left for the whole run is printed.
            Defaults to 20.
    """

    def __init__(self, estimate_after: int = 20):
        super().__init__()
        self.estimate_after = estimate_after
        self.estimate: str | None = None
        self._epoch = 0
        self._first_of_epoch = True
        self._timed = 0
        self._timing_since = 0.0
        self._line_open = False

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self._timed = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch
        self._first_of_epoch = True

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._first_of_epoch and batch > 0:
            self.progbar = ResumedProgbar(
                target=self.target,
                initial=batch,
                verbose=self.verbose,
                unit_name="step",
                stateless_metrics=set(),
            )
        self._first_of_epoch = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self._line_open = False

    def on_train_end(self, logs: dict | None = None) -> None:
        super().on_train_end(logs)
        if self._line_open and self.verbose == 1:
            # Stopped within an epoch: what is printed next starts a line of its own
            # rather than follow the bar.
            print(flush=True)
        self._line_open = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        self._line_open = True
        now = time.perf_counter()
        self._timed += 1
        if self._timed == 1:
            self._timing_since = now  # the first step traces and compiles
        elif self._timed == self.estimate_after + 1 and self.estimate is None:
            per_step = (now - self._timing_since) / self.estimate_after
            left = (self.epochs - self._epoch - 1) * self.target + (
                self.target - batch - 1
            )
            self.estimate = (
                f"Estimated time left: {format_duration(per_step * left)} for "
                f"{left:,} steps at {per_step * 1000:.0f} ms/step, plus each "
                "epoch's end (grid, checkpoint)."
            )
            if self.verbose:
                print(f"\n{self.estimate}", flush=True)
