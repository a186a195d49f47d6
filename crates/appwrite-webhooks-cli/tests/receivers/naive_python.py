"""An Appwrite webhook receiver written the way common Python snippets are: it parses the
body, re-serialises it with json.dumps to compute the HMAC, compares with ==, and only checks
the signature when the header is present. `conformance` must fail it, naming those checks.

    KEY=... URL=... PORT=... python3 naive_python.py
"""
import base64
import hashlib
import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

KEY = os.environ["KEY"].encode()
URL = os.environ["URL"]


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            return self.answer(400, b"bad json")
        signature = self.headers.get("X-Appwrite-Webhook-Signature")
        if signature:
            body = json.dumps(payload, separators=(",", ":"))
            digest = hmac.new(KEY, (URL + body).encode(), hashlib.sha1).digest()
            if signature != base64.b64encode(digest).decode():
                return self.answer(401, b"invalid signature")
        self.answer(200, b"ok")

    def answer(self, status, text):
        self.send_response(status)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Receiver)
# PORT=0 lets the system pick; the tests read where from this line.
print(f"listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
server.serve_forever()
