"""Progress reporting between compiled calls: silent, a tqdm bar, or one Keras-like line per epoch.

Reporting only reads the history; it never touches the training state, so the
verbosity cannot change results.
"""

from __future__ import annotations

import sys
import warnings


def format_logs(logs: dict[str, float]) -> str:
    """``"loss: 0.1234 - accuracy: 0.9612"`` for the numeric entries of one epoch's logs
    (a learning rate with 4 significant digits: ``learning_rate: 0.001``)."""
    return " - ".join(
        f"{k}: {v:.4g}" if k.endswith("learning_rate") else f"{k}: {v:.4f}" for k, v in logs.items()
    )


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

    def epochs_done(self, first_epoch: int, logs: dict[str, list[float]], seconds: float) -> None:
        """Report epochs ``first_epoch + 1 ..`` (1-based), trained in ``seconds``.

        ``logs`` is columnar: ``{"loss": [one value per epoch], ...}``.
        """
        n = len(next(iter(logs.values()), []))
        if n == 0:
            return
        if self.bar is not None:
            self.bar.update(n)
            self.bar.set_postfix_str(format_logs({k: v[-1] for k, v in logs.items()}), refresh=True)
        elif self.verbose >= 2:
            for i in range(n):
                epoch = first_epoch + 1 + i
                if epoch % self.print_every == 0 or epoch == self.epochs or epoch == 1:
                    row = format_logs({k: v[i] for k, v in logs.items()})
                    print(f"Epoch {epoch}/{self.epochs} - {seconds / n:.3g}s - {row}", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
