//! Durable definitions in sled: one tree per kind, keyed by vhost and name,
//! values as JSON. Written when they change, read back at start. A schema
//! version key guards against opening a store written by a newer Warren.

use std::path::Path;

use amq_protocol::types::FieldTable;
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// The schema this code writes and understands.
pub const SCHEMA_VERSION: u32 = 1;
const SCHEMA_KEY: &[u8] = b"schema_version";
const NEXT_QUEUE_ID: &[u8] = b"next_queue_id";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeDef {
    pub vhost: String,
    pub name: String,
    /// The declared type name (`direct`, ..., `x-delayed-message`).
    pub kind: String,
    pub durable: bool,
    pub auto_delete: bool,
    pub internal: bool,
    pub arguments: FieldTable,
    /// An `x-delayed-message` exchange: the id the message log knows its
    /// held messages by (from the queue id counter, so never a queue's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueDef {
    pub vhost: String,
    pub name: String,
    /// The id the message log knows the queue by.
    pub id: u32,
    pub auto_delete: bool,
    pub arguments: FieldTable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BindingDef {
    pub vhost: String,
    pub source: String,
    /// `queue` or `exchange`.
    pub destination_kind: String,
    pub destination: String,
    pub routing_key: String,
    pub arguments: FieldTable,
}

/// What an operator says about a vhost (RabbitMQ's vhost metadata).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VhostMeta {
    pub description: String,
    pub tags: Vec<String>,
    pub default_queue_type: Option<String>,
}

/// A vhost's limits (RabbitMQ's `vhost-limits` parameter); a negative
/// value means no limit, as in RabbitMQ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VhostLimits {
    #[serde(rename = "max-connections", skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(rename = "max-queues", skip_serializing_if = "Option::is_none")]
    pub max_queues: Option<i64>,
}

/// A user's limits (RabbitMQ's user limits); negative means none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLimits {
    #[serde(rename = "max-connections", skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<i64>,
    #[serde(rename = "max-channels", skip_serializing_if = "Option::is_none")]
    pub max_channels: Option<i64>,
}

impl UserLimits {
    pub fn is_empty(&self) -> bool {
        self.max_connections.is_none() && self.max_channels.is_none()
    }
}

impl VhostLimits {
    pub fn is_empty(&self) -> bool {
        self.max_connections.is_none() && self.max_queues.is_none()
    }
}

/// A user as RabbitMQ exports it: the password only as a salted hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserDef {
    pub name: String,
    /// base64 of salt and digest (see `warren_broker::access`); empty when
    /// the user may not log in with a password.
    pub password_hash: String,
    pub hashing_algorithm: String,
    pub tags: Vec<String>,
}

/// What a user may do in a vhost: three regular expressions over resource names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDef {
    pub user: String,
    pub vhost: String,
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// A user's topic permission on one topic exchange of a vhost: which
/// routing keys they may publish with (`write`) and bind with (`read`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicPermissionDef {
    pub user: String,
    pub vhost: String,
    pub exchange: String,
    pub write: String,
    pub read: String,
}

/// A policy: a definition applied to the queues and/or exchanges whose
/// names match `pattern`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDef {
    pub vhost: String,
    pub name: String,
    pub pattern: String,
    /// `queues`, `exchanges` or `all`.
    pub apply_to: String,
    pub priority: i64,
    pub definition: serde_json::Map<String, serde_json::Value>,
}

/// A runtime parameter of a component Warren stores without acting on it
/// (RabbitMQ's `shovel`, `federation-upstream`...), kept so definitions
/// round-trip. The value is the operator's JSON, as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParameterDef {
    pub component: String,
    pub vhost: String,
    pub name: String,
    pub value: serde_json::Value,
}

/// A global (cluster-wide) runtime parameter, such as `cluster_name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalParameterDef {
    pub name: String,
    pub value: serde_json::Value,
}

pub struct Definitions {
    db: sled::Db,
    meta: sled::Tree,
    vhosts: sled::Tree,
    exchanges: sled::Tree,
    queues: sled::Tree,
    bindings: sled::Tree,
    users: sled::Tree,
    permissions: sled::Tree,
    topic_permissions: sled::Tree,
    policies: sled::Tree,
    operator_policies: sled::Tree,
    vhost_meta: sled::Tree,
    vhost_limits: sled::Tree,
    user_limits: sled::Tree,
    parameters: sled::Tree,
    global_parameters: sled::Tree,
}

fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\u{0}").into_bytes()
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

