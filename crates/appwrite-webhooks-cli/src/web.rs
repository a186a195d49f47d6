//! `inbox web`: the inbox's web view (appwrite-webhooks-web), served on its own.

use std::net::SocketAddr;

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks_web::{Credentials, InboxView, check_bind};
use clap::Args;

use crate::Failure;
use crate::output::Style;

/// The environment variable `--user`'s password is read from unless `--password-env` names
/// another.
const PASSWORD_ENV: &str = "APPWRITE_WEBHOOKS_WEB_PASSWORD";

#[derive(Args)]
pub struct WebArgs {
    /// Where to listen. Loopback unless --user is set: the view reads and changes the inbox.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,
    /// Require HTTP basic auth as this user (the password from --password-env).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// The environment variable holding --user's password (never a flag: flags show in `ps`).
    #[arg(long, value_name = "VAR", default_value = PASSWORD_ENV, requires = "user")]
    password_env: String,
}

pub async fn run(inbox: Inbox, args: WebArgs, style: Style) -> Result<(), Failure> {
    let credentials = match &args.user {
        Some(user) => {
            let password = std::env::var(&args.password_env).map_err(|_| {
                Failure::Usage(format!(
                    "--user needs a password in the environment variable {}",
                    args.password_env
                ))
            })?;
            if password.is_empty() {
                return Err(Failure::Usage(format!(
                    "the password in {} is empty",
                    args.password_env
                )));
            }
            Some(Credentials::new(user.clone(), &password))
        }
        None => None,
    };
    check_bind(args.bind, credentials.as_ref()).map_err(|e| Failure::Usage(e.to_string()))?;
    let mut view = InboxView::new(inbox);
    if let Some(credentials) = credentials {
        view = view.with_credentials(credentials);
    }
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {}: {e}", args.bind)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::Usage(format!("cannot listen on {}: {e}", args.bind)))?;
    if !style.quiet {
        eprintln!("inbox view on http://{addr}/ (Ctrl-C to stop)");
    }
    axum::serve(listener, view.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| Failure::Connection(format!("the view stopped: {e}")))
}
