//! Sending one notification, through `Transports::send`, to real third-party servers on
//! loopback: aiosmtpd (STARTTLS, AUTH, injected failures) and a webhook receiver that checks
//! each signature with the `standardwebhooks` package. The peers come from
//! `scripts/test-peers`; without it these tests fail and say so.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use recert::model::directory::SecretRef;
use recert::model::notifier::{
    Channel, IncomingWebhook, NotifierSpec, SmtpSettings, SmtpTls, WebhookSettings,
};
use recert::model::review::{NotificationEvent, Timestamp};
use recert::notify::message::{Content, Message, Recipient, RecipientRole};
use recert::notify::render;
use recert::notify::transport::{Delivery, Transports};
use recert_testkit::peers::{SmtpOptions, SmtpPeer, WebhookFaults, WebhookPeer};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A folder holding a notifier's manifest file and its `file:` secrets, which resolve against
/// the manifest's folder.
struct Manifests {
    dir: tempfile::TempDir,
}

impl Manifests {
    fn new() -> Manifests {
        Manifests {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes a secret next to the manifest and returns a reference to it, relative.
    fn secret(&self, name: &str, value: &str) -> SecretRef {
        std::fs::write(self.dir.path().join(name), value).expect("write the secret");
        SecretRef {
            env: None,
            file: Some(name.to_owned()),
        }
    }

    fn file(&self) -> PathBuf {
        self.dir.path().join("notifiers.yaml")
    }

    fn transports(&self, notifiers: Vec<(&str, NotifierSpec)>) -> Transports {
        let list: Vec<(String, NotifierSpec, PathBuf)> = notifiers
            .into_iter()
            .map(|(name, spec)| (name.to_owned(), spec, self.file()))
            .collect();
        Transports::new(&list)
    }
}

fn smtp(settings: SmtpSettings) -> NotifierSpec {
    NotifierSpec {
        kind: Channel::Smtp,
        smtp: Some(settings),
        webhook: None,
        slack: None,
        teams: None,
        retry_hours: None,
    }
}

fn plain_smtp(peer: &SmtpPeer) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port: Some(peer.port),
        tls: SmtpTls::None,
        ca_file: None,
        username: None,
        password: None,
        from: "reviews@corp.example".to_owned(),
        reply_to: None,
        max_connections: None,
    }
}

fn webhook(url: &str, secret: SecretRef) -> NotifierSpec {
    NotifierSpec {
        kind: Channel::Webhook,
        smtp: None,
        webhook: Some(WebhookSettings {
            url: Some(url.to_owned()),
            url_from: None,
            secret,
            timeout_seconds: None,
        }),
        slack: None,
        teams: None,
        retry_hours: None,
    }
}

fn incoming(channel: Channel, url_from: SecretRef) -> NotifierSpec {
    let settings = IncomingWebhook {
        url_from,
        timeout_seconds: None,
    };
    NotifierSpec {
        kind: channel,
        smtp: None,
        webhook: None,
        slack: (channel == Channel::Slack).then(|| settings.clone()),
        teams: (channel == Channel::Teams).then_some(settings),
        retry_hours: None,
    }
}

fn person(name: &str, address: &str) -> Recipient {
    Recipient {
        role: RecipientRole::Reviewer,
        id: Some(format!("id-{address}")),
        name: Some(name.to_owned()),
        address: Some(address.to_owned()),
    }
}

fn channel() -> Recipient {
    Recipient {
        role: RecipientRole::Channel,
        id: None,
        name: None,
        address: None,
    }
}

fn message(notifier: &str, channel: Channel, sequence: u32, to: Recipient) -> Message {
    let event = NotificationEvent::InstanceStarted;
    let recipient = to.address.clone().unwrap_or_else(|| "channel".to_owned());
    let date = |s| Timestamp::parse(s).expect("a date");
    Message {
        id: Message::id_for(
            "prod-admins",
            "2026-q4",
            event,
            sequence,
            notifier,
            &recipient,
        ),
        notifier: notifier.to_owned(),
        channel,
        event,
        review: "prod-admins".to_owned(),
        instance: "2026-q4".to_owned(),
        sequence,
        to,
        created: date("2026-10-01T09:00:00Z"),
        content: Content {
            title: "Überprüfung der Administratoren — Ω".to_owned(),
            description: Some("Quarterly review".to_owned()),
            additional_content: None,
            target: "role \"Global Administrator\"".to_owned(),
            start: date("2026-10-01"),
            due: date("2026-10-15"),
            total: 3,
            items: Vec::new(),
            how_to_decide: None,
            reviewers: Vec::new(),
            outcome: None,
            applied: None,
            link: None,
        },
        item_ids: Vec::new(),
    }
}

