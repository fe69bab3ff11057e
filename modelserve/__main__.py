"""``python -m modelserve``: the CLI (how the API starts retraining jobs in a child process)."""

from modelserve.cli import main

main()
