"""The operator's HTTP endpoints: the dashboard, ``/healthz``, ``/metrics`` and the JSON API.

Served on the broadcaster's host and port (``sinks/http.py`` routes the requests
that are not a WebSocket upgrade here). Everything but the dashboard's own files
wants the token, as ``Authorization: Bearer <token>`` (or ``?token=``);
``[broadcast] open_endpoints`` may open ``healthz`` and ``metrics`` without it.
The dashboard's files hold no data: the page asks for the token and keeps it in
the browser tab's session storage.

=======  ==============================  ==============================================
GET      ``/``                           the dashboard (``/dashboard.js``, ``.css``)
GET      ``/healthz``                    200 once every account had a sync attempt, else 503
GET      ``/metrics``                    Prometheus text
GET      ``/api/overview``               accounts, counters, the last hour's latencies
GET      ``/api/accounts[/<id>]``        the accounts' (an account's) status
POST     ``/api/accounts``               add: ``{"id": ..., <the account's table>}``
PUT      ``/api/accounts/<id>``          change an account added through the API
DELETE   ``/api/accounts/<id>``          remove an account added through the API
POST     ``/api/accounts/<id>/<action>`` ``sync``, ``retry``, ``pause``, ``resume``
=======  ==============================  ==============================================

Errors are JSON ``{"error": ...}``: 400 a bad table (the config error, naming the
key), 401 no or a wrong token, 404 no such account, 409 a request that does not
fit the account (see ``AccountConflict``).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from importlib import resources

import attrs

from trio_mailsync.core.errors import AccountConflict, ConfigError
from trio_mailsync.core.ports import ServiceControl
from trio_mailsync.sinks.http import HttpRequest, HttpResponse, json_response, text_response
from trio_mailsync.sinks.metrics import CONTENT_TYPE, render_metrics

__all__ = ["OperatorEndpoints", "shows_token"]

logger = logging.getLogger(__name__)

#: The dashboard's files: name -> content type.
DASHBOARD_FILES = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
#: The page loads nothing from elsewhere, runs no inline script, talks to this origin only.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ACTIONS = ("sync", "retry", "pause", "resume")


def shows_token(
    headers: Sequence[tuple[bytes, bytes]], query: Mapping[str, list[str]], token: bytes
) -> bool:
    """Whether a request (a WebSocket upgrade, an HTTP request) shows ``token``, as
    ``Authorization: Bearer <token>`` or ``?token=<token>``.

    Compared in constant time, and every offer is compared, so timing says nothing.
    """
    offered: list[bytes] = []
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, credential = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                offered.append(credential.strip())
    offered.extend(v.encode() for v in query.get("token", []))
    return any([hmac.compare_digest(o, token) for o in offered])


def _dashboard_file(name: str) -> bytes:
    return (resources.files("trio_mailsync.sinks") / "dashboard" / name).read_bytes()


class OperatorEndpoints:
    """Answers the HTTP requests of the broadcaster's port that are not WebSocket upgrades."""

    def __init__(
        self,
        control: ServiceControl,
        token: bytes,
        *,
        open_endpoints: frozenset[str] = frozenset(),
        broadcast_statistics: Callable[[], Mapping[str, int]] = dict,
    ) -> None:
        self._control = control
        self._token = token
        self._open = open_endpoints
        self._broadcast_statistics = broadcast_statistics

    def authorized(self, request: HttpRequest) -> bool:
        """Whether the request shows the token."""
        return shows_token(request.headers, request.query, self._token)

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        """One request's response."""
        path = request.path
        if request.method in ("GET", "HEAD"):
            name = "index.html" if path == "/" else path.lstrip("/")
            if name in DASHBOARD_FILES:
                return HttpResponse(
                    status=200,
                    body=_dashboard_file(name),
                    content_type=DASHBOARD_FILES[name],
                    headers=(("Content-Security-Policy", PAGE_POLICY),),
                )
        endpoint = path.strip("/").split("/", 1)[0]
        if endpoint not in ("healthz", "metrics", "api"):
            return json_response(404, {"error": f"no such page: {path}"})
        if endpoint not in self._open and not self.authorized(request):
            return HttpResponse(
                status=401,
                body=b'{"error":"a token is needed"}',
                content_type="application/json",
                headers=(("WWW-Authenticate", 'Bearer realm="trio-mailsync"'),),
            )
        try:
            if endpoint == "healthz":
                return await self._healthz(request)
            if endpoint == "metrics":
                return await self._metrics(request)
            return await self._api(request)
        except KeyError as exc:
            return json_response(404, {"error": str(exc.args[0]) if exc.args else "not found"})
        except ConfigError as exc:
            return json_response(400, {"error": str(exc)})
        except AccountConflict as exc:
            return json_response(409, {"error": str(exc)})

    async def _healthz(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET")
        # Probes ask often: the states alone, not the store's counts.
        overview = await self._control.overview(store_figures=False)
        accounts = {
            a.id: {"state": str(a.state), "attempted": a.attempted, "error": a.last_sync_error}
            for a in overview.accounts
        }
        ready = overview.ready
        return json_response(
            200 if ready else 503,
            {"status": "ready" if ready else "starting", "accounts": accounts},
        )

    async def _metrics(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return _not_allowed("GET")
        overview = await self._control.overview()
        body = render_metrics(overview, self._broadcast_statistics())
        return HttpResponse(status=200, body=body, content_type=CONTENT_TYPE)

    async def _api(self, request: HttpRequest) -> HttpResponse:
        parts = [p for p in request.path.split("/") if p][1:]  # after "api"
        method = request.method
        control = self._control
        if parts == ["overview"] and method in ("GET", "HEAD"):
            overview = await control.overview()
            return json_response(
                200,
                {
                    "accounts": [a.to_dict() for a in overview.accounts],
                    "counters": dict(overview.counters),
                    "ready": overview.ready,
                    "recent_latency": [list(p) for p in overview.recent_latency],
                },
            )
        if not parts or parts[0] != "accounts" or len(parts) > 3:
            return json_response(404, {"error": f"no such endpoint: {request.path}"})
        if len(parts) == 1:
            if method in ("GET", "HEAD"):
                overview = await control.overview()
                return json_response(200, {"accounts": [a.to_dict() for a in overview.accounts]})
            if method == "POST":
                table = _table(request)
                if isinstance(table, HttpResponse):
                    return table
                account_id = table.pop("id", None)
                if not isinstance(account_id, str) or not account_id:
                    return json_response(400, {"error": 'the account\'s "id" is needed'})
                await control.add_account(account_id, table)
                return await self._one(account_id, 201)
            return _not_allowed("GET, POST")
        account_id = parts[1]
        if len(parts) == 3:
            action = parts[2]
            if action not in ACTIONS:
                return json_response(404, {"error": f"no such action: {action}"})
            if method != "POST":
                return _not_allowed("POST")
            await getattr(control, action)(account_id)
            logger.info("api: %s %s", action, account_id)
            return await self._one(account_id, 202 if action == "sync" else 200)
        if method in ("GET", "HEAD"):
            return await self._one(account_id, 200)
        if method == "PUT":
            table = _table(request)
            if isinstance(table, HttpResponse):
                return table
            table.pop("id", None)
            await control.replace_account(account_id, table)
            return await self._one(account_id, 200)
        if method == "DELETE":
            await control.remove_account(account_id)
            return json_response(200, {"removed": account_id})
        return _not_allowed("GET, PUT, DELETE")

    async def _one(self, account_id: str, status: int) -> HttpResponse:
        account = await self._control.account_status(account_id)
        return json_response(status, account.to_dict())


def _table(request: HttpRequest) -> dict[str, object] | HttpResponse:
    """The request's body: a JSON object (an account's table), or the 400 saying why not."""
    try:
        table = request.json()
    except (ValueError, UnicodeDecodeError):
        return json_response(400, {"error": "the body must be a JSON object"})
    if not isinstance(table, dict):
        return json_response(400, {"error": "the body must be a JSON object"})
    return table


def _not_allowed(allowed: str) -> HttpResponse:
    return attrs.evolve(text_response(405, f"allowed: {allowed}"), headers=(("Allow", allowed),))
