"""The one writer of a node: every write commits on its thread (see ``tap_writer``).

``tap_writer`` holds the thread and its queue; beside it: ``tap`` (a raw read checked
into a Tap), ``answer`` (what a committed tap answers), ``ingest`` (other nodes'
events, chain by chain), ``correction`` and ``late`` (what those writes decide).
"""

from edge.writer.answer import TapResult
from edge.writer.ingest import ChainBroken, Ingested
from edge.writer.tap import check_moment
from edge.writer.tap_writer import TapWriter, WriterStopped

__all__ = ["ChainBroken", "Ingested", "TapResult", "TapWriter", "WriterStopped", "check_moment"]
