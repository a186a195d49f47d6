//! The opt-in schemes through `send`, `listen`, `sign` and `verify`, run as processes.

mod common;

use common::{Listener, run, text};

#[test]
fn other_schemes_send_to_listen_and_pin_their_errors() {
    const KEY: &str = "whsec_cli_schemes";
    let envelope = r#"{"$id":"evt_cli_1","event":"users.u1.create","timestamp":"2025-01-15T10:30:00.000Z","payload":{"$id":"u1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"Zo\u00eb","registration":"","status":true,"labels":[],"passwordUpdate":"","email":"a@b.c","phone":"","emailVerification":true,"phoneVerification":false,"mfa":false,"prefs":[],"targets":[],"accessedAt":""}}"#;
    let mut listener = Listener::start_with(&["--key", KEY, "--scheme", "timestamped"]);
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--url",
            &listener.address(),
            "-",
        ],
        envelope.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = listener.next_json();
    assert_eq!(seen["status"], 204, "{seen}");
    assert_eq!(seen["kind"], "User", "{seen}");
    assert_eq!(seen["event"], "users.u1.create", "{seen}");

    // An old timestamp: the listener refuses it, and send reports the 401 with exit 1.
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--url",
            &listener.address(),
            "-",
        ],
        envelope.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("401"), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("outside the 300 s tolerance"),
        "{}",
        text(&out.stdout)
    );
    drop(listener);

    let generic = r#"{"id":"evt_abc123","type":"user.created","created_at":"2023-12-01T15:30:00Z","data":{"id":"usr_789"}}"#;
    let mut listener = Listener::start_with(&["--key", KEY, "--scheme", "generic"]);
    let out = run(
        &[
            "send",
            "--key",
            KEY,
            "--scheme",
            "generic",
            "--event",
            "user.created",
            "--to",
            &listener.address(),
            "-",
        ],
        generic.as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let seen = listener.next_json();
    assert_eq!(
        (seen["status"].as_u64(), seen["kind"].as_str()),
        (Some(204), Some("Unknown")),
        "{seen}"
    );
    drop(listener);

    // sign and verify agree, with the pinned exit codes.
    let sig = run(
        &["sign", "--key", KEY, "--scheme", "generic", "-"],
        generic.as_bytes(),
    );
    assert_eq!(sig.status.code(), Some(0));
    let sig = text(&sig.stdout).trim().to_owned();
    assert!(sig.starts_with("sha256="), "{sig}");
    let verify = |key: &str| {
        let args = [
            "verify",
            "--key",
            key,
            "--scheme",
            "generic",
            "--signature",
            &sig,
            "-",
        ];
        run(&args, generic.as_bytes())
    };
    let ok = verify(KEY);
    assert_eq!(
        (ok.status.code(), text(&ok.stdout)),
        (Some(0), "valid\n".to_owned())
    );
    assert_eq!(verify("other").status.code(), Some(1));

    let sig = run(
        &[
            "sign",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "-",
        ],
        b"{}",
    );
    let sig = text(&sig.stdout).trim().to_owned();
    assert_eq!(sig.len(), 64);
    let old = run(
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--signature",
            &sig,
            "-",
        ],
        b"{}",
    );
    assert_eq!(old.status.code(), Some(1));
    assert!(
        text(&old.stderr).contains("tolerance"),
        "{}",
        text(&old.stderr)
    );
    let wide = run(
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--timestamp",
            "1700000000",
            "--tolerance",
            "999999999",
            "--signature",
            &sig,
            "-",
        ],
        b"{}",
    );
    assert_eq!(wide.status.code(), Some(0), "{}", text(&wide.stderr));

    // Usage errors: exit 2.
    for args in [
        &[
            "verify",
            "--key",
            KEY,
            "--scheme",
            "timestamped",
            "--signature",
            &sig,
            "-",
        ][..],
        &["sign", "--key", KEY, "--scheme", "sha1", "-"][..],
        &["sign", "--key", KEY, "-"][..],
        &[
            "sign",
            "--key",
            KEY,
            "--scheme",
            "generic",
            "--timestamp",
            "1",
            "-",
        ][..],
    ] {
        assert_eq!(run(args, b"{}").status.code(), Some(2), "{args:?}");
    }
}
