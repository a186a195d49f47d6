#!/usr/bin/env python3
"""Writes crates/appwrite-webhooks-cli/data/appwrite-deliveries.json, the genuine deliveries the
`conformance` command re-signs and sends: every release in crates/testkit/data/appwrite/versions/ (the
non-local files) and unreleased main (deliveries.json there), the repository's copy of
../shared/appwrite.

Per version: its URL-signing rule, and per delivery its name, headers in Appwrite's order (without
Content-Length and the signature, which the command computes for the receiver's URL and key) and
the exact body. Run it after scripts/sync-shared.sh brings in a new version; a CLI test fails until then.
"""
import glob
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repository's copy of ../shared/appwrite (scripts/sync-shared.sh keeps it up to date).
DATA = os.path.join(ROOT, "crates", "testkit", "data", "appwrite")
OUT = os.path.join(ROOT, "crates", "appwrite-webhooks-cli", "data", "appwrite-deliveries.json")
DROP = {"content-length", "x-appwrite-webhook-signature"}


def entries(items):
    return [
        {
            "name": item["name"],
            "headers": [[k, v] for k, v in item["headers"].items() if k.lower() not in DROP],
            "body": item["body"],
        }
        for item in items
    ]


def version_key(path):
    name = os.path.basename(path)[: -len(".json")]
    return tuple(int(part) for part in name.split("."))


versions = []
for path in sorted(glob.glob(os.path.join(DATA, "versions", "*.json")), key=lambda p: p):
    if path.endswith(".local.json"):
        continue
    items = json.load(open(path, encoding="utf-8"))
    rules = {item["signing_url_rule"] for item in items}
    assert len(rules) == 1, (path, rules)
    versions.append(
        {
            "version": items[0]["appwrite_version"],
            "signs": rules.pop(),
            "deliveries": entries(items),
        }
    )
versions.sort(key=lambda v: tuple(int(p) for p in v["version"].split(".")))
main = json.load(open(os.path.join(DATA, "deliveries.json"), encoding="utf-8"))
versions.append({"version": "main", "signs": "raw", "deliveries": entries(main)})

with open(OUT, "w", encoding="utf-8") as out:
    json.dump({"versions": versions}, out, ensure_ascii=False, separators=(",", ":"))
    out.write("\n")
print(OUT, os.path.getsize(OUT), "bytes,", sum(len(v["deliveries"]) for v in versions), "deliveries")
