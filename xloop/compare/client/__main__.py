"""``python -m xloop.compare.client``."""

from .cli import main

raise SystemExit(main())
