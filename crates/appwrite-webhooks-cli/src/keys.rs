//! Where signing keys come from: flags, files, or the environment.

use std::path::PathBuf;

use appwrite_webhooks::SigningKey;
use clap::Args;

use crate::Failure;

/// The environment variable read when no `--key` or `--key-file` is given.
pub const KEY_ENV: &str = "APPWRITE_WEBHOOK_KEY";

#[derive(Args)]
pub struct KeyArgs {
    /// A signing key; repeat for key rotation. Prefer --key-file or APPWRITE_WEBHOOK_KEY: flags
    /// show up in process lists.
    #[arg(long = "key", value_name = "KEY")]
    keys: Vec<String>,
    /// A file holding signing keys, one per line; repeatable.
    #[arg(long = "key-file", value_name = "PATH")]
    key_files: Vec<PathBuf>,
}

impl KeyArgs {
    /// Keys in order: `--key` flags, then `--key-file` lines, then `APPWRITE_WEBHOOK_KEY` only
    /// if neither flag was given.
    ///
    /// An empty `--key` or `APPWRITE_WEBHOOK_KEY` is a usage error: HMAC with an empty key is
    /// public, so it would verify forgeries. Empty lines of a key file are skipped.
    pub fn resolve(&self) -> Result<Vec<SigningKey>, Failure> {
        if self.keys.iter().any(String::is_empty) {
            return Err(empty("--key"));
        }
        let mut keys: Vec<SigningKey> = self
            .keys
            .iter()
            .map(|k| SigningKey::from(k.as_str()))
            .collect();
        for path in &self.key_files {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::Usage(format!("cannot read key file {}: {e}", path.display()))
            })?;
            // Strip line endings only: a key's own spaces are part of it.
            let before = keys.len();
            keys.extend(
                text.lines()
                    .map(|line| line.trim_end_matches('\r'))
                    .filter(|line| !line.is_empty())
                    .map(SigningKey::from),
            );
            if keys.len() == before {
                return Err(empty(&format!("key file {}", path.display())));
            }
        }
        if self.keys.is_empty()
            && self.key_files.is_empty()
            && let Some(key) = std::env::var_os(KEY_ENV)
        {
            let key = key
                .into_string()
                .map_err(|_| Failure::Usage(format!("{KEY_ENV} is not valid UTF-8")))?;
            if key.is_empty() {
                return Err(empty(KEY_ENV));
            }
            keys.push(SigningKey::from(key));
        }
        Ok(keys)
    }
}

impl KeyArgs {
    /// The first key, for commands that sign or send with one.
    pub fn first(&self) -> Result<SigningKey, Failure> {
        self.resolve()?.into_iter().next().ok_or_else(missing)
    }
}

fn empty(source: &str) -> Failure {
    Failure::Usage(format!(
        "{source} is empty: an empty signing key would accept forged deliveries"
    ))
}

pub fn missing() -> Failure {
    Failure::Usage(format!(
        "no signing key: pass --key, --key-file or set {KEY_ENV}"
    ))
}
