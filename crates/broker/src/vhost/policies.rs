//! A vhost's settings: policies and operator policies (and applying them
//! to queues and exchanges), limits, and metadata.

use std::sync::Arc;

use parking_lot::RwLock;

use super::VHost;
use crate::error::AmqpError;
use crate::exchange::Exchange;
use crate::policy::{self, Flavor, Policy};
use crate::queue::Queue;
use warren_store::definitions::{PolicyDef, VhostLimits, VhostMeta};

impl VHost {
    pub fn meta(&self) -> VhostMeta {
        self.meta.read().clone()
    }

    /// Sets the description, tags and default queue type (stored).
    pub fn set_meta(&self, meta: VhostMeta) {
        if let Some(store) = &self.store {
            store.defs.put_vhost_meta(&self.name, &meta);
        }
        *self.meta.write() = meta;
    }

    /// Puts back metadata read from the store at start.
    pub fn restore_meta(&self, meta: VhostMeta) {
        *self.meta.write() = meta;
    }

    /// Changes the vhost's limits with `change` (stored). Connections and
    /// queues over a new, lower limit stay, as in RabbitMQ; only new ones
    /// are refused. Two changes at once both apply, and a deleted vhost's
    /// limits cannot come back.
    pub fn update_limits<E: From<AmqpError>>(
        &self,
        change: impl FnOnce(&mut VhostLimits) -> Result<(), E>,
    ) -> Result<(), E> {
        self.limits.update(|limits| {
            self.check_live()?;
            change(limits)?;
            if let Some(store) = &self.store {
                store.defs.put_vhost_limits(&self.name, limits);
            }
            Ok(())
        })
    }

    /// Puts back limits read from the store at start.
    pub fn restore_limits(&self, limits: VhostLimits) {
        self.limits
            .update(|l| {
                *l = limits;
                Ok::<_, AmqpError>(())
            })
            .ok();
    }

    fn policy_set(&self, flavor: Flavor) -> &RwLock<Vec<Arc<Policy>>> {
        match flavor {
            Flavor::User => &self.policies,
            Flavor::Operator => &self.operator_policies,
        }
    }

    pub fn policies(&self) -> Vec<Arc<Policy>> {
        self.policies.read().clone()
    }

    pub fn operator_policies(&self) -> Vec<Arc<Policy>> {
        self.operator_policies.read().clone()
    }

    pub fn policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.policies.read().iter().find(|p| p.name == name).cloned()
    }

    pub fn operator_policy(&self, name: &str) -> Option<Arc<Policy>> {
        self.operator_policies
            .read()
            .iter()
            .find(|p| p.name == name)
            .cloned()
    }

    /// Adds or replaces a policy (validated with RabbitMQ's texts) and
    /// applies it; true if it is new.
    pub fn put_policy(&self, def: PolicyDef) -> Result<bool, String> {
        self.put_policy_of(Flavor::User, def)
    }

    pub fn put_operator_policy(&self, def: PolicyDef) -> Result<bool, String> {
        self.put_policy_of(Flavor::Operator, def)
    }

    fn put_policy_of(&self, flavor: Flavor, def: PolicyDef) -> Result<bool, String> {
        self.check_live().map_err(|e| e.text)?;
        let p = Arc::new(Policy::of(flavor, def)?);
        if let Some(store) = &self.store {
            store.defs.put_policy(flavor == Flavor::Operator, &p.def());
        }
        let created = {
            let mut all = self.policy_set(flavor).write();
            let created = match all.iter().position(|x| x.name == p.name) {
                Some(i) => {
                    all[i] = p;
                    false
                }
                None => {
                    all.push(p);
                    true
                }
            };
            all.sort_by(|a, b| a.name.cmp(&b.name));
            created
        };
        self.apply_policies();
        Ok(created)
    }

    pub fn delete_policy(&self, name: &str) -> bool {
        self.delete_policy_of(Flavor::User, name)
    }

    pub fn delete_operator_policy(&self, name: &str) -> bool {
        self.delete_policy_of(Flavor::Operator, name)
    }

    fn delete_policy_of(&self, flavor: Flavor, name: &str) -> bool {
        let gone = {
            let mut all = self.policy_set(flavor).write();
            let before = all.len();
            all.retain(|p| p.name != name);
            all.len() != before
        };
        if gone {
            if let Some(store) = &self.store {
                store
                    .defs
                    .delete_policy(flavor == Flavor::Operator, &self.name, name);
            }
            self.apply_policies();
        }
        gone
    }

    /// Puts back a policy read from the store at start.
    pub fn restore_policy(&self, flavor: Flavor, def: PolicyDef) -> Result<(), String> {
        let p = Arc::new(Policy::of(flavor, def)?);
        let mut all = self.policy_set(flavor).write();
        all.push(p);
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    fn policy_for(&self, kind: policy::Kind, name: &str) -> Option<Arc<Policy>> {
        policy::select(&self.policies.read(), kind, name)
    }

    /// A queue's policy and operator policy.
    fn policies_for_queue(&self, name: &str) -> policy::Applied {
        policy::Applied {
            policy: self.policy_for(policy::Kind::Queue, name),
            operator: policy::select(&self.operator_policies.read(), policy::Kind::Queue, name),
        }
    }

    /// Gives every queue and exchange the policy that now applies to it.
    pub fn apply_policies(&self) {
        for q in self.queues() {
            q.apply_policy(|| self.policies_for_queue(&q.name));
        }
        for x in self.exchanges() {
            x.apply_policy(|| self.policy_for(policy::Kind::Exchange, &x.name));
        }
    }

    pub(super) fn apply_policy_to_queue(&self, q: &Arc<Queue>) {
        if !self.policies.read().is_empty() || !self.operator_policies.read().is_empty() {
            q.apply_policy(|| self.policies_for_queue(&q.name));
        }
    }

    pub(super) fn apply_policy_to_exchange(&self, x: &Exchange) {
        if !self.policies.read().is_empty() {
            x.apply_policy(|| self.policy_for(policy::Kind::Exchange, &x.name));
        }
    }
}
