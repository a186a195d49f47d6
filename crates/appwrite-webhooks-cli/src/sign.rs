//! `sign`: print the signature header's value for a body (a pinned contract).

use appwrite_webhooks::{
    Scheme, sign, sign_alert, sign_generic, sign_rawurldecoded, sign_timestamped,
};
use clap::Args;

use crate::keys::KeyArgs;
use crate::output::Style;
use crate::scheme::{self, SchemeArgs};
use crate::{Failure, Input};

#[derive(Args)]
pub struct SignArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Timestamped and alert schemes: the unix time to sign (default now, printed on stderr).
    #[arg(long, value_name = "SECS")]
    timestamp: Option<u64>,
    /// Sign over the percent-decoded URL (PHP's rawurldecode), as every Appwrite release up to
    /// and including 1.9.6 does; by default the URL is signed as typed, as unreleased main
    /// does. The two differ only for a URL with `%` escapes.
    #[arg(long)]
    decode_url: bool,
}

pub fn run(args: SignArgs, style: Style) -> Result<(), Failure> {
    let key = args.keys.first()?;
    let url = args.scheme.signed_url(args.input.url.as_deref())?;
    if args.timestamp.is_some() && !args.scheme.timestamped() {
        return Err(Failure::Usage(
            "--timestamp applies to --scheme timestamped and --scheme alert only".into(),
        ));
    }
    if args.decode_url && args.scheme.scheme != Scheme::Appwrite {
        return Err(Failure::Usage(
            "--decode-url applies to the appwrite scheme only".into(),
        ));
    }
    let body = args.input.read_body()?;
    let signature = match args.scheme.scheme {
        Scheme::Appwrite if args.decode_url => {
            sign_rawurldecoded(key, url.unwrap_or_default(), &body)
        }
        Scheme::Appwrite => sign(key, url.unwrap_or_default(), &body),
        Scheme::Generic => sign_generic(key, &body),
        scheme => {
            let timestamp = args.timestamp.unwrap_or_else(|| {
                let now = scheme::now();
                if !style.quiet {
                    eprintln!("timestamp: {now}");
                }
                now
            });
            match scheme {
                Scheme::Alert { .. } => sign_alert(key, timestamp, &body),
                _ => sign_timestamped(key, timestamp, &body),
            }
        }
    };
    println!("{signature}");
    Ok(())
}
