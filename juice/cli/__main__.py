"""`python -m juice.cli`: the command line, as the `juice` script runs it."""

from juice.cli import main

main()
