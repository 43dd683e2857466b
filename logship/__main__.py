"""`python -m logship` is the `logship` command."""

from logship.cli import main

main()
