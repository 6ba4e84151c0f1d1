"""``python -m tools.book``: build the course's website (see :mod:`tools.book.build`)."""
import sys

from .build import main

sys.exit(main())
