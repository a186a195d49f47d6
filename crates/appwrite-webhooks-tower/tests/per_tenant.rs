//! A verifier that resolves keys per tenant (`Verifier<PerTenant>`) goes wherever a verifier
//! with fixed keys goes: the layer and inbox mode.

use std::convert::Infallible;

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks::{
    Delivery, MemoryLedger, PerTenant, SigningKey, StoreError, Tenant, Verifier,
};
use appwrite_webhooks_tower::{AppwriteWebhookLayer, InboxService};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower_layer::Layer as _;
use tower_service::Service as _;

const URL: &str = "https://hooks.example.com/appwrite";

fn per_tenant() -> Verifier<PerTenant> {
    Verifier::per_tenant(
        |tenant: Tenant| async move {
            Ok::<_, StoreError>(match tenant.project_id.as_str() {
                "shop" => vec![SigningKey::from("shop-key")],
                _ => vec![],
            })
        },
        URL,
    )
}

fn request(key: &str, project: &str) -> Request<Full<Bytes>> {
    DeliveryBuilder::new(key, URL, "{}")
        .project_id(project)
        .build()
        .into_request()
        .map(Full::new)
}

#[tokio::test]
async fn the_layer_takes_a_per_tenant_verifier() {
    let inner = tower::service_fn(|request: Request<Full<Bytes>>| async move {
        let project = request
            .extensions()
            .get::<Delivery>()
            .map(|delivery| delivery.project_id().to_owned());
        Ok::<_, Infallible>(Response::new(project.unwrap_or_default()))
    });
    let mut service = AppwriteWebhookLayer::new(per_tenant()).layer(inner);
    let response = service.call(request("shop-key", "shop")).await.unwrap();
    assert_eq!(response.status(), 200);
    let response = service.call(request("shop-key", "blog")).await.unwrap();
    assert_eq!(response.status(), 401, "an unknown tenant");
}

#[tokio::test]
async fn inbox_mode_takes_a_per_tenant_verifier() {
    let mut route = InboxService::new(per_tenant(), Inbox::new(MemoryLedger::default()));
    let response = route.call(request("shop-key", "shop")).await.unwrap();
    assert_eq!(response.status(), 202);
    let response = route.call(request("other-key", "shop")).await.unwrap();
    assert_eq!(response.status(), 401);
}
