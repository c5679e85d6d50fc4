import sys

from kiln.host.cli import main

sys.exit(main())
