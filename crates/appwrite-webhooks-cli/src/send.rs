//! `send`: POST a delivery exactly as Appwrite's webhook worker does.

use std::path::PathBuf;
use std::time::Duration;

use appwrite_webhooks::EventName;
use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use base64::Engine as _;
use bytes::Bytes;
use clap::Args;
use http::{HeaderMap, HeaderValue, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::keys::{self, KeyArgs};
use crate::output::Style;
use crate::scheme::SchemeArgs;
use crate::{Failure, read_input};

#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Timestamped scheme: the unix time to sign (default now).
    #[arg(long, value_name = "SECS")]
    timestamp: Option<u64>,
    /// The webhook URL exactly as configured in Appwrite: the signature covers it, and it is
    /// where the delivery goes unless --to says otherwise.
    #[arg(long, required_unless_present_any = ["replay", "to"])]
    url: Option<String>,
    /// Post to this address instead of --url (e.g. a local listener), still signing for --url.
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// The body; standard input when absent or `-` (same as --payload).
    #[arg(value_name = "FILE", conflicts_with = "payload")]
    file: Option<PathBuf>,
    /// The body, from a file.
    #[arg(long, value_name = "FILE")]
    payload: Option<PathBuf>,
    /// An event template from Appwrite's catalogue, e.g. `users.[userId].create`; the events
    /// header is expanded with Appwrite's rules. Without it, no events header value is sent.
    #[arg(long, value_name = "TEMPLATE")]
    event: Option<String>,
    /// A template parameter, `name=value`; repeat for each `[name]` in --event.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// X-Appwrite-Webhook-Id.
    #[arg(long, default_value = "wh_cli")]
    webhook_id: String,
    /// X-Appwrite-Webhook-Name.
    #[arg(long, default_value = "")]
    webhook_name: String,
    /// X-Appwrite-Webhook-Project-Id.
    #[arg(long, default_value = "cli-project")]
    project_id: String,
    /// X-Appwrite-Webhook-User-Id (empty: an API key or the console acted).
    #[arg(long, default_value = "")]
    user_id: String,
    /// X-Appwrite-Webhook-Delivery-Id: the id Appwrite (after 1.9.6) gives each event and
    /// webhook, the same on its redeliveries; receivers tell deliveries apart by it. Not sent
    /// without it, as older servers send none. Appwrite scheme only.
    #[arg(long, value_name = "ID")]
    delivery_id: Option<String>,
    /// HTTP basic auth user; sent only together with a password, as Appwrite does.
    #[arg(long)]
    http_user: Option<String>,
    /// HTTP basic auth password. Prefer --http-pass-file or the environment variable: a
    /// command line is visible to other users of the machine.
    #[arg(long, env = "APPWRITE_WEBHOOK_HTTP_PASS", hide_env_values = true)]
    http_pass: Option<String>,
    /// HTTP basic auth password, from the first line of a file.
    #[arg(long, value_name = "FILE", conflicts_with = "http_pass")]
    http_pass_file: Option<PathBuf>,
    /// Send a recorded delivery as is (URL, headers — a delivery id among them —, body,
    /// signature) from a JSON file shaped like Appwrite's deliveries.json: one object, or an
    /// array picked from by --name.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["event", "payload", "file", "delivery_id"])]
    replay: Option<PathBuf>,
    /// Which delivery of the --replay array to send.
    #[arg(long, requires = "replay")]
    name: Option<String>,
}

/// The basic auth password from --http-pass (or its environment variable) or --http-pass-file.
fn http_pass(args: &SendArgs) -> Result<Option<String>, Failure> {
    match &args.http_pass_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::Usage(format!("cannot read password file {}: {e}", path.display()))
            })?;
            let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
            Ok(Some(line.to_owned()))
        }
        None => Ok(args.http_pass.clone()),
    }
}

pub async fn run(args: SendArgs, style: Style) -> Result<(), Failure> {
    let sent = match &args.replay {
        Some(_) if args.scheme.scheme != appwrite_webhooks::Scheme::Appwrite => {
            return Err(Failure::Usage(
                "--replay sends Appwrite's own deliveries: use the appwrite scheme".into(),
            ));
        }
        Some(path) => replayed(path, args.name.as_deref())?,
        None => built(&args)?,
    };
    let destination = args.to.clone().unwrap_or_else(|| sent.url().to_owned());
    let (_, mut headers, body) = sent.into_parts();
    if let (Some(user), Some(pass)) = (&args.http_user, http_pass(&args)?) {
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let value = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|_| Failure::Usage("basic auth credentials are not a valid header".into()))?;
        headers.insert(header::AUTHORIZATION, value);
    }

    let response = post(&destination, headers, body).await?;
    let (status, text) = response;
    if !style.quiet || status.as_u16() >= 400 {
        let line = format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        println!(
            "{}",
            if status.as_u16() < 400 {
                style.good(&line)
            } else {
                style.bad(&line)
            }
        );
        if !text.is_empty() {
            println!("{}", crate::output::printable(&text));
        }
    }
    if status.as_u16() >= 400 {
        return Err(Failure::Rejected(format!(
            "the receiver answered {}",
            status.as_u16()
        )));
    }
    Ok(())
}

