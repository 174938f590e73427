//! The management web UI: static files compiled into the binary (no CDN,
//! no separate web server, works offline), served at `/` beside the API.
//! The page logs in against `/api/whoami` and then talks only to the API,
//! so these routes need no credentials, as RabbitMQ's UI files do not.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::routing::get;
use axum::Router;

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file of the UI: its path, type and content. The scripts are
/// classic scripts that index.html loads in this order.
const FILES: &[(&str, &str, &str)] = &[
    ("/", HTML, include_str!("../ui/index.html")),
    ("/index.html", HTML, include_str!("../ui/index.html")),
    ("/css/app.css", CSS, include_str!("../ui/css/app.css")),
    ("/js/core.js", JS, include_str!("../ui/js/core.js")),
    ("/js/overview.js", JS, include_str!("../ui/js/overview.js")),
    ("/js/lists.js", JS, include_str!("../ui/js/lists.js")),
    ("/js/objects.js", JS, include_str!("../ui/js/objects.js")),
    ("/js/admin.js", JS, include_str!("../ui/js/admin.js")),
    ("/js/app.js", JS, include_str!("../ui/js/app.js")),
];

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    FILES.iter().fold(Router::new(), |router, &(path, kind, body)| {
        // Revalidated on every load: a new Warren serves its own UI at once.
        router.route(
            path,
            get(move || async move { ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body) }),
        )
    })
}
