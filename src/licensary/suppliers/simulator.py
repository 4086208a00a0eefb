"""A local stand-in for cPanel's Manage2 partner API, for tests and demos.

It speaks the Manage2 functions Licensary uses (``/XMLlicenseAdd.cgi`` and friends: GET query
parameters, HTTP basic auth, JSON answers carrying ``status`` 1/0 and ``reason``) over its own
in-memory, lock-protected state, and adds ``/_control/...`` endpoints so tests can inject the
faults real partner APIs show (an IP held by another company, no stock, 500s, slowness, a
connection dropped after the action was taken) and inspect or bend the upstream state.

Standard library only, so ``licensary simulate-supplier --port N [--username U --password P]
[--package ID=NAME ...]`` needs nothing extra; it prints its credentials and packages when it
starts.

Control endpoints (no auth; bind to loopback):

- ``POST /_control/faults {fault, ip?, count?, function?, seconds?, skip?}`` queues a fault for
  the next ``count`` matching calls, after letting ``skip`` (default 0) of them through.
  ``fault`` is one of ``ip_taken``, ``out_of_stock``, ``http_500``, ``slow``,
  ``drop_after_act`` (also ``account_locked``). Each fault applies to the functions where it can
  really happen (``FAULT_SCOPES``); ``function`` narrows that further (e.g.
  ``"XMLlicenseAdd"``) and ``ip`` restricts it to calls about that IP.
- ``GET /_control/faults`` -> ``{"items": [...]}`` faults still pending.
- ``GET /_control/licenses`` -> ``{"items": [{licenseid, ip, packageid, status,
  external_notes}]}`` with Manage2's status (1 active, 2 expired, 4 suspended).
- ``POST /_control/reset`` forgets licenses, other companies' IPs and faults.
- ``POST /_control/foreign {ip, packageid?}`` registers an IP as held by another company (for
  every package when ``packageid`` is omitted).
- ``POST /_control/expire {licenseid}`` and ``POST /_control/suspend {licenseid}`` change a
  license behind Licensary's back, so reconciliation has drift to find.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import logging
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from licensary.suppliers.simulator_state import (
    DEFAULT_PACKAGES,
    DEFAULT_PORT,
    EXPIRED,
    FAULT_SCOPES,
    FUNCTIONS,
    REASON_AUTH,
    REASON_BAD_IP,
    REASON_FOREIGN,
    REASON_LOCKED,
    REASON_OK,
    REASON_OUT_OF_STOCK,
    SUSPENDED,
    Fault,
    SimulatorState,
    _Drop,
    _valid_ip,
)

logger = logging.getLogger(__name__)


class Manage2Handler(BaseHTTPRequestHandler):
    server: Manage2Simulator
    # HTTP/1.0: one request per connection, like a CGI endpoint; it also makes a dropped
    # connection unambiguous for the client.
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # --- plumbing ---

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            if url.path.startswith("/_control/"):
                self._control(url.path.removeprefix("/_control/").strip("/"))
                return
            self._manage2(url.path.strip("/").removesuffix(".cgi"), url.query)
        except _Drop:
            # Nothing has been written; closing now looks to the client like a connection
            # lost after its request was sent.
            self.close_connection = True

    def _send_json(
        self, status: int, body: Mapping[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return {}
        data = json.loads(self.rfile.read(length))
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    def _params(self, query: str) -> dict[str, str]:
        params = dict(parse_qsl(query, keep_blank_values=True))
        if self.command == "POST":
            # Manage2 also accepts form-encoded POSTs.
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                params.update(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        return params

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected_user, expected_password = self.server.credentials
        # Both comparisons always run, so timing does not reveal which half was wrong.
        user_ok = hmac.compare_digest(user.encode(), expected_user.encode())
        password_ok = hmac.compare_digest(password.encode(), expected_password.encode())
        return user_ok and password_ok

    # --- Manage2 ---

    def _manage2(self, function: str, query: str) -> None:
        if function not in FUNCTIONS:
            self._send_json(404, {"status": 0, "reason": f"Unknown function {function}"})
            return
        if not self._authorized():
            self._send_json(
                401,
                {"status": 0, "reason": REASON_AUTH},
                {"WWW-Authenticate": 'Basic realm="Manage2"'},
            )
            return
        params = self._params(query)
        state = self.server.state
        fault = state.take_fault(function, self._ips_of(params))
        kind = fault.fault if fault else None
        if kind == "http_500":
            body = b"Internal Server Error"
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if kind in ("ip_taken", "out_of_stock", "account_locked"):
            reason = {
                "ip_taken": REASON_FOREIGN,
                "out_of_stock": REASON_OUT_OF_STOCK,
                "account_locked": REASON_LOCKED,
            }[kind]
            if function == "XMLRawlookup":
                answer = {
                    "status": 1,
                    "reason": REASON_OK,
                    "ip": params.get("ip", ""),
                    "licensed": "1",
                    "owner": "other",
                }
            else:
                answer = {"status": 0, "reason": reason}
            self._answer(answer, fault)
            return
        answer = self._perform(function, params)
        if kind == "drop_after_act":
            raise _Drop
        self._answer(answer, fault)

    def _answer(self, answer: dict[str, Any], fault: Fault | None) -> None:
        if fault is not None and fault.fault == "slow":
            # Act first, answer late: a client that times out cannot know what happened,
            # which is exactly the case the adapter must report as UnknownOutcome.
            seconds = fault.seconds if fault.seconds is not None else self.server.slow_seconds
            time.sleep(seconds)
        self._send_json(200, {"version": 0.7, **answer})

    def _ips_of(self, params: Mapping[str, str]) -> set[str]:
        ips = {params[key] for key in ("ip", "oldip", "newip") if params.get(key)}
        liscid = params.get("liscid")
        if liscid:
            state = self.server.state
            with state.lock:
                lic = state.licenses.get(liscid)
                if lic is not None:
                    ips.add(lic.ip)
        return ips

    def _perform(self, function: str, params: Mapping[str, str]) -> dict[str, Any]:
        state = self.server.state
        ip = params.get("ip", "")
        packageid = params.get("packageid", "")

        def result(outcome: tuple[int, str, dict[str, Any]]) -> dict[str, Any]:
            status, reason, payload = outcome
            return {"status": status, "reason": reason, **payload}

        if function in ("XMLlicenseAdd", "XMLlookup", "XMLRawlookup") and not _valid_ip(ip):
            return {"status": 0, "reason": REASON_BAD_IP}
        if function == "XMLlicenseAdd":
            if params.get("dryrun") == "1":
                return {"status": 1, "reason": "Dry run: the license would be added"}
            notes = params.get("notes") or params.get("external_notes") or ""
            return result(
                state.add(
                    ip,
                    packageid,
                    params.get("groupid", ""),
                    notes,
                    params.get("reactivateok") == "1",
                )
            )
        if function == "XMLlicenseExpire":
            return result(state.expire(params.get("liscid", ""), params.get("reason", "")))
        if function == "XMLlicenseReActivate":
            if params.get("dryrun") == "1":
                return {"status": 1, "reason": "Dry run: the license would be reactivated"}
            return result(state.reactivate(params.get("liscid", "")))
        if function == "XMLtransfer":
            oldip, newip = params.get("oldip", ""), params.get("newip", "")
            if not (_valid_ip(oldip) and _valid_ip(newip)):
                return {"status": 0, "reason": REASON_BAD_IP}
            return result(state.transfer(oldip, newip, packageid))
        if function == "XMLlookup":
            return {"status": 1, "reason": REASON_OK, **state.lookup(ip, packageid)}
        if function == "XMLRawlookup":
            return {"status": 1, "reason": REASON_OK, **state.raw_lookup(ip, packageid or None)}
        if function == "XMLlicenseInfo":
            return {
                "status": 1,
                "reason": REASON_OK,
                **state.license_info(params.get("expired") == "1"),
            }
        return {"status": 1, "reason": REASON_OK, **state.package_info()}

    # --- control ---

    def _control(self, name: str) -> None:
        state = self.server.state
        try:
            body = self._read_json() if self.command == "POST" else {}
        except ValueError as exc:
            self._send_json(400, {"error": f"invalid JSON body: {exc}"})
            return
        if self.command == "GET" and name == "licenses":
            self._send_json(200, {"items": state.snapshot()})
        elif self.command == "GET" and name == "faults":
            with state.lock:
                items = [asdict(fault) for fault in state.faults]
            self._send_json(200, {"items": items})
        elif self.command == "POST" and name == "faults":
            self._control_fault(body)
        elif self.command == "POST" and name == "reset":
            state.reset()
            self._send_json(200, {"ok": True})
        elif self.command == "POST" and name == "foreign":
            ip = str(body.get("ip", ""))
            if not _valid_ip(ip):
                self._send_json(400, {"error": "ip must be an IP address"})
                return
            packageid = body.get("packageid")
            state.add_foreign(ip, str(packageid) if packageid else None)
            self._send_json(200, {"ok": True})
        elif self.command == "POST" and name in ("expire", "suspend"):
            status = EXPIRED if name == "expire" else SUSPENDED
            lic = state.force_status(str(body.get("licenseid", "")), status)
            if lic is None:
                self._send_json(404, {"error": "license not found"})
            else:
                self._send_json(200, lic.as_control())
        else:
            self._send_json(404, {"error": f"unknown control endpoint {self.command} {name}"})

    def _control_fault(self, body: Mapping[str, Any]) -> None:
        kind = body.get("fault")
        function = body.get("function")
        if kind not in FAULT_SCOPES:
            self._send_json(400, {"error": f"fault must be one of {sorted(FAULT_SCOPES)}"})
            return
        if function is not None and function not in FUNCTIONS:
            self._send_json(400, {"error": f"function must be one of {sorted(FUNCTIONS)}"})
            return
        try:
            count = int(body.get("count", 1))
            skip = int(body.get("skip", 0))
            seconds = float(body["seconds"]) if body.get("seconds") is not None else None
        except (TypeError, ValueError):
            self._send_json(400, {"error": "count and skip must be integers and seconds a number"})
            return
        if count < 1 or skip < 0:
            self._send_json(400, {"error": "count must be at least 1 and skip at least 0"})
            return
        ip = body.get("ip")
        fault = Fault(
            fault=kind,
            count=count,
            ip=str(ip) if ip else None,
            function=function,
            seconds=seconds,
            skip=skip,
        )
        self.server.state.add_fault(fault)
        self._send_json(200, asdict(fault))


class Manage2Simulator(ThreadingHTTPServer):
    """The simulator's HTTP server; ``state`` is reachable for in-process tests."""

    # Handler threads must not keep the process alive (a slow fault may still be sleeping).
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        username: str = "sim",
        password: str = "sim",
        packages: Mapping[str, str] | None = None,
        foreign: Iterable[str] = (),
        slow_seconds: float = 3.0,
    ) -> None:
        super().__init__(address, Manage2Handler)
        self.credentials = (username, password)
        self.slow_seconds = slow_seconds
        self.state = SimulatorState(
            packages=dict(packages if packages is not None else DEFAULT_PACKAGES)
        )
        for ip in foreign:
            self.state.add_foreign(ip)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out on a slow fault has hung up by the time we answer; that is
        # the scenario working as intended, not a simulator error worth a traceback.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError):
            logger.debug("client %s went away: %r", client_address, exc)
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address is (host, port)
        return f"http://{host}:{port}"


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    username: str = "sim",
    password: str = "sim",
    packages: Mapping[str, str] | None = None,
    foreign: Iterable[str] = (),
    slow_seconds: float = 3.0,
) -> Manage2Simulator:
    """Bind a simulator (port 0 picks a free one; read it from ``server.url``); not started."""
    return Manage2Simulator(
        (host, port),
        username=username,
        password=password,
        packages=packages,
        foreign=foreign,
        slow_seconds=slow_seconds,
    )


