//! HTTP basic authentication against the broker's users, and what each
//! user tag may see, as RabbitMQ's management plugin decides it:
//! `administrator` everything; the other tags (`monitoring`, `policymaker`,
//! `management`) the objects of the vhosts they have permissions in, and
//! `monitoring` also every vhost, connection and node. Users without any of
//! these tags may not use the API. Refusals are 401 with RabbitMQ's reasons.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use warren_broker::access::{Perm, Permissions, User};
use warren_broker::Broker;

use crate::error::ApiError;
use crate::ApiState;

const MANAGEMENT_TAGS: [&str; 4] = ["administrator", "monitoring", "policymaker", "management"];

/// RabbitMQ's `loopback_users`: these users may log in only from loopback.
pub fn login_allowed(loopback_users: &[String], user: &str, peer: IpAddr) -> bool {
    peer.to_canonical().is_loopback() || !loopback_users.iter().any(|u| u == user)
}

/// The authenticated user of a request.
#[derive(Clone)]
pub struct Caller(pub Arc<User>);

impl Caller {
    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn is_admin(&self) -> bool {
        self.0.is_admin()
    }

    /// Sees every vhost, connection and node (administrator or monitoring).
    pub fn is_monitor(&self) -> bool {
        self.is_admin() || self.0.has_tag("monitoring")
    }

    pub fn require_monitor(&self) -> Result<(), ApiError> {
        if self.is_monitor() {
            Ok(())
        } else {
            Err(ApiError::NotAuthorised("Not monitor user"))
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::NotAuthorised("Not administrator user"))
        }
    }

    /// Policies may be changed by administrators and policymakers.
    pub fn require_policymaker(&self) -> Result<(), ApiError> {
        if self.is_admin() || self.0.has_tag("policymaker") {
            Ok(())
        } else {
            Err(ApiError::NotAuthorised("User not authorised to access object"))
        }
    }

    /// Whether listings show objects of `vhost` to this user.
    pub fn sees(&self, broker: &Broker, vhost: &str) -> bool {
        self.is_admin() || broker.access.permission(vhost, self.name()).is_some()
    }

    /// For reading one vhost's objects.
    pub fn require_sees(&self, broker: &Broker, vhost: &str) -> Result<(), ApiError> {
        if self.sees(broker, vhost) {
            Ok(())
        } else {
            Err(NO_VHOST_ACCESS)
        }
    }

    /// The caller's permissions in `vhost`, for operations that need them.
    pub fn permissions(&self, broker: &Broker, vhost: &str) -> Result<Arc<Permissions>, ApiError> {
        broker
            .access
            .permission(vhost, self.name())
            .ok_or(NO_VHOST_ACCESS)
    }

    /// What an AMQP client of this user would need for the same operation:
    /// access to the vhost and `perm` on the resource.
    pub fn check(
        &self,
        broker: &Broker,
        vhost: &str,
        perm: Perm,
        kind: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        self.permissions(broker, vhost)?
            .check(perm, kind, name)
            .map_err(|_| ApiError::NotAuthorised("Access refused."))
    }
}

const NO_VHOST_ACCESS: ApiError = ApiError::NotAuthorised("User not authorised to access virtual host");

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
    let (name, pass) = credentials(header).ok_or(ApiError::LoginFailed)?;
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
    if !login_allowed(&state.loopback_users, &name, peer) {
        return Err(ApiError::NotAuthorised("User can only log in via localhost"));
    }
    let user = state.broker.access.authenticate(&name, &pass);
    state
        .broker
        .stats
        .login(warren_broker::stats::Protocol::Http, user.is_some());
    let Some(user) = user else {
        // As for AMQP logins: no guessing at wire speed.
        tokio::time::sleep(warren_broker::access::LOGIN_REFUSAL_DELAY).await;
        return Err(ApiError::LoginFailed);
    };
    if !MANAGEMENT_TAGS.iter().any(|t| user.has_tag(t)) {
        return Err(ApiError::NotAuthorised("Not management user"));
    }
    req.extensions_mut().insert(Caller(user));
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

    #[test]
    fn loopback_users_only_from_loopback() {
        let lb = vec!["guest".to_string()];
        let remote = std::net::IpAddr::from([10, 0, 0, 1]);
        assert!(!super::login_allowed(&lb, "guest", remote));
        assert!(super::login_allowed(&lb, "guest", [127, 0, 0, 1].into()));
        assert!(super::login_allowed(&lb, "alice", remote));
        let mapped: std::net::IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(super::login_allowed(&lb, "guest", mapped));
    }
}
