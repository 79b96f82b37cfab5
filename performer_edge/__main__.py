"""`python -m performer_edge` is the `performer` command."""

from performer_edge.cli import main

raise SystemExit(main())
