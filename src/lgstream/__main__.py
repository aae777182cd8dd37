"""``python -m lgstream``: the ``lgstream`` command."""

from .cli import main

raise SystemExit(main())