fn all<T: for<'de> Deserialize<'de>>(tree: &sled::Tree) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|kv| {
            let (k, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                key: String::from_utf8_lossy(&k).into_owned(),
                reason: e.to_string(),
            })
        })
        .collect()
}

/// Opens sled's database, waiting up to 2 s for its lock file: a database
/// just closed in this process is unlocked only once sled's flusher thread
/// has ended, so a quick close and reopen (a restart in tests, a vhost
/// reset) could find it still held. Another process holding it is still an
/// error, after the wait.
fn open_locked(dir: &Path) -> Result<sled::Db, sled::Error> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match sled::open(dir) {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

impl Definitions {
    pub fn open(dir: &Path) -> Result<Definitions, StoreError> {
        let db = open_locked(dir)?;
        let meta = db.open_tree("meta")?;
        match meta.get(SCHEMA_KEY)? {
            Some(v) => {
                let found = u32::from_be_bytes(v.as_ref().try_into().unwrap_or([0xff; 4]));
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
            None => {
                meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
            }
        }
        Ok(Definitions {
            vhosts: db.open_tree("vhosts")?,
            exchanges: db.open_tree("exchanges")?,
            queues: db.open_tree("queues")?,
            bindings: db.open_tree("bindings")?,
            users: db.open_tree("users")?,
            permissions: db.open_tree("permissions")?,
            topic_permissions: db.open_tree("topic_permissions")?,
            policies: db.open_tree("policies")?,
            operator_policies: db.open_tree("operator_policies")?,
            vhost_meta: db.open_tree("vhost_meta")?,
            vhost_limits: db.open_tree("vhost_limits")?,
            user_limits: db.open_tree("user_limits")?,
            parameters: db.open_tree("parameters")?,
            global_parameters: db.open_tree("global_parameters")?,
            meta,
            db,
        })
    }

    /// Makes the changes so far durable.
    pub fn flush(&self) {
        if let Err(e) = self.db.flush() {
            tracing::error!("cannot flush definitions: {e}");
        }
    }

    /// Writes (or with `None` removes) one definition and flushes it to
    /// disk; either failing is an error.
    fn try_write(&self, tree: &sled::Tree, k: Vec<u8>, v: Option<Vec<u8>>) -> Result<(), StoreError> {
        match v {
            Some(v) => tree.insert(k, v).map(drop)?,
            None => tree.remove(k).map(drop)?,
        };
        self.db.flush()?;
        Ok(())
    }

    fn write(&self, tree: &sled::Tree, k: Vec<u8>, v: Option<Vec<u8>>) {
        if let Err(e) = self.try_write(tree, k, v) {
            tracing::error!("cannot write definition: {e}");
        }
    }

    pub fn put_vhost(&self, name: &str) {
        self.write(&self.vhosts, key(&[name]), Some(json(&name)));
    }

    pub fn vhosts(&self) -> Result<Vec<String>, StoreError> {
        all(&self.vhosts)
    }

    pub fn delete_vhost(&self, name: &str) {
        self.write(&self.vhosts, key(&[name]), None);
        self.write(&self.vhost_meta, key(&[name]), None);
        self.write(&self.vhost_limits, key(&[name]), None);
    }

    pub fn put_vhost_meta(&self, name: &str, meta: &VhostMeta) {
        self.write(&self.vhost_meta, key(&[name]), Some(json(meta)));
    }

    pub fn vhost_meta(&self, name: &str) -> Option<VhostMeta> {
        let v = self.vhost_meta.get(key(&[name])).ok()??;
        serde_json::from_slice(&v).ok()
    }

    /// Stores a vhost's limits; empty limits are removed.
    pub fn put_vhost_limits(&self, name: &str, limits: &VhostLimits) {
        let v = (!limits.is_empty()).then(|| json(limits));
        self.write(&self.vhost_limits, key(&[name]), v);
    }

    pub fn vhost_limits(&self, name: &str) -> Option<VhostLimits> {
        let v = self.vhost_limits.get(key(&[name])).ok()??;
        serde_json::from_slice(&v).ok()
    }

    /// Stores a user's limits; empty limits are removed.
    pub fn put_user_limits(&self, user: &str, limits: &UserLimits) {
        let v = (!limits.is_empty()).then(|| json(limits));
        self.write(&self.user_limits, key(&[user]), v);
    }

    /// Every user's stored limits.
    pub fn user_limits(&self) -> Vec<(String, UserLimits)> {
        self.user_limits
            .iter()
            .filter_map(|kv| {
                let (k, v) = kv.ok()?;
                Some((
                    String::from_utf8_lossy(&k).into_owned(),
                    serde_json::from_slice(&v).ok()?,
                ))
            })
            .collect()
    }

    pub fn put_user(&self, u: &UserDef) {
        self.write(&self.users, key(&[&u.name]), Some(json(u)));
    }

    pub fn delete_user(&self, name: &str) {
        self.write(&self.users, key(&[name]), None);
    }

    pub fn users(&self) -> Result<Vec<UserDef>, StoreError> {
        all(&self.users)
    }

    pub fn put_permission(&self, p: &PermissionDef) {
        self.write(&self.permissions, key(&[&p.vhost, &p.user]), Some(json(p)));
    }

    pub fn delete_permission(&self, vhost: &str, user: &str) {
        self.write(&self.permissions, key(&[vhost, user]), None);
    }

    pub fn permissions(&self) -> Result<Vec<PermissionDef>, StoreError> {
        all(&self.permissions)
    }

    pub fn put_topic_permission(&self, p: &TopicPermissionDef) {
        let k = key(&[&p.vhost, &p.user, &p.exchange]);
        self.write(&self.topic_permissions, k, Some(json(p)));
    }

    pub fn delete_topic_permission(&self, vhost: &str, user: &str, exchange: &str) {
        self.write(&self.topic_permissions, key(&[vhost, user, exchange]), None);
    }

    pub fn topic_permissions(&self) -> Result<Vec<TopicPermissionDef>, StoreError> {
        all(&self.topic_permissions)
    }

    /// Operator policies are kept apart: their names are their own.
    fn policy_tree(&self, operator: bool) -> &sled::Tree {
        if operator {
            &self.operator_policies
        } else {
            &self.policies
        }
    }

    pub fn put_policy(&self, operator: bool, p: &PolicyDef) {
        self.write(
            self.policy_tree(operator),
            key(&[&p.vhost, &p.name]),
            Some(json(p)),
        );
    }

    pub fn delete_policy(&self, operator: bool, vhost: &str, name: &str) {
        self.write(self.policy_tree(operator), key(&[vhost, name]), None);
    }

    pub fn policies(&self, operator: bool) -> Result<Vec<PolicyDef>, StoreError> {
        all(self.policy_tree(operator))
    }

    pub fn put_parameter(&self, p: &ParameterDef) {
        let k = key(&[&p.component, &p.vhost, &p.name]);
        self.write(&self.parameters, k, Some(json(p)));
    }

    pub fn delete_parameter(&self, component: &str, vhost: &str, name: &str) {
        self.write(&self.parameters, key(&[component, vhost, name]), None);
    }

    pub fn parameters(&self) -> Result<Vec<ParameterDef>, StoreError> {
        all(&self.parameters)
    }

    pub fn put_global_parameter(&self, p: &GlobalParameterDef) {
        self.write(&self.global_parameters, key(&[&p.name]), Some(json(p)));
    }

    pub fn delete_global_parameter(&self, name: &str) {
        self.write(&self.global_parameters, key(&[name]), None);
    }

    pub fn global_parameters(&self) -> Result<Vec<GlobalParameterDef>, StoreError> {
        all(&self.global_parameters)
    }

    /// Whether the default user was created once already (it is not
    /// re-created after an operator deletes it, as in RabbitMQ).
    pub fn seeded(&self) -> bool {
        self.meta.get(b"seeded").ok().flatten().is_some()
    }

    /// The node's permanent identity, made by `make` at the first start and
    /// kept (rabbitmq_identity_info's `rabbitmq_cluster_permanent_id`).
    pub fn cluster_id(&self, make: impl FnOnce() -> String) -> String {
        if let Some(id) = self.meta.get(b"cluster_id").ok().flatten() {
            return String::from_utf8_lossy(&id).into_owned();
        }
        let id = make();
        self.write(&self.meta, b"cluster_id".to_vec(), Some(id.clone().into_bytes()));
        id
    }

    pub fn mark_seeded(&self) {
        self.write(&self.meta, b"seeded".to_vec(), Some(vec![1]));
    }

    /// Stores a durable exchange's definition; the declare fails if it
    /// cannot be.
    pub fn put_exchange(&self, x: &ExchangeDef) -> Result<(), StoreError> {
        self.try_write(&self.exchanges, key(&[&x.vhost, &x.name]), Some(json(x)))
    }

    pub fn delete_exchange(&self, vhost: &str, name: &str) {
        self.write(&self.exchanges, key(&[vhost, name]), None);
    }

    pub fn exchanges(&self) -> Result<Vec<ExchangeDef>, StoreError> {
        all(&self.exchanges)
    }

    /// A fresh id for a new durable queue. Never one given out before: a
    /// counter that cannot be read or advanced is an error, not id 1
    /// again (a reused id would hand the new queue the old one's
    /// messages at the next recovery).
    pub fn next_queue_id(&self) -> Result<u32, StoreError> {
        // Set by the update when it leaves the counter as it was (it does
        // not hold 4 bytes, or the ids are spent); reset on each attempt,
        // as sled may run the update again.
        let mut refused = false;
        let next = self.meta.update_and_fetch(NEXT_QUEUE_ID, |old| {
            let n = match old {
                None => Some(0),
                Some(v) => <[u8; 4]>::try_from(v).ok().map(u32::from_be_bytes),
            };
            let next = n.and_then(|n| n.checked_add(1));
            refused = next.is_none();
            match next {
                Some(n) => Some(n.to_be_bytes().to_vec()),
                None => old.map(<[u8]>::to_vec),
            }
        })?;
        let bytes = next
            .as_deref()
            .filter(|_| !refused)
            .and_then(|v| <[u8; 4]>::try_from(v).ok());
        let bytes = bytes.ok_or_else(|| StoreError::Corrupt {
            key: "next_queue_id".into(),
            reason: "not a 4-byte counter, or every id given out".into(),
        })?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// Stores a durable queue's definition; the declare fails if it cannot
    /// be stored (a queue that would not exist after a restart).
    pub fn put_queue(&self, q: &QueueDef) -> Result<(), StoreError> {
        self.try_write(&self.queues, key(&[&q.vhost, &q.name]), Some(json(q)))
    }

    pub fn delete_queue(&self, vhost: &str, name: &str) {
        self.write(&self.queues, key(&[vhost, name]), None);
    }

    pub fn queues(&self) -> Result<Vec<QueueDef>, StoreError> {
        all(&self.queues)
    }

    fn binding_key(b: &BindingDef) -> Vec<u8> {
        let args = String::from_utf8(json(&b.arguments)).unwrap_or_default();
        key(&[
            &b.vhost,
            &b.source,
            &b.destination_kind,
            &b.destination,
            &b.routing_key,
            &args,
        ])
    }

    /// Stores a durable binding; the bind fails if it cannot be.
    pub fn put_binding(&self, b: &BindingDef) -> Result<(), StoreError> {
        self.try_write(&self.bindings, Self::binding_key(b), Some(json(b)))
    }

    pub fn delete_binding(&self, b: &BindingDef) {
        self.write(&self.bindings, Self::binding_key(b), None);
    }

    pub fn bindings(&self) -> Result<Vec<BindingDef>, StoreError> {
        all(&self.bindings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::types::AMQPValue;

    #[test]
    fn queue_ids_never_wrap_around() {
        let dir = tempfile::tempdir().unwrap();
        let d = Definitions::open(dir.path()).unwrap();
        d.meta
            .insert(NEXT_QUEUE_ID, &(u32::MAX - 1).to_be_bytes())
            .unwrap();
        assert_eq!(d.next_queue_id().unwrap(), u32::MAX);
        // Spent: an error, not id 0 or 1 again.
        assert!(d.next_queue_id().is_err());
        assert!(d.next_queue_id().is_err());
    }

    #[test]
    fn definitions_survive_reopening_and_newer_schemas_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut args = FieldTable::default();
        args.insert("x-max-length".into(), AMQPValue::LongInt(5));
        {
            let d = Definitions::open(dir.path()).unwrap();
            let id = d.next_queue_id().unwrap();
            assert_eq!(d.next_queue_id().unwrap(), id + 1);
            d.put_queue(&QueueDef {
                vhost: "/".into(),
                name: "q".into(),
                id,
                auto_delete: false,
                arguments: args.clone(),
            })
            .unwrap();
            d.put_exchange(&ExchangeDef {
                vhost: "/".into(),
                name: "x".into(),
                kind: "topic".into(),
                durable: true,
                auto_delete: false,
                internal: false,
                arguments: FieldTable::default(),
                delayed_id: None,
            })
            .unwrap();
            d.delete_exchange("/", "x");
        }
        {
            let d = Definitions::open(dir.path()).unwrap();
            let qs = d.queues().unwrap();
            assert_eq!(qs.len(), 1);
            assert_eq!(qs[0].arguments, args);
            assert!(d.exchanges().unwrap().is_empty());
            d.meta
                .insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes())
                .unwrap();
            d.flush();
        }
        let err = Definitions::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("refusing to start"), "{err}");
    }
}
