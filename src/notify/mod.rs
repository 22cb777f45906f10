//! Notifications: the outbox, rendering, transports and delivery.
//!
//! The pure engine decides who is told what (`Effect::Notify`); the pass turns each decision
//! into [`message::Message`]s, written to an outbox [`segment`] and referred to from the
//! review's outbox in its state, both saved before anything is sent. Delivery runs beside the passes and records each outcome; the next pass folds the
//! outcomes into the state, the status and the audit trail.

pub mod compose;
pub mod config;
pub mod event;
pub mod message;
pub mod outbox;
pub mod render;
pub mod segment;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::load::Loaded;
use crate::model::Resource;
use crate::model::notifier::{Channel, NotifierSpec};

/// The notifiers the manifests declare, by name, with the file each came from (relative paths
/// and `file:` secrets resolve against its folder).
#[derive(Debug, Clone, Default)]
pub struct Notifiers {
    by_name: BTreeMap<String, (NotifierSpec, PathBuf)>,
}

impl Notifiers {
    pub fn of(loaded: &Loaded) -> Notifiers {
        let mut by_name = BTreeMap::new();
        for doc in &loaded.docs {
            if let Resource::Notifier(n) = &doc.resource {
                by_name
                    .entry(n.metadata.name.clone())
                    .or_insert_with(|| (n.spec.clone(), loaded.path_of(doc).to_path_buf()));
            }
        }
        Notifiers { by_name }
    }

    /// Notifiers given directly (tests).
    #[cfg(test)]
    pub fn from_specs(specs: impl IntoIterator<Item = (String, NotifierSpec)>) -> Notifiers {
        Notifiers {
            by_name: specs
                .into_iter()
                .map(|(name, spec)| (name, (spec, PathBuf::new())))
                .collect(),
        }
    }

    pub fn channel(&self, name: &str) -> Option<Channel> {
        self.by_name.get(name).map(|(spec, _)| spec.kind)
    }

    pub fn get(&self, name: &str) -> Option<&(NotifierSpec, PathBuf)> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &(NotifierSpec, PathBuf))> {
        self.by_name.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}
pub mod deliver;
pub mod transport;
