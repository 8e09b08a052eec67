"""asterisk-textback: text back the callers an Asterisk/FreePBX system did not answer."""

from asterisk_textback.calls.model import CallEnded, Direction, Outcome, Reason

__all__ = ["CallEnded", "Direction", "Outcome", "Reason", "__version__"]

__version__ = "0.1.0"
