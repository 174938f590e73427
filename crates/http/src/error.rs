//! Errors as RabbitMQ's management plugin writes them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

const CHALLENGE: (&str, &str) = ("www-authenticate", "Basic realm=\"RabbitMQ Management\"");

#[derive(Debug)]
pub enum ApiError {
    NotFound,
    BadRequest(String),
    /// A 400 whose reason is a structured term (`["no_such_vhost","v"]`).
    BadRequestTerm(serde_json::Value),
    /// No credentials: a challenge and an empty body.
    Unauthorized,
    /// Wrong user name or password.
    LoginFailed,
    /// Authenticated but not allowed (a tag or vhost access is missing).
    NotAuthorised(&'static str),
    /// Any other status with RabbitMQ's error name and reason.
    Status(u16, &'static str, String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                Json(json!({"error": "Object Not Found", "reason": "Not Found"})),
            )
                .into_response(),
            ApiError::BadRequestTerm(reason) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "bad_request", "reason": reason})),
            )
                .into_response(),
            ApiError::BadRequest(reason) => (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "bad_request", "reason": reason})),
            )
                .into_response(),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, [CHALLENGE]).into_response(),
            ApiError::LoginFailed => (
                StatusCode::UNAUTHORIZED,
                [CHALLENGE],
                Json(json!({"error": "not_authorized", "reason": "Login failed"})),
            )
                .into_response(),
            ApiError::NotAuthorised(reason) => (
                StatusCode::UNAUTHORIZED,
                [CHALLENGE],
                Json(json!({"error": "not_authorised", "reason": reason})),
            )
                .into_response(),
            ApiError::Status(code, error, reason) => (
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
                Json(json!({"error": error, "reason": reason})),
            )
                .into_response(),
        }
    }
}

impl ApiError {
    pub fn vhost_not_found() -> ApiError {
        ApiError::Status(404, "not_found", "vhost_not_found".into())
    }
}

impl From<warren_broker::AmqpError> for ApiError {
    fn from(e: warren_broker::AmqpError) -> Self {
        if e.code == 404 {
            // `{"error":"not_found","reason":"no queue 'q' in vhost '/'"}`,
            // as RabbitMQ answers a binding to a missing queue.
            ApiError::Status(404, "not_found", e.detail().to_string())
        } else if e.code == 403 {
            // RabbitMQ's management plugin answers every AMQP access
            // refusal (permissions, reserved names) this way.
            ApiError::NotAuthorised("Access refused.")
        } else {
            // Every other AMQP error is a 400 with the text's detail:
            // `inequivalent arg 'durable' for queue ...`, no `PRECONDITION_FAILED - `.
            ApiError::BadRequest(e.detail().to_string())
        }
    }
}
