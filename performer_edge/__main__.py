"""`python -m performer_edge` is the `performer` command."""

from performer_edge.launch import main

raise SystemExit(main())