fn assert_delivered(delivery: &Delivery) {
    assert!(
        matches!(delivery, Delivery::Delivered { .. }),
        "{delivery:?}"
    );
}

fn assert_temporary(delivery: &Delivery) {
    assert!(
        matches!(delivery, Delivery::Temporary { .. }),
        "{delivery:?}"
    );
}

fn assert_permanent(delivery: &Delivery) {
    assert!(
        matches!(delivery, Delivery::Permanent { .. }),
        "{delivery:?}"
    );
}

/// The SMTP peer with STARTTLS and AUTH, and a notifier that trusts its CA.
fn secured(password: &str, max_connections: Option<u32>) -> (SmtpPeer, Manifests, Transports) {
    let peer = SmtpPeer::start(SmtpOptions {
        tls: true,
        auth: Some(("recert".to_owned(), "s3cret-pass".to_owned())),
        ..SmtpOptions::default()
    });
    let manifests = Manifests::new();
    let settings = SmtpSettings {
        max_connections,
        ..tls_settings(&peer, &manifests, SmtpTls::Starttls, password)
    };
    let transports = manifests.transports(vec![("mail", smtp(settings))]);
    (peer, manifests, transports)
}

/// Settings for the peer's TLS, trusting its CA (copied next to the manifest) and logging in.
fn tls_settings(
    peer: &SmtpPeer,
    manifests: &Manifests,
    tls: SmtpTls,
    password: &str,
) -> SmtpSettings {
    let ca: &Path = peer.ca_pem_path.as_deref().expect("a CA");
    std::fs::copy(ca, manifests.dir.path().join("relay-ca.pem")).expect("copy the CA");
    SmtpSettings {
        tls,
        ca_file: Some("relay-ca.pem".to_owned()),
        username: Some("recert".to_owned()),
        password: Some(manifests.secret("smtp-password", &format!("{password}\n"))),
        from: "Zugriffsprüfung <reviews@corp.example>".to_owned(),
        reply_to: Some("iam-team@corp.example".to_owned()),
        ..plain_smtp(peer)
    }
}

#[tokio::test]
async fn mail_over_starttls_with_auth_arrives_as_a_mail_client_reads_it() {
    let (peer, _manifests, transports) = secured("s3cret-pass", None);
    let msg = message(
        "mail",
        Channel::Smtp,
        0,
        person("Ärger, Zoë", "zoe@corp.example"),
    );

    let delivery = transports.send(&msg).await;

    let Delivery::Delivered { answer } = &delivery else {
        panic!("{delivery:?}");
    };
    assert!(answer.starts_with("250 "), "{answer}");
    let mails = peer.messages();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.tls && mail.authenticated, "{mail:?}");
    assert_eq!(mail.mail_from, "reviews@corp.example");
    assert_eq!(mail.rcpt_tos, ["zoe@corp.example"]);
    let expected = render::email(&msg);
    // Decoded by Python's `email` package: the encoded words round-trip.
    assert_eq!(mail.header("Subject"), Some(expected.subject.as_str()));
    // One mailbox, the comma inside its quoted name.
    assert_eq!(
        mail.header("To"),
        Some(r#""Ärger, Zoë" <zoe@corp.example>"#)
    );
    assert_eq!(
        mail.header("From"),
        Some("Zugriffsprüfung <reviews@corp.example>")
    );
    assert_eq!(mail.header("Reply-To"), Some("iam-team@corp.example"));
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{}@recert>", msg.id).as_str())
    );
    assert_eq!(mail.header("Auto-Submitted"), Some("auto-generated"));
    assert!(
        mail.header("Content-Type")
            .is_some_and(|t| t.starts_with("multipart/alternative")),
        "{mail:?}"
    );
    // On the wire the headers are ASCII: non-ASCII names and subjects as encoded words.
    let head = mail.raw.split("\r\n\r\n").next().expect("headers");
    assert!(head.is_ascii(), "{head}");
    assert!(head.contains("=?utf-8?"), "{head}");
    let parts: Vec<(&str, String)> = mail
        .parts
        .iter()
        .map(|(t, c)| (t.as_str(), c.replace("\r\n", "\n").trim_end().to_owned()))
        .collect();
    // SMTP carries lines ending in CRLF; the parts read back are compared line for line.
    assert_eq!(
        parts,
        [
            ("text/plain", expected.text.trim_end().to_owned()),
            ("text/html", expected.html.trim_end().to_owned())
        ]
    );
}

