#!/usr/bin/env bash
# Keeps the repository's copy of Appwrite's data equal to ../shared/appwrite, where new data (a new
# Appwrite version, new deliveries or alerts) appears first.
#
#   scripts/sync-shared.sh          copy ../shared/appwrite into crates/testkit/data/appwrite
#                                   (and the alerts the CLI embeds), deleting what is gone there
#   scripts/sync-shared.sh --check  exit 1 if the copy differs (what .ci/run does), 0 if equal
#                                   or if ../shared is not there (a clone on its own)
#
# The tests read only the copy, so a clone with nothing beside it passes them. After a sync that
# brought a new version, run `python3 scripts/gen_conformance_data.py` (a CLI test says so).
set -euo pipefail
cd "$(dirname "$0")/.."

shared=../shared/appwrite
copy=crates/testkit/data/appwrite
# `conformance --scheme alert` embeds the alerts with include_str!, so the CLI's package has its
# own copy; a test keeps it equal to testkit's.
cli_alerts=crates/appwrite-webhooks-cli/data/appwrite-alerts.json

if [ ! -d "$shared" ]; then
    echo "sync-shared: no $shared beside the repository; the copy in $copy stands alone"
    exit 0
fi

case "${1:-}" in
--check)
    status=0
    if ! diff -r "$shared" "$copy"; then
        status=1
    fi
    if ! cmp -s "$shared/alerts/alerts.json" "$cli_alerts"; then
        echo "$cli_alerts differs from $shared/alerts/alerts.json"
        status=1
    fi
    if [ "$status" -ne 0 ]; then
        echo "sync-shared: $copy differs from $shared: run scripts/sync-shared.sh and commit" >&2
    fi
    exit "$status"
    ;;
"")
    rm -rf "$copy"
    mkdir -p "$(dirname "$copy")"
    cp -R "$shared" "$copy"
    cp "$shared/alerts/alerts.json" "$cli_alerts"
    echo "sync-shared: $copy is now a copy of $shared"
    git status --short -- "$copy" "$cli_alerts"
    ;;
*)
    echo "usage: scripts/sync-shared.sh [--check]" >&2
    exit 2
    ;;
esac
