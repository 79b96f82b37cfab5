"""Signed URLs: tokens that let anyone holding the URL download, or upload, one object.

A token is a JWT signed with the node's own JWT key (`core.tokens`), so every member of the
cluster verifies it offline through its key ring. It is bound to a scope (download or upload)
and to `bucket/key`: a token signed for one object or one purpose is refused for any other.
The policy check happens when the URL is made: the holder acts with the signer's rights.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from performer_edge.errors import Unauthorized
from performer_edge.rest.compile_context import SERVICE_ROLE, RequestContext
from performer_edge.storage import errors, store
from performer_edge.storage.paths import check_bucket_id, check_key
from performer_edge.storage.policies import INSERT, OBJECTS, SELECT, UPDATE, object_row

if TYPE_CHECKING:
    from performer_edge.storage.component import StorageComponent

DOWNLOAD = "storage.download"
UPLOAD = "storage.upload"
UPLOAD_EXPIRY_S = 2 * 3600  # storage-api's signed upload URLs last two hours
MAX_EXPIRY_S = 10 * 365 * 24 * 3600


def object_url_path(bucket_id: str, name: str) -> str:
    return f"{quote(bucket_id, safe='')}/{quote(name, safe='/')}"


def parse_expiry(value: Any) -> int:
    """`expiresIn`: seconds, as a number (js) or a string of digits (py)."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_EXPIRY_S:
        raise errors.invalid_request("expiresIn must be a whole number of seconds > 0")
    return value


class Signer:
    def __init__(self, storage: StorageComponent) -> None:
        self.storage = storage

    def _token(self, scope: str, bucket_id: str, name: str, expires_in: int, **extra: Any) -> str:
        now = int(time.time())
        claims = {
            "url": f"{bucket_id}/{name}",
            "scope": scope,
            "iat": now,
            "exp": now + expires_in,
            **extra,
        }
        return self.storage.tokens.sign(claims)

    async def sign_downloads(
        self,
        context: RequestContext,
        bucket_id: str,
        names: list[str],
        expires_in: int,
        *,
        transform: dict[str, str] | None = None,
    ) -> list[str | None]:
        """A download token per name the caller may read (None for the others); with
        `transform`, the token carries the image transformation its URL renders."""

        def readable(conn: Any) -> list[bool]:
            access = self.storage.access(conn, context)
            return [
                store.object_by_name(conn, bucket_id, name) is not None
                and access.object_allowed(SELECT, bucket_id, name)
                for name in names
            ]

        allowed = await self.storage.db.read(readable)
        extra = {} if transform is None else {"transform": transform}
        return [
            self._token(DOWNLOAD, bucket_id, name, expires_in, **extra) if ok else None
            for name, ok in zip(names, allowed, strict=True)
        ]

    async def sign_upload(
        self, context: RequestContext, bucket_id: str, name: str, *, upsert: bool
    ) -> str:
        def check(conn: Any) -> None:
            if store.bucket_by_id(conn, bucket_id) is None:
                raise errors.no_such_bucket()
            existing = store.object_by_name(conn, bucket_id, name)
            if existing is not None and not upsert:
                raise errors.key_exists()
            access = self.storage.access(conn, context)
            if access.bypass:
                return
            row = object_row(bucket_id, name, context.uid)
            command = INSERT if existing is None else UPDATE
            allowed = access.new_row_allowed(OBJECTS, command, row)
            if existing is not None:
                allowed = allowed and access.object_allowed(UPDATE, bucket_id, name)
            if not allowed:
                raise errors.access_denied()

        await self.storage.db.read(check)
        return self._token(
            UPLOAD, bucket_id, name, UPLOAD_EXPIRY_S, upsert=upsert, owner=context.uid
        )

    def verify(self, token: str | None, scope: str, bucket_id: str, name: str) -> Mapping[str, Any]:
        """The token's claims if it is valid, unexpired, and made for `scope` on this object."""
        if not token:
            raise errors.invalid_signature("the URL has no token")
        try:
            claims = self.storage.tokens.verify(token)
        except Unauthorized as exc:
            raise errors.invalid_signature(exc.message) from None
        if claims.get("scope") != scope:
            raise errors.invalid_signature("the token was not made for this operation")
        if claims.get("url") != f"{check_bucket_id(bucket_id)}/{check_key(name)}":
            raise errors.invalid_signature("the token was made for another object")
        return claims


def uploader_context(claims: Mapping[str, Any]) -> RequestContext:
    """Who a signed upload acts as: the signer (owner), past policies checked at signing."""
    owner = claims.get("owner")
    subject = {"sub": owner} if isinstance(owner, str) and owner else {}
    return RequestContext(SERVICE_ROLE, MappingProxyType(subject), bypass_rls=True)
