//! The pinned `sign` / `verify` contract, exercised as a process.

mod common;

use common::{cli, stderr, stdout, temp_file};

#[test]
fn sign_matches_every_vector_from_stdin_and_file() {
    for v in testkit::signature_vectors() {
        // Keys here are text; vectors with binary keys are covered by the library's tests.
        let Ok(key) = std::str::from_utf8(&v.key) else {
            continue;
        };
        let out = cli(&["sign", "--key", key, "--url", &v.url], &v.body, None);
        if key.is_empty() {
            // An empty key is refused (see `empty_keys_are_usage_errors`); the library's `sign`
            // still reproduces this vector.
            assert_eq!(out.status.code(), Some(2), "{}", v.name);
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{}: {}", v.name, stderr(&out));
        assert_eq!(stdout(&out), format!("{}\n", v.signature), "{}", v.name);

        let file = temp_file("body", &v.body);
        let out = cli(
            &[
                "sign",
                "--key",
                key,
                "--url",
                &v.url,
                file.to_str().unwrap(),
            ],
            b"",
            None,
        );
        assert_eq!(
            stdout(&out),
            format!("{}\n", v.signature),
            "{} from a file",
            v.name
        );
    }
}

#[test]
fn verify_accepts_every_delivery_and_rejects_changes() {
    for d in testkit::deliveries().iter().step_by(7) {
        let sig = d.header("X-Appwrite-Webhook-Signature");
        let args = [
            "verify",
            "--key",
            &d.signature_key,
            "--url",
            &d.url,
            "--signature",
            sig,
        ];
        let ok = cli(&args, d.body.as_bytes(), None);
        assert_eq!(ok.status.code(), Some(0), "{}: {}", d.name, stderr(&ok));
        assert_eq!(stdout(&ok), "valid\n");

        let reencoded = d.body.replace("\\/", "/");
        if reencoded != d.body {
            let bad = cli(&args, reencoded.as_bytes(), None);
            assert_eq!(bad.status.code(), Some(1), "{}", d.name);
        }
    }
}

#[test]
fn verify_exit_codes_and_reasons() {
    let url = "https://example.com/hook";
    let sig = "73HVjq6EFDqxMRzMDoRH96HHWAM="; // "secret", empty body
    let verify = |keys: &[&str], sig: &str| {
        let mut args = vec!["verify", "--url", url, "--signature", sig];
        for key in keys {
            args.extend(["--key", key]);
        }
        cli(&args, b"", None)
    };
    let ok = verify(&["secret"], sig);
    assert_eq!(
        (ok.status.code(), stdout(&ok).as_str()),
        (Some(0), "valid\n")
    );

    let wrong_key = verify(&["nope"], sig);
    assert_eq!(wrong_key.status.code(), Some(1));
    assert!(stdout(&wrong_key).is_empty());
    let reason = stderr(&wrong_key);
    assert_eq!(reason.lines().count(), 1, "{reason}");
    assert!(reason.contains("does not match"), "{reason}");

    let malformed = verify(&["secret"], "zz");
    assert_eq!(malformed.status.code(), Some(1));
    assert!(stderr(&malformed).contains("malformed"));

    // Rotation: any of several keys.
    assert_eq!(verify(&["new", "secret"], sig).status.code(), Some(0));

    // Usage errors exit 2.
    let no_sig = cli(&["verify", "--key", "secret", "--url", url], b"", None);
    assert_eq!(no_sig.status.code(), Some(2));
    let no_key = cli(&["verify", "--url", url, "--signature", sig], b"", None);
    assert_eq!(no_key.status.code(), Some(2));
    assert!(stderr(&no_key).contains("APPWRITE_WEBHOOK_KEY"));
    let no_file = cli(
        &["sign", "--key", "k", "--url", url, "/nonexistent/body.json"],
        b"",
        None,
    );
    assert_eq!(no_file.status.code(), Some(2));
    let unknown = cli(&["frobnicate"], b"", None);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn keys_from_env_and_files() {
    let url = "https://example.com/hook";
    let sig = "73HVjq6EFDqxMRzMDoRH96HHWAM=";
    let from_env = cli(
        &["verify", "--url", url, "--signature", sig],
        b"",
        Some("secret"),
    );
    assert_eq!(from_env.status.code(), Some(0), "{}", stderr(&from_env));

    let file = temp_file("keys", b"old-key\r\nsecret\n");
    let from_file = cli(
        &[
            "verify",
            "--key-file",
            file.to_str().unwrap(),
            "--url",
            url,
            "--signature",
            sig,
        ],
        b"",
        None,
    );
    assert_eq!(from_file.status.code(), Some(0), "{}", stderr(&from_file));

    let signed = cli(&["sign", "--url", url, "-"], b"", Some("secret"));
    assert_eq!(stdout(&signed), format!("{sig}\n"));
}

/// HMAC with an empty key is public: an empty key from any source is a usage error (exit 2) for
/// every command that takes keys, and nothing is signed, verified or received with it.
#[test]
fn empty_keys_are_usage_errors() {
    let url = "https://example.com/hook";
    let sig = "73HVjq6EFDqxMRzMDoRH96HHWAM=";
    let empty_file = temp_file("empty-keys", b"\n\r\n");
    let empty_file = empty_file.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &["sign", "--url", url, "-"],
        &["verify", "--url", url, "--signature", sig, "-"],
        &["listen", "--url", url, "--port", "0"],
    ];
    for command in commands {
        let sources: [(Vec<&str>, Option<&str>); 3] = [
            (vec!["--key", ""], None),
            (vec!["--key-file", empty_file], None),
            (vec![], Some("")),
        ];
        for (flags, env) in sources {
            let args = [command, &flags].concat();
            let out = cli(&args, b"", env);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{args:?} env {env:?}: {}",
                stderr(&out)
            );
            assert!(stderr(&out).contains("empty"), "{args:?}: {}", stderr(&out));
            assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        }
    }
}

