//! The report: a line per check (failures with what was sent, expected and received, and what
//! it means), a summary and what to fix; or a stable JSON document; or JUnit XML.

use serde_json::json;

use crate::conformance::plan::{Check, Expect, Group};
use crate::conformance::wire::Answer;
use crate::output::{Style, printable};

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

impl Verdict {
    fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }
}

/// A check and what came back.
pub struct Outcome<'a> {
    pub check: &'a Check,
    pub answer: Option<Answer>,
    pub verdict: Verdict,
}

/// Judges `answer` against what `check` expects.
pub fn judge(check: &Check, answer: &Answer) -> Verdict {
    let pass = match check.expect {
        Expect::Accept => answer.accepted(),
        Expect::Refuse { .. } => !answer.accepted(),
        // An answer (any, but 2xx) or a closed connection ends the stall; silence does not.
        Expect::Act => {
            matches!(answer, Answer::Closed) || answer.status().is_some_and(|s| s >= 400)
        }
    };
    if pass { Verdict::Pass } else { Verdict::Fail }
}

/// Counts of one kind of check.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn tally<'a>(outcomes: impl Iterator<Item = &'a Outcome<'a>>) -> Tally {
    let mut t = Tally::default();
    for o in outcomes {
        match o.verdict {
            Verdict::Pass => t.passed += 1,
            Verdict::Fail => t.failed += 1,
            Verdict::Skip => t.skipped += 1,
        }
    }
    t
}

fn got(outcome: &Outcome) -> String {
    match (&outcome.answer, &outcome.check.request) {
        (Some(answer), _) => printable(&answer.describe()),
        (None, Err(reason)) => format!("not run: {reason}"),
        (None, Ok(_)) => "not run".into(),
    }
}

/// What a set of failures says about the receiver, beyond each check's own line.
pub fn diagnoses(outcomes: &[Outcome]) -> Vec<String> {
    let failed = |f: &dyn Fn(&Outcome) -> bool| {
        outcomes
            .iter()
            .filter(|o| o.verdict == Verdict::Fail && f(o))
            .count()
    };
    let genuine = |o: &Outcome| o.check.group == Group::Genuine;
    let total_genuine = outcomes.iter().filter(|o| genuine(o)).count();
    let mut notes = Vec::new();
    let genuine_failed = failed(&|o| genuine(o));
    let with_escapes = failed(&|o| {
        genuine(o)
            && o.check.request.as_ref().is_ok_and(|r| match &r.body {
                crate::conformance::wire::Body::Full(b) => {
                    b.windows(2).any(|w| w == b"\\/" || w == b"\\u")
                }
                _ => false,
            })
    });
    let alerts = outcomes
        .iter()
        .any(|o| o.check.id.starts_with("genuine/alert/"));
    if alerts && genuine_failed > 0 && genuine_failed == total_genuine {
        notes.push(
            "every genuine alert was refused: check the key (the alert channel's secret), the \
             receiver's clock, and that the HMAC-SHA256 covers \"TIMESTAMP.BODY\" over the raw \
             body bytes, compared with the hex after `sha256=`"
                .into(),
        );
    } else if genuine_failed > 0 && genuine_failed == total_genuine {
        notes.push(
            "every genuine delivery was refused: check the key and the URL (exactly as configured \
             in Appwrite: scheme, host, port, path, trailing slash, query), and that the HMAC is \
             computed over the raw body bytes"
                .into(),
        );
    } else if with_escapes > 0 && with_escapes * 2 >= genuine_failed {
        notes.push(
            "genuine deliveries whose bodies carry PHP's escapes (`\\/`, `\\uXXXX`) are refused: \
             the receiver verifies re-serialised JSON; verify the raw bytes, then parse"
                .into(),
        );
    }
    let releases_failed = failed(&|o| genuine(o) && !o.check.id.starts_with("genuine/main/"));
    let main_failed = failed(&|o| o.check.id.starts_with("genuine/main/"));
    let main_total = outcomes
        .iter()
        .filter(|o| o.check.id.starts_with("genuine/main/"))
        .count();
    if releases_failed > 0 && main_total > 0 && main_failed == 0 {
        notes.push(
            "deliveries from releases fail and main's pass: releases up to 1.9.6 sign \
             rawurldecode(url), so accept that form too"
                .into(),
        );
    }
    if failed(&|o| o.check.id == "forgery/signature-missing") > 0 {
        notes.push(
            "a request without a signature is accepted: refuse it (401) rather than skip the check"
                .into(),
        );
    }
    if failed(&|o| o.check.id == "forgery/alert-unsigned") > 0 {
        notes.push(
            "an alert without a signature is accepted: refuse it (401) unless you chose to accept \
             unsigned alerts, and give the alert channel a secret"
                .into(),
        );
    }
    if failed(&|o| o.check.id == "forgery/alert-stale" || o.check.id == "forgery/alert-future") > 0
    {
        notes.push(
            "alerts far from the receiver's clock are accepted: refuse a timestamp more than the \
             tolerance (five minutes) before or after now"
                .into(),
        );
    }
    notes
}

