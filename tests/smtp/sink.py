#!/usr/bin/env python3
"""A real SMTP server on 127.0.0.1 for the alert tests (aiosmtpd).

Every accepted message is written to DIR as msg-N.eml (the raw message) and msg-N.json
(envelope, whether the session was under TLS, who authenticated). Prints `READY <port>` on
stdout once listening. Options:
  --port P          listen on P (default 0: any free port)
  --tls CERT KEY    implicit TLS from the first byte
  --starttls CERT KEY  offer STARTTLS and require it before MAIL
  --auth USER PASS  require AUTH (PLAIN/LOGIN, after TLS) with these credentials
  --refuse          answer every DATA with 554
"""
import argparse
import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tls", nargs=2)
    ap.add_argument("--starttls", nargs=2)
    ap.add_argument("--auth", nargs=2)
    ap.add_argument("--refuse", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)

    class Handler:
        n = 0

        async def handle_DATA(self, server, session, envelope):
            if a.refuse:
                return "554 5.7.1 Rejected by the test sink"
            Handler.n += 1
            base = os.path.join(a.dir, f"msg-{Handler.n}")
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content or envelope.content)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "tls": session.ssl is not None
                or server.transport.get_extra_info("sslcontext") is not None,
                "login": getattr(session, "trader_login", None),
                "authenticated": bool(session.authenticated),
            }
            with open(base + ".json", "w") as f:
                json.dump(meta, f)
            os.rename(base + ".eml.tmp", base + ".eml")
            return f"250 2.0.0 Ok: queued as test-{Handler.n}"

    def authenticator(server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            session.trader_login = auth_data.login.decode()
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == a.auth[0]
            and auth_data.password.decode() == a.auth[1]
        )
        return AuthResult(success=ok, handled=False)

    def context(pair):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(pair[0], pair[1])
        return ctx

    kw = {}
    if a.starttls:
        kw["tls_context"] = context(a.starttls)
        kw["require_starttls"] = True
    if a.auth:
        kw["authenticator"] = authenticator
        kw["auth_required"] = True
        # Under implicit TLS the whole session is encrypted already.
        kw["auth_require_tls"] = not a.tls
    implicit = context(a.tls) if a.tls else None

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(Handler(), hostname="sink.test", **kw),
            host="127.0.0.1",
            port=a.port,
            ssl=implicit,
        )
        port = server.sockets[0].getsockname()[1]
        print(f"READY {port}", flush=True)
        await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