#[test]
fn other_schemes_sign_and_verify_the_independent_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testkit/data/scheme-vectors.json"
    );
    let vectors: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for v in &vectors {
        let (key, body) = (v["key"].as_str().unwrap(), v["body"].as_str().unwrap());
        let timestamp = v["timestamp"].to_string();
        let out = cli(
            &[
                "sign",
                "--scheme",
                "timestamped",
                "--timestamp",
                &timestamp,
                "-",
            ],
            body.as_bytes(),
            Some(key),
        );
        assert_eq!(
            stdout(&out).trim(),
            v["timestamped_signature"],
            "{}",
            stderr(&out)
        );
        let out = cli(&["sign", "--scheme", "generic"], body.as_bytes(), Some(key));
        assert_eq!(
            stdout(&out).trim(),
            v["generic_signature"],
            "{}",
            stderr(&out)
        );
        let out = cli(
            &[
                "verify",
                "--scheme",
                "generic",
                "--signature",
                v["generic_signature"].as_str().unwrap(),
            ],
            body.as_bytes(),
            Some(key),
        );
        assert_eq!(
            (out.status.code(), stdout(&out)),
            (Some(0), "valid\n".to_owned())
        );
    }
}

/// Released Appwrite (≤ 1.9.6) signs `rawurldecode(url)`: `sign --decode-url` reproduces each
/// release's signature for a URL with percent escapes (the default output stays the URL as
/// typed, as pinned), `verify` accepts it, and `inspect` says which form matched.
#[test]
fn percent_decoded_urls_of_every_release() {
    let mut checked = 0;
    for d in testkit::versions::versioned_deliveries()
        .into_iter()
        .filter(|d| d.url.contains('%'))
    {
        // One delivery per release is enough for the processes; the library test covers all.
        if checked > 0 && !d.name.contains("teams.teamId.create") {
            continue;
        }
        let key = d.signature_key.as_str();
        let expected = d
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("X-Appwrite-Webhook-Signature"))
            .unwrap()
            .1
            .clone();
        let body = d.body.as_bytes();
        let decoded = cli(
            &["sign", "--key", key, "--url", &d.url, "--decode-url", "-"],
            body,
            None,
        );
        assert_eq!(stdout(&decoded), format!("{expected}\n"), "{}", d.label());
        let typed = cli(&["sign", "--key", key, "--url", &d.url, "-"], body, None);
        assert_eq!(typed.status.code(), Some(0));
        assert_ne!(
            stdout(&typed),
            format!("{expected}\n"),
            "the pinned default signs the URL as typed"
        );
        let verified = cli(
            &[
                "verify",
                "--key",
                key,
                "--url",
                &d.url,
                "--signature",
                &expected,
                "-",
            ],
            body,
            None,
        );
        assert_eq!(
            verified.status.code(),
            Some(0),
            "{}: {}",
            d.label(),
            stderr(&verified)
        );
        assert_eq!(stdout(&verified), "valid\n");
        let headers: serde_json::Map<String, serde_json::Value> = d
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        let capture = serde_json::json!({ "url": d.url, "headers": headers, "body": d.body });
        let inspected = cli(
            &["inspect", "--key", key, "-"],
            capture.to_string().as_bytes(),
            None,
        );
        assert_eq!(inspected.status.code(), Some(0), "{}", stdout(&inspected));
        assert!(
            stdout(&inspected).contains("percent-decoded URL (Appwrite ≤ 1.9.6)"),
            "{}",
            stdout(&inspected)
        );
        checked += 1;
    }
    assert!(checked >= 2, "{checked}");
}