#[tokio::test]
async fn a_wrong_password_is_a_permanent_failure_with_the_servers_answer() {
    let (peer, _manifests, transports) = secured("not-the-password", None);
    let msg = message("mail", Channel::Smtp, 0, person("Zoë", "zoe@corp.example"));

    let delivery = transports.send(&msg).await;

    assert_permanent(&delivery);
    assert!(delivery.answer().starts_with("535"), "{delivery:?}");
    assert!(
        !delivery.answer().contains("not-the-password"),
        "{delivery:?}"
    );
    assert!(peer.messages().is_empty());
}

#[tokio::test]
async fn implicit_tls_delivers_and_an_untrusted_certificate_is_not_accepted() {
    let peer = SmtpPeer::start(SmtpOptions {
        implicit_tls: true,
        auth: Some(("recert".to_owned(), "s3cret-pass".to_owned())),
        ..SmtpOptions::default()
    });
    let manifests = Manifests::new();
    let trusting = tls_settings(&peer, &manifests, SmtpTls::Implicit, "s3cret-pass");
    // The system's roots only: the test CA is in none of them.
    let untrusting = SmtpSettings {
        ca_file: None,
        ..trusting.clone()
    };
    let transports = manifests.transports(vec![
        ("trusting", smtp(trusting)),
        ("untrusting", smtp(untrusting)),
    ]);
    let to = || person("A", "a@corp.example");

    let refused = transports
        .send(&message("untrusting", Channel::Smtp, 0, to()))
        .await;
    let delivered = transports
        .send(&message("trusting", Channel::Smtp, 0, to()))
        .await;

    assert_temporary(&refused);
    assert!(refused.answer().contains("certificate"), "{refused:?}");
    assert!(!refused.answer().contains("s3cret-pass"), "{refused:?}");
    assert_delivered(&delivered);
    let mails = peer.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].tls && mails[0].authenticated, "{:?}", mails[0]);
}

#[tokio::test]
async fn plain_smtp_works_to_loopback_and_is_refused_elsewhere() {
    let peer = SmtpPeer::start(SmtpOptions::default());
    let manifests = Manifests::new();
    let remote = SmtpSettings {
        host: "smtp.corp.example".to_owned(),
        ..plain_smtp(&peer)
    };
    // `starttls` to a server that does not offer it: nothing goes in clear text.
    let insisting = SmtpSettings {
        tls: SmtpTls::Starttls,
        ..plain_smtp(&peer)
    };
    let transports = manifests.transports(vec![
        ("local", smtp(plain_smtp(&peer))),
        ("remote", smtp(remote)),
        ("insisting", smtp(insisting)),
    ]);

    let local = transports
        .send(&message(
            "local",
            Channel::Smtp,
            0,
            person("A", "a@corp.example"),
        ))
        .await;
    let remote = transports
        .send(&message(
            "remote",
            Channel::Smtp,
            0,
            person("A", "a@corp.example"),
        ))
        .await;

    let insisting = transports
        .send(&message(
            "insisting",
            Channel::Smtp,
            0,
            person("A", "a@corp.example"),
        ))
        .await;

    assert_delivered(&local);
    assert_permanent(&remote);
    assert!(remote.answer().contains("clear text"), "{remote:?}");
    assert_temporary(&insisting);
    assert!(insisting.answer().contains("STARTTLS"), "{insisting:?}");
    assert_eq!(peer.messages().len(), 1);
    assert_eq!(transports.connections_opened("remote"), 0);
}