/// Appwrite's worker gives up on a receiver after 15 seconds.
const TIMEOUT: Duration = Duration::from_secs(15);

/// POSTs like Appwrite's curl: title-cased header names on the wire (`X-Appwrite-Webhook-Id`),
/// HTTP/1.1, https through rustls with the platform's trust store.
///
/// A plain hyper client rather than reqwest: reqwest's TLS features are unified across the
/// whole workspace, and turning them on here would change every test's client.
async fn post(
    destination: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(http::StatusCode, String), Failure> {
    let uri: http::Uri = destination
        .parse()
        .map_err(|e| Failure::Usage(format!("--to/--url {destination:?} is not a URL: {e}")))?;
    let mut request = http::Request::post(uri)
        .body(Full::new(body))
        .map_err(|e| Failure::Usage(format!("cannot build the request: {e}")))?;
    *request.headers_mut() = headers;

    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(TIMEOUT));
    let tls = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_platform_verifier(rustls::crypto::ring::default_provider())
        .map_err(|e| Failure::Usage(format!("cannot load the system's TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let client = Client::builder(TokioExecutor::new())
        .http1_title_case_headers(true)
        .build(tls);

    let connection_failed = |e: &dyn std::error::Error| {
        Failure::Connection(format!(
            "cannot deliver to {destination}: {}",
            error_chain(e)
        ))
    };
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| connection_failed(&e))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| connection_failed(&e))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
        Failure::Connection(format!(
            "cannot deliver to {destination}: no answer within {} s",
            TIMEOUT.as_secs()
        ))
    })?
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn built(args: &SendArgs) -> Result<SignedDelivery, Failure> {
    let mut keys = args.keys.resolve()?.into_iter();
    let key = keys.next().ok_or_else(keys::missing)?;
    // The appwrite scheme signs --url; the others only need somewhere to send to.
    let url = match args.scheme.signed_url(args.url.as_deref())? {
        Some(url) => url,
        None => args
            .url
            .as_deref()
            .or(args.to.as_deref())
            .ok_or_else(|| Failure::Usage("--url or --to is required".into()))?,
    };
    let body = read_input(args.payload.as_ref().or(args.file.as_ref()))?;
    let mut builder = DeliveryBuilder::new(key, url, body)
        .scheme(args.scheme.scheme)
        .webhook_id(&args.webhook_id)
        .webhook_name(&args.webhook_name)
        .project_id(&args.project_id)
        .user_id(&args.user_id);
    match (args.timestamp, args.scheme.scheme) {
        (Some(timestamp), _) if args.scheme.timestamped() => {
            builder = builder.timestamp(timestamp);
        }
        (Some(_), _) => {
            return Err(Failure::Usage(
                "--timestamp applies to --scheme timestamped and --scheme alert only".into(),
            ));
        }
        (None, _) => {}
    }
    if let Some(id) = &args.delivery_id {
        if args.scheme.scheme != appwrite_webhooks::Scheme::Appwrite {
            return Err(Failure::Usage(
                "--delivery-id applies to the appwrite scheme only".into(),
            ));
        }
        // The builder leaves out what cannot travel in a header: say so rather than send none.
        if HeaderValue::from_str(id).is_err() {
            return Err(Failure::Usage(format!(
                "--delivery-id {:?} cannot travel in an HTTP header",
                id
            )));
        }
        builder = builder.delivery_id(id);
    }
    if let Some(template) = &args.event {
        builder = builder.event(&fill_template(template, &args.params)?);
    } else if !args.params.is_empty() {
        return Err(Failure::Usage("--param needs --event".into()));
    }
    Ok(builder.build())
}

/// `users.[userId].create` with `userId=u1` → `users.u1.create`.
fn fill_template(template: &str, params: &[String]) -> Result<EventName, Failure> {
    let mut pairs = Vec::new();
    for param in params {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--param {param:?} is not NAME=VALUE")))?;
        pairs.push((name, value));
    }
    let mut filled = Vec::new();
    for segment in template.split('.') {
        match segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(name) => {
                let value = pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| Failure::Usage(format!("--event needs --param {name}=VALUE")))?;
                filled.push(value);
            }
            None => filled.push(segment),
        }
    }
    let name = filled.join(".");
    let name = EventName::parse(&name).map_err(|e| Failure::Usage(e.to_string()))?;
    if !name.is_concrete() {
        return Err(Failure::Usage(format!(
            "{name} is not a concrete event: give ids, not `*`"
        )));
    }
    Ok(name)
}

/// A recorded delivery, sent with its own headers, body and signature.
fn replayed(path: &PathBuf, name: Option<&str>) -> Result<SignedDelivery, Failure> {
    let bytes = std::fs::read(path)
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
    let capture = crate::capture::parse_json(&bytes, name)?;
    let url = capture
        .url
        .ok_or_else(|| Failure::Usage("the recorded delivery has no url".into()))?;
    Ok(SignedDelivery::from_parts(
        url,
        capture.headers,
        Bytes::from(capture.body),
    ))
}
