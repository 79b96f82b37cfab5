"""Signed URLs: make them (`POST /object/sign/...`, `POST /object/upload/sign/...`) and use
them without credentials (`GET /object/sign/...?token=`, `PUT /object/upload/sign/...?token=`)."""

from __future__ import annotations

from aiohttp import web

from performer_edge.errors import PerformerError
from performer_edge.http.middleware import public
from performer_edge.http.responses import json_response
from performer_edge.storage import errors
from performer_edge.storage.api import (
    bucket_and_key,
    bucket_param,
    caller,
    json_body,
    storage_of,
)
from performer_edge.storage.api_download import fetch_and_serve
from performer_edge.storage.api_objects import is_true, store_upload
from performer_edge.storage.paths import key_problem
from performer_edge.storage.render import parse_transform
from performer_edge.storage.signing import (
    DOWNLOAD,
    UPLOAD,
    object_url_path,
    parse_expiry,
    uploader_context,
)
from performer_edge.storage.uploads import drain

NO_ACCESS = "Either the object does not exist or you do not have access to it"


def _signed_path(bucket_id: str, name: str, token: str, *, render: bool = False) -> str:
    route = "/render/image/sign/" if render else "/object/sign/"
    return f"{route}{object_url_path(bucket_id, name)}?token={token}"


async def sign_one(request: web.Request) -> web.Response:
    bucket_id, name = bucket_and_key(request, "/object/sign/")
    body = await json_body(request)
    expires_in = parse_expiry(body.get("expiresIn"))
    options = body.get("transform")
    if options is not None and not isinstance(options, dict):
        raise errors.invalid_request("transform must be an object of image options")
    transform = None if not options else parse_transform(options).to_query()
    signer = storage_of(request).signer
    (token,) = await signer.sign_downloads(
        caller(request), bucket_id, [name], expires_in, transform=transform
    )
    if token is None:
        raise errors.no_such_key()
    path = _signed_path(bucket_id, name, token, render=transform is not None)
    return json_response({"signedURL": path})


async def sign_many(request: web.Request) -> web.Response:
    bucket_id = bucket_param(request, "/object/sign/")
    body = await json_body(request)
    expires_in = parse_expiry(body.get("expiresIn"))
    paths = body.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise errors.invalid_request("paths must be a list of object keys")
    valid = [p for p in paths if key_problem(p) is None]
    signer = storage_of(request).signer
    tokens = dict(
        zip(
            valid,
            await signer.sign_downloads(caller(request), bucket_id, valid, expires_in),
            strict=True,
        )
    )
    items = []
    for path in paths:
        token = tokens.get(path)
        items.append(
            {
                "error": None if token else NO_ACCESS,
                "path": path,
                "signedURL": _signed_path(bucket_id, path, token) if token else None,
            }
        )
    return json_response(items)


@public
async def signed_download(request: web.Request) -> web.StreamResponse:
    bucket_id, name = bucket_and_key(request, "/object/sign/")
    storage = storage_of(request)
    storage.signer.verify(request.query.get("token"), DOWNLOAD, bucket_id, name)
    return await fetch_and_serve(request, uploader_context({}), bucket_id, name)


async def sign_upload(request: web.Request) -> web.Response:
    bucket_id, name = bucket_and_key(request, "/object/upload/sign/")
    upsert = is_true(request.headers.get("x-upsert"))
    token = await storage_of(request).signer.sign_upload(
        caller(request), bucket_id, name, upsert=upsert
    )
    url = f"/object/upload/sign/{object_url_path(bucket_id, name)}?token={token}"
    return json_response({"url": url, "token": token})


@public
async def signed_upload(request: web.Request) -> web.Response:
    try:
        bucket_id, name = bucket_and_key(request, "/object/upload/sign/")
        claims = storage_of(request).signer.verify(
            request.query.get("token"), UPLOAD, bucket_id, name
        )
    except PerformerError:
        await drain(request)
        raise
    object_id, bucket_id, name = await store_upload(
        request,
        uploader_context(claims),
        "/object/upload/sign/",
        upsert=bool(claims.get("upsert")),
    )
    return json_response({"Id": object_id, "Key": f"{bucket_id}/{name}"})


def register(app: web.Application, prefix: str) -> None:
    add = app.router.add_route
    add("POST", f"{prefix}/object/upload/sign/{{tail:.+}}", sign_upload)
    add("PUT", f"{prefix}/object/upload/sign/{{tail:.+}}", signed_upload)
    add("POST", f"{prefix}/object/sign/{{bucket}}", sign_many)
    add("POST", f"{prefix}/object/sign/{{bucket}}/{{tail:.+}}", sign_one)
    add("GET", f"{prefix}/object/sign/{{tail:.+}}", signed_download)
    add("HEAD", f"{prefix}/object/sign/{{tail:.+}}", signed_download)