#[tokio::test]
async fn a_server_down_is_temporary_and_the_message_goes_once_it_is_up() {
    let mut peer = SmtpPeer::start(SmtpOptions::default());
    peer.stop();
    let manifests = Manifests::new();
    let transports = manifests.transports(vec![("mail", smtp(plain_smtp(&peer)))]);
    let msg = message("mail", Channel::Smtp, 0, person("A", "a@corp.example"));

    let down = transports.send(&msg).await;
    peer.restart();
    let up = transports.send(&msg).await;

    assert_temporary(&down);
    assert!(down.answer().contains("127.0.0.1"), "{down:?}");
    assert_delivered(&up);
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn smtp_4xx_is_temporary_then_the_retry_is_delivered() {
    let peer = SmtpPeer::start(SmtpOptions {
        tempfail: 1,
        ..SmtpOptions::default()
    });
    let manifests = Manifests::new();
    let transports = manifests.transports(vec![("mail", smtp(plain_smtp(&peer)))]);
    let msg = message("mail", Channel::Smtp, 0, person("A", "a@corp.example"));

    let first = transports.send(&msg).await;
    let second = transports.send(&msg).await;

    assert_temporary(&first);
    assert!(first.answer().starts_with("451"), "{first:?}");
    assert_delivered(&second);
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn smtp_5xx_and_a_missing_address_are_permanent() {
    let peer = SmtpPeer::start(SmtpOptions {
        permfail_rcpt: Some("gone".to_owned()),
        ..SmtpOptions::default()
    });
    let manifests = Manifests::new();
    let transports = manifests.transports(vec![("mail", smtp(plain_smtp(&peer)))]);
    let nowhere = Recipient {
        address: None,
        ..person("No Mail", "unused@corp.example")
    };

    let refused = transports
        .send(&message(
            "mail",
            Channel::Smtp,
            0,
            person("Gone", "gone@corp.example"),
        ))
        .await;
    let unaddressed = transports
        .send(&message("mail", Channel::Smtp, 1, nowhere))
        .await;
    // The connection the 550 broke is not reused broken.
    let after = transports
        .send(&message(
            "mail",
            Channel::Smtp,
            2,
            person("B", "b@corp.example"),
        ))
        .await;

    assert_permanent(&refused);
    assert!(refused.answer().starts_with("550"), "{refused:?}");
    assert!(
        refused.answer().contains("mailbox unavailable"),
        "{refused:?}"
    );
    assert_eq!(
        unaddressed,
        Delivery::Permanent {
            answer: "no e-mail address".to_owned()
        }
    );
    assert_delivered(&after);
    assert_eq!(peer.messages().len(), 1);
}

#[tokio::test]
async fn fifty_messages_share_at_most_max_connections() {
    let (peer, _manifests, transports) = secured("s3cret-pass", Some(3));
    let transports = Arc::new(transports);

    let mut sends = tokio::task::JoinSet::new();
    for i in 0..50 {
        let transports = transports.clone();
        sends.spawn(async move {
            let to = person(&format!("R{i}"), &format!("r{i}@corp.example"));
            transports
                .send(&message("mail", Channel::Smtp, i, to))
                .await
        });
    }
    while let Some(delivery) = sends.join_next().await {
        assert_delivered(&delivery.expect("the send task"));
    }
    // And one after the burst reuses an open connection.
    let last = transports
        .send(&message(
            "mail",
            Channel::Smtp,
            50,
            person("Z", "z@corp.example"),
        ))
        .await;

    assert_delivered(&last);
    assert_eq!(peer.messages().len(), 51);
    let opened = transports.connections_opened("mail");
    assert!((1..=3).contains(&opened), "{opened} connections");
    assert_eq!(peer.connections(), opened);
}

#[tokio::test]
async fn a_webhook_is_signed_as_the_standard_webhooks_verifier_expects() {
    let peer = WebhookPeer::start(Some(SECRET), WebhookFaults::default());
    let manifests = Manifests::new();
    let transports = manifests.transports(vec![
        (
            "hook",
            webhook(&peer.url("/events"), manifests.secret("hook", SECRET)),
        ),
        (
            "forged",
            webhook(
                &peer.url("/events"),
                manifests.secret("other", "whsec_bm90IHRoZSBzZWNyZXQgYXQgYWxs"),
            ),
        ),
    ]);
    let msg = message("hook", Channel::Webhook, 0, channel());

    let delivery = transports.send(&msg).await;
    let forged = transports
        .send(&message("forged", Channel::Webhook, 0, channel()))
        .await;

    assert_eq!(
        delivery,
        Delivery::Delivered {
            answer: "HTTP 200 OK".to_owned()
        }
    );
    assert_delivered(&forged);
    let requests = peer.requests();
    assert_eq!(requests.len(), 2);
    let hook = &requests[0];
    assert_eq!(hook.verified, Some(true), "{hook:?}");
    assert_eq!(hook.path, "/events");
    assert_eq!(hook.headers["webhook-id"], msg.id);
    assert_eq!(hook.headers["content-type"], "application/json");
    assert!(
        hook.headers["user-agent"].starts_with("recert/"),
        "{hook:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&hook.body).expect("a JSON body");
    assert_eq!(body, render::webhook_event(&msg));
    // The verifier is not a rubber stamp: a signature made with another key fails it.
    assert_eq!(requests[1].verified, Some(false), "{:?}", requests[1]);
}

#[tokio::test]
async fn webhook_statuses_are_classified_for_retry_disable_or_failure() {
    let flaky = WebhookPeer::start(
        Some(SECRET),
        WebhookFaults {
            fail_first: 1,
            throttle: 1,
            retry_after: Some("7".to_owned()),
            ..WebhookFaults::default()
        },
    );
    let gone = WebhookPeer::start(
        Some(SECRET),
        WebhookFaults {
            gone: true,
            ..WebhookFaults::default()
        },
    );
    let rejecting = WebhookPeer::start(
        Some(SECRET),
        WebhookFaults {
            reject: true,
            ..WebhookFaults::default()
        },
    );
    let manifests = Manifests::new();
    let secret = manifests.secret("hook", SECRET);
    let transports = manifests.transports(vec![
        ("flaky", webhook(&flaky.url("/"), secret.clone())),
        ("gone", webhook(&gone.url("/"), secret.clone())),
        ("rejecting", webhook(&rejecting.url("/"), secret)),
    ]);
    let send = |name: &'static str| {
        let msg = message(name, Channel::Webhook, 0, channel());
        let transports = &transports;
        async move { transports.send(&msg).await }
    };

    let server_error = send("flaky").await;
    let throttled = send("flaky").await;
    let then = send("flaky").await;
    let gone_answer = send("gone").await;
    let rejected = send("rejecting").await;

    assert_eq!(
        server_error,
        Delivery::Temporary {
            answer: r#"HTTP 500 Internal Server Error: {"error":"injected failure"}"#.to_owned(),
            retry_after: None
        }
    );
    let Delivery::Temporary { retry_after, .. } = &throttled else {
        panic!("{throttled:?}");
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(7)));
    assert_delivered(&then);
    assert!(
        matches!(gone_answer, Delivery::Gone { .. }),
        "{gone_answer:?}"
    );
    assert_eq!(
        rejected,
        Delivery::Permanent {
            answer: "HTTP 400 Bad Request: invalid_payload: the receiver refuses this body"
                .to_owned()
        }
    );
    // Every attempt was signed, retries included.
    assert!(flaky.requests().iter().all(|r| r.verified == Some(true)));
}

#[tokio::test]
async fn slack_and_teams_bodies_go_to_the_url_by_reference_which_no_answer_shows() {
    let receiver = WebhookPeer::start(None, WebhookFaults::default());
    let manifests = Manifests::new();
    let slack_url = receiver.url("/services/T000/B000/XXXXslacktoken");
    let teams_url = receiver.url("/workflows/abc/triggers/manual/paths/invoke?sig=teamssig0123");
    // A URL by reference to a port nothing listens on: the connection error must not quote it.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("address").port()
    };
    let dead_url = format!("http://127.0.0.1:{closed}/services/T1/B1/deadtoken1234");
    let transports = manifests.transports(vec![
        (
            "slack",
            incoming(Channel::Slack, manifests.secret("slack-url", &slack_url)),
        ),
        (
            "teams",
            incoming(Channel::Teams, manifests.secret("teams-url", &teams_url)),
        ),
        (
            "dead",
            incoming(Channel::Slack, manifests.secret("dead-url", &dead_url)),
        ),
    ]);
    let to_slack = message("slack", Channel::Slack, 0, channel());
    let to_teams = message("teams", Channel::Teams, 0, channel());

    let slack = transports.send(&to_slack).await;
    let teams = transports.send(&to_teams).await;
    let dead = transports
        .send(&message("dead", Channel::Slack, 0, channel()))
        .await;

    assert_delivered(&slack);
    assert_delivered(&teams);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].path, "/services/T000/B000/XXXXslacktoken");
    assert!(!requests[0].headers.contains_key("webhook-signature"));
    let body = |i: usize| -> serde_json::Value {
        serde_json::from_str(&requests[i].body).expect("a JSON body")
    };
    assert_eq!(body(0), render::slack(&to_slack));
    assert_eq!(body(1), render::teams(&to_teams));
    assert_temporary(&dead);
    for secret in ["deadtoken1234", &dead_url] {
        assert!(!dead.answer().contains(secret), "{dead:?}");
    }
    assert!(
        !format!("{transports:?}").contains("token"),
        "{transports:?}"
    );
}

