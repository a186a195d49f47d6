//! The one way these tests run the CLI: as a process, with its input on stdin.

#![allow(dead_code)] // each test file uses its own part

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_appwrite-webhooks");

/// Runs the CLI with `args` and `stdin`; `APPWRITE_WEBHOOK_KEY` is `env_key` or unset.
pub fn cli(args: &[&str], stdin: &[u8], env_key: Option<&str>) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("APPWRITE_WEBHOOK_KEY");
    if let Some(key) = env_key {
        command.env("APPWRITE_WEBHOOK_KEY", key);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI");
    // A usage error exits before reading its input: a closed pipe then is not a failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// [`cli`] without a key in the environment.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    cli(args, stdin, None)
}

/// Bytes as text, for assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the process printed on stdout.
pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// What the process printed on stderr.
pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// A file with `contents` in this test process's own temporary folder.
pub fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("awh-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}
