"""A real HTTP gateway for tests: it records what it was asked to send and de-duplicates by
`Idempotency-Key`, as a real SMS or messaging gateway does.

Each request takes the next step of `script` (then `default`): an HTTP status, "sleep:<s>"
(answer 202 after that many seconds), "garbage" (bytes that are not HTTP at all) or
"block" (accept the message, then hold the answer until `release` is set).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Gateway:
    def __init__(self) -> None:
        self.script: list[str] = []
        self.default = "202"
        self.requests: list[dict] = []  # every request: headers and body
        self.messages: dict[str, dict] = {}  # accepted messages by idempotency key
        self.accepted = threading.Event()  # set when a "block" step has accepted its message
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/send"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with gateway.lock:
                    step = gateway.script.pop(0) if gateway.script else gateway.default
                    gateway.requests.append({"headers": dict(self.headers), "body": raw})
                if step == "garbage":
                    self.wfile.write(b"\x00\x01 this is not HTTP\r\n\r\n")
                    return
                if step.startswith("sleep:"):
                    time.sleep(float(step[6:]))
                    step = "202"
                if step in ("block", "202", "200", "201"):
                    key = self.headers.get("Idempotency-Key", "")
                    with gateway.lock:
                        duplicate = key in gateway.messages
                        if not duplicate:
                            gateway.messages[key] = json.loads(raw)
                    if step == "block":
                        gateway.accepted.set()
                        gateway.release.wait(60)
                        step = "202"
                    self.answer(200 if duplicate else int(step), {"duplicate": duplicate})
                    return
                self.answer(int(step), {"error": "refused"})

            def answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client is gone (killed, timed out)
                    pass

        return Handler

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
