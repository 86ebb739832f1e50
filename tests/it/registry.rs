//! The registry client against the real `docker-registry` — plain, token auth
//! with our own token service, and behind a fault-injecting proxy — plus the binary
//! killed mid-upload and run again. Library tests build images with `oci` types and
//! push with `registry::Client` using [`Tuning::fast`] (no backoff); every test prints
//! the figures it measured (requests, bytes).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spaceone_publish::ci::{BlobAction, RecordingReporter};
use spaceone_publish::oci::{
    BlobStore, Descriptor, DiffId, Digest, Image, ImageConfig, Index, Layer, LayerOrigin,
    MediaType, Platform, SealedImage,
};
use spaceone_publish::reference::Reference;
use spaceone_publish::registry::{Client, Credential, RegistryError, RegistryOptions, Tuning};
use spaceone_publish::secret::Secret;

use crate::support::fault_proxy::{Fault, FaultProxy, Rule};
use crate::support::process::poll;
use crate::support::token_auth::{self, Flow, PostMode, TokenRegistry};
use crate::support::{read_back, Context, Registry};

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

/// Deterministic, incompressible bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A one-file gzip layer in `store`.
fn layer(store: &BlobStore, name: &str, content: &[u8]) -> Layer {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_cksum();
    tar.append_data(&mut header, name, content).unwrap();
    let tar = tar.into_inner().unwrap();
    let diff_id = DiffId(Digest::sha256_of(&tar));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    let stored = store.put(&gz.finish().unwrap()).unwrap();
    Layer {
        descriptor: Descriptor::new(MediaType::OciLayerGzip, stored.digest, stored.size),
        diff_id,
        origin: LayerOrigin::Local,
    }
}

fn image_for(
    store: &BlobStore,
    layers: Vec<Layer>,
    marker: &str,
    platform: &Platform,
) -> SealedImage {
    let mut config = ImageConfig::scratch(platform);
    config.set_env("ISSUE_3", marker);
    let mut image = Image {
        config,
        layers: Vec::new(),
        annotations: Default::default(),
    };
    for l in layers {
        image.add_layer(l);
    }
    image.seal(store).unwrap()
}

fn image(store: &BlobStore, layers: Vec<Layer>, marker: &str) -> SealedImage {
    image_for(store, layers, marker, &Platform::host())
}

