"""``python -m roamback``: the same command as the ``roamback`` console script."""

from .cli import main

raise SystemExit(main())
