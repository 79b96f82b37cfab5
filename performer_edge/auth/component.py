"""Assembles the auth capability from the node's parts, and adds its routes to an app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from performer_edge.auth import admin_api, api
from performer_edge.auth.account import Account
from performer_edge.auth.admin import Admin
from performer_edge.auth.links import LinkIssuer
from performer_edge.auth.mailer import Mailer
from performer_edge.auth.mfa import Mfa, SecretSealer
from performer_edge.auth.ratelimit import RateLimiter
from performer_edge.auth.service import AuthService
from performer_edge.config import Settings
from performer_edge.core.db import Database
from performer_edge.core.log import LogWriter
from performer_edge.core.tokens import TokenKeys


@dataclass
class AuthComponent:
    service: AuthService
    account: Account
    mfa: Mfa
    admin: Admin
    mailer: Mailer

    @classmethod
    def build(
        cls,
        db: Database,
        log: LogWriter,
        keys: TokenKeys,
        settings: Settings,
        secret_key: bytes,
    ) -> AuthComponent:
        patterns = tuple(p.strip() for p in settings.auth_redirect_urls.split(",") if p.strip())
        links = LinkIssuer(
            settings.public_url, settings.site_url, settings.auth_otp_expiry, patterns
        )
        service = AuthService(db, log, keys, settings, links, RateLimiter())
        return cls(
            service,
            Account(service),
            Mfa(service, SecretSealer(secret_key)),
            Admin(service),
            Mailer(db, settings),
        )

    def set_public_url(self, url: str) -> None:
        """Where clients reach the node, once known (`--port 0` binds a port only at start)."""
        self.service.links.public_url = url.rstrip("/")
        self.service.issuer = f"{url.rstrip('/')}/auth/v1"

    def install(self, app: web.Application) -> None:
        app[api.AUTH] = self.service
        app[api.ACCOUNT] = self.account
        app[api.MFA] = self.mfa
        app[api.ADMIN] = self.admin
        api.register(app)
        admin_api.register(app)
        app.cleanup_ctx.append(self._mail_delivery)

    async def _mail_delivery(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self.mailer.run(), name="auth-mail-delivery")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
