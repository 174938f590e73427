//! Users, their password hashes and tags, and per-vhost permissions, with
//! RabbitMQ's rules for checking them.
//!
//! Password hashes use RabbitMQ's format (`rabbit_password_hashing_sha256`:
//! base64 of a 4-byte salt followed by SHA-256 of salt and password), so a
//! definitions file moves between RabbitMQ and Warren with its passwords.
//!
//! Permissions are three regular expressions per user and vhost. An
//! operation needs `configure`, `write` or `read` on a named queue or
//! exchange (see [`Perm`]); the match is unanchored, as RabbitMQ's, and the
//! empty expression matches nothing.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use amq_protocol::types::FieldTable;
use base64::Engine;
use parking_lot::RwLock;
use regex::Regex;
use sha2::{Digest, Sha256, Sha512};
use warren_store::definitions::{PermissionDef, TopicPermissionDef, UserDef, UserLimits};

use crate::error::{AmqpError, NOT_ALLOWED};
use crate::limits::UserState;
use crate::persist::Persistence;
use crate::topic_permissions::TopicRules;

pub const SHA256: &str = "rabbit_password_hashing_sha256";
pub const SHA512: &str = "rabbit_password_hashing_sha512";

/// The kind of access an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perm {
    Configure,
    Write,
    Read,
}

pub struct User {
    pub name: String,
    pub password_hash: String,
    pub hashing_algorithm: String,
    pub tags: Vec<String>,
}

impl User {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    pub fn is_admin(&self) -> bool {
        self.has_tag("administrator")
    }

    fn verify(&self, password: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(&self.password_hash) else {
            return false;
        };
        if raw.len() < 4 {
            return false;
        }
        let (salt, digest) = raw.split_at(4);
        match digest_with(&self.hashing_algorithm, salt, password) {
            // Constant time: how much of a guess matched must not show in
            // how long the refusal takes.
            Some(d) => bool::from(subtle::ConstantTimeEq::ct_eq(d.as_slice(), digest)),
            None => {
                tracing::warn!(
                    user = self.name,
                    "unsupported password hashing algorithm {}",
                    self.hashing_algorithm
                );
                false
            }
        }
    }

    pub fn def(&self) -> UserDef {
        UserDef {
            name: self.name.clone(),
            password_hash: self.password_hash.clone(),
            hashing_algorithm: self.hashing_algorithm.clone(),
            tags: self.tags.clone(),
        }
    }
}

fn digest_with(algorithm: &str, salt: &[u8], password: &str) -> Option<Vec<u8>> {
    Some(match algorithm {
        SHA256 => Sha256::new()
            .chain_update(salt)
            .chain_update(password)
            .finalize()
            .to_vec(),
        SHA512 => Sha512::new()
            .chain_update(salt)
            .chain_update(password)
            .finalize()
            .to_vec(),
        _ => return None,
    })
}

/// A fresh salted SHA-256 hash of `password` in RabbitMQ's format.
/// How long a refused login waits before it is answered (AMQP and HTTP),
/// so that passwords cannot be guessed at wire speed.
pub const LOGIN_REFUSAL_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

pub fn hash_password(password: &str) -> String {
    let salt: [u8; 4] = rand::random();
    let mut raw = salt.to_vec();
    raw.extend(digest_with(SHA256, &salt, password).unwrap_or_default());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// RabbitMQ's rule for the `user_id` message property: if set, it must
/// name the authenticated user.
pub fn check_user_id(claimed: Option<&[u8]>, user: &str) -> Result<(), AmqpError> {
    match claimed {
        Some(id) if id != user.as_bytes() => Err(AmqpError::precondition(format_args!(
            "user_id property set to '{}' but authenticated user was '{user}'",
            String::from_utf8_lossy(id)
        ))),
        _ => Ok(()),
    }
}

/// A permission expression, kept with its source text for listing.
pub struct Pattern {
    pub source: String,
    /// `None` for '', which RabbitMQ documents as a synonym for '^$'
    /// (only the empty name matches). Every connection holds a
    /// permission-less set until it opens a vhost, and a compiled regex
    /// costs about 5 KiB: three of them were half an idle connection's
    /// memory.
    re: Option<Regex>,
}

impl Pattern {
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        let re = if source.is_empty() {
            None
        } else {
            Some(Regex::new(source)?)
        };
        Ok(Pattern {
            source: source.to_string(),
            re,
        })
    }

    pub fn matches(&self, name: &str) -> bool {
        match &self.re {
            Some(re) => re.is_match(name),
            None => name.is_empty(),
        }
    }
}

