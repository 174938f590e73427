//! HTTP basic authentication.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

use crate::error::ApiError;
use crate::ApiState;

/// The authenticated user, for handlers that need it (`/api/whoami`).
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub tags: Vec<String>,
}

/// Parses `Authorization: Basic base64(user:password)`.
pub fn credentials(header: &str) -> Option<(String, String)> {
    let encoded = header.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

pub async fn require_user(
    State(state): State<ApiState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthorized)?;
    let (name, pass) = credentials(header).ok_or(ApiError::Unauthorized)?;
    let tags = (state.authenticate)(&name, &pass).ok_or(ApiError::Unauthorized)?;
    req.extensions_mut().insert(User { name, tags });
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_parse() {
        // "guest:guest"
        assert_eq!(
            super::credentials("Basic Z3Vlc3Q6Z3Vlc3Q="),
            Some(("guest".to_string(), "guest".to_string()))
        );
        assert_eq!(super::credentials("Bearer x"), None);
    }
}
