"""A tiny project whose test suites are run in subprocesses by tests/testing (not collected)."""
