import sys

from evstream.cli.main import main

sys.exit(main())
