//! Runtime parameters (RabbitMQ's `rabbit_runtime_parameters`) that are not
//! modelled elsewhere, and global parameters.
//!
//! RabbitMQ keeps vhost limits, policies and operator policies as runtime
//! parameters too; Warren keeps those with their vhost (`limits`, `policy`)
//! and only shows them under their component names. What lives here:
//!
//! * parameters of components Warren accepts without running them yet
//!   ([`STORED_COMPONENTS`]: shovels and federation upstreams), stored as the
//!   operator gave them so that definitions exported from RabbitMQ import,
//!   export and import again unchanged;
//! * global parameters: `cluster_name` and any an operator sets.
//!   `internal_cluster_id` is the broker's permanent identity, made at the
//!   first start, and is not kept here.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;
use warren_store::definitions::{GlobalParameterDef, ParameterDef};

use crate::persist::Persistence;

/// Components whose parameters are stored and exported but not acted on:
/// the shovel and federation plugins' (Warren has neither yet).
pub const STORED_COMPONENTS: &[&str] = &["shovel", "federation-upstream", "federation-upstream-set"];

/// The global parameter that names the cluster.
pub const CLUSTER_NAME: &str = "cluster_name";

/// The cluster name until an operator sets one.
pub const DEFAULT_CLUSTER_NAME: &str = "warren";

/// Stored runtime and global parameters.
#[derive(Default)]
pub struct Parameters {
    /// By (component, vhost, name): the order RabbitMQ lists them in.
    components: RwLock<BTreeMap<(String, String, String), Value>>,
    global: RwLock<BTreeMap<String, Value>>,
    store: Option<Arc<Persistence>>,
}

impl Parameters {
    /// The parameters stored in `store`, or none without one.
    pub fn open(store: Option<Arc<Persistence>>) -> Result<Parameters, warren_store::StoreError> {
        let mut components = BTreeMap::new();
        let mut global = BTreeMap::new();
        if let Some(store) = &store {
            for p in store.defs.parameters()? {
                components.insert((p.component, p.vhost, p.name), p.value);
            }
            for g in store.defs.global_parameters()? {
                global.insert(g.name, g.value);
            }
        }
        Ok(Parameters {
            components: RwLock::new(components),
            global: RwLock::new(global),
            store,
        })
    }

    /// Every stored component parameter, as (component, vhost, name, value).
    pub fn list(&self) -> Vec<ParameterDef> {
        self.components
            .read()
            .iter()
            .map(|((component, vhost, name), value)| ParameterDef {
                component: component.clone(),
                vhost: vhost.clone(),
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }

    pub fn get(&self, component: &str, vhost: &str, name: &str) -> Option<Value> {
        self.components
            .read()
            .get(&(component.to_string(), vhost.to_string(), name.to_string()))
            .cloned()
    }

    /// Sets a parameter; true if it is new.
    pub fn put(&self, p: ParameterDef) -> bool {
        if let Some(store) = &self.store {
            store.defs.put_parameter(&p);
        }
        self.components
            .write()
            .insert((p.component, p.vhost, p.name), p.value)
            .is_none()
    }

    /// Removes a parameter; false if there was none.
    pub fn delete(&self, component: &str, vhost: &str, name: &str) -> bool {
        let key = (component.to_string(), vhost.to_string(), name.to_string());
        let existed = self.components.write().remove(&key).is_some();
        if let (true, Some(store)) = (existed, &self.store) {
            store.defs.delete_parameter(component, vhost, name);
        }
        existed
    }

    /// Drops the parameters of a deleted vhost.
    pub fn delete_vhost(&self, vhost: &str) {
        let doomed: Vec<_> = self
            .components
            .read()
            .keys()
            .filter(|(_, v, _)| v == vhost)
            .cloned()
            .collect();
        for (component, vhost, name) in doomed {
            self.delete(&component, &vhost, &name);
        }
    }

    /// The stored global parameters by name (without `internal_cluster_id`).
    pub fn globals(&self) -> Vec<GlobalParameterDef> {
        self.global
            .read()
            .iter()
            .map(|(name, value)| GlobalParameterDef {
                name: name.clone(),
                value: value.clone(),
            })
            .collect()
    }

    pub fn global(&self, name: &str) -> Option<Value> {
        self.global.read().get(name).cloned()
    }

    /// Sets a global parameter; true if it is new.
    pub fn put_global(&self, name: &str, value: Value) -> bool {
        if let Some(store) = &self.store {
            store.defs.put_global_parameter(&GlobalParameterDef {
                name: name.to_string(),
                value: value.clone(),
            });
        }
        self.global.write().insert(name.to_string(), value).is_none()
    }

    /// Removes a global parameter; false if there was none.
    pub fn delete_global(&self, name: &str) -> bool {
        let existed = self.global.write().remove(name).is_some();
        if let (true, Some(store)) = (existed, &self.store) {
            store.defs.delete_global_parameter(name);
        }
        existed
    }

    /// The cluster's name: the `cluster_name` parameter when it is a
    /// string, else [`DEFAULT_CLUSTER_NAME`].
    pub fn cluster_name(&self) -> String {
        match self.global(CLUSTER_NAME) {
            Some(Value::String(name)) => name,
            _ => DEFAULT_CLUSTER_NAME.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_cluster_name_survive_a_reopen_and_go_with_their_vhost() {
        let dir = tempfile::tempdir().unwrap();
        let open = || {
            let (store, _) =
                Persistence::open(Arc::new(warren_store::FileDisk), dir.path(), 1 << 20, 64, |_| {
                    Ok(vec![])
                })
                .unwrap();
            Parameters::open(Some(store)).unwrap()
        };
        {
            let p = open();
            assert_eq!(p.cluster_name(), DEFAULT_CLUSTER_NAME);
            let shovel = |vhost: &str| ParameterDef {
                component: "shovel".into(),
                vhost: vhost.into(),
                name: "s".into(),
                value: serde_json::json!({"src-uri": "amqp://"}),
            };
            assert!(p.put(shovel("/")));
            assert!(!p.put(shovel("/")), "a second put replaces");
            assert!(p.put(shovel("other")));
            assert!(p.put_global(CLUSTER_NAME, "east".into()));
            p.delete_vhost("other");
        }
        let p = open();
        assert_eq!(p.cluster_name(), "east");
        let all = p.list();
        assert_eq!(all.len(), 1, "{all:?}");
        assert_eq!(all[0].vhost, "/");
        assert_eq!(all[0].value["src-uri"], "amqp://");
        assert!(p.delete("shovel", "/", "s"));
        assert!(!p.delete("shovel", "/", "s"));
        assert!(p.delete_global(CLUSTER_NAME));
        assert_eq!(p.cluster_name(), DEFAULT_CLUSTER_NAME);
    }
}
