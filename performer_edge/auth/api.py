"""GoTrue's user-facing routes at /auth/v1 (supabase-wire.md §2.2).

Every route here checks its own credentials, the way GoTrue does: token endpoints ignore a stale
user token in `Authorization`, user endpoints answer `no_authorization` / `bad_jwt`.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from performer_edge import __version__
from performer_edge.auth.account import Account
from performer_edge.auth.admin import Admin
from performer_edge.auth.mfa import Mfa
from performer_edge.auth.service import AuthService, invalid
from performer_edge.errors import NotFound
from performer_edge.http.middleware import public
from performer_edge.http.principal import bearer_token
from performer_edge.http.responses import json_response

AUTH = web.AppKey("auth", AuthService)
ACCOUNT = web.AppKey("account", Account)
MFA = web.AppKey("mfa", Mfa)
ADMIN = web.AppKey("admin", Admin)


async def body_of(request: web.Request) -> dict[str, Any]:
    """The JSON object body; an empty body is `{}` (clients send one on GET and logout)."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid("Could not parse request body as JSON", "bad_json") from None
    if not isinstance(body, dict):
        raise invalid("Could not parse request body as JSON: expected an object", "bad_json")
    return body


def redirect_of(request: web.Request) -> str | None:
    return request.query.get("redirect_to") or None


@public
async def signup(request: web.Request) -> web.Response:
    body = await body_of(request)
    result = await request.app[AUTH].sign_up(body, request.remote, redirect_of(request))
    return json_response(result)


@public
async def token(request: web.Request) -> web.Response:
    grant = request.query.get("grant_type", "")
    body = await body_of(request)
    service = request.app[AUTH]
    if grant == "password":
        result = await service.sign_in_password(body, request.remote)
    elif grant == "refresh_token":
        result = await service.refresh(body, request.remote)
    elif grant == "pkce":
        result = await service.exchange_pkce(body)
    else:
        raise invalid(f"unsupported_grant_type: {grant}", "validation_failed")
    return json_response(result)


@public
async def get_user(request: web.Request) -> web.Response:
    return json_response(await request.app[ACCOUNT].get_user(bearer_token(request)))


@public
async def put_user(request: web.Request) -> web.Response:
    body = await body_of(request)
    result = await request.app[ACCOUNT].update_user(
        bearer_token(request), body, redirect_of(request)
    )
    return json_response(result)


@public
async def logout(request: web.Request) -> web.Response:
    await request.app[AUTH].logout(bearer_token(request), request.query.get("scope", "global"))
    return web.Response(status=204)


@public
async def otp(request: web.Request) -> web.Response:
    body = await body_of(request)
    result = await request.app[ACCOUNT].send_otp(body, request.remote, redirect_of(request))
    return json_response(result)


@public
async def verify_post(request: web.Request) -> web.Response:
    body = await body_of(request)
    return json_response(await request.app[ACCOUNT].verify(body, request.remote))


@public
async def verify_get(request: web.Request) -> web.Response:
    location = await request.app[ACCOUNT].verify_link(dict(request.query))
    raise web.HTTPSeeOther(location)


@public
async def resend(request: web.Request) -> web.Response:
    body = await body_of(request)
    result = await request.app[ACCOUNT].resend(body, request.remote, redirect_of(request))
    return json_response(result)


@public
async def recover(request: web.Request) -> web.Response:
    body = await body_of(request)
    result = await request.app[ACCOUNT].recover(body, request.remote, redirect_of(request))
    return json_response(result)


@public
async def reauthenticate(request: web.Request) -> web.Response:
    return json_response(await request.app[ACCOUNT].reauthenticate(bearer_token(request)))


@public
async def enroll_factor(request: web.Request) -> web.Response:
    body = await body_of(request)
    return json_response(await request.app[MFA].enroll(bearer_token(request), body))


@public
async def challenge_factor(request: web.Request) -> web.Response:
    factor_id = request.match_info["factor_id"]
    return json_response(await request.app[MFA].challenge(bearer_token(request), factor_id))


@public
async def verify_factor(request: web.Request) -> web.Response:
    body = await body_of(request)
    factor_id = request.match_info["factor_id"]
    return json_response(await request.app[MFA].verify(bearer_token(request), factor_id, body))


@public
async def unenroll_factor(request: web.Request) -> web.Response:
    factor_id = request.match_info["factor_id"]
    return json_response(await request.app[MFA].unenroll(bearer_token(request), factor_id))


@public
async def settings(request: web.Request) -> web.Response:
    config = request.app[AUTH].settings
    return json_response(
        {
            "external": {
                "email": True,
                "phone": False,
                "anonymous_users": config.auth_anonymous_enabled,
            },
            "disable_signup": not config.auth_signup_enabled,
            "mailer_autoconfirm": config.auth_autoconfirm,
            "phone_autoconfirm": config.auth_autoconfirm,
            "sms_provider": "",
            "saml_enabled": False,
        }
    )


@public
async def health(request: web.Request) -> web.Response:
    return json_response(
        {"version": __version__, "name": "Performer Auth", "description": "GoTrue-compatible"}
    )


@public
async def sso(request: web.Request) -> web.Response:
    raise NotFound("SAML 2.0 is disabled", code="saml_provider_disabled")


@public
async def authorize(request: web.Request) -> web.Response:
    provider = request.query.get("provider", "")
    raise invalid(f"Unsupported provider: {provider or 'none'} is not enabled", "validation_failed")


def register(app: web.Application) -> None:
    router = app.router
    router.add_post("/auth/v1/signup", signup)
    router.add_post("/auth/v1/token", token)
    router.add_get("/auth/v1/user", get_user)
    router.add_put("/auth/v1/user", put_user)
    router.add_post("/auth/v1/logout", logout)
    router.add_post("/auth/v1/otp", otp)
    router.add_post("/auth/v1/verify", verify_post)
    router.add_get("/auth/v1/verify", verify_get)
    router.add_post("/auth/v1/resend", resend)
    router.add_post("/auth/v1/recover", recover)
    router.add_get("/auth/v1/reauthenticate", reauthenticate)
    router.add_post("/auth/v1/factors", enroll_factor)
    router.add_post("/auth/v1/factors/{factor_id}/challenge", challenge_factor)
    router.add_post("/auth/v1/factors/{factor_id}/verify", verify_factor)
    router.add_delete("/auth/v1/factors/{factor_id}", unenroll_factor)
    router.add_get("/auth/v1/settings", settings)
    router.add_get("/auth/v1/health", health)
    router.add_post("/auth/v1/sso", sso)
    router.add_get("/auth/v1/authorize", authorize)
