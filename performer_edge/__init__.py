"""Performer Edge: a backend-as-a-service in one executable, over an event-sourced SQLite log."""

__version__ = "0.1.0"
