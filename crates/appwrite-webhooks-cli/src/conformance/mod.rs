//! `conformance`: grades any receiver of Appwrite webhooks, in any language, black-box. It
//! sends the receiver at `--to` genuine deliveries of every Appwrite version the crate knows
//! (re-signed for the receiver's URL and key, with each version's URL rule and User-Agent),
//! forgeries, oversized bodies and optional checks, and reports what came back and what it
//! means. With `--scheme alert` it grades a receiver of Appwrite's alerts instead: genuine
//! alerts signed now, and forged, stale, future-dated and unsigned ones.

mod alerts;
mod checks;
mod data;
mod forgeries;
mod plan;
mod reencode;
mod report;
mod wire;

use std::io::{IsTerminal as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::Failure;
use crate::keys::KeyArgs;
use crate::output::Style;
use plan::{Plan, host};
use report::{Outcome, Verdict, judge};
use wire::Answer;

/// Unanswered requests in a row after which the rest are not sent.
const GIVE_UP_AFTER: usize = 3;

#[derive(Args)]
pub struct ConformanceArgs {
    /// The receiver's address: `host:port` or `http://host:port`. Nothing else is contacted.
    #[arg(long, value_name = "ADDR")]
    to: String,
    /// The webhook URL exactly as configured in Appwrite for this receiver: deliveries are
    /// signed for it and posted to its path and query.
    #[arg(long)]
    url: String,
    #[command(flatten)]
    keys: KeyArgs,
    /// What the receiver receives: `appwrite` (event deliveries, the default) or `alert`
    /// (Appwrite's alerts, signed with the alert channel's secret; --url gives the path only).
    #[arg(long, value_name = "SCHEME", default_value = "appwrite", value_parser = ["appwrite", "alert"])]
    scheme: String,
    /// Send the genuine deliveries of this Appwrite version only (`1.4.14`, …, `main`), or `all`.
    #[arg(long, value_name = "V", default_value = "all")]
    appwrite_version: String,
    /// Print the report as JSON (a stable format for CI) instead of text.
    #[arg(long)]
    json: bool,
    /// Also write the report as JUnit XML to FILE, for CI dashboards.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Seconds to wait for each answer (Appwrite waits 15).
    #[arg(long, value_name = "SECS", default_value_t = 15)]
    timeout: u64,
    /// Seconds the stalled-body check waits for the receiver to answer or close.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    stall_seconds: u64,
    /// Size of the oversized bodies, in bytes (default: one over the crate's 5 MiB limit).
    #[arg(long, value_name = "BYTES", default_value_t = appwrite_webhooks::DEFAULT_BODY_LIMIT + 1)]
    oversized_bytes: usize,
    /// Skip the optional checks (a replay, a stalled body).
    #[arg(long)]
    no_optional: bool,
    /// Stop after this many seconds in all; the checks not sent by then fail.
    #[arg(long, value_name = "SECS", default_value_t = 900)]
    max_seconds: u64,
}

/// The address to connect to: `host:port`, with or without `http://` (and a path, ignored).
async fn address(to: &str) -> Result<SocketAddr, Failure> {
    if to.starts_with("https://") {
        return Err(Failure::Usage(
            "--to must be a plain HTTP address (host:port): run the receiver on a local port"
                .into(),
        ));
    }
    let bare = to.strip_prefix("http://").unwrap_or(to);
    let authority = bare.split(['/', '?']).next().unwrap_or(bare);
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    tokio::net::lookup_host(&authority)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Failure::Usage(format!(
                "--to {to:?} is not a host:port this machine resolves"
            ))
        })
}

pub async fn run(args: ConformanceArgs, style: Style) -> Result<(), Failure> {
    let key = args.keys.first()?;
    let key = String::from_utf8(key.expose_bytes().to_vec())
        .map_err(|_| Failure::Usage("the key must be text, as Appwrite's keys are".into()))?;
    if !args.url.starts_with("http://") && !args.url.starts_with("https://") {
        return Err(Failure::Usage(format!(
            "--url {:?} is not an absolute http(s) URL",
            args.url
        )));
    }
    let addr = address(&args.to).await?;
    let alerts;
    let versions: Vec<data::Version>;
    let checks: Vec<plan::Check> = if args.scheme == "alert" {
        if args.appwrite_version != "all" {
            return Err(Failure::Usage(
                "--appwrite-version applies to the appwrite scheme only".into(),
            ));
        }
        alerts = data::alerts();
        alerts::all(&alerts::AlertPlan {
            url: &args.url,
            key: &key,
            alerts: &alerts,
            now: crate::scheme::now(),
        })
    } else {
        versions = selected_versions(&args.appwrite_version)?;
        let all = data::versions();
        let main = all
            .iter()
            .find(|v| v.version == "main")
            .expect("main is embedded");
        checks::all(&Plan {
            url: &args.url,
            key: &key,
            versions: &versions,
            main,
            oversized: args.oversized_bytes,
            run: plan::run_prefix(),
        })
    };
    let checks: Vec<plan::Check> = checks
        .into_iter()
        .filter(|c| c.required || !args.no_optional)
        .collect();
    let alert_scheme = args.scheme == "alert";
    run_checks(args, style, addr, &checks, alert_scheme).await
}

