"""End-to-end tests of the text-back pipeline: real subprocesses, databases and HTTP."""
