//! The Graph directory against the Graph-compatible test server, in process: what it reads,
//! how many requests that costs, how it removes, and how it rides out throttling, 5xx bursts,
//! dropped connections and expired tokens.

use std::future::Future;
use std::time::Duration;

use recert::directory::graph::token::{Certificate, Credential};
use recert::directory::graph::{GraphConfig, GraphDirectory};
use recert::directory::http::RetryPolicy;
use recert::directory::secret::Secret;
use recert::directory::{
    Directory, Principal, Removal, RemoveOutcome, observe, observe::TargetKind,
};
use recert::model::directory_data::{AssignmentType, Membership, Source, UserType};
use recert::model::review::Scope;
use serde_json::json;

use crate::support::graph_server::{Fault, GraphServer, Group, Kind, Tenant, User};
use crate::support::root;

pub const ROLE: &str = "62e90394-69f5-4237-9190-012177145e10";

pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Quick retries: the server's `Retry-After` values are milliseconds.
fn config(server: &GraphServer, credential: Credential) -> GraphConfig {
    let tenant = server.tenant();
    GraphConfig {
        tenant_id: tenant.tenant_id.clone(),
        client_id: tenant.client_id.clone(),
        credential,
        authority_url: server.authority_url(),
        base_url: server.base_url(),
        max_concurrent: 4,
        timeout: Duration::from_secs(10),
        retry: RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_secs(2),
        },
    }
}

fn directory(server: &GraphServer) -> GraphDirectory {
    let secret = server.tenant().client_secret.clone();
    GraphDirectory::new(config(server, Credential::Secret(Secret::new(secret)))).expect("directory")
}

fn user(id: &str) -> User {
    User {
        id: id.to_owned(),
        upn: format!("{id}@contoso.example"),
        display_name: format!("User {id}"),
        enabled: true,
        on_premises: false,
        last_sign_in: Some("2026-11-20T08:12:31Z".to_owned()),
        manager: None,
        user_type: Some("Member"),
    }
}

/// A tenant with `active` active and `eligible` eligible assignments of [`ROLE`], each to its
/// own user.
pub fn big_tenant(active: usize, eligible: usize) -> Tenant {
    let mut t = Tenant::new();
    t.role(ROLE, "Global Administrator");
    for i in 0..active + eligible {
        let id = format!("u-{i:06}");
        t.user(user(&id));
        let kind = if i < active {
            Kind::Active
        } else {
            Kind::Eligible
        };
        t.assign(&format!("a-{i:06}"), &id, ROLE, kind);
    }
    t
}

fn role_scope() -> Scope {
    serde_json::from_value(json!({"role": {"id": ROLE}})).expect("scope")
}

#[test]
fn a_full_read_costs_one_list_per_page_and_one_batch_per_twenty_principals() {
    let (active, eligible) = (2_450, 530);
    let server = GraphServer::start(big_tenant(active, eligible));
    let page = server.tenant().instance_page;
    let dir = directory(&server);
    let observed = block_on(observe(&dir, &role_scope())).expect("observe");
    assert_eq!(observed.target_kind, TargetKind::Role);
    assert_eq!(observed.items.len(), active + eligible);
    let eligible_seen = observed
        .items
        .values()
        .filter(|i| {
            matches!(
                i.access[0].removal,
                Removal::Assignment {
                    kind: AssignmentType::Eligible,
                    ..
                }
            )
        })
        .count();
    assert_eq!(eligible_seen, eligible);

    let counts = server.counts();
    let lists = 1 + active.div_ceil(page) + eligible.div_ceil(page);
    assert_eq!(counts.lists, lists as u64, "{counts:?}");
    assert_eq!(
        counts.batches,
        (active + eligible).div_ceil(20) as u64,
        "{counts:?}"
    );
    assert_eq!(counts.batch_items, (active + eligible) as u64);
    assert_eq!(counts.tokens, 1, "one token serves the whole read");
    assert_eq!(counts.writes, 0);
}

