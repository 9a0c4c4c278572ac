"""`python -m medmir.cli`: the `medmir` command."""

import sys

from medmir.cli.main import main

sys.exit(main())
