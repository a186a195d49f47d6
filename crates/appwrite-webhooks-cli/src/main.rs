//! `appwrite-webhooks`: sign, verify, send, receive and inspect Appwrite webhook deliveries.
//!
//! Exit codes (a pinned contract): 0 success; 1 the delivery does not verify (`verify`,
//! `inspect`) or the receiver answered >= 400 (`send`), reason on stderr; 2 usage errors
//! (including unreadable input and missing keys); 3 `send` could not reach the receiver.

#![forbid(unsafe_code)]

mod inspect;
mod keys;
mod listen;
mod output;
mod scheme;
mod send;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use appwrite_webhooks::{Scheme, Signature, sign, sign_generic, sign_timestamped};
use clap::{Args, Parser, Subcommand};

use keys::KeyArgs;
use scheme::SchemeArgs;

/// Sign, verify, send, receive and inspect Appwrite webhook deliveries.
#[derive(Parser)]
#[command(name = "appwrite-webhooks", version, about)]
struct Cli {
    /// Print only what is needed: results and errors.
    #[arg(long, short, global = true)]
    quiet: bool,
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
        #[command(flatten)]
        scheme: SchemeArgs,
        /// Timestamped scheme: the unix time to sign (default now, printed on stderr).
        #[arg(long, value_name = "SECS")]
        timestamp: Option<u64>,
    },
    /// Check a signature against a body; prints `valid` (exit 0) or a reason (exit 1).
    Verify {
        #[command(flatten)]
        keys: KeyArgs,
        #[command(flatten)]
        input: Input,
        /// The signature header's value to check.
        #[arg(long, value_name = "SIG")]
        signature: String,
        #[command(flatten)]
        scheme: SchemeArgs,
        /// Timestamped scheme: the X-Appwrite-Webhook-Timestamp value (required).
        #[arg(long, value_name = "SECS")]
        timestamp: Option<u64>,
        /// Timestamped scheme: how far the timestamp may be from now, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        tolerance: u64,
    },
    /// POST a delivery exactly as Appwrite does: same headers, signature over the URL as given.
    Send(Box<send::SendArgs>),
    /// Receive deliveries on a local port, verify them and print each one.
    Listen(listen::ListenArgs),
    /// Explain which check a captured request fails, and why.
    Inspect(inspect::InspectArgs),
}

#[derive(Args)]
struct Input {
    /// The webhook URL exactly as configured in Appwrite (the appwrite scheme only).
    #[arg(long)]
    url: Option<String>,
    /// The raw body; standard input when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

impl Input {
    fn read_body(&self) -> Result<Vec<u8>, Failure> {
        read_input(self.file.as_ref())
    }
}

/// The bytes of FILE, or of standard input when it is absent or `-`.
fn read_input(file: Option<&PathBuf>) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    match file {
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

/// How a command failed, which decides the exit code.
enum Failure {
    /// Exit 1: the delivery does not verify.
    Invalid(String),
    /// Exit 1: the receiver refused the delivery, or `inspect` found problems.
    Rejected(String),
    /// Exit 2: the command was called wrongly or its input could not be read.
    Usage(String),
    /// Exit 3: the receiver could not be reached.
    Connection(String),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = output::Style::detect(cli.quiet);
    match run(cli.command, style) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Invalid(reason)) => {
            eprintln!("invalid: {reason}");
            ExitCode::from(1)
        }
        Err(Failure::Rejected(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(2)
        }
        Err(Failure::Connection(reason)) => {
            eprintln!("error: {reason}");
            ExitCode::from(3)
        }
    }
}

/// A runtime for the networked commands only: `sign` and `verify` stay plain and fast.
fn block_on<F: std::future::Future<Output = Result<(), Failure>>>(
    future: F,
) -> Result<(), Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

fn run(command: Command, style: output::Style) -> Result<(), Failure> {
    match command {
        Command::Send(args) => block_on(send::run(*args, style)),
        Command::Listen(args) => block_on(listen::run(args, style)),
        Command::Inspect(args) => inspect::run(args, style),
        Command::Sign {
            keys,
            input,
            scheme,
            timestamp,
        } => {
            let key = keys
                .resolve()?
                .into_iter()
                .next()
                .ok_or_else(keys::missing)?;
            let url = scheme.signed_url(input.url.as_deref())?;
            if timestamp.is_some() && !matches!(scheme.scheme, Scheme::Timestamped { .. }) {
                return Err(Failure::Usage(
                    "--timestamp applies to --scheme timestamped only".into(),
                ));
            }
            let body = input.read_body()?;
            let signature = match scheme.scheme {
                Scheme::Appwrite => sign(key, url.unwrap_or_default(), &body),
                Scheme::Generic => sign_generic(key, &body),
                _ => {
                    let timestamp = timestamp.unwrap_or_else(|| {
                        let now = scheme::now();
                        if !style.quiet {
                            eprintln!("timestamp: {now}");
                        }
                        now
                    });
                    sign_timestamped(key, timestamp, &body)
                }
            };
            println!("{signature}");
            Ok(())
        }
        Command::Verify {
            keys,
            input,
            signature,
            scheme,
            timestamp,
            tolerance,
        } => {
            let mut keys = keys.resolve()?.into_iter();
            let first = keys.next().ok_or_else(keys::missing)?;
            let verifier = scheme
                .verifier(first, input.url.as_deref(), tolerance)?
                .with_keys(keys)
                .body_limit(usize::MAX);
            let timestamped = matches!(scheme.scheme, Scheme::Timestamped { .. });
            if timestamped != timestamp.is_some() {
                return Err(Failure::Usage(
                    "--timestamp is required with --scheme timestamped, and only there".into(),
                ));
            }
            let signature = Signature::parse(scheme.scheme, signature.trim().as_bytes())
                .map_err(|e| Failure::Invalid(format!("malformed signature: {e}")))?;
            let body = input.read_body()?;
            match timestamp {
                Some(timestamp) => verifier.verify_signature_at(&signature, timestamp, &body),
                None => verifier.verify_signature(&signature, &body),
            }
            .map_err(|e| Failure::Invalid(e.to_string()))?;
            println!("valid");
            Ok(())
        }
    }
}
