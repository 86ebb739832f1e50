//! Live tests of authentication: htpasswd (Basic) over TLS, and token (Bearer) auth with
//! the token service in `token_server.rs`. See the parent module for how to run them.

use reqwest::{Method, StatusCode};

use super::harness::{htpasswd, image, layer, make_tls, noise, AuthMode, Registry};
use super::token_server::{self, TokenServer};
use super::{actions, reference, since, tags};
use crate::ci::{BlobAction, RecordingReporter};
use crate::oci::{BlobStore, LayerOrigin, Platform};
use crate::registry::challenge::Scopes;
use crate::registry::session::{Request, Session};
use crate::registry::{Client, Credential, RegistryError, RegistryOptions};
use crate::secret::Secret;

#[tokio::test(flavor = "multi_thread")]
async fn htpasswd_over_tls() {
    let certs = tempfile::tempdir().unwrap();
    let tls = make_tls(certs.path());
    let registry = Registry::start(
        AuthMode::Htpasswd(htpasswd("bob", "hunter2")),
        Some((&tls.cert, &tls.key)),
    );
    let host = registry.host();
    let target = reference(&format!("{host}/test/tls"));
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(
        &store,
        vec![layer(&store, "a", &noise(4096, 9), LayerOrigin::Local)],
        "tls",
    );
    let reporter = RecordingReporter::default();
    let cred = |password: &str| Credential {
        registry: host.clone(),
        username: "bob".into(),
        password: Secret::new(password),
    };

    // Untrusted certificate: the HTTPS error is reported, not the HTTP fallback's 400.
    let client = Client::new(RegistryOptions {
        credentials: vec![cred("hunter2")],
        ..Default::default()
    })
    .unwrap();
    let err = client
        .resolve(&target.with_tag("1"), &Platform::host())
        .await
        .unwrap_err();
    eprintln!(
        "untrusted: {err}\n    hint: {}",
        err.hint().unwrap_or_default()
    );
    assert!(
        matches!(
            err,
            RegistryError::Connect {
                certificate: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.hint().unwrap().contains("registry-ca-cert"));

    let with_ca = |credentials| RegistryOptions {
        ca_cert: Some(tls.ca.clone()),
        credentials,
        ..Default::default()
    };

    // No credentials.
    let client = Client::new(with_ca(vec![])).unwrap();
    let err = client
        .push(&img, &target, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap_err();
    eprintln!(
        "anonymous: {err}\n    hint: {}",
        err.hint().unwrap_or_default()
    );
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(err
        .hint()
        .unwrap()
        .contains(&format!("no credentials for {host}")));

    // Wrong password: the hint names the user, and nothing shows the password.
    let client = Client::new(with_ca(vec![cred("wrong-pw")])).unwrap();
    let err = client
        .push(&img, &target, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap_err();
    eprintln!(
        "wrong password: {err}\n    hint: {}",
        err.hint().unwrap_or_default()
    );
    assert!(err.hint().unwrap().contains("user `bob`"));
    let everything = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
    assert!(!everything.contains("wrong-pw"), "{everything}");

    // Right password.
    let client = Client::new(with_ca(vec![cred("hunter2")])).unwrap();
    let pushed = client
        .push(&img, &target, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap();
    assert_eq!(actions(&pushed), [BlobAction::Pushed; 2]);
    assert_eq!(
        client
            .resolve(&target.with_tag("1"), &Platform::host())
            .await
            .unwrap()
            .manifest_digest,
        *img.digest()
    );

    // Insecure host: HTTPS without verification, no CA needed.
    let client = Client::new(RegistryOptions {
        insecure: vec![host.clone()],
        credentials: vec![cred("hunter2")],
        ..Default::default()
    })
    .unwrap();
    let again = client
        .push(&img, &target, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap();
    assert_eq!(actions(&again), [BlobAction::Existing; 2]);
    assert!(
        registry.requests().iter().all(|r| r.status != 400),
        "never spoke HTTP to the TLS port"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_tokens_scopes_and_mounts() {
    let tokens = TokenServer::start().await;
    let registry = Registry::start(
        AuthMode::Token {
            realm: tokens.realm(),
            cert: tokens.cert.clone(),
        },
        None,
    );
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(&store, "base", &noise(128 * 1024, 5), LayerOrigin::Local);
    let img = image(&store, vec![base.clone()], "bearer");
    let reporter = RecordingReporter::default();
    let alice = Credential {
        registry: host.clone(),
        username: token_server::USER.into(),
        password: Secret::new(token_server::PASSWORD),
    };
    let client = Client::new(RegistryOptions {
        credentials: vec![alice.clone()],
        ..Default::default()
    })
    .unwrap();
    let app = reference(&format!("{host}/test/app"));

    // Push: one token for the whole push, push scope only.
    let pushed = client
        .push(&img, &app, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap();
    assert_eq!(actions(&pushed), [BlobAction::Pushed; 2]);
    let seen = tokens.seen();
    eprintln!("token requests for the first push: {seen:?}");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].user.as_deref(), Some("alice"));
    assert_eq!(seen[0].scopes, ["repository:test/app:pull,push"]);

    // Mount into another repository: push scope first, then pull on the source.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = BlobStore::open(dir2.path()).unwrap();
    let mut remote = base.clone();
    remote.origin = LayerOrigin::Remote(app.with_tag("1"));
    let img2 = image(&store2, vec![remote], "bearer-mount");
    let mark = registry.requests().len();
    let pushed = client
        .push(
            &img2,
            &reference(&format!("{host}/test/other")),
            &tags(&["1"]),
            &store2,
            &reporter,
        )
        .await
        .unwrap();
    since(&registry, mark, "mount under token auth");
    assert_eq!(actions(&pushed), [BlobAction::Mounted, BlobAction::Pushed]);
    assert_eq!(
        tokens.seen().last().unwrap().scopes,
        [
            "repository:test/other:pull,push",
            "repository:test/app:pull"
        ]
    );

    // A mount the token service will not allow (no pull on the source): the mount POST
    // fails after one re-authentication, then a plain upload goes through.
    let mut refused = base.clone();
    refused.origin = LayerOrigin::Remote(reference(&format!("{host}/test/secret:1")));
    let img3 = image(&store, vec![refused], "bearer-refused");
    let mark = registry.requests().len();
    let pushed = client
        .push(
            &img3,
            &reference(&format!("{host}/test/third")),
            &[],
            &store,
            &reporter,
        )
        .await
        .unwrap();
    let log = since(&registry, mark, "mount refused by the token service");
    assert_eq!(actions(&pushed), [BlobAction::Pushed, BlobAction::Pushed]);
    let mounts: Vec<u16> = log
        .iter()
        .filter(|r| r.path.contains("mount="))
        .map(|r| r.status)
        .collect();
    assert_eq!(mounts, [401, 401], "{log:?}");
    assert!(
        reporter
            .lines()
            .iter()
            .any(|l| l.contains("mount from test/secret failed")),
        "{:?}",
        reporter.lines()
    );

    // A session that asked for too little: the 401 challenge's scope is merged, once.
    let before = tokens.seen().len();
    let session: Session = client
        .session(
            &reference(&format!("{host}/test/union")),
            Scopes::pull("test/union"),
        )
        .await
        .unwrap();
    let url = session.url("test/union", "blobs/uploads/");
    session
        .expect(Request::new(Method::POST, url), &[StatusCode::ACCEPTED])
        .await
        .unwrap();
    let seen: Vec<_> = tokens.seen()[before..]
        .iter()
        .map(|s| s.scopes.clone())
        .collect();
    eprintln!("token requests for the under-scoped session: {seen:?}");
    assert_eq!(
        seen,
        [
            vec!["repository:test/union:pull".to_string()],
            vec!["repository:test/union:pull,push".to_string()]
        ]
    );

    // Anonymous: pulls work, pushes are refused with the granted scopes in the hint.
    let anonymous = Client::new(RegistryOptions::default()).unwrap();
    assert_eq!(
        anonymous
            .resolve(&app.with_tag("1"), &Platform::host())
            .await
            .unwrap()
            .manifest_digest,
        *img.digest()
    );
    let err = anonymous
        .push(
            &img,
            &reference(&format!("{host}/test/anon")),
            &tags(&["1"]),
            &store,
            &reporter,
        )
        .await
        .unwrap_err();
    let hint = err.hint().unwrap_or_default();
    eprintln!("anonymous push: {err}\n    hint: {hint}");
    assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
    assert!(
        hint.contains(&format!("no credentials for {host}")),
        "{hint}"
    );
    assert!(
        hint.contains("it granted: repository:test/anon:pull"),
        "{hint}"
    );

    // Wrong password: the token service refuses, and says so.
    let wrong = Client::new(RegistryOptions {
        credentials: vec![Credential {
            password: Secret::new("nope-pw"),
            ..alice
        }],
        ..Default::default()
    })
    .unwrap();
    let err = wrong
        .push(&img, &app, &tags(&["1"]), &store, &reporter)
        .await
        .unwrap_err();
    eprintln!(
        "wrong password: {err}\n    hint: {}",
        err.hint().unwrap_or_default()
    );
    assert!(matches!(err, RegistryError::TokenDenied { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("nope-pw"));
    assert!(!format!("{err:?}").contains("eyJ"), "no token in Debug");
}
