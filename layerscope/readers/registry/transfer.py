"""HTTP for the registry client: every request bounded in time, every body in size.

requests' read timeout bounds each socket read, not a request: a server sending one byte
every 20 s never trips it. So every request here is watched by a timer that shuts its
socket down when the response head has not arrived within the read timeout, or the whole
exchange (head and body) within `registry_deadline` seconds; and a body must average
`registry_min_rate` bytes a second over each RATE_WINDOW seconds. Bodies are read with
urllib3's `read1` (what one receive brings), so the rate is checked as bytes arrive, and
every body is read against a cap (a blob's declared size, max_json_bytes for JSON).

The timer reaches the socket through urllib3's connection-class hook: the connections of
this session register with the watch of the request running in their thread, including
the connections a redirect opens.

Credentials are only ever set by the caller as an Authorization header: `~/.netrc` is not
consulted (requests would otherwise add its passwords, on redirects too), and a redirect
to another host or scheme drops the header (requests' own rule).
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from typing import Any

import requests
import requests.adapters
import requests.auth
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from layerscope import limits
from layerscope.errors import RegistryError

CHUNK = 1 << 20
RATE_WINDOW = 30.0  # seconds over which registry_min_rate is averaged
MAX_REDIRECTS = 10

_local = threading.local()


class Watch:
    """Shuts down the connection of one request when its time is up (from a timer thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conn: HTTPConnection | None = None
        self._timer: threading.Timer | None = None
        self.expired = False

    def attach(self, conn: HTTPConnection) -> None:
        with self._lock:
            self._conn = conn
            if self.expired:
                _shutdown(conn)

    def arm(self, seconds: float | None) -> None:
        """Fire after `seconds` (None: never), replacing any earlier arming."""
        self.disarm()
        if seconds is not None:
            self._timer = threading.Timer(max(seconds, 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            if self._conn is not None:
                _shutdown(self._conn)


def _shutdown(conn: HTTPConnection) -> None:
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        # The plain socket's shutdown, also for a TLS socket: wakes a blocked read
        # (close() would not) without touching the TLS object another thread is in.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _attach(conn: HTTPConnection) -> None:
    watch = getattr(_local, "watch", None)
    if watch is not None:
        watch.attach(conn)


class _Conn(HTTPConnection):
    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)  # a kept-alive connection serves a new request
        super().request(*args, **kwargs)


class _TLSConn(HTTPSConnection):
    def connect(self) -> None:
        _attach(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:
        _attach(self)
        super().request(*args, **kwargs)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Conn


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConn


def _pools() -> dict[str, type[HTTPConnectionPool]]:
    return {"http": _Pool, "https": _TLSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pools()

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        if isinstance(manager, urllib3.PoolManager):
            manager.pool_classes_by_scheme = _pools()
        return manager


class _NoNetrc(requests.auth.AuthBase):
    """Set as the session's auth so that requests never fills in ~/.netrc passwords."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class _Session(requests.Session):
    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        # requests' own version also adds ~/.netrc credentials for the redirect's host.
        headers = prepared_request.headers
        old = response.request.url
        strip = self.should_strip_auth(old, prepared_request.url)  # type: ignore[no-untyped-call]
        if "Authorization" in headers and strip:
            del headers["Authorization"]


class Reply:
    """One response, its socket watched until close(); bodies are read through it."""

    def __init__(self, http: Http, resp: requests.Response, watch: Watch, label: str) -> None:
        self.http = http
        self.resp = resp
        self.watch = watch
        self.label = label
        self.status = resp.status_code
        self.reason = resp.reason or ""
        self.headers = resp.headers

    def close(self) -> None:
        self.watch.disarm()
        self.resp.close()

    def __enter__(self) -> Reply:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def chunks(self, cap: int, too_big: Callable[[], Exception]) -> Iterator[bytes]:
        """The body as it arrives, at most `cap` bytes (more raises too_big()), at the
        minimum rate, before the deadline."""
        min_rate = limits.get("registry_min_rate")
        start = time.monotonic()
        window_bytes, total = 0, 0
        raw = self.resp.raw
        while True:
            try:
                chunk = raw.read1(CHUNK, decode_content=True)
            except (urllib3.exceptions.HTTPError, requests.exceptions.RequestException) as e:
                raise self.http.failure(e, self.watch, f"{self.label} interrupted") from e
            except OSError as e:
                raise self.http.failure(e, self.watch, f"{self.label} interrupted") from e
            if not chunk:
                if self.watch.expired:  # the timer's shutdown reads as an end of stream
                    raise self.http.deadline_error(self.label)
                return
            total += len(chunk)
            if total > cap:
                raise too_big()
            window_bytes += len(chunk)
            now = time.monotonic()
            if now - start >= RATE_WINDOW:
                if window_bytes < min_rate * (now - start):
                    rate = window_bytes / (now - start)
                    raise RegistryError(
                        f"{self.http.prefix}{self.label}: {rate:.0f} bytes/s over "
                        f"{now - start:.0f} s, too slow ({limits.hint('registry_min_rate')})"
                    )
                start, window_bytes = now, 0
            yield chunk

    def read_all(self, cap: int, too_big: Callable[[], Exception]) -> bytes:
        return b"".join(self.chunks(cap, too_big))


class Http:
    """One session towards one registry (and the hosts its challenges and redirects name).

    `prefix` starts every error message ("registry HOST: ")."""

    def __init__(self, prefix: str, tls_verify: bool, timeout: tuple[float, float]) -> None:
        self.prefix = prefix
        self.tls_verify = tls_verify
        self.timeout = timeout
        session = _Session()
        # Cookies ignored: some registries take a client that keeps them for a browser.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        session.auth = _NoNetrc()
        session.max_redirects = MAX_REDIRECTS
        adapter = _Adapter(max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.session = session
        if not tls_verify:  # asked for: urllib3 would warn on every request
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def close(self) -> None:
        self.session.close()

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        label: str,
        params: Mapping[str, str] | None = None,
        verify: bool | None = None,
    ) -> Reply:
        """Send one request and return once the response head is in (its body unread)."""
        deadline = limits.get("registry_deadline") or None
        watch = Watch()
        head_budget = self.timeout[0] + self.timeout[1]
        watch.arm(min(head_budget, deadline) if deadline else head_budget)
        saved = getattr(_local, "watch", None)
        _local.watch = watch
        start = time.monotonic()
        try:
            resp = self.session.request(
                method,
                url,
                headers=dict(headers),
                params=dict(params or {}),
                stream=True,
                timeout=self.timeout,
                verify=self.tls_verify if verify is None else verify,
            )
        except requests.exceptions.RequestException as e:
            watch.disarm()
            raise self.failure(e, watch, "") from e
        finally:
            _local.watch = saved
        watch.arm(deadline - (time.monotonic() - start) if deadline else None)
        return Reply(self, resp, watch, label)

    def deadline_error(self, label: str) -> RegistryError:
        what = f"{label}: " if label else ""
        return RegistryError(
            f"{self.prefix}{what}no complete answer in time ({limits.hint('registry_deadline')})"
        )

    def failure(self, e: BaseException, watch: Watch, label: str) -> RegistryError:
        if watch.expired:
            return self.deadline_error(label)
        reason = describe_exception(e, self.tls_verify)
        return RegistryError(f"{self.prefix}{label}: {reason}" if label else self.prefix + reason)


def describe_exception(e: BaseException, tls_verify: bool) -> str:
    """A short reason that names no URL, header or credential."""
    text = str(e)
    if isinstance(e, requests.exceptions.SSLError):
        m = re.search(r"\[SSL: ([A-Z_]+)\]", text)
        reason = m.group(1).lower().replace("_", " ") if m else "handshake failed"
        hint = " (plain-HTTP registry? use --tls-verify=false)" if "version" in reason else ""
        return f"TLS failure: {reason}{hint}" if tls_verify else f"TLS failure: {reason}"
    if isinstance(e, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)):
        return "timed out"
    if isinstance(e, requests.exceptions.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(e, (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError)):
        lowered = text.lower()
        if any(s in lowered for s in ("resolve", "resolution", "name or service", "getaddrinfo")):
            return "unknown host"
        if "refused" in lowered:
            return "connection refused"
        if "reset" in lowered or "aborted" in lowered:
            return "connection reset"
        if isinstance(e, requests.exceptions.ConnectionError):
            return "cannot connect"
        return "connection lost"
    return f"request failed ({type(e).__name__})"
