//! `listen --http-user/--http-pass-file`: HTTP Basic credentials as Appwrite sends them,
//! checked by a real `listen` process on loopback.

mod common;

use common::{Listener, cli, stderr, temp_file};
use testkit::auth_suite::{self, PASSWORDS, USER};

#[test]
fn listen_requires_the_credentials_of_the_password_file() {
    // One accepted password per line: the rotation's new and old.
    let file = temp_file(
        "http-pass",
        format!("{}\r\n\n{}\n", PASSWORDS[0], PASSWORDS[1]).as_bytes(),
    );
    let listener = Listener::start_with(&[
        "--key",
        auth_suite::KEY,
        "--url",
        auth_suite::URL,
        "--http-user",
        USER,
        "--http-pass-file",
        file.to_str().unwrap(),
    ]);
    let addr = listener
        .address()
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // listen's own realm is the default one.
    runtime.block_on(async {
        let sent = auth_suite::delivery();
        let ok =
            auth_suite::post(addr, &sent, &[&auth_suite::basic(USER, PASSWORDS[1])], true).await;
        assert_eq!(ok.status, 204, "{ok:?}");
        for (case, values) in [
            ("missing", vec![]),
            ("wrong", vec![auth_suite::basic(USER, "nope")]),
            ("malformed", vec!["Basic %%%".to_owned()]),
        ] {
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let answer = auth_suite::post(addr, &sent, &values, false).await;
            assert_eq!(answer.status, 401, "{case}: {answer:?}");
            assert_eq!(
                answer.header("www-authenticate"),
                Some(r#"Basic realm="appwrite-webhooks", charset="UTF-8""#),
                "{case}"
            );
        }
    });
}

#[test]
fn credentials_flags_come_together_and_are_not_empty() {
    let alone = cli(
        &[
            "listen",
            "--key",
            "k",
            "--url",
            "http://x/",
            "--http-user",
            "u",
        ],
        b"",
        None,
    );
    assert_eq!(alone.status.code(), Some(2), "{}", stderr(&alone));
    let empty = temp_file("http-pass-empty", b"\n\n");
    let empty = cli(
        &[
            "listen",
            "--key",
            "k",
            "--url",
            "http://x/",
            "--http-user",
            "u",
            "--http-pass-file",
            empty.to_str().unwrap(),
            "--port",
            "0",
        ],
        b"",
        None,
    );
    assert_eq!(empty.status.code(), Some(2), "{}", stderr(&empty));
    assert!(
        stderr(&empty).contains("must not be empty"),
        "{}",
        stderr(&empty)
    );
}
