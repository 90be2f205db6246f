"""Files: the one atomic writer (and its record of the files jaxnet wrote), the one bounded
reader, the run-folder lock, checkpoints and the one CSV reader."""

from jaxnet.io import atomic, bounded, checkpoint, csv, lock, written

__all__ = ["atomic", "bounded", "checkpoint", "csv", "lock", "written"]
