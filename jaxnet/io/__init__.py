"""Files: the one atomic writer, checkpoints and the one CSV reader."""

from jaxnet.io import atomic, checkpoint, csv

__all__ = ["atomic", "checkpoint", "csv"]
