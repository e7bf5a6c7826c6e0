"""Subcommands of `shb`; each module has register(subparsers)."""
