"""python -m genie_bench: the same as the genie-bench command."""
import sys

from genie_bench.cli import main

sys.exit(main())
