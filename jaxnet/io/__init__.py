"""Files: the one atomic writer, checkpoints and the one CSV reader."""

from jaxnet.io import atomic

__all__ = ["atomic"]
