//! Who may log in over AMQP, and whether a client's replacement secret
//! (`connection.update-secret`) still names its user. One seam, so that a
//! token backend (RabbitMQ's rabbitmq_auth_backend_oauth2: a JWT as the
//! password, scopes as permissions, an expiry that update-secret extends)
//! or an HTTP backend can be added without touching the connection code.

use std::sync::Arc;

use warren_broker::Broker;

/// What a client proved at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof<'a> {
    /// PLAIN or AMQPLAIN.
    Password(&'a str),
    /// SASL EXTERNAL: a client certificate the TLS listener verified.
    Certificate,
}

/// Checks logins and secret updates.
pub trait AuthBackend: Send + Sync {
    /// Whether `user` may log in with `proof` (the loopback rule is
    /// checked apart, for every backend).
    fn login(&self, user: &str, proof: Proof<'_>) -> bool;

    /// A logged-in client replaces its secret: `Err` with the reason
    /// closes its connection (530), `Ok` keeps it open. A password
    /// backend checks the new secret is still the user's password.
    fn update_secret(&self, user: &str, secret: &[u8]) -> Result<(), String>;
}

/// Warren's own users (RabbitMQ's internal backend): password hashes in
/// the definitions store.
pub struct Internal(pub Arc<Broker>);

impl AuthBackend for Internal {
    fn login(&self, user: &str, proof: Proof<'_>) -> bool {
        match proof {
            Proof::Password(p) => self.0.access.authenticate(user, p).is_some(),
            // As rabbitmq_auth_mechanism_ssl: the user must exist; no
            // password is asked.
            Proof::Certificate => self.0.access.user(user).is_some(),
        }
    }

    fn update_secret(&self, user: &str, secret: &[u8]) -> Result<(), String> {
        let secret = std::str::from_utf8(secret).map_err(|_| "the secret is not UTF-8".to_string())?;
        match self.0.access.authenticate(user, secret) {
            Some(_) => Ok(()),
            None => Err("invalid credentials".into()),
        }
    }
}