/// The human report, on stdout.
pub fn print_text(outcomes: &[Outcome], target: &str, url: &str, style: Style, alerts: bool) {
    let header = if alerts {
        format!("appwrite-webhooks conformance: {target}, alerts posted to {url}")
    } else {
        format!("appwrite-webhooks conformance: {target}, signed for {url}")
    };
    println!("{}", style.bold(&header));
    let mut genuine_by_version: Vec<(String, Tally)> = Vec::new();
    for o in outcomes.iter().filter(|o| o.check.group == Group::Genuine) {
        let version = o.check.id.split('/').nth(1).unwrap_or("").to_owned();
        if genuine_by_version.last().is_none_or(|(v, _)| *v != version) {
            genuine_by_version.push((version.clone(), Tally::default()));
        }
        let t = &mut genuine_by_version.last_mut().expect("pushed").1;
        match o.verdict {
            Verdict::Pass => t.passed += 1,
            Verdict::Fail => t.failed += 1,
            Verdict::Skip => t.skipped += 1,
        }
    }
    for (version, t) in &genuine_by_version {
        let line = if version == "alert" {
            format!(
                "genuine alerts of Appwrite: {}/{} accepted",
                t.passed,
                t.passed + t.failed
            )
        } else {
            format!(
                "genuine deliveries of Appwrite {version}: {}/{} accepted",
                t.passed,
                t.passed + t.failed
            )
        };
        println!(
            "  {} {line}",
            mark(
                style,
                if t.failed == 0 {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                }
            )
        );
        let refused: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| {
                o.verdict == Verdict::Fail && o.check.id.starts_with(&format!("genuine/{version}/"))
            })
            .collect();
        for o in refused.iter().take(3) {
            let name = o.check.id.rsplit('/').next().unwrap_or("");
            println!("      {} {name}: {}", style.dim("refused:"), got(o));
        }
        if refused.len() > 3 {
            println!(
                "      … and {} more (--json lists every check)",
                refused.len() - 3
            );
        }
        if let Some(o) = refused.first() {
            println!("      {} {}", style.dim("means:  "), o.check.meaning);
        }
    }
    for o in outcomes.iter().filter(|o| o.check.group != Group::Genuine) {
        let optional = if o.check.required { "" } else { " (optional)" };
        println!(
            "  {} {}{optional}  {}",
            mark(style, o.verdict),
            o.check.id,
            style.dim(&got(o))
        );
        if o.verdict == Verdict::Fail {
            details(o, style);
        }
    }
    let required = tally(outcomes.iter().filter(|o| o.check.required));
    let optional = tally(outcomes.iter().filter(|o| !o.check.required));
    println!();
    println!(
        "required: {} passed, {} failed{}; optional: {} passed, {} failed{}",
        required.passed,
        required.failed,
        skipped(required),
        optional.passed,
        optional.failed,
        skipped(optional)
    );
    for note in diagnoses(outcomes) {
        println!("what to fix: {note}");
    }
    println!(
        "{}",
        if required.failed == 0 {
            style.good("the receiver passes every required check")
        } else {
            style.bad("the receiver fails required checks")
        }
    );
}