/// The genuine deliveries of the versions `--appwrite-version` asks for.
fn selected_versions(asked: &str) -> Result<Vec<data::Version>, Failure> {
    let all = data::versions();
    let selected: Vec<&data::Version> = all
        .iter()
        .filter(|v| asked == "all" || v.version == asked)
        .collect();
    if selected.is_empty() {
        return Err(Failure::Usage(format!(
            "--appwrite-version {:?}: known versions are {} (or all)",
            asked,
            data::names().join(", ")
        )));
    }
    Ok(selected
        .into_iter()
        .map(|v| data::Version {
            version: v.version.clone(),
            rule: v.rule,
            deliveries: v
                .deliveries
                .iter()
                .map(|d| data::Genuine {
                    name: d.name.clone(),
                    headers: d.headers.clone(),
                    body: d.body.clone(),
                })
                .collect(),
        })
        .collect())
}

/// Sends the checks one at a time and reports.
async fn run_checks(
    args: ConformanceArgs,
    style: Style,
    addr: SocketAddr,
    checks: &[plan::Check],
    alert_scheme: bool,
) -> Result<(), Failure> {
    let host = host(&args.url);
    let timeout = Duration::from_secs(args.timeout.max(1));
    let stall = Duration::from_secs(args.stall_seconds.max(1));
    let progress = std::io::stderr().is_terminal() && !style.quiet;
    if !style.quiet {
        eprintln!(
            "sending {} requests to {addr}, one at a time, each answered within {} s",
            checks.iter().filter(|c| c.request.is_ok()).count(),
            timeout.as_secs()
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(args.max_seconds.max(1));
    // A receiver that has stopped answering is not waited for 551 times.
    let mut silent = 0;
    let mut outcomes = Vec::with_capacity(checks.len());
    for (i, check) in checks.iter().enumerate() {
        if progress {
            eprint!("\r\x1b[2K[{}/{}] {}", i + 1, checks.len(), check.id);
            let _ = std::io::stderr().flush();
        }
        let Ok(request) = &check.request else {
            outcomes.push(Outcome {
                check,
                answer: None,
                verdict: Verdict::Skip,
            });
            continue;
        };
        let wait = if matches!(check.expect, plan::Expect::Act) {
            stall
        } else {
            timeout
        };
        let answer = if silent >= GIVE_UP_AFTER {
            Answer::NotSent("the receiver stopped answering")
        } else if std::time::Instant::now() >= deadline {
            Answer::NotSent("the --max-seconds budget was spent")
        } else {
            wire::exchange(addr, &host, request, wait).await
        };
        silent = match (&answer, check.expect) {
            (Answer::Unreachable(_), _) => silent + 1,
            (Answer::TimedOut, expect) if expect != plan::Expect::Act => silent + 1,
            (Answer::NotSent(_), _) => silent,
            _ => 0,
        };
        if i == 0
            && let Answer::Unreachable(error) = &answer
        {
            if progress {
                eprintln!();
            }
            return Err(Failure::Connection(format!(
                "cannot reach the receiver at {addr}: {error}"
            )));
        }
        let verdict = match answer {
            Answer::Unreachable(_) | Answer::NotSent(_) => Verdict::Fail,
            _ => judge(check, &answer),
        };
        outcomes.push(Outcome {
            check,
            answer: Some(answer),
            verdict,
        });
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    let target = addr.to_string();
    if args.json {
        println!("{}", report::json(&outcomes, &target, &args.url));
    } else {
        report::print_text(&outcomes, &target, &args.url, style, alert_scheme);
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, report::junit(&outcomes, &target))
            .map_err(|e| Failure::Usage(format!("cannot write {}: {e}", path.display())))?;
    }
    let failed = outcomes
        .iter()
        .filter(|o| o.check.required && o.verdict == Verdict::Fail)
        .count();
    if failed == 0 {
        Ok(())
    } else {
        Err(Failure::Rejected(format!(
            "{failed} required check(s) failed"
        )))
    }
}
