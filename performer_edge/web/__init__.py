"""Web pages the node serves besides its APIs: the chat demo (`performer demo chat`).

Imports nothing from the capabilities; the pages reach a node through its public API only.
"""
