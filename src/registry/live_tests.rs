//! The client against a real registry: Debian's `docker-registry` (CNCF distribution
//! 2.8), started per test on a random loopback port — plain HTTP, htpasswd over TLS, and
//! token auth with a small token service of our own. Each test asserts what the client
//! returns *and* what the registry's access log says happened (requests, mounts, no blob
//! writes on a re-push), and prints the figures.
//!
//! Ignored by default: they need `docker-registry`, `htpasswd` and `openssl` on PATH.
//! Run with `cargo test --lib registry::live_tests -- --ignored --nocapture`. They stay
//! here until the shared harness in `tests/it/support/` takes them over.

mod auth;
mod harness;
mod token_server;

use self::harness::{image, layer, noise, AuthMode, CountingProxy, LoggedRequest, Registry};
use super::challenge::Scopes;
use super::{manifest, Client, RegistryError, RegistryOptions};
use crate::ci::{BlobAction, RecordingReporter};
use crate::oci::{BlobStore, Descriptor, Index, LayerOrigin, MediaType, Platform};
use crate::reference::Reference;

fn reference(s: &str) -> Reference {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

fn actions(pushed: &super::Pushed) -> Vec<BlobAction> {
    pushed.blobs.iter().map(|b| b.action).collect()
}

/// Requests logged since `mark`, printed as figures.
fn since(registry: &Registry, mark: usize, title: &str) -> Vec<LoggedRequest> {
    let all = registry.requests();
    let new = all[mark.min(all.len())..].to_vec();
    eprintln!("--- {title}: {} requests", new.len());
    for r in &new {
        eprintln!("    {r}");
    }
    new
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_push_resolve_mount_copy_and_repush() {
    let r1 = Registry::start(AuthMode::None, None);
    let proxy = CountingProxy::start(r1.port).await;
    let host = format!("127.0.0.1:{}", proxy.port);
    let client = Client::new(RegistryOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let base = layer(
        &store,
        "base.bin",
        &noise(512 * 1024, 1),
        LayerOrigin::Local,
    );
    let app = layer(&store, "app.bin", &noise(64 * 1024, 2), LayerOrigin::Local);
    let img = image(&store, vec![base.clone(), app.clone()], "one");
    let target = reference(&format!("{host}/test/app"));
    let reporter = RecordingReporter::default();

    // First push: every blob uploaded, the manifest under two tags.
    let (mark, up) = (r1.requests().len(), proxy.up());
    let pushed = client
        .push(&img, &target, &tags(&["1.0", "latest"]), &store, &reporter)
        .await
        .unwrap();
    let log = since(&r1, mark, "first push (2 layers + config, 2 tags)");
    eprintln!(
        "    bytes sent: {} (blob bodies {})",
        proxy.up() - up,
        pushed.uploaded_bytes()
    );
    assert_eq!(actions(&pushed), [BlobAction::Pushed; 3]);
    assert_eq!(pushed.digest, *img.digest());
    assert_eq!(pushed.repository.to_string(), format!("{host}/test/app"));
    assert_eq!(log.iter().filter(|r| r.is_blob_write()).count(), 3);
    assert_eq!(
        log.iter().filter(|r| r.method == "PATCH").count(),
        0,
        "monolithic: no PATCH"
    );
    assert_eq!(
        log.iter()
            .filter(|r| r.method == "PUT" && r.path.contains("/manifests/"))
            .count(),
        2
    );
    let body_bytes = pushed.uploaded_bytes();
    assert!(proxy.up() - up >= body_bytes && proxy.up() - up < body_bytes + 16 * 1024);
    let lines = reporter.lines();
    assert!(lines.iter().any(|l| l.starts_with("pushed ")), "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with(&format!("{host}/test/app:latest"))),
        "{lines:?}"
    );

    // Resolve it back, by tag and by digest.
    let resolved = client
        .resolve(&target.with_tag("1.0"), &Platform::host())
        .await
        .unwrap();
    assert_eq!(resolved.manifest_digest, *img.digest());
    assert_eq!(resolved.index_digest, None);
    assert_eq!(resolved.config, img.image.config);
    assert_eq!(resolved.manifest.layers.len(), 2);
    assert_eq!(
        resolved.platform.architecture,
        Platform::host().architecture
    );
    let by_digest = reference(&format!("{host}/test/app@{}", img.digest()));
    assert_eq!(
        client
            .resolve(&by_digest, &Platform::host())
            .await
            .unwrap()
            .manifest_digest,
        *img.digest()
    );

    // Tags, and a repository that does not exist.
    let mut listed = client.list_tags(&target).await.unwrap();
    listed.sort();
    assert_eq!(listed, ["1.0", "latest"]);
    assert!(client
        .list_tags(&reference(&format!("{host}/test/nothing")))
        .await
        .unwrap()
        .is_empty());

    // Download a layer into another store, verified.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = BlobStore::open(dir2.path()).unwrap();
    let down = proxy.down();
    let fetched = client
        .fetch_blob(&target, &base.descriptor.digest, &store2)
        .await
        .unwrap();
    eprintln!(
        "--- fetch_blob: {} bytes received for a {}-byte blob",
        proxy.down() - down,
        fetched.size
    );
    assert_eq!(
        (fetched.digest.clone(), fetched.size),
        (base.descriptor.digest.clone(), base.descriptor.size)
    );
    assert_eq!(
        store2.read(&fetched.digest).unwrap(),
        store.read(&fetched.digest).unwrap()
    );
    let missing = crate::oci::Digest::sha256_of(b"missing");
    let err = client
        .fetch_blob(&target, &missing, &store2)
        .await
        .unwrap_err();
    eprintln!("    missing blob error: {err}");
    assert!(
        err.to_string().contains(&format!(
            "GET http://{host}/v2/test/app/blobs/{missing}: 404 Not Found: BLOB_UNKNOWN"
        )),
        "{err}"
    );

    // Unchanged re-push: one manifest HEAD, the tag PUTs, no blob request at all.
    let (mark, up) = (r1.requests().len(), proxy.up());
    let again = client
        .push(&img, &target, &tags(&["1.0", "latest"]), &store, &reporter)
        .await
        .unwrap();
    let log = since(&r1, mark, "unchanged re-push");
    eprintln!("    bytes sent: {}", proxy.up() - up);
    assert_eq!(actions(&again), [BlobAction::Existing; 3]);
    assert_eq!(again.uploaded_bytes(), 0);
    assert!(
        !log.iter().any(|r| r.path.contains("/blobs/")),
        "no blob requests: {log:?}"
    );
    assert_eq!(log.len(), 3);

    // A new config on the same layers: the layers are found by blob HEAD.
    let img3 = image(&store, vec![base.clone(), app.clone()], "three");
    let mark = r1.requests().len();
    let p3 = client
        .push(&img3, &target, &tags(&["3"]), &store, &reporter)
        .await
        .unwrap();
    since(&r1, mark, "new config, same layers");
    assert_eq!(
        actions(&p3),
        [
            BlobAction::Existing,
            BlobAction::Existing,
            BlobAction::Pushed
        ]
    );

    // Mount: the base layer's bytes are only in the registry (not in this store).
    let dir4 = tempfile::tempdir().unwrap();
    let store4 = BlobStore::open(dir4.path()).unwrap();
    let mut remote_base = base.clone();
    remote_base.origin = LayerOrigin::Remote(target.with_tag("1.0"));
    let app2 = layer(
        &store4,
        "app2.bin",
        &noise(32 * 1024, 3),
        LayerOrigin::Local,
    );
    let img4 = image(&store4, vec![remote_base.clone(), app2], "four");
    let other = reference(&format!("{host}/test/other"));
    let (mark, up) = (r1.requests().len(), proxy.up());
    let p4 = client
        .push(&img4, &other, &[], &store4, &reporter)
        .await
        .unwrap();
    let log = since(&r1, mark, "mount base + push app2, by digest");
    eprintln!(
        "    bytes sent: {} (blob bodies {})",
        proxy.up() - up,
        p4.uploaded_bytes()
    );
    assert_eq!(
        actions(&p4),
        [BlobAction::Mounted, BlobAction::Pushed, BlobAction::Pushed]
    );
    let base_digest = base.descriptor.digest.to_string();
    assert!(
        log.iter()
            .any(|r| r.method == "POST" && r.path.contains("mount=") && r.status == 201),
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|r| r.is_blob_write()).count(),
        2,
        "only app2 and config uploaded"
    );
    assert!(
        !log.iter()
            .any(|r| r.method == "GET" && r.path.contains(&base_digest)),
        "base not read"
    );
    assert!(log
        .iter()
        .any(|r| r.method == "PUT" && r.path.ends_with(&format!("/manifests/{}", img4.digest()))));

    // Mount from a repository that lacks the blob: distribution answers 202 and the
    // upload continues on that session's Location — no second POST.
    let mut wrong_source = app.clone();
    wrong_source.origin = LayerOrigin::Remote(reference(&format!("{host}/test/nothing:1")));
    let img5 = image(&store, vec![wrong_source], "five");
    let mark = r1.requests().len();
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
    let log = since(&r1, mark, "mount answered 202 (source lacks the blob)");
    assert_eq!(actions(&p5), [BlobAction::Pushed, BlobAction::Pushed]);
    assert!(
        log.iter()
            .any(|r| r.path.contains("mount=") && r.status == 202),
        "{log:?}"
    );
    assert_eq!(
        log.iter().filter(|r| r.method == "POST").count(),
        2,
        "one per blob: {log:?}"
    );

    // An index with an attestation entry: resolve selects the platform, lists the rest.
    let multi = reference(&format!("{host}/test/multi"));
    client
        .push(&img, &multi, &[], &store, &reporter)
        .await
        .unwrap();
    client
        .push(&img3, &multi, &[], &store, &reporter)
        .await
        .unwrap();
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
    let index_bytes = serde_json::to_vec(&index).unwrap();
    let session = client
        .session(&multi, Scopes::push("test/multi", []))
        .await
        .unwrap();
    manifest::put(
        &session,
        "test/multi",
        "1",
        &MediaType::OciIndex,
        &index_bytes,
    )
    .await
    .unwrap();
    let resolved = client
        .resolve(&multi.with_tag("1"), &Platform::host())
        .await
        .unwrap();
    assert_eq!(
        resolved.index_digest,
        Some(crate::oci::Digest::sha256_of(&index_bytes))
    );
    assert_eq!(resolved.manifest_digest, *img.digest());
    let s390x = Platform::parse("linux/s390x").unwrap();
    let err = client
        .resolve(&multi.with_tag("1"), &s390x)
        .await
        .unwrap_err();
    eprintln!("    platform error: {err}");
    assert_eq!(
        err.to_string(),
        format!(
            "{host}/test/multi:1 has no image for linux/s390x (available: {})",
            Platform::host()
        )
    );

    // Registry to registry: the base streams from r1 into r2, never touching a store.
    let r2 = Registry::start(AuthMode::None, None);
    let copy = reference(&format!("{}/test/copy", r2.host()));
    let mark = r1.requests().len();
    let p5 = client
        .push(&img4, &copy, &tags(&["1"]), &store4, &reporter)
        .await
        .unwrap();
    since(&r1, mark, "source registry during a cross-registry copy");
    since(&r2, 0, "target registry during a cross-registry copy");
    assert_eq!(actions(&p5), [BlobAction::Pushed; 3]);
    assert!(
        !store4.contains(&base.descriptor.digest),
        "streamed, not stored"
    );
    let dir6 = tempfile::tempdir().unwrap();
    let store6 = BlobStore::open(dir6.path()).unwrap();
    client
        .fetch_blob(&copy, &base.descriptor.digest, &store6)
        .await
        .unwrap();

    // A local layer missing from the store fails before any upload of it.
    let dir7 = tempfile::tempdir().unwrap();
    let store7 = BlobStore::open(dir7.path()).unwrap();
    let img7 = image(&store7, vec![base.clone()], "seven");
    let err = client
        .push(
            &img7,
            &reference(&format!("{host}/test/seven")),
            &[],
            &store7,
            &reporter,
        )
        .await
        .unwrap_err();
    eprintln!("    missing local blob: {err}");
    assert!(matches!(err, RegistryError::NoSource { .. }), "{err:?}");

    // Tags are validated before anything is sent.
    let err = client
        .push(&img, &target, &tags(&["-bad"]), &store, &reporter)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`-bad` is not a valid tag"),
        "{err}"
    );
}