#[test]
fn principals_are_read_with_sign_in_manager_and_source_and_groups_by_their_kind() {
    let mut t = Tenant::new();
    t.role(ROLE, "Global Administrator");
    t.user(User {
        manager: Some("u-boss".to_owned()),
        on_premises: true,
        enabled: false,
        user_type: Some("Guest"),
        ..user("u-1")
    });
    t.user(User {
        last_sign_in: None,
        user_type: None,
        ..user("u-boss")
    });
    t.group(Group {
        id: "0b1f6471-1bf0-4dda-aec3-cb9272f09590".to_owned(),
        display_name: "All staff".to_owned(),
        dynamic: true,
        on_premises: false,
        members: vec!["u-1".to_owned()],
    });
    let server = GraphServer::start(t);
    let dir = directory(&server);
    let ids = [
        "u-1".to_owned(),
        "U-BOSS@contoso.example".to_owned(),
        "0b1f6471-1bf0-4dda-aec3-cb9272f09590".to_owned(),
        "nobody".to_owned(),
        "u-1".to_owned(),
    ];
    let found = block_on(dir.lookup(&ids)).expect("lookup");
    assert_eq!(found.len(), 3, "{found:?}");
    let Principal::User(u1) = &found[0] else {
        panic!("{found:?}")
    };
    assert_eq!(u1.manager.as_deref(), Some("u-boss"));
    assert_eq!(u1.source, Source::OnPremises);
    assert!(!u1.enabled);
    // userType is returned only on $select: read, a guest is a guest.
    assert_eq!(u1.user_type, UserType::Guest);
    assert_eq!(
        u1.last_sign_in.map(|t| t.to_string()).as_deref(),
        Some("2026-11-20T08:12:31Z")
    );
    let Principal::User(boss) = &found[1] else {
        panic!("{found:?}")
    };
    assert_eq!(boss.id, "u-boss", "a user principal name finds the user");
    assert_eq!(boss.last_sign_in, None);
    // A null userType (accounts older than the property) is a member, as Entra ID treats it.
    assert_eq!(boss.user_type, UserType::Member);
    let Principal::Group(group) = &found[2] else {
        panic!("{found:?}")
    };
    assert_eq!(group.membership, Membership::Dynamic);
    // One batch of users, one of the ids that were not users (UPNs are not retried) as
    // groups, and one of what was neither (`nobody`) as service principals.
    assert_eq!(server.counts().batches, 3);
}

#[test]
fn a_certificate_credential_signs_a_client_assertion_the_server_verifies() {
    let pem = std::fs::read(root().join("tests/fixtures/graph-client-cert.pem")).expect("pem");
    let mut t = big_tenant(3, 0);
    t.certificate = Some(public_key_and_thumbprint(&pem));
    let server = GraphServer::start(t);
    let cert = Certificate::from_pem(&pem).expect("certificate");
    let dir =
        GraphDirectory::new(config(&server, Credential::Certificate(Box::new(cert)))).expect("dir");
    let roles = block_on(dir.roles()).expect("the server accepted the assertion");
    assert_eq!(roles.len(), 1);

    // A certificate the tenant does not know is refused, and the error says so.
    server.tenant().certificate = Some((vec![1, 2, 3], "other".to_owned()));
    let cert = Certificate::from_pem(&pem).expect("certificate");
    let dir =
        GraphDirectory::new(config(&server, Credential::Certificate(Box::new(cert)))).expect("dir");
    let e = block_on(dir.roles()).expect_err("refused");
    assert!(e.to_string().contains("invalid_client"), "{e}");
}

/// The RSA public key (PKCS#1) and the `x5t#S256` of the test certificate.
fn public_key_and_thumbprint(pem: &[u8]) -> (Vec<u8>, String) {
    use base64::Engine as _;
    use ring::signature::KeyPair as _;
    use rustls_pki_types::pem::PemObject;
    let cert = rustls_pki_types::CertificateDer::pem_slice_iter(pem)
        .next()
        .expect("cert")
        .expect("cert");
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem).expect("key");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(key.secret_der()).expect("pkcs8");
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(ring::digest::digest(&ring::digest::SHA256, cert.as_ref()));
    (pair.public_key().as_ref().to_vec(), x5t)
}

