//! From the engine's decision to tell people (`Effect::Notify`) to the messages in the
//! outbox: one e-mail per person for each `smtp` notifier the review uses for the event, one
//! message per event for webhook, Slack and Teams notifiers. Pure: the people's directory
//! entries come in, messages and the recipients that cannot be reached come out.

use std::collections::{BTreeMap, HashMap};

use crate::directory::{Principal, UserInfo};
use crate::model::notifier::Channel;
use crate::model::review::{NotificationEvent, Timestamp};
use crate::reconcile::{InstanceNames, allowed_reviewers_resolving};
use crate::state::{ApplyResult, EndReason, Instance, Remediation, ReviewState};

use super::Notifiers;
use super::message::{
    AppliedFacts, AppliedItem, Content, HowToDecide, ItemFact, Message, Outcome, Recipient,
    RecipientRole, ReviewerFact,
};
use super::outbox::Failure;

/// One `Effect::Notify`, as the engine decided it.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub event: NotificationEvent,
    pub instance: &'a str,
    pub sequence: u32,
    pub reviewers: &'a [String],
    pub owners: &'a [String],
}

/// What composing a notice made.
#[derive(Debug, Default)]
pub struct Composed {
    pub messages: Vec<Message>,
    /// Recipients no message could be made for (no address, an unknown notifier).
    pub unreachable: Vec<Failure>,
}

/// The messages of one notice. `people` holds the directory's users by id (reviewers and
/// owners not among the instance's items); `link` is the review's page, when there is one.
pub fn compose(
    review: &str,
    state: &ReviewState,
    notice: Notice<'_>,
    notifiers: &Notifiers,
    people: &HashMap<String, UserInfo>,
    now: Timestamp,
) -> Composed {
    let mut out = Composed::default();
    let settings = &state.spec.settings.notifications;
    let Some(instance) = state.instances.iter().find(|i| i.id == notice.instance) else {
        return out;
    };
    let users = Users { instance, people };
    let mut base = content(state, instance, notice.event);
    base.link = notifiers.link(review, notice.event);
    let mut pending_by_reviewer: Option<BTreeMap<String, Vec<String>>> = None;
    for used in settings.notifiers.iter().filter(|u| u.wants(notice.event)) {
        let Some(channel) = notifiers.channel(&used.name) else {
            out.unreachable.push(Failure {
                instance: notice.instance.to_owned(),
                id: None,
                notifier: used.name.clone(),
                channel: Channel::Smtp,
                event: notice.event,
                recipient: used.name.clone(),
                answer: format!("no Notifier named `{}` is loaded", used.name),
                at: now,
            });
            continue;
        };
        let make = |to: Recipient, key: &str, content: Content, item_ids: Vec<String>| Message {
            id: Message::id_for(
                review,
                notice.instance,
                notice.event,
                notice.sequence,
                &used.name,
                key,
            ),
            notifier: used.name.clone(),
            channel,
            event: notice.event,
            review: review.to_owned(),
            instance: notice.instance.to_owned(),
            sequence: notice.sequence,
            to,
            created: now,
            content,
            item_ids,
        };
        if channel != Channel::Smtp {
            let mut content = base.clone();
            if matches!(
                notice.event,
                NotificationEvent::InstanceStarted
                    | NotificationEvent::StageStarted
                    | NotificationEvent::Reminder
                    | NotificationEvent::Escalated
            ) {
                let by = pending_by_reviewer.get_or_insert_with(|| pending_items(state, instance));
                content.reviewers = notice
                    .reviewers
                    .iter()
                    .map(|id| {
                        let user = users.get(id);
                        ReviewerFact {
                            id: id.clone(),
                            name: user.map(|u| u.user_principal_name.clone()),
                            display_name: user.and_then(|u| u.display_name.clone()),
                            pending: by.get(id).map_or(0, |v| count(v.len())),
                        }
                    })
                    .collect();
            }
            let to = Recipient {
                role: RecipientRole::Channel,
                id: None,
                name: None,
                address: None,
            };
            out.messages.push(make(to, "channel", content, Vec::new()));
            continue;
        }
        // E-mail: one message per person.
        let mut people_to: Vec<(RecipientRole, &str)> = Vec::new();
        match notice.event {
            NotificationEvent::InstanceStarted
            | NotificationEvent::StageStarted
            | NotificationEvent::Reminder
            | NotificationEvent::Escalated => {
                if settings.email {
                    people_to.extend(
                        notice
                            .reviewers
                            .iter()
                            .map(|r| (RecipientRole::Reviewer, r.as_str())),
                    );
                }
            }
            NotificationEvent::InstanceEnded | NotificationEvent::Applied => {
                people_to.extend(
                    notice
                        .owners
                        .iter()
                        .map(|o| (RecipientRole::Owner, o.as_str())),
                );
            }
        }
        for (role, id) in people_to {
            let user = users.get(id);
            let Some(address) = user.and_then(UserInfo::address) else {
                out.unreachable.push(Failure {
                    instance: notice.instance.to_owned(),
                    id: None,
                    notifier: used.name.clone(),
                    channel,
                    event: notice.event,
                    recipient: user
                        .map_or_else(|| id.to_owned(), |u| u.user_principal_name.clone()),
                    answer: match user {
                        Some(_) => "the directory has no e-mail address for this user".to_owned(),
                        None => "not found in the directory".to_owned(),
                    },
                    at: now,
                });
                continue;
            };
            let mut content = base.clone();
            let mut item_ids = Vec::new();
            if role == RecipientRole::Reviewer {
                let by = pending_by_reviewer.get_or_insert_with(|| pending_items(state, instance));
                item_ids = by.get(id).cloned().unwrap_or_default();
                let reviewer = user.map_or(id, |u| u.user_principal_name.as_str());
                content.how_to_decide = Some(how_to_decide(review, state, reviewer));
            }
            let to = Recipient {
                role,
                id: Some(id.to_owned()),
                name: user.map(|u| {
                    u.display_name
                        .clone()
                        .unwrap_or_else(|| u.user_principal_name.clone())
                }),
                address: Some(address.to_owned()),
            };
            out.messages.push(make(to, id, content, item_ids));
        }
        if matches!(
            notice.event,
            NotificationEvent::InstanceEnded | NotificationEvent::Applied
        ) {
            for address in &settings.additional_recipients {
                let to = Recipient {
                    role: RecipientRole::Additional,
                    id: None,
                    name: None,
                    address: Some(address.clone()),
                };
                let key = format!("mailto:{}", address.to_lowercase());
                out.messages.push(make(to, &key, base.clone(), Vec::new()));
            }
        }
    }
    out
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Users by id: the instance's own principals first, then what the directory gave.
struct Users<'a> {
    instance: &'a Instance,
    people: &'a HashMap<String, UserInfo>,
}