fn reference(s: &str) -> Reference {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

fn fast_client(opts: RegistryOptions) -> Client {
    Client::with_tuning(opts, Tuning::fast()).unwrap()
}

fn chunked(chunk: usize) -> RegistryOptions {
    RegistryOptions {
        chunk_size: Some(chunk as u64),
        ..Default::default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Checks with skopeo (not our code) that the registry serves `digest` under `tag`,
/// with every blob verified.
fn assert_reads_back(reg: &Registry, repo_tag: &str, image: &SealedImage) {
    let pulled = read_back(reg, &reg.reference(repo_tag));
    assert_eq!(pulled.digest, image.digest().to_string(), "{repo_tag}");
    let layers: Vec<String> = pulled.layers.iter().map(|l| l.digest.clone()).collect();
    let expected: Vec<String> = image
        .image
        .layers
        .iter()
        .map(|l| l.descriptor.digest.to_string())
        .collect();
    assert_eq!(layers, expected);
}

#[test]
fn pushes_through_resets_500s_429s_and_stalls_with_correct_digests() {
    let reg = Registry::plain();
    let rules = vec![
        Rule::new(
            "POST",
            "/blobs/uploads/",
            1,
            Fault::Status {
                code: 500,
                retry_after: None,
            },
        ),
        Rule::new(
            "PATCH",
            "/blobs/uploads/",
            2,
            Fault::Reset {
                after: 300 * KIB as u64,
            },
        ),
        Rule::new(
            "PATCH",
            "/blobs/uploads/",
            4,
            Fault::Stall(Duration::from_secs(5)),
        ),
        Rule::new(
            "PUT",
            "/blobs/uploads/",
            1,
            Fault::Reset {
                after: 10 * KIB as u64,
            },
        ),
        Rule::new(
            "PUT",
            "/manifests/",
            1,
            Fault::Status {
                code: 429,
                retry_after: Some(1),
            },
        ),
        Rule::new(
            "HEAD",
            "/manifests/",
            1,
            Fault::Status {
                code: 503,
                retry_after: None,
            },
        ),
    ];
    let proxy = FaultProxy::start(reg.port(), rules);
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let big = layer(&store, "big.bin", &noise(5 * MIB, 1));
    let small = layer(&store, "small.bin", &noise(200 * KIB, 2));
    let img = image(&store, vec![big, small], "faults");
    let client = fast_client(RegistryOptions {
        jobs: 1,
        ..chunked(MIB)
    });
    let reporter = RecordingReporter::default();
    let target = reference(&format!("{}/faults/app", proxy.host()));
    let started = Instant::now();
    let pushed = rt()
        .block_on(client.push(&img, &target, &tags(&["1"]), &store, &reporter))
        .unwrap_or_else(|e| panic!("{e}\n{:#?}\n{}", proxy.fired(), reporter.lines().join("\n")));
    let elapsed = started.elapsed();
    let fired = proxy.fired();
    eprintln!("--- faults fired ({}):", fired.len());
    for f in &fired {
        eprintln!("    {f}");
    }
    eprintln!(
        "    {} requests through the proxy, {} bytes up, {:.1}s",
        proxy.seen().len(),
        proxy.bytes_up(),
        elapsed.as_secs_f64()
    );
    for line in reporter.lines() {
        eprintln!("    | {line}");
    }
    assert_eq!(fired.len(), 6, "every fault fired: {fired:#?}");
    assert_eq!(pushed.digest, *img.digest());
    assert!(
        elapsed >= Duration::from_secs(1),
        "Retry-After: 1 was honoured ({elapsed:?})"
    );
    let notes = reporter.lines().join("\n");
    for what in ["500", "429", "no progress", "retrying"] {
        assert!(notes.contains(what), "{what} in:\n{notes}");
    }
    assert_reads_back(&reg, "faults/app:1", &img);
}

/// Pushes `img` through a proxy that resets the 6th PATCH half-way; returns the bytes
/// the client sent.
fn push_with_reset(resume: bool) -> (u64, u64, Vec<String>) {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(
        reg.port(),
        vec![Rule::new(
            "PATCH",
            "/blobs/uploads/",
            6,
            Fault::Reset {
                after: 512 * KIB as u64,
            },
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(
        &store,
        vec![layer(&store, "l", &noise(8 * MIB, 7))],
        "resume",
    );
    let tuning = Tuning {
        resume,
        ..Tuning::fast()
    };
    let client = Client::with_tuning(chunked(MIB), tuning).unwrap();
    let reporter = RecordingReporter::default();
    let target = reference(&format!("{}/resume/app", proxy.host()));
    let pushed = rt()
        .block_on(client.push(&img, &target, &tags(&["1"]), &store, &reporter))
        .unwrap();
    assert_eq!(pushed.digest, *img.digest());
    assert_eq!(proxy.fired().len(), 1);
    assert_reads_back(&reg, "resume/app:1", &img);
    let patches = proxy
        .seen()
        .iter()
        .filter(|s| s.method == "PATCH")
        .map(|s| s.body_len)
        .sum();
    (proxy.bytes_up(), patches, reporter.lines())
}

#[test]
fn a_resumed_upload_sends_fewer_bytes_than_a_restart() {
    let (resumed, resumed_patch, lines) = push_with_reset(true);
    let (restarted, restarted_patch, _) = push_with_reset(false);
    eprintln!(
        "--- 8 MiB layer, 1 MiB chunks, reset half-way through chunk 6:\n    \
         resume:  {resumed} bytes up ({resumed_patch} in PATCH bodies)\n    \
         restart: {restarted} bytes up ({restarted_patch} in PATCH bodies)\n    \
         saved:   {} bytes ({:.0}%)",
        restarted - resumed,
        100.0 * (restarted - resumed) as f64 / restarted as f64
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("resuming the upload at byte 5242880")),
        "{lines:#?}"
    );
    assert!(resumed < restarted);
    // A restart re-sends the five acknowledged chunks; resume does not (it costs one
    // status request, a few hundred bytes of headers). How much of the cut chunk got
    // through before the reset varies with the proxy's reads under load (up to a socket
    // buffer), hence the margin; five chunks are far more than it.
    assert!(
        restarted - resumed >= (5 * MIB - 256 * KIB) as u64,
        "{restarted} - {resumed}"
    );
}

#[test]
fn token_auth_scopes_refresh_tokens_and_denials() {
    let reg = TokenRegistry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(&store, "base", &noise(300 * KIB, 3));
    let img = image(&store, vec![base.clone()], "token");
    let reporter = RecordingReporter::default();
    let rt = rt();
    let app = reference(&format!("{host}/team/app"));

    // Anonymous: the token service grants pull only, so the push is denied with a hint.
    let anonymous = fast_client(RegistryOptions::default());
    let err = rt
        .block_on(anonymous.push(&img, &app, &tags(&["1"]), &store, &reporter))
        .unwrap_err();
    let hint = err.hint().unwrap_or_default();
    eprintln!("anonymous push: {err}\n    hint: {hint}");
    assert!(
        hint.contains(&format!("no credentials for {host}")),
        "{hint}"
    );
    assert!(
        hint.contains("it granted: repository:team/app:pull"),
        "{hint}"
    );

    // Credentials from a docker config.json (`auths`, base64 user:password).
    let docker = tempfile::tempdir().unwrap();
    let auth = base64_encode(&format!("{}:{}", token_auth::USER, token_auth::PASSWORD));
    std::fs::write(
        docker.path().join("config.json"),
        serde_json::json!({"auths": {format!("http://{host}"): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let alice = fast_client(RegistryOptions {
        docker_config: Some(docker.path().to_path_buf()),
        ..Default::default()
    });
    let before = reg.tokens.seen().len();
    let pushed = rt
        .block_on(alice.push(&img, &app, &tags(&["1"]), &store, &reporter))
        .unwrap();
    assert_eq!(pushed.digest, *img.digest());
    let seen = reg.tokens.seen()[before..].to_vec();
    eprintln!("token requests for the push: {seen:?}");
    assert_eq!(seen.len(), 1, "one token for the whole push");
    assert_eq!(seen[0].flow, Flow::PostPassword, "OAuth2 POST first");
    assert_eq!(seen[0].user.as_deref(), Some(token_auth::USER));
    assert_eq!(seen[0].scopes, ["repository:team/app:pull,push"]);

    // A mount: push scope on the target first, pull on the source, one token.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = BlobStore::open(dir2.path()).unwrap();
    let mut remote = base.clone();
    remote.origin = LayerOrigin::Remote(app.with_tag("1"));
    let img2 = image(&store2, vec![remote], "token-mount");
    let pushed = rt
        .block_on(alice.push(
            &img2,
            &reference(&format!("{host}/team/other")),
            &[],
            &store2,
            &reporter,
        ))
        .unwrap();
    assert_eq!(pushed.blobs[0].action, BlobAction::Mounted);
    assert_eq!(
        reg.tokens.seen().last().unwrap().flow,
        Flow::PostRefresh,
        "the refresh token of the first grant is used for the next scope set"
    );
    assert_eq!(
        reg.tokens.seen().last().unwrap().scopes,
        [
            "repository:team/other:pull,push",
            "repository:team/app:pull"
        ]
    );

    // An identity token (docker login to an OAuth registry): OAuth2 POST, refresh grant.
    let oauth_config = tempfile::tempdir().unwrap();
    std::fs::write(
        oauth_config.path().join("config.json"),
        serde_json::json!({"auths": {host.clone(): {"identitytoken": token_auth::REFRESH_TOKEN}}})
            .to_string(),
    )
    .unwrap();
    let oauth = fast_client(RegistryOptions {
        docker_config: Some(oauth_config.path().to_path_buf()),
        ..Default::default()
    });
    let img3 = image(&store, vec![base.clone()], "oauth");
    rt.block_on(oauth.push(
        &img3,
        &reference(&format!("{host}/team/oauth")),
        &tags(&["1"]),
        &store,
        &reporter,
    ))
    .unwrap();
    let last = reg.tokens.seen().last().unwrap().clone();
    assert_eq!(
        (last.method.as_str(), last.user.as_deref()),
        ("POST", Some("(refresh)alice"))
    );

    // Wrong password: the token service's refusal, naming the user and where it came from.
    let wrong = fast_client(RegistryOptions {
        credentials: vec![Credential {
            registry: host.clone(),
            username: token_auth::USER.into(),
            password: Secret::new("not-the-pw"),
        }],
        ..Default::default()
    });
    let err = rt
        .block_on(wrong.push(&img, &app, &tags(&["1"]), &store, &reporter))
        .unwrap_err();
    eprintln!("wrong password: {err}");
    assert!(matches!(err, RegistryError::TokenDenied { .. }), "{err:?}");
    let shown = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
    assert!(!shown.contains("not-the-pw"), "{shown}");
    for token in reg.tokens.issued() {
        assert!(!shown.contains(&token));
        assert!(!reporter.lines().join("\n").contains(&token));
    }
}

/// The OAuth2 password grant is tried first; a service that answers the POST with 404 or
/// 400 `unsupported_grant_type` gets the GET with Basic credentials instead, and the push
/// completes either way.
#[test]
fn oauth2_password_grant_with_get_fallback() {
    let reg = TokenRegistry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(
        &store,
        vec![layer(&store, "f", &noise(64 * KIB, 11))],
        "oauth2",
    );
    let reporter = RecordingReporter::default();
    let rt = rt();
    let alice = || {
        fast_client(RegistryOptions {
            credentials: vec![Credential {
                registry: host.clone(),
                username: token_auth::USER.into(),
                password: Secret::new(token_auth::PASSWORD),
            }],
            ..Default::default()
        })
    };
    let mut figures = Vec::new();
    for (mode, repo) in [
        (PostMode::OAuth2, "oauth/post"),
        (PostMode::NotFound, "oauth/get404"),
        (PostMode::UnsupportedGrant, "oauth/get400"),
    ] {
        reg.tokens.set_post(mode);
        let mark = reg.tokens.seen().len();
        let client = alice();
        let target = reference(&format!("{host}/{repo}"));
        let pushed = rt
            .block_on(client.push(&img, &target, &tags(&["1"]), &store, &reporter))
            .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
        assert_eq!(pushed.digest, *img.digest());
        let count = |flow| reg.tokens.count(mark, flow);
        let row = (
            mode,
            count(Flow::PostPassword),
            count(Flow::PostUnsupported),
            count(Flow::Get),
        );
        eprintln!("{mode:?}: password POSTs, refused POSTs, GETs = {:?}", &row);
        figures.push(row);
    }
    assert_eq!(
        figures,
        [
            (PostMode::OAuth2, 1, 0, 0),
            (PostMode::NotFound, 0, 1, 1),
            (PostMode::UnsupportedGrant, 0, 1, 1),
        ]
    );
    let seen = reg.tokens.seen();
    let get = seen.iter().find(|r| r.flow == Flow::Get).unwrap();
    assert_eq!(
        get.user.as_deref(),
        Some(token_auth::USER),
        "GET with Basic"
    );
}

/// The read side and the edges of a push against a plain registry: resolve by tag and
/// digest, tags, blob download, an index with an attestation entry, a mount answered 202
/// (upload continues on that session, no second POST), a registry-to-registry copy that
/// streams, and what fails before anything is sent.
#[test]
fn resolve_fetch_tags_index_mount_202_and_registry_copy() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(reg.port(), Vec::new());
    let host = proxy.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(&store, "base.bin", &noise(512 * KIB, 1));
    let app = layer(&store, "app.bin", &noise(64 * KIB, 2));
    let img = image(&store, vec![base.clone(), app.clone()], "one");
    let target = reference(&format!("{host}/test/app"));
    let client = fast_client(RegistryOptions::default());
    let reporter = RecordingReporter::default();
    let reg2 = Registry::plain();
    let dir4 = tempfile::tempdir().unwrap();
    let store4 = BlobStore::open(dir4.path()).unwrap();
    let rt = rt();
    let img4 = rt.block_on(async {
        let pushed = client
            .push(&img, &target, &tags(&["1.0", "latest"]), &store, &reporter)
            .await
            .unwrap();
        assert_eq!(pushed.digest, *img.digest());

        // Resolve by tag and by digest.
        let resolved = client
            .resolve(&target.with_tag("1.0"), &Platform::host())
            .await
            .unwrap();
        assert_eq!(resolved.manifest_digest, *img.digest());
        assert_eq!(resolved.index_digest, None);
        assert_eq!(resolved.config, img.image.config);
        assert_eq!(resolved.manifest.layers.len(), 2);
        let by_digest = reference(&format!("{host}/test/app@{}", img.digest()));
        let resolved = client.resolve(&by_digest, &Platform::host()).await.unwrap();
        assert_eq!(resolved.manifest_digest, *img.digest());

        // Tags, and a repository that does not exist.
        let mut listed = client.list_tags(&target).await.unwrap();
        listed.sort();
        assert_eq!(listed, ["1.0", "latest"]);
        let nothing = reference(&format!("{host}/test/nothing"));
        assert!(client.list_tags(&nothing).await.unwrap().is_empty());

        // A layer downloaded into another store, verified; a missing one named.
        let dir2 = tempfile::tempdir().unwrap();
        let store2 = BlobStore::open(dir2.path()).unwrap();
        let fetched = client
            .fetch_blob(&target, &base.descriptor.digest, &store2)
            .await
            .unwrap();
        assert_eq!(fetched.size, base.descriptor.size);
        assert_eq!(
            store2.read(&fetched.digest).unwrap(),
            store.read(&fetched.digest).unwrap()
        );
        let missing = Digest::sha256_of(b"missing");
        let err = client
            .fetch_blob(&target, &missing, &store2)
            .await
            .unwrap_err()
            .to_string();
        eprintln!("missing blob: {err}");
        assert!(
            err.contains(&format!(
                "GET http://{host}/v2/test/app/blobs/{missing}: 404 Not Found: BLOB_UNKNOWN"
            )),
            "{err}"
        );

        // An index with an attestation entry: resolve picks the platform.
        let img3 = image(&store, vec![base.clone(), app.clone()], "three");
        let multi = reference(&format!("{host}/test/multi"));
        for i in [&img, &img3] {
            client
                .push(i, &multi, &[], &store, &reporter)
                .await
                .unwrap();
        }
        let mut attestation: Descriptor = img3.manifest.clone();
        attestation.platform = Some(Platform {
            architecture: "unknown".into(),
            os: "unknown".into(),
            ..Default::default()
        });
        attestation.annotations = Some(
            [(
                "vnd.docker.reference.type".to_string(),
                "attestation-manifest".to_string(),
            )]
            .into(),
        );
        let index = Index {
            schema_version: 2,
            media_type: Some(MediaType::OciIndex),
            manifests: vec![img.manifest.clone(), attestation],
            annotations: None,
        };
        let pushed_index = client
            .push_index(&index, &multi, &tags(&["1"]), &reporter)
            .await
            .unwrap();
        let resolved = client
            .resolve(&multi.with_tag("1"), &Platform::host())
            .await
            .unwrap();
        assert_eq!(resolved.index_digest, Some(pushed_index.digest));
        assert_eq!(resolved.manifest_digest, *img.digest());
        let s390x = Platform::parse("linux/s390x").unwrap();
        let err = client
            .resolve(&multi.with_tag("1"), &s390x)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{host}/test/multi:1 has no image for linux/s390x (available: {})",
                Platform::host()
            )
        );

        // A mount from a repository that lacks the blob: 202, and the upload goes on
        // that session — one POST per blob.
        let mut wrong_source = app.clone();
        wrong_source.origin = LayerOrigin::Remote(reference(&format!("{host}/test/nothing:1")));
        let img5 = image(&store, vec![wrong_source], "five");
        let mark = proxy.seen().len();
        let p5 = client
            .push(
                &img5,
                &reference(&format!("{host}/test/five")),
                &[],
                &store,
                &reporter,
            )
            .await
            .unwrap();
        let posts = proxy.seen()[mark..]
            .iter()
            .filter(|r| r.method == "POST")
            .count();
        eprintln!("mount answered 202: {posts} POSTs for 2 blobs");
        assert_eq!(
            p5.blobs.iter().map(|b| b.action).collect::<Vec<_>>(),
            [BlobAction::Pushed, BlobAction::Pushed]
        );
        assert_eq!(posts, 2);

        // Registry to registry: the base streams from the first into a second registry
        // without touching the local store.
        let mut remote_base = base.clone();
        remote_base.origin = LayerOrigin::Remote(target.with_tag("1.0"));
        let img4 = image(&store4, vec![remote_base], "four");
        let copy = reference(&format!("{}/test/copy", reg2.host()));
        let p4 = client
            .push(&img4, &copy, &tags(&["1"]), &store4, &reporter)
            .await
            .unwrap();
        assert_eq!(p4.blobs[0].action, BlobAction::Pushed);
        assert!(!store4.contains(&base.descriptor.digest), "streamed");

        // A local layer missing from the store fails before any upload; a bad tag too.
        let dir7 = tempfile::tempdir().unwrap();
        let store7 = BlobStore::open(dir7.path()).unwrap();
        let img7 = image(&store7, vec![base.clone()], "seven");
        let seven = reference(&format!("{host}/test/seven"));
        let err = client
            .push(&img7, &seven, &[], &store7, &reporter)
            .await
            .unwrap_err();
        assert!(matches!(err, RegistryError::NoSource { .. }), "{err:?}");
        let err = client
            .push(&img, &target, &tags(&["-bad"]), &store, &reporter)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("`-bad` is not a valid tag"),
            "{err}"
        );
        img4
    });
    assert_reads_back(&reg2, "test/copy:1", &img4);
}

/// htpasswd over TLS: an untrusted certificate is reported as such (not as the plain
/// HTTP fallback's 400); no credentials and a wrong password get hints; the CA or the
/// insecure list make it work.
#[test]
fn htpasswd_over_tls() {
    let reg = Registry::tls_htpasswd("bob", "hunter2");
    let host = reg.host();
    let target = reference(&format!("{host}/test/tls"));
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let img = image(&store, vec![layer(&store, "a", &noise(4 * KIB, 9))], "tls");
    let reporter = RecordingReporter::default();
    let cred = |password: &str| Credential {
        registry: host.clone(),
        username: "bob".into(),
        password: Secret::new(password),
    };
    let with_ca = |credentials| RegistryOptions {
        ca_cert: Some(reg.ca_cert_path().to_path_buf()),
        credentials,
        ..Default::default()
    };
    let rt = rt();
    rt.block_on(async {
        let untrusted = fast_client(RegistryOptions {
            credentials: vec![cred("hunter2")],
            ..Default::default()
        });
        let err = untrusted
            .resolve(&target.with_tag("1"), &Platform::host())
            .await
            .unwrap_err();
        eprintln!("untrusted: {err}");
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

        let err = fast_client(with_ca(vec![]))
            .push(&img, &target, &tags(&["1"]), &store, &reporter)
            .await
            .unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
        assert!(err
            .hint()
            .unwrap()
            .contains(&format!("no credentials for {host}")));

        let err = fast_client(with_ca(vec![cred("wrong-pw")]))
            .push(&img, &target, &tags(&["1"]), &store, &reporter)
            .await
            .unwrap_err();
        assert!(err.hint().unwrap().contains("user `bob`"));
        let everything = format!("{err} {err:?} {}", err.hint().unwrap_or_default());
        assert!(!everything.contains("wrong-pw"), "{everything}");

        let client = fast_client(with_ca(vec![cred("hunter2")]));
        let pushed = client
            .push(&img, &target, &tags(&["1"]), &store, &reporter)
            .await
            .unwrap();
        assert_eq!(pushed.digest, *img.digest());

        let insecure = fast_client(RegistryOptions {
            insecure: vec![host.clone()],
            credentials: vec![cred("hunter2")],
            ..Default::default()
        });
        let again = insecure
            .push(&img, &target, &tags(&["1"]), &store, &reporter)
            .await
            .unwrap();
        assert!(again.blobs.iter().all(|b| b.action == BlobAction::Existing));
    });
    assert_reads_back(&reg, "test/tls:1", &img);
}

/// Token auth: a mount the token service will not allow (nothing on `secret/*`) fails
/// after one re-authentication with the union of scopes, then a plain upload goes
/// through; anonymous pulls work.
#[test]
fn token_auth_refused_mount_falls_back_and_anonymous_pull() {
    let reg = TokenRegistry::start();
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(&store, "base", &noise(128 * KIB, 5));
    let img = image(&store, vec![base.clone()], "bearer");
    let reporter = RecordingReporter::default();
    let client = fast_client(RegistryOptions {
        credentials: vec![Credential {
            registry: host.clone(),
            username: token_auth::USER.into(),
            password: Secret::new(token_auth::PASSWORD),
        }],
        ..Default::default()
    });
    let rt = rt();
    rt.block_on(async {
        let app = reference(&format!("{host}/test/app"));
        client
            .push(&img, &app, &tags(&["1"]), &store, &reporter)
            .await
            .unwrap();

        let mut refused = base.clone();
        refused.origin = LayerOrigin::Remote(reference(&format!("{host}/secret/lib:1")));
        let img3 = image(&store, vec![refused], "bearer-refused");
        let mark = reg.tokens.seen().len();
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
        let seen = reg.tokens.seen()[mark..].to_vec();
        eprintln!("token requests for the refused mount: {seen:?}");
        assert_eq!(
            pushed.blobs.iter().map(|b| b.action).collect::<Vec<_>>(),
            [BlobAction::Pushed, BlobAction::Pushed]
        );
        assert!(
            reporter
                .lines()
                .iter()
                .any(|l| l.contains("mount from secret/lib failed")),
            "{:?}",
            reporter.lines()
        );

        let anonymous = fast_client(RegistryOptions::default());
        let resolved = anonymous
            .resolve(&app.with_tag("1"), &Platform::host())
            .await
            .unwrap();
        assert_eq!(resolved.manifest_digest, *img.digest());
    });
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn mount_proven_and_unchanged_repush_uploads_nothing() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(reg.port(), Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(&store, "base", &noise(2 * MIB, 11));
    let img = image(&store, vec![base.clone()], "one");
    let client = fast_client(RegistryOptions::default());
    let reporter = RecordingReporter::default();
    let rt = rt();
    let first = reference(&format!("{}/m/first", proxy.host()));
    rt.block_on(client.push(&img, &first, &tags(&["1"]), &store, &reporter))
        .unwrap();

    // Unchanged re-push: a manifest HEAD and the tag PUT, nothing else.
    let (mark, up) = (proxy.seen().len(), proxy.bytes_up());
    let again = rt
        .block_on(client.push(&img, &first, &tags(&["1"]), &store, &reporter))
        .unwrap();
    let requests: Vec<String> = proxy.seen()[mark..]
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect();
    eprintln!(
        "--- unchanged re-push: {} requests, {} bytes up: {requests:?}",
        requests.len(),
        proxy.bytes_up() - up
    );
    assert_eq!(again.uploaded_bytes(), 0);
    assert!(
        !requests.iter().any(|r| r.contains("/blobs/")),
        "{requests:?}"
    );

    // Mount: the base's bytes are only in the registry; no upload of it happens.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = BlobStore::open(dir2.path()).unwrap();
    let mut remote = base.clone();
    remote.origin = LayerOrigin::Remote(first.with_tag("1"));
    let img2 = image(&store2, vec![remote], "two");
    let (mark, up) = (proxy.seen().len(), proxy.bytes_up());
    let pushed = rt
        .block_on(client.push(
            &img2,
            &reference(&format!("{}/m/second", proxy.host())),
            &tags(&["1"]),
            &store2,
            &reporter,
        ))
        .unwrap();
    let seen = proxy.seen()[mark..].to_vec();
    let body_bytes: u64 = seen.iter().map(|s| s.body_len).sum();
    eprintln!(
        "--- mount: {} requests, {} bytes up, {body_bytes} in bodies (base layer {} bytes)",
        seen.len(),
        proxy.bytes_up() - up,
        base.descriptor.size
    );
    assert_eq!(pushed.blobs[0].action, BlobAction::Mounted);
    assert!(body_bytes < base.descriptor.size / 10, "{seen:#?}");
    assert!(
        reg.log().contains(&format!(
            "POST /v2/m/second/blobs/uploads/?from=m%2Ffirst&mount={}",
            base.descriptor.digest.to_string().replace(':', "%3A")
        )) || reg.log().contains("mount="),
        "{}",
        reg.log()
    );
    assert_reads_back(&reg, "m/second:1", &img2);
}

#[test]
fn index_of_two_platforms_is_pushed_after_its_children() {
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let client = fast_client(RegistryOptions::default());
    let reporter = RecordingReporter::default();
    let rt = rt();
    let repo = reference(&format!("{}/multi/app", reg.host()));
    let amd = Platform::parse("linux/amd64").unwrap();
    let arm = Platform::parse("linux/arm/v7").unwrap();
    let mut entries = Vec::new();
    for (i, platform) in [&amd, &arm].into_iter().enumerate() {
        let img = image_for(
            &store,
            vec![layer(&store, "f", &noise(KIB, i as u64))],
            "m",
            platform,
        );
        let pushed = rt
            .block_on(client.push(&img, &repo, &[], &store, &reporter))
            .unwrap();
        let d = rt.block_on(client.describe(&repo, &pushed.digest)).unwrap();
        assert_eq!(d.digest, *img.digest());
        assert_eq!(d.size, img.manifest_bytes.len() as u64);
        assert_eq!(d.media_type, MediaType::OciManifest);
        assert_eq!(d.platform.as_ref(), Some(platform));
        entries.push(d);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(MediaType::OciIndex),
        manifests: entries.clone(),
        annotations: None,
    };
    let pushed = rt
        .block_on(client.push_index(&index, &repo, &tags(&["1", "latest"]), &reporter))
        .unwrap();
    assert_eq!(
        pushed.digest,
        Digest::sha256_of(&serde_json::to_vec(&index).unwrap())
    );
    let pulled = read_back(&reg, &reg.reference("multi/app:latest"));
    assert!(pulled.is_index());
    assert_eq!(pulled.digest, pushed.digest.to_string());
    assert_eq!(
        pulled.child_digest("linux/arm/v7"),
        entries[1].digest.to_string()
    );

    // A child the repository lacks: refused before anything is written, naming it.
    let mut missing = entries[0].clone();
    missing.digest = Digest::sha256_of(b"not pushed");
    let bad = Index {
        manifests: vec![entries[0].clone(), missing.clone()],
        ..index
    };
    let err = rt
        .block_on(client.push_index(&bad, &repo, &tags(&["2"]), &reporter))
        .unwrap_err();
    eprintln!("missing child: {err}");
    assert!(
        err.to_string().contains(&missing.digest.to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("linux/amd64"), "{err}");
    assert!(!reg.tags("multi/app").contains(&"2".to_string()));
}

/// The binary, killed (SIGKILL, by PID) while its layer upload hangs, then run again.
#[test]
fn push_killed_mid_upload_then_run_again_completes() {
    let reg = Registry::plain();
    let proxy = FaultProxy::start(
        reg.port(),
        vec![Rule::new(
            "PATCH",
            "/blobs/uploads/",
            3,
            Fault::Stall(Duration::from_secs(60)),
        )],
    );
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY big.bin /big.bin\n")
        .file("big.bin", noise(6 * MIB, 5));
    let image = format!("{}/killed/app", proxy.host());
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaceone-publish"))
        .current_dir(ctx.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("PUBLISH_IMAGE", &image)
        .env("PUBLISH_VERSION", "1.0.0")
        .env("PUBLISH_REGISTRY_CHUNK_SIZE", "1MiB")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stalled = poll(Duration::from_secs(120), Duration::from_millis(50), || {
        (!proxy.fired().is_empty()).then_some(())
    });
    child.kill().unwrap(); // SIGKILL to our own child's PID
    let status = child.wait().unwrap();
    assert!(
        stalled.is_some(),
        "the upload never reached the stalled chunk"
    );
    eprintln!(
        "--- killed ({status}) after {} requests; tags so far: {:?}",
        proxy.seen().len(),
        reg.tags("killed/app")
    );
    assert!(
        reg.tags("killed/app").is_empty(),
        "no manifest before the kill"
    );

    proxy.set_rules(Vec::new());
    let run = ctx
        .publish()
        .input("image", &image)
        .input("version", "1.0.0")
        .input("registry-chunk-size", "1MiB")
        .run();
    run.assert_success();
    assert_eq!(reg.tags("killed/app"), vec!["1.0.0"]);
    let pulled = read_back(&reg, &reg.reference("killed/app:1.0.0"));
    assert!(
        run.stdout.contains(&pulled.digest),
        "{}\n{}",
        pulled.digest,
        run.report()
    );
}

/// `--debug` output of a token-auth push holds no password, no Basic header, no token.
#[test]
fn debug_output_of_a_token_push_has_no_secrets() {
    let reg = TokenRegistry::start();
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n")
        .file("a.txt", "hello\n");
    let run = ctx
        .publish()
        .input("image", format!("{}/team/debug", reg.host()))
        .input("version", "1.0.0")
        .input("registry-username", token_auth::USER)
        .input("registry-password", token_auth::PASSWORD)
        .arg("--debug")
        .run();
    run.assert_success();
    let output = format!("{}\n{}", run.stdout, run.stderr);
    let basic = base64_encode(&format!("{}:{}", token_auth::USER, token_auth::PASSWORD));
    assert!(!output.contains(token_auth::PASSWORD), "{}", run.report());
    assert!(!output.contains(&basic), "{}", run.report());
    // The password grant handed out a refresh token: it stays in memory too.
    assert!(reg
        .tokens
        .seen()
        .iter()
        .any(|r| r.flow == Flow::PostPassword));
    assert!(
        !output.contains(token_auth::REFRESH_TOKEN),
        "{}",
        run.report()
    );
    let issued = reg.tokens.issued();
    assert!(!issued.is_empty());
    for token in issued {
        let signature = token.rsplit('.').next().unwrap();
        assert!(
            !output.contains(signature),
            "a token leaked:\n{}",
            run.report()
        );
    }
    assert!(
        output.contains("debug:"),
        "debug output was on: {}",
        run.report()
    );
}

/// Wrong push credentials fail with exit 4 before any build step runs, on a token-auth
/// registry (the token service refuses them) and an htpasswd one (`/v2/` answers 401);
/// the right ones still push.
#[test]
fn wrong_registry_credentials_fail_before_the_build() {
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY a.txt /a.txt\n")
        .file("a.txt", "hello\n");
    let token = TokenRegistry::start();
    let htpasswd = Registry::tls_htpasswd("bob", "hunter2");
    let ca = htpasswd.ca_cert_path().display().to_string();
    let runs = [
        (token.host(), token_auth::USER, "not-the-password", None),
        (
            htpasswd.host(),
            "bob",
            "not-the-password",
            Some(ca.as_str()),
        ),
    ];
    for (host, user, password, ca) in runs {
        let mut publish = ctx
            .publish()
            .input("image", format!("{host}/team/early"))
            .input("version", "1.0.0")
            .input("registry-username", user)
            .input("registry-password", password);
        if let Some(ca) = ca {
            publish = publish.input("registry-ca-cert", ca);
        }
        let run = publish.run();
        run.assert_exit(4);
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(
            output.contains(&host),
            "names the registry: {}",
            run.report()
        );
        assert!(
            !output.contains("COPY a.txt"),
            "a build step ran: {}",
            run.report()
        );
        assert!(!output.contains(password), "{}", run.report());
    }
    assert!(htpasswd.tags("team/early").is_empty());
    let run = ctx
        .publish()
        .input("image", format!("{}/team/early", htpasswd.host()))
        .input("version", "1.0.0")
        .input("registry-username", "bob")
        .input("registry-password", "hunter2")
        .input("registry-ca-cert", &ca)
        .run();
    run.assert_success();
    assert_eq!(htpasswd.tags("team/early"), vec!["1.0.0"]);
}

/// Not a test: `bench/push.sh` runs it to push the OCI layout `BENCH_LAYOUT` (its first
/// manifest) to `BENCH_TARGET` with the default tuning, and prints what it took.
#[test]
#[ignore = "benchmark, run by bench/push.sh"]
fn bench_push_layout() {
    use spaceone_publish::oci::Manifest;
    let layout = std::path::PathBuf::from(std::env::var("BENCH_LAYOUT").expect("BENCH_LAYOUT"));
    let target = reference(&std::env::var("BENCH_TARGET").expect("BENCH_TARGET"));
    let store = BlobStore::open(&layout).unwrap();
    let index: Index =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = &index.manifests[0];
    let manifest_bytes = store.read(&entry.digest).unwrap();
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes).unwrap();
    let config: ImageConfig =
        serde_json::from_slice(&store.read(&manifest.config.digest).unwrap()).unwrap();
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(descriptor, diff_id)| Layer {
            descriptor: descriptor.clone(),
            diff_id: DiffId(diff_id.clone()),
            origin: LayerOrigin::Local,
        })
        .collect();
    let image = SealedImage {
        image: Image {
            config,
            layers,
            annotations: Default::default(),
        },
        config: manifest.config.clone(),
        manifest: Descriptor::new(MediaType::OciManifest, entry.digest.clone(), entry.size),
        manifest_bytes,
    };
    let client = Client::new(RegistryOptions::default()).unwrap();
    let reporter = RecordingReporter::default();
    let started = Instant::now();
    let pushed = rt()
        .block_on(client.push(&image, &target, &tags(&["1"]), &store, &reporter))
        .unwrap();
    for line in reporter.lines() {
        eprintln!("  | {line}");
    }
    eprintln!(
        "bench: pushed {} ({} layers, {} bytes uploaded) in {:.2}s",
        pushed.digest,
        image.image.layers.len(),
        pushed.uploaded_bytes(),
        started.elapsed().as_secs_f64()
    );
}
