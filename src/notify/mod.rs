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
use crate::model::review::NotificationEvent;

/// The notifiers the manifests declare, by name, with the file each came from (relative paths
/// and `file:` secrets resolve against its folder).
#[derive(Debug, Clone, Default)]
pub struct Notifiers {
    by_name: BTreeMap<String, (NotifierSpec, PathBuf)>,
    /// The reviewer page's origin (`externalUrl` of the one `ReviewerPortal`), where messages
    /// link to. Several portals are an error the page refuses to start with; then none.
    portal: Option<String>,
}

impl Notifiers {
    pub fn of(loaded: &Loaded) -> Notifiers {
        let mut by_name = BTreeMap::new();
        let mut portals = Vec::new();
        for doc in &loaded.docs {
            match &doc.resource {
                Resource::Notifier(n) => {
                    by_name
                        .entry(n.metadata.name.clone())
                        .or_insert_with(|| (n.spec.clone(), loaded.path_of(doc).to_path_buf()));
                }
                Resource::ReviewerPortal(p) => portals.push(p.spec.external_url.clone()),
                _ => {}
            }
        }
        let portal = match portals.as_slice() {
            [one] => Some(one.trim_end_matches('/').to_owned()),
            _ => None,
        };
        Notifiers { by_name, portal }
    }

    /// With the reviewer page at `origin` (tests).
    #[cfg(test)]
    pub fn with_portal(mut self, origin: &str) -> Notifiers {
        self.portal = Some(origin.trim_end_matches('/').to_owned());
        self
    }

    /// Where a message about `review` links to, when the reviewer page is configured: the
    /// reviewer's page for the events that ask for decisions, the owner's overview for the
    /// others.
    pub fn link(&self, review: &str, event: NotificationEvent) -> Option<String> {
        let origin = self.portal.as_deref()?;
        let review = crate::web::redirect::encode(review);
        Some(match event {
            NotificationEvent::InstanceStarted
            | NotificationEvent::StageStarted
            | NotificationEvent::Reminder
            | NotificationEvent::Escalated => format!("{origin}/reviews/{review}"),
            NotificationEvent::InstanceEnded | NotificationEvent::Applied => {
                format!("{origin}/reviews/{review}/overview")
            }
        })
    }

    /// Notifiers given directly (tests).
    #[cfg(test)]
    pub fn from_specs(specs: impl IntoIterator<Item = (String, NotifierSpec)>) -> Notifiers {
        Notifiers {
            by_name: specs
                .into_iter()
                .map(|(name, spec)| (name, (spec, PathBuf::new())))
                .collect(),
            portal: None,
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