impl<'a> Users<'a> {
    fn get(&self, id: &str) -> Option<&'a UserInfo> {
        match self.instance.items.get(id).map(|i| &i.principal) {
            Some(Principal::User(u)) => Some(u),
            _ => self.people.get(id),
        }
    }
}

/// Everything a message of the event tells, before it is narrowed to a recipient.
fn content(state: &ReviewState, instance: &Instance, event: NotificationEvent) -> Content {
    let spec = &state.spec;
    // The instance's snapshot names the role or group as the directory does (a manifest may
    // name it by id).
    let target = match instance.target.split_once(' ') {
        Some((kind, name)) => format!("{kind} \"{name}\""),
        None => instance.target.clone(),
    };
    Content {
        title: spec.display_name.clone(),
        description: spec.description.clone(),
        additional_content: spec.settings.notifications.additional_content.clone(),
        target,
        start: instance.start,
        due: instance.end,
        total: count(instance.items.len()),
        items: Vec::new(),
        how_to_decide: None,
        reviewers: Vec::new(),
        outcome: (event == NotificationEvent::InstanceEnded).then(|| outcome(state, instance)),
        applied: (event == NotificationEvent::Applied).then(|| applied(instance)),
        link: None,
    }
}

/// Each reviewer's undecided items (principal ids), by reviewer id.
fn pending_items(state: &ReviewState, instance: &Instance) -> BTreeMap<String, Vec<String>> {
    let names = InstanceNames::of(state, Some(instance));
    let mut resolved = HashMap::new();
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, item) in instance
        .items
        .iter()
        .filter(|(id, i)| instance.pending(id, i))
    {
        for reviewer in allowed_reviewers_resolving(&names, item, &mut resolved) {
            out.entry(reviewer).or_default().push(id.clone());
        }
    }
    out
}

