//! Base images for end-to-end tests, built locally as an OCI layout and pushed by skopeo
//! (an independent tool, not our code), so a test starts from an image the registry holds
//! exactly as a real base image would be.
//!
//! All variants share the busybox layer from `rootfs.rs` (built once per test binary;
//! it is deterministic). Each function returns the full reference it pushed,
//! `127.0.0.1:PORT/<repo>:<tag>`.

use std::sync::OnceLock;

use serde_json::{json, Value};

use super::oci_layout::{finish_layout, write_image, write_index};
use super::registry::Registry;
use super::rootfs::{busybox_layer, platform_marker_layer, Layer};
use super::skopeo::{registry_flags, skopeo, Side};

pub use super::rootfs::BUSYBOX_APPLETS;

/// The one `Env` entry of every base image's config.
pub const BASE_PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The busybox image as an OCI manifest (one gzip layer), host architecture.
pub fn push_busybox(reg: &Registry, repo_tag: &str) -> String {
    let layers = vec![busybox()];
    let config = image_config(host_arch(), None, &layers);
    push_image(reg, repo_tag, &layers, &config, &[])
}

/// The same image, converted by skopeo to a Docker v2 schema 2 manifest.
pub fn push_busybox_v2s2(reg: &Registry, repo_tag: &str) -> String {
    let layers = vec![busybox()];
    let config = image_config(host_arch(), None, &layers);
    push_image(reg, repo_tag, &layers, &config, &["--format=v2s2"])
}

/// An OCI image index with `linux/amd64` and `linux/arm64/v8` images. Both hold the
/// busybox layer (the host's binary) plus a layer with `/etc/platform` saying which
/// platform they are, so a test can tell which one it got.
pub fn push_busybox_multi_platform(reg: &Registry, repo_tag: &str) -> String {
    let (_, tag) = split_repo_tag(repo_tag);
    let dir = tempfile::tempdir().unwrap();
    let children: Vec<(Value, Value)> = [("amd64", None), ("arm64", Some("v8"))]
        .into_iter()
        .map(|(arch, variant)| {
            let layers = vec![
                busybox(),
                platform_marker_layer(&platform_string(arch, variant)),
            ];
            let manifest = write_image(dir.path(), &layers, &image_config(arch, variant, &layers));
            (manifest, platform_json(arch, variant))
        })
        .collect();
    let index = write_index(dir.path(), &children);
    finish_layout(dir.path(), tag, &index);
    copy_layout_to(reg, dir.path(), tag, repo_tag, &["--all"])
}

/// Pushes any image made of `layers` and `config` (see [`image_config`]); `extra` are
/// additional `skopeo copy` flags. For tests that need a special base image.
pub fn push_image(
    reg: &Registry,
    repo_tag: &str,
    layers: &[Layer],
    config: &Value,
    extra: &[&str],
) -> String {
    let (_, tag) = split_repo_tag(repo_tag);
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_image(dir.path(), layers, config);
    finish_layout(dir.path(), tag, &manifest);
    copy_layout_to(reg, dir.path(), tag, repo_tag, extra)
}

/// `skopeo copy oci:<dir>:<tag> docker://<host>/<repo_tag>`; returns the reference.
fn copy_layout_to(
    reg: &Registry,
    dir: &std::path::Path,
    tag: &str,
    repo_tag: &str,
    extra: &[&str],
) -> String {
    let reference = reg.reference(repo_tag);
    let mut args = vec!["copy".to_string(), "--quiet".to_string()];
    args.extend(registry_flags(reg, Side::Dest));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.push(format!("oci:{}:{tag}", dir.display()));
    args.push(format!("docker://{reference}"));
    skopeo(&args);
    reference
}

/// A minimal image config: os linux, `arch`/`variant`, `Env` = [`BASE_PATH_ENV`],
/// `Cmd` = `["sh"]`, the layers' diff_ids and one history entry per layer.
pub fn image_config(arch: &str, variant: Option<&str>, layers: &[Layer]) -> Value {
    let mut config = json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": arch,
        "os": "linux",
        "config": { "Env": [BASE_PATH_ENV], "Cmd": ["sh"] },
        "rootfs": { "type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>() },
        "history": layers.iter().map(|_| json!({
            "created": "2024-01-01T00:00:00Z",
            "created_by": "spaceone-publish test fixture",
        })).collect::<Vec<_>>(),
    });
    if let Some(v) = variant {
        config["variant"] = json!(v);
    }
    config
}

/// The host's architecture in OCI spelling (`amd64`, `arm64`, …).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The busybox layer, built once per test binary.
fn busybox() -> Layer {
    static LAYER: OnceLock<Layer> = OnceLock::new();
    LAYER.get_or_init(busybox_layer).clone()
}

fn platform_json(arch: &str, variant: Option<&str>) -> Value {
    let mut p = json!({ "architecture": arch, "os": "linux" });
    if let Some(v) = variant {
        p["variant"] = json!(v);
    }
    p
}

fn platform_string(arch: &str, variant: Option<&str>) -> String {
    match variant {
        Some(v) => format!("linux/{arch}/{v}"),
        None => format!("linux/{arch}"),
    }
}

/// `("library/busybox", "1")` from `"library/busybox:1"`; a tag is required.
fn split_repo_tag(repo_tag: &str) -> (&str, &str) {
    match repo_tag.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => panic!("fixture images need `repo:tag`, got {repo_tag:?}"),
    }
}