/// One user's permissions in one vhost.
pub struct Permissions {
    pub user: String,
    pub vhost: String,
    pub configure: Pattern,
    pub write: Pattern,
    pub read: Pattern,
    /// Topic permissions: routing keys on topic exchanges.
    pub topic: TopicRules,
}

impl Permissions {
    /// What a user without permissions in `vhost` may do: nothing.
    pub fn none(user: &str, vhost: &str) -> Permissions {
        let empty = || Pattern::new("").expect("'' is a valid expression");
        Permissions {
            user: user.to_string(),
            vhost: vhost.to_string(),
            configure: empty(),
            write: empty(),
            read: empty(),
            topic: TopicRules::default(),
        }
    }

    pub fn new(def: &PermissionDef, topic: TopicRules) -> Result<Permissions, regex::Error> {
        Ok(Permissions {
            user: def.user.clone(),
            vhost: def.vhost.clone(),
            configure: Pattern::new(&def.configure)?,
            write: Pattern::new(&def.write)?,
            read: Pattern::new(&def.read)?,
            topic,
        })
    }

    /// The topic permission check for publishing (`Write`) or binding
    /// (`Read`) with `routing_key` on `x`; free when the user has none.
    pub fn check_topic(
        &self,
        perm: Perm,
        x: &crate::exchange::Exchange,
        routing_key: &str,
    ) -> Result<(), AmqpError> {
        if self.topic.is_empty() {
            return Ok(());
        }
        self.topic.check(perm, x, routing_key, &self.user, &self.vhost)
    }

    pub fn allows(&self, perm: Perm, name: &str) -> bool {
        let p = match perm {
            Perm::Configure => &self.configure,
            Perm::Write => &self.write,
            Perm::Read => &self.read,
        };
        p.matches(name)
    }

    /// `perm` on the `kind` (`queue` or `exchange`) called `name`, or 403
    /// with RabbitMQ's text. The default exchange is checked as `amq.default`.
    pub fn check(&self, perm: Perm, kind: &str, name: &str) -> Result<(), AmqpError> {
        let name = if kind == "exchange" && name.is_empty() {
            "amq.default"
        } else {
            name
        };
        if self.allows(perm, name) {
            return Ok(());
        }
        Err(AmqpError::access_refused(format_args!(
            "access to {kind} '{name}' in vhost '{}' refused for user '{}'",
            self.vhost, self.user
        )))
    }

    /// `queue.declare` (not passive): configure on the queue; with a
    /// dead-letter exchange also read on the queue and write on that exchange.
    pub fn check_queue_declare(&self, name: &str, args: &FieldTable) -> Result<(), AmqpError> {
        self.check(Perm::Configure, "queue", name)?;
        if let Some(dlx) = args
            .inner()
            .get("x-dead-letter-exchange")
            .and_then(crate::args::string)
        {
            self.check(Perm::Read, "queue", name)?;
            self.check(Perm::Write, "exchange", &dlx)?;
        }
        Ok(())
    }

    /// `exchange.declare` (not passive): configure on the exchange; with an
    /// alternate exchange also read on this one and write on that one.
    pub fn check_exchange_declare(&self, name: &str, args: &FieldTable) -> Result<(), AmqpError> {
        self.check(Perm::Configure, "exchange", name)?;
        if let Some(ae) = args
            .inner()
            .get("alternate-exchange")
            .and_then(crate::args::string)
        {
            self.check(Perm::Read, "exchange", name)?;
            self.check(Perm::Write, "exchange", &ae)?;
        }
        Ok(())
    }

