import sys

from auditop.cli import main

sys.exit(main())