/// [`item_fact`], with the earlier stages' decisions on it when the instance is in a later
/// stage and the review shows them (`showPreviousStageDecisions`).
pub fn item_fact_in(
    state: &ReviewState,
    instance: &Instance,
    item: &crate::state::ItemState,
) -> ItemFact {
    let mut fact = item_fact(item);
    if state.spec.settings.show_previous_stage_decisions {
        fact.previous_stage_decisions = item
            .stages
            .iter()
            .filter(|d| d.stage <= instance.stage)
            .map(|d| {
                let mut said = format!(
                    "stage {}: {} by {}",
                    d.stage, d.decision.decision, d.decision.reviewer
                );
                if let Some(reason) = &d.decision.reason {
                    said.push_str(": ");
                    said.push_str(reason);
                }
                said
            })
            .collect();
    }
    fact
}

/// What a message tells of one item, from the instance's snapshot.
pub fn item_fact(item: &crate::state::ItemState) -> ItemFact {
    let (name, kind) = match &item.principal {
        Principal::User(u) => (u.user_principal_name.clone(), "user"),
        Principal::Group(g) => (g.id.clone(), "group"),
        Principal::ServicePrincipal(s) => (s.id.clone(), "servicePrincipal"),
    };
    let display = item.principal.display_name();
    let access: Vec<String> = item
        .access
        .iter()
        .map(|a| {
            let how = match &a.removal {
                crate::directory::Removal::Assignment { kind, .. } => match kind {
                    crate::model::directory_data::AssignmentType::Active => "active",
                    crate::model::directory_data::AssignmentType::Eligible => "eligible",
                },
                crate::directory::Removal::GroupMember { .. } => "member",
            };
            match &a.via {
                Some(group) => format!("{how}, through group {group}"),
                None => format!("{how}, direct"),
            }
        })
        .collect();
    ItemFact {
        principal: item.principal.id().to_owned(),
        name,
        display_name: (!display.is_empty() && display != item.principal.id())
            .then(|| display.to_owned()),
        kind: kind.to_owned(),
        access: access.join("; "),
        recommendation: item.recommendation.decision,
        recommendation_reason: item.recommendation.reason.clone(),
        previous_stage_decisions: Vec::new(),
    }
}

/// Where and how a reviewer records decisions in the repository (`reviewer` as decisions name
/// them: the user principal name).
pub fn how_to_decide(review: &str, state: &ReviewState, reviewer: &str) -> HowToDecide {
    let local = reviewer.split('@').next().unwrap_or(reviewer);
    let mut name: String = format!("{local}-{review}")
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(63);
    let name = name.trim_matches('-').to_owned();
    HowToDecide {
        file: format!("decisions/{name}.yaml"),
        reviewer: reviewer.to_owned(),
        document_name: name,
        reason_required: state.spec.settings.require_justification,
    }
}

fn outcome(state: &ReviewState, instance: &Instance) -> Outcome {
    use crate::model::decisions::Decision;
    let (mut approved, mut denied, mut dont_know, mut undecided, mut defaulted) = (0, 0, 0, 0, 0);
    for item in instance.items.values() {
        match &item.decision {
            None => undecided += 1,
            Some(d) => {
                if d.by_system {
                    defaulted += 1;
                }
                match d.decision {
                    Decision::Approve => approved += 1,
                    Decision::Deny => denied += 1,
                    Decision::DontKnow => dont_know += 1,
                }
            }
        }
    }
    let (reason, ended) = instance
        .ended
        .as_ref()
        .map_or(("completed", instance.end), |e| {
            let reason = match e.reason {
                EndReason::Completed => "completed",
                EndReason::Stopped => "stopped",
                EndReason::Deleted => "deleted",
            };
            (reason, e.at)
        });
    let default_decision = serde_json::to_value(state.spec.settings.default_decision)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Outcome {
        reason: reason.to_owned(),
        ended,
        approved,
        denied,
        dont_know,
        undecided,
        defaulted,
        default_decision,
        auto_apply: state.spec.settings.auto_apply,
    }
}

