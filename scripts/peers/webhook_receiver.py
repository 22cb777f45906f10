"""A webhook receiver for Recert's notification tests: an HTTP server on loopback that checks
each POST with the `standardwebhooks` package (a third-party verifier of the Standard Webhooks
signature) and records it, with injected failures. It stands in for Slack and Teams too, with
--no-verify.

    python webhook_receiver.py --out DIR --ready FILE [--port P] (--secret-env VAR | --no-verify)
                               [--fail-first N] [--throttle N --retry-after VALUE]
                               [--gone] [--reject]

Each request becomes one JSON file in --out (path, headers, body, verified, error, the status
answered), written to a temporary name and renamed. --ready FILE receives `{"port": P}` once
it listens. Faults: --fail-first N answers 500 to the first N requests; --throttle N answers
429 with `Retry-After: VALUE` to the first N; --gone answers 410 and --reject 400 to all. The
secret is read from an environment variable, so it is not on a command line.
"""

import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


def write_atomic(path, data):
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.count = 0
        self.webhook = None if args.no_verify else Webhook(os.environ[args.secret_env])

    def next(self):
        with self.lock:
            self.count += 1
            return self.count


class Handler(BaseHTTPRequestHandler):
    state = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        state = self.state
        args = state.args
        n = state.next()
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {k.lower(): v for k, v in self.headers.items()}
        verified, error = None, None
        if state.webhook is not None:
            try:
                state.webhook.verify(body, headers)
                verified = True
            except Exception as e:  # the verifier's verdict, whatever its exception type
                verified, error = False, "%s: %s" % (type(e).__name__, e)
        extra = {}
        if n <= args.fail_first:
            status, answer = 500, b'{"error":"injected failure"}'
        elif n <= args.fail_first + args.throttle:
            status, answer = 429, b'{"error":"slow down"}'
            extra["Retry-After"] = args.retry_after
        elif args.gone:
            status, answer = 410, b"channel_is_archived"
        elif args.reject:
            status, answer = 400, b"invalid_payload: the receiver refuses this body"
        else:
            status, answer = 200, b"ok"
        record = {
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "verified": verified,
            "error": error,
            "status": status,
        }
        write_atomic(os.path.join(args.out, "%020d-%06d.json" % (time.time_ns(), n)), record)
        self.send_response(status)
        for k, v in extra.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--secret-env", metavar="VAR")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--throttle", type=int, default=0)
    parser.add_argument("--retry-after", default="7")
    parser.add_argument("--gone", action="store_true")
    parser.add_argument("--reject", action="store_true")
    args = parser.parse_args()
    if not args.no_verify and not args.secret_env:
        parser.error("give --secret-env VAR or --no-verify")
    os.makedirs(args.out, exist_ok=True)
    Handler.state = State(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    write_atomic(args.ready, {"port": server.server_address[1]})
    server.serve_forever()


if __name__ == "__main__":
    main()
