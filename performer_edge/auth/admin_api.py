"""GoTrue's admin routes at /auth/v1/admin and /auth/v1/invite (service_role tokens only)."""

from __future__ import annotations

import uuid

from aiohttp import web

from performer_edge.auth.api import ADMIN, body_of, redirect_of
from performer_edge.auth.service import invalid
from performer_edge.http.middleware import public
from performer_edge.http.principal import bearer_token
from performer_edge.http.responses import json_response

DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 1000


def admin_of(request: web.Request):  # type: ignore[no-untyped-def]
    admin = request.app[ADMIN]
    admin.require_admin(bearer_token(request))
    return admin


def user_id_of(request: web.Request) -> str:
    raw = request.match_info["user_id"]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise invalid("user_id must be an UUID", "validation_failed") from None


def page_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise invalid(f"Bad Pagination Parameters: {name}", "validation_failed")
    return min(int(raw), maximum)


@public
async def create_user(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.create_user(await body_of(request)))


@public
async def list_users(request: web.Request) -> web.Response:
    admin = admin_of(request)
    page = page_param(request, "page", 1, 1 << 31)
    per_page = page_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
    users, total = await admin.list_users(page, per_page)
    last = max(1, -(-total // per_page))
    links = []
    if page < last:
        links.append(f'</admin/users?page={page + 1}&per_page={per_page}>; rel="next"')
    links.append(f'</admin/users?page={last}&per_page={per_page}>; rel="last"')
    headers = {"x-total-count": str(total), "link": ", ".join(links)}
    return json_response({"users": users, "aud": "authenticated"}, headers=headers)


@public
async def get_user(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.get_user(user_id_of(request)))


@public
async def update_user(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.update_user(user_id_of(request), await body_of(request)))


@public
async def delete_user(request: web.Request) -> web.Response:
    admin = admin_of(request)
    body = await body_of(request)
    return json_response(
        await admin.delete_user(user_id_of(request), bool(body.get("should_soft_delete")))
    )


@public
async def generate_link(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.generate_link(await body_of(request), redirect_of(request)))


@public
async def invite(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.invite(await body_of(request), redirect_of(request)))


@public
async def list_factors(request: web.Request) -> web.Response:
    admin = admin_of(request)
    return json_response(await admin.factors(user_id_of(request)))


@public
async def delete_factor(request: web.Request) -> web.Response:
    admin = admin_of(request)
    factor_id = request.match_info["factor_id"]
    return json_response(await admin.delete_factor(user_id_of(request), factor_id))


@public
async def outbox(request: web.Request) -> web.Response:
    admin = admin_of(request)
    limit = page_param(request, "limit", 100, 1000)
    return json_response({"messages": await admin.outbox(limit)})


def register(app: web.Application) -> None:
    router = app.router
    router.add_post("/auth/v1/admin/users", create_user)
    router.add_get("/auth/v1/admin/users", list_users)
    router.add_get("/auth/v1/admin/users/{user_id}", get_user)
    router.add_put("/auth/v1/admin/users/{user_id}", update_user)
    router.add_delete("/auth/v1/admin/users/{user_id}", delete_user)
    router.add_get("/auth/v1/admin/users/{user_id}/factors", list_factors)
    router.add_delete("/auth/v1/admin/users/{user_id}/factors/{factor_id}", delete_factor)
    router.add_post("/auth/v1/admin/generate_link", generate_link)
    router.add_post("/auth/v1/invite", invite)
    router.add_get("/auth/v1/admin/outbox", outbox)
