//! A Debian python base image, made with `debootstrap` (as real `python:*-bookworm`-style
//! bases are), for tests that need a real distribution: `pip`, `setuptools`, a dynamic
//! `python3`.
//!
//! debootstrap takes minutes, so its result is made once and cached on disk between test
//! runs, under `<target>/test-fixtures/debian-python/<key>/` where the key hashes the
//! suite, variant, mirror and package list. The cache holds one gzip layer
//! (`layer.tar.gz`), its identities (`layer.json`) and how long debootstrap took
//! (`debootstrap-seconds`). A concurrent run that loses the race to fill the cache uses the
//! winner's copy. Delete the directory to rebuild.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};

use super::images::{host_arch, image_config, push_image};
use super::process::run_tool;
use super::registry::Registry;
use super::rootfs::{sha256_digest, Layer};

pub const SUITE: &str = "bookworm";
pub const VARIANT: &str = "minbase";
pub const MIRROR: &str = "http://deb.debian.org/debian";
pub const PACKAGES: &[&str] = &[
    "python3",
    "python3-pip",
    "python3-setuptools",
    "python3-wheel",
];

/// The cached base layer and how long debootstrap took when it was made.
#[derive(Clone)]
pub struct DebianBase {
    pub layer: Layer,
    /// Seconds debootstrap ran when the cache was filled (possibly by an earlier run).
    pub debootstrap_seconds: f64,
    /// True if this test run made the layer (a cold cache).
    pub made_now: bool,
}

/// The Debian python layer: from the on-disk cache, or made now (once per test binary).
pub fn debian_python() -> DebianBase {
    static BASE: OnceLock<DebianBase> = OnceLock::new();
    BASE.get_or_init(load_or_make).clone()
}

/// Pushes the Debian python image (`Cmd ["python3"]`, Debian's `PATH`) as `repo_tag`;
/// returns the reference.
pub fn push_debian_python(reg: &Registry, repo_tag: &str) -> String {
    let layers = vec![debian_python().layer];
    let mut config = image_config(host_arch(), None, &layers);
    config["config"]["Cmd"] = json!(["python3"]);
    config["config"]["Env"]
        .as_array_mut()
        .unwrap()
        .push(json!("LANG=C.UTF-8"));
    push_image(reg, repo_tag, &layers, &config, &[])
}

/// `<target>/test-fixtures/debian-python/<suite>-<variant>-<hash of the inputs>`.
pub fn cache_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp")
        .to_path_buf();
    let key = format!("{SUITE} {VARIANT} {MIRROR} {}", PACKAGES.join(","));
    let hash = &sha256_digest(key.as_bytes())["sha256:".len()..][..12];
    target
        .join("test-fixtures/debian-python")
        .join(format!("{SUITE}-{VARIANT}-{hash}"))
}

fn load_or_make() -> DebianBase {
    let dir = cache_dir();
    if let Some(base) = load(&dir) {
        return base;
    }
    make(&dir);
    let mut base = load(&dir).expect("the cache was just filled");
    base.made_now = true;
    base
}

fn load(dir: &Path) -> Option<DebianBase> {
    let meta: Value = serde_json::from_slice(&fs::read(dir.join("layer.json")).ok()?).ok()?;
    let gz = fs::read(dir.join("layer.tar.gz")).ok()?;
    let digest = sha256_of(&dir.join("layer.tar.gz"));
    if meta["digest"].as_str() != Some(digest.as_str()) {
        eprintln!("{}: digest mismatch, remaking", dir.display());
        return None;
    }
    Some(DebianBase {
        layer: Layer {
            gz,
            digest,
            diff_id: meta["diff_id"].as_str()?.to_string(),
        },
        debootstrap_seconds: meta["debootstrap_seconds"].as_f64().unwrap_or(0.0),
        made_now: false,
    })
}

/// debootstrap into a scratch dir next to `dir`, tar and gzip it, then rename into place.
fn make(dir: &Path) {
    let parent = dir.parent().unwrap();
    fs::create_dir_all(parent).unwrap();
    let scratch = tempfile::Builder::new()
        .prefix(".making-")
        .tempdir_in(parent)
        .unwrap();
    let root = scratch.path().join("root");
    let out = scratch.path().join("out");
    fs::create_dir_all(&out).unwrap();

    let debootstrap = ["/usr/sbin/debootstrap", "/sbin/debootstrap"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .unwrap_or_else(|| panic!("debootstrap not found (apt-get install debootstrap)"));
    eprintln!(
        "debian fixture: debootstrap {SUITE} into {}",
        root.display()
    );
    let started = Instant::now();
    run_tool(
        Command::new(debootstrap)
            .arg(format!("--variant={VARIANT}"))
            .arg(format!("--include={}", PACKAGES.join(",")))
            .args([SUITE, root.to_str().unwrap(), MIRROR]),
    );
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("debian fixture: debootstrap took {seconds:.1} s");

    // What an image does not ship: downloaded .debs, apt lists, debootstrap's log.
    for d in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        remove_files_in(&root.join(d));
    }
    let _ = fs::remove_dir_all(root.join("debootstrap"));

    // GNU tar keeps owners, modes, hardlinks and device nodes; /dev, /proc and /sys stay
    // empty (the builder populates /dev for RUN).
    let tar_path = scratch.path().join("layer.tar");
    let mut members: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    members.sort();
    run_tool(
        Command::new("tar")
            .args(["--create", "--numeric-owner", "--sort=name", "--anchored"])
            .args(["--exclude=dev/*", "--exclude=proc/*", "--exclude=sys/*"])
            .arg("--file")
            .arg(&tar_path)
            .arg("-C")
            .arg(&root)
            .args(&members),
    );
    let (digest, diff_id) = gzip(&tar_path, &out.join("layer.tar.gz"));
    fs::remove_file(&tar_path).unwrap();
    let meta = json!({
        "digest": digest,
        "diff_id": diff_id,
        "debootstrap_seconds": seconds,
        "suite": SUITE,
        "variant": VARIANT,
        "packages": PACKAGES,
        "mirror": MIRROR,
    });
    fs::write(
        out.join("layer.json"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
    // Another run may have filled the cache meanwhile: then keep theirs.
    if fs::rename(&out, dir).is_err() && load(dir).is_none() {
        panic!("cannot fill the cache at {}", dir.display());
    }
}

/// Gzips `tar` into `gz`; returns (`digest` of the gzip, `diff_id` of the tar). With
/// gzip(1) and sha256sum(1): the crates are slow in an unoptimized test build (~1 min
/// for this 250 MB tar).
fn gzip(tar: &Path, gz: &Path) -> (String, String) {
    let diff_id = sha256_of(tar);
    let out = File::create(gz).unwrap();
    run_tool(
        Command::new("gzip")
            .args(["-n", "-1", "-c"])
            .arg(tar)
            .stdout(out),
    );
    (sha256_of(gz), diff_id)
}

/// `sha256:<hex>` of a file, by sha256sum(1).
fn sha256_of(path: &Path) -> String {
    let out = run_tool(Command::new("sha256sum").arg(path));
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Removes the files directly in `dir`, keeping subdirectories (apt's `partial/`).
fn remove_files_in(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_type().map(|t| t.is_dir()).unwrap_or(true) {
            let _ = fs::remove_file(e.path());
        }
    }
}
