//! `appwrite-webhooks`: sign, verify, send, receive and inspect Appwrite webhook deliveries.
//!
//! Exit codes (a pinned contract): 0 success; 1 the delivery does not verify (`verify`,
//! `inspect`) or the receiver answered >= 400 (`send`), reason on stderr; 2 usage errors
//! (including unreadable input and missing keys); 3 `send` could not reach the receiver.
//! `inbox`: 1 for an unknown id or one that is not a dead letter, 2 for a missing or unopenable
//! inbox, 3 when Redis or Postgres cannot be reached.

#![forbid(unsafe_code)]

mod capture;
mod conformance;
mod inbox;
mod inspect;
mod keys;
mod listen;
mod output;
mod scheme;
mod send;
mod sign;
mod verify;
mod web;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

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
    Sign(sign::SignArgs),
    /// Check a signature against a body; prints `valid` (exit 0) or a reason (exit 1).
    Verify(verify::VerifyArgs),
    /// POST a delivery exactly as Appwrite does: same headers, signature over the URL as given.
    Send(Box<send::SendArgs>),
    /// Receive deliveries on a local port, verify them and print each one.
    Listen(listen::ListenArgs),
    /// Explain which check a captured request fails, and why; names its delivery id.
    Inspect(inspect::InspectArgs),
    /// Inspect and operate a durable inbox: stats, list, show, retry, purge.
    Inbox(inbox::InboxArgs),
    /// Grade a running receiver (any language): genuine deliveries of every Appwrite version,
    /// forgeries and oversized bodies; exit 0 only when every required check passes.
    Conformance(Box<conformance::ConformanceArgs>),
}

#[derive(Args)]
pub(crate) struct Input {
    /// The webhook URL exactly as configured in Appwrite (the appwrite scheme only).
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// The raw body; standard input when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

impl Input {
    pub(crate) fn read_body(&self) -> Result<Vec<u8>, Failure> {
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

impl Failure {
    /// The label printed before the reason, and the exit code: the pinned contract.
    fn outcome(self) -> (&'static str, String, u8) {
        match self {
            Failure::Invalid(reason) => ("invalid", reason, 1),
            Failure::Rejected(reason) => ("error", reason, 1),
            Failure::Usage(reason) => ("error", reason, 2),
            Failure::Connection(reason) => ("error", reason, 3),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let style = output::Style::detect(cli.quiet);
    match run(cli.command, style) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let (label, reason, code) = failure.outcome();
            // Reasons can quote a request's headers or a receiver's words: one line, inert.
            eprintln!("{label}: {}", output::escape(&reason, output::Fit::Line));
            ExitCode::from(code)
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
        Command::Sign(args) => sign::run(args, style),
        Command::Verify(args) => verify::run(args),
        Command::Inbox(args) => block_on(inbox::run(args, style)),
        Command::Conformance(args) => block_on(conformance::run(*args, style)),
    }
}