#[tokio::test]
async fn a_message_for_an_unknown_notifier_or_another_channel_is_refused() {
    let manifests = Manifests::new();
    let transports = manifests.transports(vec![(
        "hook",
        webhook("http://127.0.0.1:9/", manifests.secret("hook", SECRET)),
    )]);

    let unknown = transports
        .send(&message("nope", Channel::Webhook, 0, channel()))
        .await;
    let wrong = transports
        .send(&message(
            "hook",
            Channel::Smtp,
            0,
            person("A", "a@corp.example"),
        ))
        .await;

    assert_permanent(&unknown);
    assert!(unknown.answer().contains("`nope`"), "{unknown:?}");
    assert_permanent(&wrong);
}

#[tokio::test]
async fn a_secret_not_there_yet_is_temporary_and_read_again_next_time() {
    let peer = WebhookPeer::start(Some(SECRET), WebhookFaults::default());
    let manifests = Manifests::new();
    let reference = SecretRef {
        env: None,
        file: Some("late-secret".to_owned()),
    };
    let transports = manifests.transports(vec![("hook", webhook(&peer.url("/"), reference))]);
    let msg = message("hook", Channel::Webhook, 0, channel());

    let before = transports.send(&msg).await;
    manifests.secret("late-secret", SECRET);
    let after = transports.send(&msg).await;

    assert_temporary(&before);
    assert!(before.answer().contains("late-secret"), "{before:?}");
    assert_delivered(&after);
    assert_eq!(peer.requests().len(), 1);
}

