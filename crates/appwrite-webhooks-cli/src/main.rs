//! `appwrite-webhooks`: sign and verify Appwrite webhook deliveries from the shell.
//!
//! Exit codes (a pinned contract): 0 success, 1 the signature does not verify (reason on
//! stderr), 2 usage errors (including unreadable input and missing keys).

#![forbid(unsafe_code)]

mod keys;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use appwrite_webhooks::{Signature, Verifier, sign};
use clap::{Args, Parser, Subcommand};

use keys::KeyArgs;

/// Sign and verify Appwrite webhook deliveries.
#[derive(Parser)]
#[command(name = "appwrite-webhooks", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the X-Appwrite-Webhook-Signature for a body posted to URL.
    Sign {
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        input: Input,
    },
    /// Check a signature against a body; prints `valid` (exit 0) or a reason (exit 1).
    Verify {
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        input: Input,
        /// The X-Appwrite-Webhook-Signature value to check.
        #[arg(long, value_name = "SIG")]
        signature: String,
    },
}

#[derive(Args)]
struct Input {
    /// The webhook URL exactly as configured in Appwrite.
    #[arg(long)]
    url: String,
    /// The raw body; standard input when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

impl Input {
    fn read_body(&self) -> Result<Vec<u8>, Failure> {
        let mut body = Vec::new();
        match &self.file {
            Some(path) if path.as_os_str() != "-" => {
                body = std::fs::read(path)
                    .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
            }
            _ => {
                std::io::stdin()
                    .read_to_end(&mut body)
                    .map_err(|e| Failure::Usage(format!("cannot read standard input: {e}")))?;
            }
        }
        Ok(body)
    }
}

/// How a command failed, which decides the exit code.
enum Failure {
    /// Exit 1: the delivery does not verify.
    Invalid(String),
    /// Exit 2: the command was called wrongly or its input could not be read.
    Usage(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(reason)) => {
            eprintln!("invalid: {reason}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(2)
        }
    }
}

fn run(command: Command) -> Result<(), Failure> {
    match command {
        Command::Sign { keys, input } => {
            let key = keys
                .resolve()?
                .into_iter()
                .next()
                .ok_or_else(keys::missing)?;
            let body = input.read_body()?;
            println!("{}", sign(key, &input.url, &body));
            Ok(())
        }
        Command::Verify {
            keys,
            input,
            signature,
        } => {
            let mut keys = keys.resolve()?.into_iter();
            let first = keys.next().ok_or_else(keys::missing)?;
            let verifier = Verifier::new(first, input.url.as_str())
                .with_keys(keys)
                .body_limit(usize::MAX);
            let signature: Signature = signature
                .trim()
                .parse()
                .map_err(|e| Failure::Invalid(format!("malformed signature: {e}")))?;
            let body = input.read_body()?;
            verifier
                .verify_signature(&signature, &body)
                .map_err(|e| Failure::Invalid(e.to_string()))?;
            println!("valid");
            Ok(())
        }
    }
}
