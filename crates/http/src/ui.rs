//! The management web UI: static files compiled into the binary (no CDN,
//! no separate web server, works offline), served at `/` beside the API.
//! The page logs in against `/api/whoami` and then talks only to the API,
//! so these routes need no credentials, as RabbitMQ's UI files do not.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/js/app.js");
const APP_CSS: &str = include_str!("../ui/css/app.css");

/// Revalidated on every load: a new Warren serves its own UI at once.
fn file(kind: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body)
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { file("text/html; charset=utf-8", INDEX) }))
        .route(
            "/index.html",
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/js/app.js",
            get(|| async { file("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/css/app.css",
            get(|| async { file("text/css; charset=utf-8", APP_CSS) }),
        )
}
