"""HTTP: aiohttp app assembly, middleware (principal, errors, CORS, logs) and node-level routes.

The only place where typed errors become wire shapes. Capabilities never import from here.
"""
