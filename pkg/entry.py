"""Entry point of the frozen `performer` executable (see pkg/performer.spec)."""

from performer_edge.cli import main

raise SystemExit(main())
