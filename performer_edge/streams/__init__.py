"""Streams: any event scope as a versioned stream, with snapshots at a version and a reducer."""
