"""Peers: drives the sans-IO sync sessions (sync/) against this node's log, over real links."""