fn applied(instance: &Instance) -> AppliedFacts {
    let mut facts = AppliedFacts {
        removed: 0,
        not_found: 0,
        protected: 0,
        not_supported: 0,
        failed: 0,
        blocked: instance.apply.as_ref().and_then(|a| a.blocked.clone()),
        items: Vec::new(),
    };
    for item in instance.items.values() {
        let Some(result) = &item.apply_result else {
            continue;
        };
        let (name, detail) = match result {
            ApplyResult::Pending => continue,
            ApplyResult::Applied { .. } => {
                facts.removed += 1;
                // Removed, but not proven gone: the owners should know it is unchecked.
                let unproven = match &item.remediation {
                    Some(proof @ Remediation::CouldNotCheck { .. }) => Some(proof.to_string()),
                    _ => None,
                };
                ("applied", unproven)
            }
            ApplyResult::NotFound { .. } => {
                facts.not_found += 1;
                (
                    "notFound",
                    Some("the principal or the assignment no longer exists".to_owned()),
                )
            }
            ApplyResult::Protected => {
                facts.protected += 1;
                (
                    "protected",
                    Some("a protected principal: never removed".to_owned()),
                )
            }
            ApplyResult::NotSupported { reason } => {
                facts.not_supported += 1;
                ("notSupported", Some(reason.clone()))
            }
            ApplyResult::Failed { error, .. } => {
                facts.failed += 1;
                ("failed", Some(error.clone()))
            }
        };
        let fact = item_fact(item);
        facts.items.push(AppliedItem {
            principal: fact.principal,
            name: fact.name,
            display_name: fact.display_name,
            result: name.to_owned(),
            detail,
        });
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::notifier::{NotifierSpec, SmtpSettings, SmtpTls, WebhookSettings};
    use crate::model::review::{NotifierUse, ReviewerType};
    use crate::reconcile::tests::{World, base_spec, user};

    fn notifiers() -> Notifiers {
        let smtp = NotifierSpec {
            kind: Channel::Smtp,
            smtp: Some(SmtpSettings {
                host: "127.0.0.1".into(),
                port: None,
                tls: SmtpTls::None,
                ca_file: None,
                username: None,
                password: None,
                from: "reviews@corp.example".into(),
                reply_to: None,
                max_connections: None,
            }),
            webhook: None,
            slack: None,
            teams: None,
            retry_hours: None,
        };
        let hook = NotifierSpec {
            kind: Channel::Webhook,
            smtp: None,
            webhook: Some(WebhookSettings {
                url: Some("http://127.0.0.1/x".into()),
                url_from: None,
                secret: crate::model::directory::SecretRef {
                    env: Some("S".into()),
                    file: None,
                },
                timeout_seconds: None,
            }),
            slack: None,
            teams: None,
            retry_hours: None,
        };
        Notifiers::from_specs([("mail".to_owned(), smtp), ("hook".to_owned(), hook)])
    }

    /// A review of alice and bob by the named reviewer carol, owned by dave, started.
    fn started(configure: impl FnOnce(&mut AccessReviewSpec)) -> ReviewState {
        let mut spec = base_spec();
        spec.reviewers.kind = ReviewerType::Users;
        spec.reviewers.users = vec!["carol".into()];
        spec.owners = vec!["dave".into()];
        configure(&mut spec);
        let mut world = World::new(spec, ["alice", "bob"].iter().map(|id| user(id)).collect());
        world.step("2026-12-01");
        world.recorded["ga"].clone()
    }

    fn people() -> HashMap<String, UserInfo> {
        ["carol", "dave"]
            .iter()
            .map(|id| ((*id).to_owned(), user(id)))
            .collect()
    }

    fn notice<'a>(
        event: NotificationEvent,
        reviewers: &'a [String],
        owners: &'a [String],
    ) -> Notice<'a> {
        Notice {
            event,
            instance: "2026-12-01",
            sequence: 0,
            reviewers,
            owners,
        }
    }

    fn recipients(c: &Composed) -> Vec<(String, String)> {
        c.messages
            .iter()
            .map(|m| {
                (
                    m.notifier.clone(),
                    m.to.address.clone().unwrap_or_else(|| "channel".into()),
                )
            })
            .collect()
    }

    use crate::model::review::AccessReviewSpec;

    #[test]
    fn each_notifier_takes_only_its_events_and_email_false_spares_reviewers_not_owners() {
        let state = started(|spec| {
            let n = &mut spec.settings.notifications;
            n.notifiers = vec![
                NotifierUse {
                    name: "mail".into(),
                    events: vec![],
                },
                NotifierUse {
                    name: "hook".into(),
                    events: vec![NotificationEvent::InstanceEnded],
                },
            ];
            n.additional_recipients = vec!["audit@corp.example".into()];
        });
        let now = Timestamp::parse("2026-12-01").expect("time");
        let carol = vec!["carol".to_owned()];
        let dave = vec!["dave".to_owned()];
        let start = compose(
            "ga",
            &state,
            notice(NotificationEvent::InstanceStarted, &carol, &[]),
            &notifiers(),
            &people(),
            now,
        );
        // The webhook does not take starts; Carol is e-mailed her two items.
        assert_eq!(
            recipients(&start),
            [("mail".to_owned(), "carol@corp.example".to_owned())]
        );
        assert_eq!(start.messages[0].item_ids, ["alice", "bob"]);
        let end = compose(
            "ga",
            &state,
            notice(NotificationEvent::InstanceEnded, &[], &dave),
            &notifiers(),
            &people(),
            now,
        );
        assert_eq!(
            recipients(&end),
            [
                ("mail".to_owned(), "dave@corp.example".to_owned()),
                ("mail".to_owned(), "audit@corp.example".to_owned()),
                ("hook".to_owned(), "channel".to_owned()),
            ]
        );
        // `email: false`: reviewers are not e-mailed; owners still are.
        let mut quiet = state.clone();
        quiet.spec.settings.notifications.email = false;
        let start = compose(
            "ga",
            &quiet,
            notice(NotificationEvent::InstanceStarted, &carol, &[]),
            &notifiers(),
            &people(),
            now,
        );
        assert!(start.messages.is_empty());
        let end = compose(
            "ga",
            &quiet,
            notice(NotificationEvent::InstanceEnded, &[], &dave),
            &notifiers(),
            &people(),
            now,
        );
        assert_eq!(end.messages.len(), 3);
        // The same notice composes the same ids: a pass that runs again queues nothing new.
        let again = compose(
            "ga",
            &state,
            notice(NotificationEvent::InstanceEnded, &[], &dave),
            &notifiers(),
            &people(),
            now,
        );
        let ids = |c: &Composed| c.messages.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&again),
            ids(&compose(
                "ga",
                &state,
                notice(NotificationEvent::InstanceEnded, &[], &dave),
                &notifiers(),
                &people(),
                now
            ))
        );
    }

    #[test]
    fn a_recipient_without_an_address_or_an_unknown_notifier_is_reported() {
        let state = started(|spec| {
            spec.settings.notifications.notifiers = vec![
                NotifierUse {
                    name: "mail".into(),
                    events: vec![],
                },
                NotifierUse {
                    name: "gone".into(),
                    events: vec![],
                },
            ];
        });
        let now = Timestamp::parse("2026-12-01").expect("time");
        let mut people = people();
        if let Some(carol) = people.get_mut("carol") {
            carol.user_principal_name = "carol".into();
        }
        let carol = vec!["carol".to_owned(), "nobody".to_owned()];
        let c = compose(
            "ga",
            &state,
            notice(NotificationEvent::InstanceStarted, &carol, &[]),
            &notifiers(),
            &people,
            now,
        );
        assert!(c.messages.is_empty());
        let answers: Vec<&str> = c.unreachable.iter().map(|f| f.answer.as_str()).collect();
        assert_eq!(
            answers,
            [
                "the directory has no e-mail address for this user",
                "not found in the directory",
                "no Notifier named `gone` is loaded",
            ]
        );
    }
    #[test]
    fn messages_link_to_the_reviewer_page_only_when_one_is_configured() {
        let state = started(|spec| {
            spec.settings.notifications.notifiers = vec![NotifierUse {
                name: "mail".into(),
                events: vec![],
            }];
        });
        let now = Timestamp::parse("2026-12-01").expect("time");
        let carol = vec!["carol".to_owned()];
        let dave = vec!["dave".to_owned()];
        let link = |notifiers: &Notifiers, event, reviewers: &[String], owners: &[String]| {
            let composed = compose(
                "ga",
                &state,
                notice(event, reviewers, owners),
                notifiers,
                &people(),
                now,
            );
            composed.messages[0].content.link.clone()
        };
        let none = notifiers();
        assert_eq!(
            link(&none, NotificationEvent::InstanceStarted, &carol, &[]),
            None
        );
        let page = notifiers().with_portal("https://recert.corp.example/");
        assert_eq!(
            link(&page, NotificationEvent::InstanceStarted, &carol, &[]).as_deref(),
            Some("https://recert.corp.example/reviews/ga")
        );
        assert_eq!(
            link(&page, NotificationEvent::Reminder, &carol, &[]).as_deref(),
            Some("https://recert.corp.example/reviews/ga")
        );
        // Owners are told of the end on the review's overview.
        assert_eq!(
            link(&page, NotificationEvent::InstanceEnded, &[], &dave).as_deref(),
            Some("https://recert.corp.example/reviews/ga/overview")
        );
    }
}
