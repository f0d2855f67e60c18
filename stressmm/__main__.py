"""`python -m stressmm`: the same as the `stressmm` command."""
import sys

from .cli import main

sys.exit(main())
