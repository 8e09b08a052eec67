"""asterisk-textback: text back the callers an Asterisk/FreePBX system did not answer."""

__all__ = ["__version__"]

__version__ = "0.1.0"