#[test]
fn a_wrong_secret_is_an_authentication_error_that_does_not_show_the_secret() {
    let server = GraphServer::start(big_tenant(1, 0));
    let dir = GraphDirectory::new(config(
        &server,
        Credential::Secret(Secret::new("not-the-secret-xyz")),
    ))
    .expect("dir");
    let e = block_on(dir.roles()).expect_err("refused");
    let text = format!("{e} {e:?} {dir:?}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("not-the-secret-xyz"), "{text}");
    assert!(!text.contains("test-token"), "{text}");
}

#[test]
fn an_expired_token_is_renewed_once_and_the_request_goes_through() {
    let server = GraphServer::start(big_tenant(5, 0));
    let dir = directory(&server);
    block_on(dir.roles()).expect("first read");
    server.expire_tokens();
    let roles = block_on(dir.roles()).expect("read after the token expired");
    assert_eq!(roles.len(), 1);
    let counts = server.counts();
    assert_eq!(counts.tokens, 2);
    assert_eq!(counts.unauthorized, 1);
    // The cached token is a secret too: Debug output never shows it.
    let debug = format!("{dir:?}");
    assert!(!debug.contains("test-token-"), "{debug}");
    assert!(debug.contains("Secret(***)"), "{debug}");
}

#[test]
fn throttled_batch_items_are_retried_after_their_retry_after() {
    let server = GraphServer::start(big_tenant(20, 0));
    // One token, then one every 2 ms: most items of a 20-item batch are answered 429.
    server.rate_limit(500.0, 5.0);
    let dir = directory(&server);
    let ids: Vec<String> = (0..20).map(|i| format!("u-{i:06}")).collect();
    let found = block_on(dir.lookup(&ids)).expect("lookup");
    assert_eq!(found.len(), 20);
    let counts = server.counts();
    assert!(counts.throttled > 0, "{counts:?}");
    assert_eq!(
        counts.batch_items, 20,
        "each item answered once: {counts:?}"
    );
}

#[test]
fn bursts_of_5xx_and_dropped_connections_are_ridden_out() {
    let server = GraphServer::start(big_tenant(250, 0));
    let dir = directory(&server);
    server.fail_next(2, Fault::Status(503));
    server.fail_next(1, Fault::Status(500));
    server.fail_next(2, Fault::Drop);
    let observed = block_on(observe(&dir, &role_scope())).expect("observe converges");
    assert_eq!(observed.items.len(), 250);
    assert_eq!(server.counts().injected, 5);
}

#[test]
fn removals_use_pim_requests_the_role_assignment_api_and_member_refs() {
    let mut t = big_tenant(2, 1);
    t.assign("a-outside", "u-000000", "other-role", Kind::Active);
    t.assignments
        .get_mut("a-outside")
        .expect("seeded")
        .outside_pim = true;
    t.group(Group {
        id: "g-ops".to_owned(),
        display_name: "Ops".to_owned(),
        dynamic: false,
        on_premises: false,
        members: vec!["u-000001".to_owned()],
    });
    t.group(Group {
        id: "g-dyn".to_owned(),
        display_name: "Everyone".to_owned(),
        dynamic: true,
        on_premises: false,
        members: vec!["u-000001".to_owned()],
    });
    let server = GraphServer::start(t);
    let dir = directory(&server);
    let active = Removal::Assignment {
        id: "a-000000".to_owned(),
        kind: AssignmentType::Active,
        principal: "u-000000".to_owned(),
        role: ROLE.to_owned(),
        scope: "/".to_owned(),
    };
    assert_eq!(
        block_on(dir.remove(&active)).expect("remove"),
        RemoveOutcome::Removed
    );
    assert_eq!(
        block_on(dir.remove(&active)).expect("again"),
        RemoveOutcome::NotFound,
        "a second removal finds nothing"
    );
    let eligible = Removal::Assignment {
        id: "a-000002".to_owned(),
        kind: AssignmentType::Eligible,
        principal: "u-000002".to_owned(),
        role: ROLE.to_owned(),
        scope: "/".to_owned(),
    };
    assert_eq!(
        block_on(dir.remove(&eligible)).expect("remove"),
        RemoveOutcome::Removed
    );
    let outside = Removal::Assignment {
        id: "a-outside".to_owned(),
        kind: AssignmentType::Active,
        principal: "u-000000".to_owned(),
        role: "other-role".to_owned(),
        scope: "/".to_owned(),
    };
    assert_eq!(
        block_on(dir.remove(&outside)).expect("remove"),
        RemoveOutcome::Removed
    );
    let member = |group: &str| Removal::GroupMember {
        group: group.to_owned(),
        member: "u-000001".to_owned(),
    };
    assert_eq!(
        block_on(dir.remove(&member("g-ops"))).expect("remove"),
        RemoveOutcome::Removed
    );
    assert_eq!(
        block_on(dir.remove(&member("g-ops"))).expect("again"),
        RemoveOutcome::NotFound
    );
    assert!(matches!(
        block_on(dir.remove(&member("g-dyn"))).expect("remove"),
        RemoveOutcome::NotSupported { reason } if reason.contains("dynamic membership")
    ));

    let tenant = server.tenant();
    assert_eq!(
        tenant.removed,
        ["a-000000", "a-000002", "a-outside", "g-ops/u-000001"]
    );
    let actions: Vec<(String, String)> = tenant
        .requests
        .iter()
        .map(|r| {
            (
                r["@odata.context"]
                    .as_str()
                    .unwrap_or("")
                    .rsplit('#')
                    .next()
                    .unwrap_or("")
                    .to_owned(),
                r["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            (
                "roleManagement/directory/roleAssignmentScheduleRequests/$entity".to_owned(),
                "adminRemove".to_owned()
            ),
            (
                "roleManagement/directory/roleEligibilityScheduleRequests/$entity".to_owned(),
                "adminRemove".to_owned()
            ),
        ]
    );
    assert_eq!(tenant.requests[0]["principalId"], "u-000000");
    assert_eq!(tenant.requests[0]["roleDefinitionId"], ROLE);
    assert_eq!(tenant.requests[0]["directoryScopeId"], "/");
}

#[test]
fn inherited_instances_are_left_to_group_expansion() {
    let mut t = big_tenant(1, 0);
    t.user(user("u-member"));
    t.group(Group {
        id: "g-admins".to_owned(),
        display_name: "Admins".to_owned(),
        dynamic: false,
        on_premises: false,
        members: vec!["u-member".to_owned()],
    });
    t.assign("a-group", "g-admins", ROLE, Kind::Active);
    t.assign("a-inherited", "u-member", ROLE, Kind::Active);
    t.assignments
        .get_mut("a-inherited")
        .expect("seeded")
        .member_type = "Inherited";
    let server = GraphServer::start(t);
    let dir = directory(&server);
    let observed = block_on(observe(&dir, &role_scope())).expect("observe");
    let member = &observed.items["u-member"];
    assert_eq!(member.access.len(), 1, "{member:?}");
    assert_eq!(member.access[0].via.as_deref(), Some("g-admins"));
    assert!(member.access[0].not_supported.is_some());
}

#[test]
fn a_page_link_to_another_host_is_not_followed() {
    let server = GraphServer::start(big_tenant(1, 0));
    let dir = directory(&server);
    let e = block_on(dir.list_members(
        "g",
        Some("http://192.0.2.1/v1.0/groups/g/members".to_owned()),
    ))
    .expect_err("refused");
    assert!(e.to_string().contains("outside the Graph endpoint"), "{e}");
    assert_eq!(server.counts().tokens, 0, "no token was even asked for");
}

#[test]
fn a_server_slower_than_the_timeout_is_reported_as_unreachable_not_waited_for_forever() {
    let server = GraphServer::start(big_tenant(1, 0));
    let secret = server.tenant().client_secret.clone();
    let mut config = config(&server, Credential::Secret(Secret::new(secret)));
    config.timeout = Duration::from_millis(100);
    config.retry.max_attempts = 2;
    let dir = GraphDirectory::new(config).expect("dir");
    server.slow(Some(Duration::from_millis(400)));
    let e = block_on(dir.roles()).expect_err("times out");
    assert!(e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
    // Slow but within the timeout is fine.
    server.slow(Some(Duration::from_millis(20)));
    assert_eq!(block_on(dir.roles()).expect("slow read").len(), 1);
}

/// Every shape a credential could leak in through an echoing token endpoint or Graph: the
/// secret as written and as form-encoded, the bearer token bare and in its header, an issued
/// access token.
fn assert_no_credential(text: &str, secret: &str) {
    let encoded = secret
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    for leaked in [
        secret,
        encoded.as_str(),
        "test-token-1",
        "Bearer test",
        crate::support::graph_server::ECHOED_TOKEN,
    ] {
        assert!(!text.contains(leaked), "`{leaked}` leaked into: {text}");
    }
}

#[test]
fn a_token_endpoint_that_echoes_the_request_leaks_no_credential_into_the_error() {
    use crate::support::graph_server::TokenEcho;
    let server = GraphServer::start(big_tenant(1, 0));
    let secret = "Zx9s3cr3t+/q==";
    server.tenant().client_secret = secret.to_owned();
    for echo in [TokenEcho::Description, TokenEcho::Raw] {
        server.echo_token_requests(Some(echo));
        let e = block_on(directory(&server).roles()).expect_err("refused");
        let text = format!("{e} {e:?}");
        // The echo did arrive, redacted: the point is that it is shown without credentials.
        assert!(text.contains("[REDACTED]"), "{echo:?}: {text}");
        assert!(text.contains("client_id="), "{echo:?}: {text}");
        assert_no_credential(&text, secret);
    }
}

#[test]
fn graph_echoing_the_bearer_token_leaks_it_into_no_error() {
    let server = GraphServer::start(big_tenant(1, 0));
    let secret = server.tenant().client_secret.clone();
    let dir = directory(&server);
    server.fail_next(1, Fault::Echo(400));
    let e = block_on(dir.roles()).expect_err("refused");
    let text = format!("{e} {e:?}");
    assert!(text.contains("Cannot process GET"), "{text}");
    assert_no_credential(&text, &secret);
    // A 5xx that echoes is retried and, at the last attempt, reported redacted as well.
    server.fail_next(6, Fault::Echo(500));
    let e = block_on(dir.roles()).expect_err("refused");
    assert_no_credential(&format!("{e} {e:?}"), &secret);
}
