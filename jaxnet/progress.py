"""Progress reporting between compiled calls: silent, a tqdm bar, or one Keras-like line per epoch.

Reporting only reads the history; it never touches the training state, so the
verbosity cannot change results.
"""

from __future__ import annotations

import sys
import warnings


def format_logs(logs: dict[str, float]) -> str:
    """``"loss: 0.1234 - accuracy: 0.9612"`` for the numeric entries of one epoch's logs."""
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class Progress:
    """Reports epochs as they finish.

    Args:
      verbose: 0 silent; 1 a progress bar over epochs with the latest logs; 2 one line
        per epoch (every ``print_every`` epochs, e.g. the course's "every 100 iterations").
      epochs: the total number of epochs of the run.
      initial: epochs already done (a resumed run).
      print_every: with ``verbose=2``, print every this many epochs (and the last).
    """

    def __init__(self, verbose: int, epochs: int, initial: int = 0, print_every: int = 1):
        self.verbose, self.epochs, self.print_every = verbose, epochs, print_every
        self.bar = None
        if verbose == 1:
            with warnings.catch_warnings():  # tqdm.auto warns in notebooks without ipywidgets
                warnings.simplefilter("ignore")
                from tqdm.auto import tqdm
            self.bar = tqdm(
                total=epochs,
                initial=initial,
                unit="epoch",
                desc="fit",
                file=sys.stderr,
                dynamic_ncols=True,
            )

    def epochs_done(self, first_epoch: int, logs: list[dict[str, float]], seconds: float) -> None:
        """Report epochs ``first_epoch + 1 ..`` (1-based) whose logs are given, trained in ``seconds``."""
        if not logs:
            return
        if self.bar is not None:
            self.bar.update(len(logs))
            self.bar.set_postfix_str(format_logs(logs[-1]), refresh=True)
        elif self.verbose >= 2:
            per_epoch = seconds / len(logs)
            for i, epoch_logs in enumerate(logs, start=first_epoch + 1):
                if i % self.print_every == 0 or i == self.epochs or i == 1:
                    print(
                        f"Epoch {i}/{self.epochs} - {per_epoch:.3g}s - {format_logs(epoch_logs)}",
                        flush=True,
                    )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
