"""The joining node's side of an invite, and the CLI's call to a running root node's revocations
route: small blocking HTTP calls for `performer cluster join|revoke` (no event loop there).

A certificate received is checked here, against the invite's cluster id and this node's key,
before anything is saved: the node it came from is trusted for nothing.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.error
import urllib.request
from typing import Any

from nacl.signing import SigningKey

from performer_edge.errors import Forbidden, IntegrityError, PerformerError, Unavailable
from performer_edge.peers import admission, invites, trust
from performer_edge.peers.membership import Membership

JOIN_PATH = "/performer/v1/cluster/join"
REVOCATIONS_PATH = "/performer/v1/cluster/revocations"
TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 1 << 20


def request_membership(
    invite: invites.Invite, key: SigningKey, now_ms: int, *, timeout: float = TIMEOUT_S
) -> Membership:
    """Join through the invite's URLs, first reachable one wins; the verified membership."""
    body = admission.join_request(invite, key).to_json()
    unreachable: list[str] = []
    for url in invite.urls:
        try:
            status, answer = post_json(url.rstrip("/") + JOIN_PATH, body, {}, timeout)
        except Unavailable as exc:
            unreachable.append(exc.message)
            continue
        if status != 200:
            raise refusal(url, status, answer)
        return _verified(url, answer, invite.cluster_id, bytes(key.verify_key), now_ms)
    raise Unavailable(
        "cannot reach the node that issued the invite: " + "; ".join(unreachable),
        code="unreachable",
    )


def request_revocation(url: str, service_role_key: str, node_id: bytes) -> dict[str, Any]:
    """Ask the running root node at `url` to revoke `node_id`; the committed event."""
    headers = {"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}"}
    status, answer = post_json(
        url.rstrip("/") + REVOCATIONS_PATH, {"node_id": node_id.hex()}, headers, TIMEOUT_S
    )
    if status != 201:
        raise refusal(url, status, answer)
    event = answer.get("event")
    return event if isinstance(event, dict) else {}


def post_json(
    url: str, body: dict[str, Any], headers: dict[str, str], timeout: float
) -> tuple[int, dict[str, Any]]:
    """POST JSON; (status, the JSON object answered). Unavailable when nothing answers."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: checked
            return response.status, _json_object(response.read(MAX_ANSWER_BYTES))
    except urllib.error.HTTPError as exc:
        return exc.code, _json_object(exc.read(MAX_ANSWER_BYTES))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Unavailable(f"{url}: {reason}", code="unreachable") from exc


def refusal(url: str, status: int, answer: dict[str, Any]) -> PerformerError:
    """The error to report for a node's refusal, with its code and message."""
    code = str(answer.get("code") or f"http_{status}")
    message = str(answer.get("message") or f"HTTP {status}")
    error = Forbidden if status < 500 else Unavailable
    return error(f"{url} refused: {message} ({code})", code=code)


def _verified(
    url: str, answer: dict[str, Any], cluster_id: bytes, node_id: bytes, now_ms: int
) -> Membership:
    try:
        certificate = base64.b64decode(str(answer.get("certificate", "")), validate=True)
        trust.verify(certificate, cluster_id, node_id, now_ms)
    except (binascii.Error, ValueError) as exc:  # CertificateError is a ValueError
        raise IntegrityError(
            f"{url} answered with a certificate that does not verify for this cluster and "
            f"this node: {exc}",
            code="bad_certificate",
        ) from exc
    return Membership(cluster_id, certificate)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