    /// `queue.bind`/`exchange.bind` and their unbinds: write on the
    /// destination, read on the source exchange.
    pub fn check_bind(&self, dest_kind: &str, dest: &str, source: &str) -> Result<(), AmqpError> {
        self.check(Perm::Write, dest_kind, dest)?;
        self.check(Perm::Read, "exchange", source)
    }

    pub fn def(&self) -> PermissionDef {
        PermissionDef {
            user: self.user.clone(),
            vhost: self.vhost.clone(),
            configure: self.configure.source.clone(),
            write: self.write.source.clone(),
            read: self.read.source.clone(),
        }
    }
}

/// Every user and permission of a broker.
#[derive(Default)]
pub struct Access {
    /// Bumped on every permission change, so connections that cache their
    /// permissions notice at once (RabbitMQ applies changes to open
    /// connections from their next operation).
    generation: std::sync::atomic::AtomicU64,
    users: RwLock<HashMap<String, Arc<User>>>,
    /// By (vhost, user).
    permissions: RwLock<HashMap<(String, String), Arc<Permissions>>>,
    /// By (vhost, user, exchange); compiled into the user's [`Permissions`].
    topic: RwLock<BTreeMap<(String, String, String), TopicPermissionDef>>,
    /// Each user's limits and live connections and channels.
    user_states: RwLock<HashMap<String, Arc<UserState>>>,
    store: Option<Arc<Persistence>>,
}

impl Access {
    /// Loads users and permissions from the store, if there is one.
    pub fn open(store: Option<Arc<Persistence>>) -> Result<Access, warren_store::StoreError> {
        let access = Access {
            store: store.clone(),
            ..Default::default()
        };
        if let Some(s) = &store {
            for u in s.defs.users()? {
                access
                    .users
                    .write()
                    .insert(u.name.clone(), Arc::new(user_from(u)));
            }
            for (user, limits) in s.defs.user_limits() {
                let state = access.user_state(&user);
                let _ = state.update(|l| {
                    *l = limits;
                    Ok::<_, ()>(())
                });
            }
            for t in s.defs.topic_permissions()? {
                access
                    .topic
                    .write()
                    .insert((t.vhost.clone(), t.user.clone(), t.exchange.clone()), t);
            }
            for p in s.defs.permissions()? {
                match Permissions::new(&p, access.topic_rules(&p.vhost, &p.user)) {
                    Ok(perms) => {
                        access
                            .permissions
                            .write()
                            .insert((p.vhost.clone(), p.user.clone()), Arc::new(perms));
                    }
                    Err(e) => tracing::warn!("permission of {} in {} not restored: {e}", p.user, p.vhost),
                }
            }
        }
        Ok(access)
    }

    /// Creates the configured default user with all permissions on `/` the
    /// first time a broker starts on its data directory; an operator who
    /// deletes it later does not see it come back.
    pub fn seed(&self, user: &str, password: &str) {
        if self.is_seeded() {
            return;
        }
        self.put_user(UserDef {
            name: user.to_string(),
            password_hash: hash_password(password),
            hashing_algorithm: SHA256.to_string(),
            tags: vec!["administrator".to_string()],
        });
        let all = PermissionDef {
            user: user.to_string(),
            vhost: "/".to_string(),
            configure: ".*".into(),
            write: ".*".into(),
            read: ".*".into(),
        };
        let _ = self.put_permission(all);
        if let Some(s) = &self.store {
            s.defs.mark_seeded();
        }
    }

    /// Whether this data directory was initialised before.
    pub fn is_seeded(&self) -> bool {
        self.store.as_ref().is_some_and(|s| s.defs.seeded())
    }

    /// Records that the data directory is initialised without creating the
    /// default user (definitions imported at the first start replace it).
    pub fn mark_seeded(&self) {
        if let Some(s) = &self.store {
            s.defs.mark_seeded();
        }
    }