fn skipped(t: Tally) -> String {
    if t.skipped == 0 {
        String::new()
    } else {
        format!(", {} not applicable", t.skipped)
    }
}

fn mark(style: Style, verdict: Verdict) -> String {
    match verdict {
        Verdict::Pass => style.good("PASS"),
        Verdict::Fail => style.bad("FAIL"),
        Verdict::Skip => style.dim("SKIP"),
    }
}

fn details(o: &Outcome, style: Style) {
    println!("      {} {}", style.dim("sent:    "), o.check.sent);
    println!(
        "      {} {}",
        style.dim("expected:"),
        o.check.expect.describe()
    );
    println!("      {} {}", style.dim("got:     "), got(o));
    println!("      {} {}", style.dim("means:   "), o.check.meaning);
}

/// The stable JSON document (`"format": "appwrite-webhooks-conformance/1"`).
pub fn json(outcomes: &[Outcome], target: &str, url: &str) -> serde_json::Value {
    let required = tally(outcomes.iter().filter(|o| o.check.required));
    let optional = tally(outcomes.iter().filter(|o| !o.check.required));
    let counts = |t: Tally| json!({"passed": t.passed, "failed": t.failed, "skipped": t.skipped});
    json!({
        "format": "appwrite-webhooks-conformance/1",
        "target": target,
        "url": url,
        "passed": required.failed == 0,
        "summary": {"required": counts(required), "optional": counts(optional)},
        "diagnoses": diagnoses(outcomes),
        "checks": outcomes.iter().map(|o| json!({
            "id": o.check.id,
            "group": o.check.group.name(),
            "required": o.check.required,
            "sent": o.check.sent,
            "expected": o.check.expect.describe(),
            "right_status": match o.check.expect {
                Expect::Refuse { right } => Some(right),
                _ => None,
            },
            "status": o.answer.as_ref().and_then(Answer::status),
            "got": got(o),
            "result": o.verdict.name(),
            "meaning": o.check.meaning,
        })).collect::<Vec<_>>(),
    })
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| *c == '\n' || *c == '\t' || *c >= ' ')
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test suite per group, one test case per check.
pub fn junit(outcomes: &[Outcome], target: &str) -> String {
    let all = tally(outcomes.iter());
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"appwrite-webhooks conformance {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        xml(target),
        outcomes.len(),
        all.failed,
        all.skipped
    );
    for group in [
        Group::Genuine,
        Group::Forgery,
        Group::Oversized,
        Group::Optional,
    ] {
        let members: Vec<&Outcome> = outcomes.iter().filter(|o| o.check.group == group).collect();
        if members.is_empty() {
            continue;
        }
        let t = tally(members.iter().copied());
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
            group.name(),
            members.len(),
            t.failed,
            t.skipped
        ));
        for o in members {
            let (class, name) = o.check.id.rsplit_once('/').unwrap_or(("", &o.check.id));
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml(&class.replace('/', ".")),
                xml(name)
            ));
            match o.verdict {
                Verdict::Pass => {}
                Verdict::Skip => out.push_str(&format!("<skipped message=\"{}\"/>", xml(&got(o)))),
                Verdict::Fail => out.push_str(&format!(
                    "<failure message=\"{}\">sent: {}\nexpected: {}\ngot: {}\nmeans: {}</failure>",
                    xml(&o.check.meaning),
                    xml(&o.check.sent),
                    xml(&o.check.expect.describe()),
                    xml(&got(o)),
                    xml(&o.check.meaning)
                )),
            }
            out.push_str("</testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}
