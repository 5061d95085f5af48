"""ZeroMQ socket set-up shared by senders and receivers: addresses, options, CURVE.

Safety defaults:

* A socket that binds a ``tcp://`` address must name a loopback host
  (``127.0.0.1``, ``localhost``, ``::1``) unless ``public=True``: nothing is
  exposed to the network by accident.
* CURVE (encryption + authentication) is on when key files are given. The
  binding side is the CURVE server: it needs its secret key file and accepts
  the clients whose public key files lie in ``curve_clients`` (a folder), or
  any client that knows the server's public key when no folder is given.
  The connecting side is the client: it needs the server's public key file
  and its own secret key file (``evstream keys`` writes both kinds).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from evstream.errors import UserError

__all__ = ["CurveKeys", "Endpoint", "SocketConfig", "TransportError", "check_address", "open_socket"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
_ADDRESS = re.compile(r"^(tcp|ipc)://(.+)$")


class TransportError(UserError):
    """A bad address, key file or socket option given by the user."""


def check_address(address: str, bind: bool, public: bool) -> str:
    """Validate ``address`` (``tcp://host:port`` or ``ipc://path``).

    Raises :class:`TransportError` for another scheme, a tcp address without a
    port, or binding a non-loopback tcp host without ``public``.
    """
    match = _ADDRESS.match(address)
    if match is None:
        raise TransportError(f"address {address!r} must look like tcp://127.0.0.1:5555 or ipc:///tmp/name")
    scheme, rest = match.groups()
    if scheme != "tcp":
        return address
    host, sep, port = rest.rpartition(":")
    if not sep or not (port.isdigit() or (bind and port == "*")):
        raise TransportError(f"address {address!r} needs a port, e.g. tcp://127.0.0.1:5555")
    if bind and host not in _LOOPBACK and not public:
        raise TransportError(f"refusing to bind {address!r} to a non-loopback interface; "
                             "bind tcp://127.0.0.1:PORT or set public=true (and consider CURVE keys)")
    return address


@dataclass(frozen=True)
class CurveKeys:
    """Paths of CURVE key files (empty string: not given)."""

    secret: str = ""
    """This side's secret key file (``NAME.key_secret`` from ``evstream keys``)."""
    server_key: str = ""
    """The server's public key file (``NAME.key``); client side only."""
    clients: str = ""
    """Folder of authorised clients' public key files; server side only."""

    @property
    def enabled(self) -> bool:
        return bool(self.secret or self.server_key or self.clients)


def _load(path: str, what: str, secret: bool) -> tuple[bytes, bytes | None]:
    import zmq.auth

    if not Path(path).is_file():
        raise TransportError(f"CURVE {what} {path!r} does not exist; create key files with `evstream keys DIR`")
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (ValueError, OSError) as exc:
        raise TransportError(f"CURVE {what} {path!r} is not a key file ({exc}); use `evstream keys DIR`") from None
    if secret and secret_key is None:
        raise TransportError(f"CURVE {what} {path!r} holds no secret key; pass the NAME.key_secret file")
    return public, secret_key


@dataclass(frozen=True)
class SocketConfig:
    """Options of one endpoint (see :func:`open_socket`)."""

    address: str
    bind: bool
    hwm: int = 1000
    """High-water mark in messages (send or receive queue length)."""
    public: bool = False
    curve: CurveKeys = CurveKeys()
    linger_ms: int = 1000
    """How long ``close`` waits to deliver queued messages (ms)."""


def _setup_curve(ctx: zmq.Context, sock: zmq.Socket, config: SocketConfig) -> Any:
    """Apply CURVE options to ``sock``; return the authenticator thread to stop on close (server side)."""
    keys = config.curve
    if config.bind:
        if not keys.secret or keys.server_key:
            raise TransportError("CURVE on the binding side needs curve_secret (its NAME.key_secret file) "
                                 "and no curve_server_key")
        public, secret = _load(keys.secret, "secret key file", secret=True)
        if keys.clients and not Path(keys.clients).is_dir():
            raise TransportError(f"curve_clients {keys.clients!r} must be a folder of client NAME.key files")
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(ctx)
        auth.start()
        auth.configure_curve(domain="*", location=keys.clients or zmq.auth.CURVE_ALLOW_ANY)
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True
        return auth
    if not keys.server_key or not keys.secret:
        raise TransportError("CURVE on the connecting side needs curve_server_key (the server's NAME.key) "
                             "and curve_secret (this client's NAME.key_secret)")
    sock.curve_serverkey = _load(keys.server_key, "server key file", secret=False)[0]
    public, secret = _load(keys.secret, "secret key file", secret=True)
    sock.curve_publickey = public
    sock.curve_secretkey = secret
    return None


def open_socket(ctx: zmq.Context, kind: int, config: SocketConfig,
                configure: Callable[[zmq.Socket], None] | None = None) -> tuple[zmq.Socket, Any]:
    """Create, configure and bind or connect a socket of ``kind`` (``zmq.XPUB``, ``zmq.SUB``...).

    ``configure(sock)`` may set more options before the bind or connect.
    Returns the socket and the CURVE authenticator to stop on close (or ``None``).
    Raises :class:`TransportError` when the address is invalid or in use.
    """
    check_address(config.address, config.bind, config.public)
    if config.hwm < 1:
        raise TransportError(f"hwm must be at least 1 message (got {config.hwm})")
    sock = ctx.socket(kind)
    auth = None
    try:
        sock.linger = config.linger_ms
        sock.sndhwm = config.hwm
        sock.rcvhwm = config.hwm
        sock.reconnect_ivl = 100
        sock.reconnect_ivl_max = 2000
        sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
        sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 5000)
        if configure is not None:
            configure(sock)
        if config.curve.enabled:
            auth = _setup_curve(ctx, sock, config)
        if config.bind:
            sock.bind(config.address)
        else:
            sock.connect(config.address)
    except zmq.ZMQError as exc:
        _close(sock, auth)
        raise TransportError(f"cannot {'bind' if config.bind else 'connect'} {config.address!r}: {exc}") from None
    except BaseException:
        _close(sock, auth)
        raise
    return sock, auth


def _close(sock: zmq.Socket, auth: Any) -> None:
    sock.close()
    if auth is not None:
        auth.stop()


class Endpoint:
    """One socket with its own ZeroMQ context; base of :class:`Sender` and :class:`Receiver`.

    ``open()`` binds or connects, ``close()`` releases everything (also usable
    as a context manager). Subclasses set ``socket_kind`` and may override
    :meth:`configure` to set options before the bind/connect.
    """

    socket_kind: int = zmq.PAIR

    def __init__(self, config: SocketConfig) -> None:
        check_address(config.address, config.bind, config.public)
        self.config = config
        self.sock: zmq.Socket | None = None
        self._ctx: zmq.Context | None = None
        self._auth: Any = None

    def open(self) -> None:
        """Create the socket and bind or connect it (:class:`TransportError` on failure)."""
        if self.sock is not None:
            return
        self._ctx = zmq.Context()
        try:
            self.sock, self._auth = open_socket(self._ctx, self.socket_kind, self.config, self.configure)
        except BaseException:
            self.close()
            raise

    def configure(self, sock: zmq.Socket) -> None:
        """Set kind-specific options on ``sock`` before it binds or connects."""

    def close(self) -> None:
        """Close the socket (waiting up to ``linger_ms`` for queued messages) and the context."""
        if self.sock is not None:
            _close(self.sock, self._auth)
            self.sock = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    def __enter__(self) -> Endpoint:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
