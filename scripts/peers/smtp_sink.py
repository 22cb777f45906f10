"""An SMTP server for Recert's notification tests: aiosmtpd on loopback, with STARTTLS, AUTH and
injected failures. Each message it accepts becomes one JSON file in --out: the envelope, the
raw message, and the headers and parts as Python's `email` package decodes them (encoded words
included), so a test checks what a mail client would show.

    python smtp_sink.py --out DIR --ready FILE [--port P] [--tls CERTDIR | --implicit-tls CERTDIR]
                        [--auth USER:PASS] [--tempfail N] [--permfail-rcpt SUBSTR]
                        [--max-per-connection N]

--ready FILE receives `{"port": P}` once the server listens. --tls requires STARTTLS;
--implicit-tls speaks TLS from the first byte. Either way the certificates are made by trustme
in CERTDIR (reused if already there, so a restarted server keeps its CA); CERTDIR/ca.pem is
the CA for Recert's `caFile`. Every file is written to a temporary name and
renamed, so a reader never sees half of one. --max-per-connection N answers `421` to the
MAIL command after N messages on one connection and closes it, as servers that cap a session
do. It prints nothing secret.
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import socket
import ssl
import tempfile
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def write_atomic(path, data):
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def certificates(folder):
    """The server's certificate for 127.0.0.1 and localhost, and its CA, made once per folder."""
    ca_pem = os.path.join(folder, "ca.pem")
    chain = os.path.join(folder, "server.pem")
    if not os.path.exists(chain):
        import trustme

        os.makedirs(folder, exist_ok=True)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
        cert.private_key_and_cert_chain_pem.write_to_path(chain + ".tmp")
        ca.cert_pem.write_to_path(ca_pem + ".tmp")
        os.replace(ca_pem + ".tmp", ca_pem)
        os.replace(chain + ".tmp", chain)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain)
    return context


class Handler:
    def __init__(self, args):
        self.out = args.out
        self.tempfail = args.tempfail
        self.permfail = args.permfail_rcpt
        self.delay = args.delay_ms / 1000.0
        self.max_per_connection = args.max_per_connection
        self.count = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        sent = getattr(session, "sent", 0)
        if self.max_per_connection and sent >= self.max_per_connection:
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.7.0 Too many messages in this session, closing"
        session.sent = sent + 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.permfail and self.permfail in address:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 Try again later"
        self.count += 1
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        headers = {}
        for name in ("Message-ID", "Subject", "From", "To", "Reply-To", "Auto-Submitted",
                     "Content-Type", "Date"):
            value = parsed.get(name)
            if value is not None:
                headers[name] = str(value)
        parts = []
        for part in parsed.walk():
            if part.is_multipart():
                continue
            parts.append({"contentType": part.get_content_type(), "content": part.get_content()})
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "raw": raw.decode("utf-8", "replace"),
            "headers": headers,
            "parts": parts,
            "authenticated": bool(session.authenticated),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
        }
        # Nanoseconds first: the names sort in arrival order across restarts.
        name = "%020d-%06d.json" % (time.time_ns(), self.count)
        write_atomic(os.path.join(self.out, name), record)
        return "250 2.0.0 Accepted %s" % parsed.get("Message-ID", "")


class CountingSMTP(SMTP):
    """Counts the connections clients open, in --out/connections.json."""

    connections = 0
    out = None

    def connection_made(self, transport):
        # aiosmtpd calls this again for the TLS layer after STARTTLS: same connection.
        if self._original_transport is None:
            CountingSMTP.connections += 1
            write_atomic(os.path.join(CountingSMTP.out, "connections.json"),
                         {"connections": CountingSMTP.connections})
        super().connection_made(transport)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == user
              and auth_data.password.decode() == password)
        # `handled=False`: aiosmtpd itself answers a failure (535); otherwise it answers nothing.
        return AuthResult(success=ok, handled=False)

    return check


async def serve(args):
    os.makedirs(args.out, exist_ok=True)
    CountingSMTP.out = args.out
    handler = Handler(args)
    options = {}
    implicit = None
    if args.tls:
        options.update(tls_context=certificates(args.tls), require_starttls=True)
    if args.implicit_tls:
        implicit = certificates(args.implicit_tls)
    if args.auth:
        user, _, password = args.auth.partition(":")
        # aiosmtpd recognises only STARTTLS as TLS; with implicit TLS the whole session is.
        options.update(authenticator=authenticator(user, password), auth_required=True,
                       auth_require_tls=implicit is None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: CountingSMTP(handler, hostname="sink.test", **options), sock=sock, ssl=implicit)
    write_atomic(args.ready, {"port": sock.getsockname()[1]})
    async with server:
        await server.serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--ready", required=True)
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--tls", metavar="CERTDIR")
    tls.add_argument("--implicit-tls", metavar="CERTDIR")
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--tempfail", type=int, default=0)
    parser.add_argument("--permfail-rcpt", metavar="SUBSTR")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="wait this long before answering each DATA (a slow server)")
    parser.add_argument("--max-per-connection", type=int, default=0)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
