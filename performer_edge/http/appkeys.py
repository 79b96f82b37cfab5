"""Typed application keys shared by the route modules."""

from __future__ import annotations

from aiohttp import web

from performer_edge.node import Node

NODE = web.AppKey("node", Node)