/// The delivery benchmark's yardstick: the same messages, replayed by smtplib over one
/// connection, arrive as Recert sent them.
#[tokio::test]
async fn the_smtplib_ceiling_replays_what_recert_sent() {
    let (peer, manifests, transports) = secured("s3cret-pass", None);
    for i in 0..3 {
        let to = person(&format!("R{i}"), &format!("r{i}@corp.example"));
        assert_delivered(
            &transports
                .send(&message("mail", Channel::Smtp, i, to))
                .await,
        );
    }
    let dir = manifests.dir.path().join("eml");

    assert_eq!(peer.save_eml(&dir), 3);
    let ceiling = peer.smtplib_ceiling(&dir);

    assert_eq!(ceiling.messages, 3);
    let mails = peer.messages();
    assert_eq!(mails.len(), 6);
    for (sent, replayed) in mails[..3].iter().zip(&mails[3..]) {
        assert_eq!(sent.raw, replayed.raw);
        assert_eq!(sent.rcpt_tos, replayed.rcpt_tos);
    }
}

/// A server that caps its sessions answers `421` and hangs up: the message goes on a fresh
/// connection at once instead of waiting for a retry.
#[tokio::test]
async fn a_session_the_server_closes_with_421_is_replaced_on_the_spot() {
    let peer = SmtpPeer::start(SmtpOptions {
        max_per_connection: 5,
        ..SmtpOptions::default()
    });
    let manifests = Manifests::new();
    let settings = SmtpSettings {
        max_connections: Some(1),
        ..plain_smtp(&peer)
    };
    let transports = manifests.transports(vec![("mail", smtp(settings))]);

    for i in 0..12 {
        let to = person(&format!("R{i}"), &format!("r{i}@corp.example"));
        let delivery = transports
            .send(&message("mail", Channel::Smtp, i, to))
            .await;
        assert_delivered(&delivery);
    }

    assert_eq!(peer.messages().len(), 12);
    assert_eq!(transports.connections_opened("mail"), 3);
}
