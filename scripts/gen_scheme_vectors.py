#!/usr/bin/env python3
"""Signature vectors for the opt-in schemes, from an implementation independent of this crate:
Python's hmac/hashlib, cross-checked with `openssl dgst` when it is installed.

    python3 scripts/gen_scheme_vectors.py > crates/testkit/data/scheme-vectors.json

The bodies include PHP-style escapes (`\\/`, `\\u00e9`), an empty body, raw UTF-8 and a key longer
than SHA-256's 64-byte block (hashed first, per RFC 2104), so the edge cases are pinned.
"""
import hashlib
import hmac
import json
import shutil
import subprocess

CASES = [
    ("seed-row-envelope", "whsec_docs", 1736937000,
     '{"$id":"event_123","event":"databases.main.tables.orders.rows.order_456.create",'
     '"timestamp":"2025-01-15T10:30:00.000Z","payload":{"$id":"order_456","$tableId":"orders",'
     '"$databaseId":"main","$createdAt":"2025-01-15T10:30:00.000Z",'
     '"$updatedAt":"2025-01-15T10:30:00.000Z","customer":"John Doe","total":99.99}}'),
    ("php-escapes", "k", 1700000000,
     '{"$id":"e2","event":"users.u1.update.name","timestamp":"2023-11-14T22:13:20.000Z",'
     '"payload":{"name":"Jos\\u00e9 \\/ admin"}}'),
    ("empty-body", "k", 0, ""),
    ("raw-utf8", "ключ", 4102444800, '{"note":"é ü 漢字"}'),
    ("long-key", "k" * 100, 1, '{"id":"evt_abc123","type":"user.created",'
     '"created_at":"2023-12-01T15:30:00Z","data":{"id":"usr_789"}}'),
    ("seed-generic-envelope", "whsec_generic", 1701444600,
     '{"id":"evt_abc123","type":"user.created","created_at":"2023-12-01T15:30:00Z",'
     '"data":{"id":"usr_789","name":"John Doe","email":"john@example.com",'
     '"created_at":"2023-12-01T15:30:00Z"}}'),
]


def openssl_hex(key: bytes, message: bytes):
    """The same HMAC through openssl, or None when openssl is absent."""
    if shutil.which("openssl") is None:
        return None
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-mac", "HMAC", "-macopt", "hexkey:" + key.hex()],
        input=message, capture_output=True, check=True).stdout.decode()
    return out.strip().split()[-1]


vectors = []
for name, key, timestamp, body in CASES:
    k, b = key.encode(), body.encode()
    signed = f"{timestamp}.".encode() + b
    timestamped = hmac.new(k, signed, hashlib.sha256).hexdigest()
    generic = hmac.new(k, b, hashlib.sha256).hexdigest()
    for message, digest in ((signed, timestamped), (b, generic)):
        other = openssl_hex(k, message)
        assert other in (None, digest), (name, other, digest)
    vectors.append({
        "name": name,
        "key": key,
        "timestamp": timestamp,
        "body": body,
        "timestamped_signature": timestamped,
        "generic_signature": "sha256=" + generic,
    })

print(json.dumps(vectors, indent=2, ensure_ascii=False))
