"""Tests of the compliance rules: HELP/STOP answers carriers accept, first-text lint."""
