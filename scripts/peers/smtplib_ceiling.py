"""The SMTP peer's own throughput ceiling, for the delivery benchmark: sends the given messages
over ONE connection with Python's smtplib and prints one JSON line,
`{"messages": N, "seconds": S, "perSecond": R}`.

    python smtplib_ceiling.py --port P [--starttls CA_PEM] [--auth USER:PASS] FILE.eml...
    python smtplib_ceiling.py --port P --dir DIR        # every *.eml in DIR, sorted

The envelope comes from each message's From and To headers.
"""

import argparse
import email.utils
import glob
import json
import os
import smtplib
import ssl
import time
from email.parser import BytesHeaderParser


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--starttls", metavar="CA_PEM")
    parser.add_argument("--auth", metavar="USER:PASS")
    parser.add_argument("--dir")
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    files = list(args.files)
    if args.dir:
        files += sorted(glob.glob(os.path.join(args.dir, "*.eml")))
    messages = []
    for path in files:
        with open(path, "rb") as f:
            raw = f.read()
        headers = BytesHeaderParser().parsebytes(raw)
        sender = email.utils.parseaddr(headers.get("From", ""))[1]
        rcpts = [a for _, a in email.utils.getaddresses(headers.get_all("To", []))]
        messages.append((sender, rcpts, raw))

    start = time.perf_counter()
    with smtplib.SMTP(args.host, args.port) as smtp:
        if args.starttls:
            smtp.starttls(context=ssl.create_default_context(cafile=args.starttls))
        if args.auth:
            user, _, password = args.auth.partition(":")
            smtp.login(user, password)
        for sender, rcpts, raw in messages:
            smtp.sendmail(sender, rcpts, raw)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "messages": len(messages),
        "seconds": seconds,
        "perSecond": len(messages) / seconds if seconds > 0 else None,
    }))


if __name__ == "__main__":
    main()