    /// The user, if `password` is theirs.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<Arc<User>> {
        // As RabbitMQ: a blank password never logs in, whatever the hash.
        if password.is_empty() {
            return None;
        }
        match self.user(name) {
            Some(u) => u.verify(password).then_some(u),
            None => {
                // The same work as for a real user, so that a refusal's
                // timing does not tell whether the user exists.
                std::hint::black_box(digest_with(SHA256, &[0; 4], password));
                None
            }
        }
    }

    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    pub fn users(&self) -> Vec<Arc<User>> {
        let mut all: Vec<_> = self.users.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Creates or replaces a user; true if it was new.
    pub fn put_user(&self, def: UserDef) -> bool {
        if let Some(s) = &self.store {
            s.defs.put_user(&def);
        }
        self.users
            .write()
            .insert(def.name.clone(), Arc::new(user_from(def)))
            .is_none()
    }

    /// Deletes a user and their permissions; false if there was none.
    pub fn delete_user(&self, name: &str) -> bool {
        if self.users.write().remove(name).is_none() {
            return false;
        }
        if let Some(s) = &self.store {
            s.defs.delete_user(name);
        }
        let gone: Vec<_> = self
            .permissions
            .read()
            .keys()
            .filter(|(_, u)| u == name)
            .cloned()
            .collect();
        for (vhost, user) in gone {
            self.delete_permission(&vhost, &user);
        }
        let topic: Vec<String> = self
            .topic
            .read()
            .keys()
            .filter(|(_, u, _)| u == name)
            .map(|(v, _, _)| v.clone())
            .collect();
        for vhost in topic {
            self.delete_topic_permissions(&vhost, name, None);
        }
        let _ = self.update_user_limits(name, |l| {
            *l = UserLimits::default();
            Ok::<_, ()>(())
        });
        true
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn permission(&self, vhost: &str, user: &str) -> Option<Arc<Permissions>> {
        self.permissions
            .read()
            .get(&(vhost.to_string(), user.to_string()))
            .cloned()
    }

    pub fn permissions(&self) -> Vec<Arc<Permissions>> {
        let mut all: Vec<_> = self.permissions.read().values().cloned().collect();
        all.sort_by(|a, b| (&a.vhost, &a.user).cmp(&(&b.vhost, &b.user)));
        all
    }

    /// Sets a user's permissions in a vhost; true if they had none there.
    pub fn put_permission(&self, def: PermissionDef) -> Result<bool, regex::Error> {
        // Topic rules are compiled under the permissions' lock, as
        // `topic_changed` compiles them: a topic permission set meanwhile
        // cannot be left out of what connections enforce.
        let mut all = self.permissions.write();
        let perms = Permissions::new(&def, self.topic_rules(&def.vhost, &def.user))?;
        if let Some(s) = &self.store {
            s.defs.put_permission(&def);
        }
        let created = all.insert((def.vhost, def.user), Arc::new(perms)).is_none();
        drop(all);
        self.changed();
        Ok(created)
    }

    pub fn delete_permission(&self, vhost: &str, user: &str) -> bool {
        let gone = self
            .permissions
            .write()
            .remove(&(vhost.to_string(), user.to_string()))
            .is_some();
        if gone {
            if let Some(s) = &self.store {
                s.defs.delete_permission(vhost, user);
            }
            self.changed();
        }
        gone
    }

    /// A user's limits and the connections and channels counted against
    /// them (made at first use: a limit set later counts what is open).
    pub fn user_state(&self, user: &str) -> Arc<UserState> {
        if let Some(s) = self.user_states.read().get(user) {
            return s.clone();
        }
        self.user_states
            .write()
            .entry(user.to_string())
            .or_default()
            .clone()
    }

    /// Changes a user's limits (stored with the change, under their lock).
    pub fn update_user_limits<E>(
        &self,
        user: &str,
        change: impl FnOnce(&mut UserLimits) -> Result<(), E>,
    ) -> Result<(), E> {
        self.user_state(user).update(|limits| {
            change(limits)?;
            if let Some(s) = &self.store {
                s.defs.put_user_limits(user, limits);
            }
            Ok(())
        })
    }

    /// A user's limits (none set: empty).
    pub fn limits_of(&self, user: &str) -> UserLimits {
        self.user_states
            .read()
            .get(user)
            .map(|s| s.get())
            .unwrap_or_default()
    }

    /// Users with limits, by name.
    pub fn user_limits(&self) -> Vec<(String, UserLimits)> {
        let mut all: Vec<(String, UserLimits)> = self
            .user_states
            .read()
            .iter()
            .map(|(u, s)| (u.clone(), s.get()))
            .filter(|(_, l)| !l.is_empty())
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    fn topic_rules(&self, vhost: &str, user: &str) -> TopicRules {
        let all = self.topic.read();
        TopicRules::new(all.values().filter(|t| t.vhost == vhost && t.user == user))
    }

    /// Recompiles a user's permissions in a vhost after their topic
    /// permissions changed; open connections pick them up by generation.
    fn topic_changed(&self, vhost: &str, user: &str) {
        let key = (vhost.to_string(), user.to_string());
        let mut all = self.permissions.write();
        if let Some(p) = all.get(&key) {
            if let Ok(p) = Permissions::new(&p.def(), self.topic_rules(vhost, user)) {
                all.insert(key, Arc::new(p));
            }
        }
        drop(all);
        self.changed();
    }

    pub fn topic_permissions(&self) -> Vec<TopicPermissionDef> {
        self.topic.read().values().cloned().collect()
    }

    /// Sets a user's topic permission on an exchange; true if it is new.
    pub fn put_topic_permission(&self, def: TopicPermissionDef) -> Result<bool, regex::Error> {
        crate::topic_permissions::validate(&def)?;
        if let Some(s) = &self.store {
            s.defs.put_topic_permission(&def);
        }
        let (vhost, user) = (def.vhost.clone(), def.user.clone());
        let created = self
            .topic
            .write()
            .insert((def.vhost.clone(), def.user.clone(), def.exchange.clone()), def)
            .is_none();
        self.topic_changed(&vhost, &user);
        Ok(created)
    }

    /// Deletes a user's topic permissions in a vhost: on one exchange, or
    /// on all with `None`. False if there were none.
    pub fn delete_topic_permissions(&self, vhost: &str, user: &str, exchange: Option<&str>) -> bool {
        let gone: Vec<(String, String, String)> = self
            .topic
            .read()
            .keys()
            .filter(|(v, u, x)| v == vhost && u == user && exchange.is_none_or(|e| e == x))
            .cloned()
            .collect();
        if gone.is_empty() {
            return false;
        }
        for k in &gone {
            self.topic.write().remove(k);
            if let Some(s) = &self.store {
                s.defs.delete_topic_permission(&k.0, &k.1, &k.2);
            }
        }
        self.topic_changed(vhost, user);
        true
    }

    /// What `connection.open` checks: the user has permissions in `vhost`.
    pub fn vhost_access(&self, vhost: &str, user: &str) -> Result<Arc<Permissions>, AmqpError> {
        self.permission(vhost, user).ok_or_else(|| {
            AmqpError::new(
                NOT_ALLOWED,
                format_args!("access to vhost '{vhost}' refused for user '{user}'"),
            )
        })
    }
}

fn user_from(def: UserDef) -> User {
    User {
        name: def.name,
        password_hash: def.password_hash,
        hashing_algorithm: def.hashing_algorithm,
        tags: def.tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_match_rabbitmq_format() {
        let hash = hash_password("s3cret");
        let raw = base64::engine::general_purpose::STANDARD.decode(&hash).unwrap();
        assert_eq!(raw.len(), 4 + 32);
        let u = User {
            name: "u".into(),
            password_hash: hash,
            hashing_algorithm: SHA256.into(),
            tags: vec![],
        };
        assert!(u.verify("s3cret"));
        assert!(!u.verify("s3cret "));
    }

    #[test]
    fn empty_pattern_matches_nothing_and_others_are_unanchored() {
        let p = Pattern::new("").unwrap();
        assert!(!p.matches("q"));
        let p = Pattern::new("abc").unwrap();
        assert!(p.matches("xabcx"));
        assert!(!Pattern::new("^abc$").unwrap().matches("xabc"));
    }
}
