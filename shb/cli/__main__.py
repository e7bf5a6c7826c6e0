"""`python -m shb.cli`: the same as the `shb` command."""
import sys

from shb.cli import main

sys.exit(main())
