//! Request bodies read the way RabbitMQ reads them: a body that is not JSON
//! is `400 not_json`, missing required keys are `400 [{key_missing,k}]`
//! (RabbitMQ's Erlang terms), a body that is not a JSON object is
//! `not_json` too, and an empty body is an empty object.

use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// The keys a body must have.
pub trait Required {
    const REQUIRED: &'static [&'static str] = &[];
}

/// A JSON body of type `T`.
pub struct Body<T>(pub T);

/// RabbitMQ's reason when some of `keys` are missing from `v`.
pub fn missing(v: &Value, keys: &[&str]) -> Result<(), String> {
    let gone: Vec<String> = keys
        .iter()
        .filter(|k| v.get(**k).is_none())
        .map(|k| format!("{{key_missing,{k}}}"))
        .collect();
    if gone.is_empty() {
        Ok(())
    } else {
        Err(format!("[{}]", gone.join(",")))
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Required> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::BadRequest("not_json".into()))?;
        let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Default::default())
        } else {
            serde_json::from_slice(&bytes).map_err(|_| ApiError::BadRequest("not_json".into()))?
        };
        if !value.is_object() {
            return Err(ApiError::BadRequest("not_json".into()));
        }
        missing(&value, T::REQUIRED).map_err(ApiError::BadRequest)?;
        serde_json::from_value(value).map(Body).map_err(rejection)
    }
}

/// A 400 for a body field of the wrong type.
pub fn rejection(e: serde_json::Error) -> ApiError {
    let reason = e.to_string();
    // The lenient readers put RabbitMQ's term in the message.
    match serde_json::from_str::<Value>(&reason) {
        Ok(term @ Value::Array(_)) => ApiError::BadRequestTerm(term),
        _ => ApiError::BadRequest(reason),
    }
}

impl Required for Value {}
