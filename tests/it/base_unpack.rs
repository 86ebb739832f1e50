//! A base image's layers unpacked for RUN while they download: checked against their
//! digest at the end of the stream, and kept in the blob store only when the push (or a
//! local output) will need their bytes again.

use std::path::{Path, PathBuf};

use crate::support::context::Context;
use crate::support::images::{host_arch, image_config, push_image};
use crate::support::registry::Registry;
use crate::support::rootfs::{busybox_layer, Layer, LayerBuilder};

fn context() -> Context {
    Context::new()
        .file(
            "Dockerfile",
            "ARG BASE\nFROM ${BASE}\nRUN cat /etc/greeting > /seen\n",
        )
        .file("src/VERSION", "1.0.0\n")
}

fn greeting(text: &str) -> Layer {
    LayerBuilder::new()
        .file("etc/greeting", 0o644, text.as_bytes())
        .finish()
}

/// Pushes busybox plus a greeting layer as `library/base:1`; returns the reference and
/// the greeting layer.
fn push_base(reg: &Registry) -> (String, Layer) {
    let layers = vec![busybox_layer(), greeting("from the registry\n")];
    let config = image_config(host_arch(), None, &layers);
    let reference = push_image(reg, "library/base:1", &layers, &config, &[]);
    (reference, layers[1].clone())
}

/// Where the registry's filesystem driver keeps a blob's bytes.
fn stored_blob(reg: &Registry, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").unwrap();
    reg.storage_dir()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data")
}

fn blob_in_cache(cache: &Path, digest: &str) -> bool {
    let hex = digest.strip_prefix("sha256:").unwrap();
    cache
        .join("spaceone-publish/blobs/blobs/sha256")
        .join(hex)
        .is_file()
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_base_layer_served_with_other_bytes_exits_4_and_leaves_no_build_root() {
    let reg = Registry::plain();
    let (base, layer) = push_base(&reg);
    // A well-formed layer, so only the digest can tell: the extractor accepts it whole.
    std::fs::write(stored_blob(&reg, &layer.digest), greeting("planted\n").gz).unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = context()
        .publish()
        .input("image", format!("{}/test/mismatch", reg.host()))
        .input("build-args", format!("BASE={base}"))
        .input("work-dir", work.path())
        .run();
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains(&format!("cannot download layer {}", layer.digest))
            && run.stderr.contains("expected"),
        "{}",
        run.report()
    );
    assert!(reg.tags("test/mismatch").is_empty(), "{}", run.report());
    assert_eq!(
        entries(&work.path().join("rootfs")),
        Vec::<String>::new(),
        "a build root outlived the failed build"
    );
}

#[test]
fn a_base_layer_is_kept_locally_only_when_the_push_cannot_mount_it() {
    let reg = Registry::plain();
    let other = Registry::plain();
    let (base, layer) = push_base(&reg);

    let cache = tempfile::tempdir().unwrap();
    let run = context()
        .publish()
        .input("image", format!("{}/test/same", reg.host()))
        .input("build-args", format!("BASE={base}"))
        .env("XDG_CACHE_HOME", cache.path())
        .run();
    run.assert_success();
    assert!(
        !blob_in_cache(cache.path(), &layer.digest),
        "the push mounts the base layer, yet its bytes were stored"
    );
    assert_eq!(reg.tags("test/same"), vec!["1.0.0".to_string()]);

    let cache = tempfile::tempdir().unwrap();
    let run = context()
        .publish()
        .input(
            "image",
            format!("{}/test/two\n{}/test/two", reg.host(), other.host()),
        )
        .input("build-args", format!("BASE={base}"))
        .env("XDG_CACHE_HOME", cache.path())
        .run();
    run.assert_success();
    assert!(
        blob_in_cache(cache.path(), &layer.digest),
        "the second registry needs the base layer's bytes, and they were not kept"
    );
    let pulled =
        crate::support::read_back::read_back(&other, &format!("{}/test/two:1.0.0", other.host()));
    let seen = pulled.layers.last().unwrap().entry("seen").unwrap();
    assert_eq!(seen.content.as_deref(), Some(&b"from the registry\n"[..]));
}

#[test]
fn a_base_started_early_is_removed_when_a_pre_flight_check_fails() {
    let reg = Registry::plain();
    let (base, _) = push_base(&reg);
    let work = tempfile::tempdir().unwrap();
    let closed = crate::support::process::free_port();
    let run = context()
        .publish()
        .input(
            "image",
            format!("{}/cloudforet/plugin-early-inven-collector", reg.host()),
        )
        .input("build-args", format!("BASE={base}"))
        .input("work-dir", work.path())
        .input("spaceone-endpoint", format!("grpc://127.0.0.1:{closed}"))
        .input("spaceone-domain-id", "domain-test")
        .run();
    run.assert_exit(5);
    assert!(
        run.stderr
            .contains("beside the checks (a RUN will execute)"),
        "the base did not start early\n{}",
        run.report()
    );
    assert!(
        !run.stderr.contains("cat /etc/greeting"),
        "{}",
        run.report()
    );
    assert!(
        reg.tags("cloudforet/plugin-early-inven-collector")
            .is_empty(),
        "{}",
        run.report()
    );
    assert_eq!(
        entries(&work.path().join("rootfs")),
        Vec::<String>::new(),
        "the early rootfs outlived the run"
    );
}
