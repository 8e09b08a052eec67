"""The ``asterisk-textback`` command line: one module per command."""