def parse_package(text: str) -> tuple[str, str]:
    """``ID=NAME`` (``--package P1=cPanel Solo``) as (id, name)."""
    package_id, sep, name = text.partition("=")
    if not sep or not package_id.strip() or not name.strip():
        raise ValueError(f"a package is ID=NAME, not {text!r}")
    return package_id.strip(), name.strip()


def banner(server: Manage2Simulator) -> str:
    """What the simulator prints when it starts: enough to configure a supplier against it."""
    username, password = server.credentials
    lines = [
        f"Manage2 simulator on {server.url}/",
        f"  credentials: username {username}, password {password}",
        "  packages:",
        *(f"    {pid} = {name}" for pid, name in sorted(server.state.packages.items())),
        f"  control: {server.url}/_control/ (faults, licenses, foreign, reset)",
    ]
    return "\n".join(lines)


def run(server: Manage2Simulator) -> None:
    """Serve until interrupted, then release the port."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve(host: str = "127.0.0.1", port: int = DEFAULT_PORT, **options: Any) -> None:
    """Run a simulator until interrupted, printing its banner first."""
    server = make_server(host, port, **options)
    logger.info("Manage2 simulator listening on %s", server.url)
    print(banner(server), flush=True)
    run(server)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Manage2-style supplier simulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--username", default="sim")
    parser.add_argument("--password", default="sim")
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="ID=NAME",
        help="a package to sell (repeatable; default P1 and P2)",
    )
    parser.add_argument("--slow-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        packages = dict(parse_package(text) for text in args.package) or None
    except ValueError as exc:
        parser.error(str(exc))
    serve(
        args.host,
        args.port,
        username=args.username,
        password=args.password,
        packages=packages,
        slow_seconds=args.slow_seconds,
    )


if __name__ == "__main__":
    main()
