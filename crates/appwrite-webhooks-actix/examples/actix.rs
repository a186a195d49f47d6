//! An Appwrite webhook receiver with actix-web: the `Webhook` extractor behind the
//! `require_signature` middleware (which settles the replay guard's claims), verifier in app
//! data.
//!
//! ```sh
//! cargo run -p appwrite-webhooks-actix --example actix     # serve on loopback, play Appwrite against it, exit
//! ```

use std::process::ExitCode;

use std::time::Duration;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use appwrite_webhooks::{Event, ReplayGuard, Verifier};
use appwrite_webhooks_actix::{Webhook, require_signature};
use testkit::demo;

async fn on_event(Webhook(event): Webhook) -> HttpResponse {
    if let Event::Row { table_id, row, .. } = &event {
        println!("  handler: row {} in {table_id}", row.id);
    }
    HttpResponse::NoContent().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<ExitCode> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/hooks/appwrite");
    let verifier = Verifier::new(demo::KEY, url.as_str())
        .with_replay_guard(ReplayGuard::in_memory())
        .with_body_timeout(Duration::from_secs(10));
    let verifier = web::Data::new(verifier);
    let server = HttpServer::new(move || {
        App::new().app_data(verifier.clone()).service(
            web::resource("/hooks/appwrite")
                .wrap(from_fn(require_signature))
                .route(web::post().to(on_event)),
        )
    })
    .workers(1)
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    println!("actix-web receiver listening at {url}\n");
    let outcome = demo::run(addr, &url).await;
    handle.stop(true).await;
    Ok(outcome)
}
