//! RUN, snapshots and Dockerfile parity, through the real binary on busybox.
//!
//! Every build pushes to a real registry and the result is read back with skopeo; layers
//! are checked entry by entry. `unprivileged()` runs the binary without CAP_SYS_ADMIN (as
//! in a default Docker container) to prove RUN needs no mount namespace.

use std::path::Path;

use crate::support::context::Context;
use crate::support::images::{host_arch, image_config, push_busybox, push_image};
use crate::support::publish::{Publish, Run};

use crate::support::read_back::{read_back, EntryKind, PulledImage, PulledLayer};
use crate::support::registry::Registry;
use crate::support::rootfs::{busybox_layer, LayerBuilder};

const EPOCH: i64 = 1_700_000_000;

/// A context with `Dockerfile` and a version file, committed at [`EPOCH`].
fn context(dockerfile: &str) -> Context {
    Context::new()
        .file("Dockerfile", dockerfile)
        .file("src/VERSION", "1.0.0\n")
}

/// Publishes `ctx` as `<registry>/test/<name>` with `BASE` set to `base`.
fn publish(ctx: &Context, reg: &Registry, name: &str, base: &str) -> Publish {
    ctx.publish()
        .input("image", format!("{}/test/{name}", reg.host()))
        .input("build-args", format!("BASE={base}"))
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
}

/// Runs the binary like [`publish`] does, but under `setpriv` without CAP_SYS_ADMIN in
/// any capability set (the default Docker set keeps CAP_SYS_CHROOT and CAP_MKNOD, so do
/// we): no mount namespace, hence no /proc for RUN.
fn publish_without_sys_admin(
    ctx: &Context,
    reg: &Registry,
    name: &str,
    base: &str,
) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--bounding-set=-sys_admin", "--inh-caps=-sys_admin", "--"])
        .arg(env!("CARGO_BIN_EXE_spaceone-publish"))
        .current_dir(ctx.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("PUBLISH_IMAGE", format!("{}/test/{name}", reg.host()))
        .env("PUBLISH_BUILD_ARGS", format!("BASE={base}"))
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .output()
        .expect("setpriv (util-linux) runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn digest_of(run: &Run) -> String {
    run.stdout
        .lines()
        .find_map(|l| l.split('@').nth(1).filter(|d| d.starts_with("sha256:")))
        .unwrap_or_else(|| panic!("no digest in stdout\n{}", run.report()))
        .to_string()
}

fn layer_paths(layer: &PulledLayer) -> Vec<String> {
    layer.paths()
}

fn file(layer: &PulledLayer, path: &str) -> String {
    let e = layer
        .entry(path)
        .unwrap_or_else(|| panic!("no {path} in layer: {:?}", layer.paths()));
    String::from_utf8(e.content.clone().unwrap_or_default()).unwrap()
}

fn pulled(reg: &Registry, name: &str) -> PulledImage {
    read_back(reg, &format!("{}/test/{name}:1.0.0", reg.host()))
}

const SUITE: &str = r#"ARG BASE
FROM ${BASE}
ENV GREETING=hello
ARG BUILD_ONLY=visible
WORKDIR /work
RUN echo step-output && echo "$GREETING $BUILD_ONLY $(pwd)" > /work/env.txt && (test -e /proc/self/status && echo yes || echo no) > /work/proc && mkdir -p /opt/d && echo old > /opt/d/old && echo gone > /etc/gone
RUN rm /etc/gone && rm -rf /opt/d && mkdir /opt/d.new && mv /opt/d.new /opt/d && echo new > /opt/d/new \
 && ln -s /work/env.txt /work/link && ln /work/env.txt /work/hard \
 && echo x > /work/exec && chmod 4755 /work/exec && echo t > /tmp/t
USER app
RUN id -u > /home/app/uid && id -g >> /home/app/uid && echo $HOME >> /home/app/uid && touch /home/app/mine
USER root
RUN <<EOF
echo heredoc > /work/heredoc
EOF
RUN cat <<EOT > /work/heredoc2
line $GREETING
EOT
"#;

#[test]
fn run_suite_on_busybox_without_cap_sys_admin() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let base_image = read_back(&reg, &base);
    let ctx = context(SUITE);
    let (status, stdout, stderr) = publish_without_sys_admin(&ctx, &reg, "suite", &base);
    assert_eq!(status, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("#6 step-output"),
        "output is prefixed with its line:\n{stderr}"
    );
    let image = pulled(&reg, "suite");
    let n = base_image.layers.len();
    assert_eq!(image.layers.len(), n + 5, "{:?}", image.config["history"]);
    for (ours, theirs) in image.layers.iter().zip(&base_image.layers) {
        assert_eq!(
            ours.digest, theirs.digest,
            "base layers are reused as they are"
        );
    }

    // RUN 1: env, ARG, WORKDIR; new files with their real parents.
    let l1 = &image.layers[n];
    assert_eq!(file(l1, "work/env.txt"), "hello visible /work\n");
    assert_eq!(file(l1, "opt/d/old"), "old\n");
    assert!(l1.entry("etc").is_some(), "{:?}", layer_paths(l1));
    let etc = l1.entry("etc").unwrap();
    assert_eq!(etc.mode, 0o755);
    for skipped in ["etc/resolv.conf", "etc/hosts", "dev", "proc"] {
        assert!(
            l1.entry(skipped).is_none(),
            "{skipped} leaked: {:?}",
            layer_paths(l1)
        );
    }
    assert_eq!(
        file(l1, "work/proc"),
        "no\n",
        "without CAP_SYS_ADMIN there is no /proc"
    );
    let env_entry = l1.entry("work/env.txt").unwrap();
    assert_eq!(
        env_entry.mtime, EPOCH as u64,
        "mtimes are clamped to the epoch"
    );

    // RUN 2: deletion → whiteout, replaced dir, symlink, hardlink, setuid, /tmp's mode.
    let l2 = &image.layers[n + 1];
    let paths = layer_paths(l2);
    assert!(paths.contains(&"etc/.wh.gone".to_string()), "{paths:?}");
    assert!(
        paths.contains(&"opt/d/.wh..wh..opq".to_string()),
        "a replaced directory is opaque: {paths:?}"
    );
    assert!(!paths.contains(&"opt/d/.wh.old".to_string()), "{paths:?}");
    assert_eq!(file(l2, "opt/d/new"), "new\n");
    let link = l2.entry("work/link").unwrap();
    assert_eq!(link.kind, EntryKind::Symlink);
    assert_eq!(link.link_target.as_deref(), Some("/work/env.txt"));
    let hard = l2.entry("work/hard").unwrap();
    let env2 = l2.entry("work/env.txt").unwrap();
    assert!(
        (hard.kind == EntryKind::Hardlink && hard.link_target.as_deref() == Some("work/env.txt"))
            || (env2.kind == EntryKind::Hardlink
                && env2.link_target.as_deref() == Some("work/hard")),
        "{hard:?} {env2:?}"
    );
    assert_eq!(l2.entry("work/exec").unwrap().mode, 0o4755);
    assert_eq!(l2.entry("tmp").unwrap().mode, 0o1777);

    // RUN 3 as USER app: ids, HOME, ownership.
    let l3 = &image.layers[n + 2];
    assert_eq!(file(l3, "home/app/uid"), "1000\n1000\n/home/app\n");
    let mine = l3.entry("home/app/mine").unwrap();
    assert_eq!((mine.uid, mine.gid), (1000, 1000));
    assert_eq!(l3.entry("home/app").unwrap().uid, 1000);

    // Heredocs.
    assert_eq!(file(&image.layers[n + 3], "work/heredoc"), "heredoc\n");
    assert_eq!(file(&image.layers[n + 4], "work/heredoc2"), "line hello\n");
    // ARG values are not kept in the image's environment.
    assert!(!image.env().iter().any(|e| e.starts_with("BUILD_ONLY")));
}

#[test]
fn two_builds_give_the_same_digest() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context(SUITE);
    let first = publish(&ctx, &reg, "repro", &base).run();
    first.assert_success();
    let second = publish(&ctx, &reg, "repro", &base).run();
    second.assert_success();
    assert_eq!(digest_of(&first), digest_of(&second));
}

#[test]
fn failing_run_exits_3_with_command_and_output_and_pushes_nothing() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context("ARG BASE\nFROM ${BASE}\nRUN echo preparing && echo broken >&2 && exit 7\n");
    let run = publish(&ctx, &reg, "fails", &base).run();
    run.assert_exit(3);
    assert!(
        run.stderr.contains("Dockerfile:3: `RUN echo preparing && echo broken >&2 && exit 7` failed with exit code 7"),
        "{}",
        run.report()
    );
    assert!(run.stderr.contains("  | broken"), "{}", run.report());
    assert!(reg.tags("test/fails").is_empty());
}

#[test]
fn multi_stage_copy_from_stage_index_and_image() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let dockerfile = r#"ARG BASE
FROM ${BASE} AS builder
RUN mkdir -p /out/sub && echo built > /out/sub/artifact && ln -s artifact /out/sub/link
FROM ${BASE} AS unused
RUN exit 1
FROM builder AS tested
RUN cat /out/sub/artifact > /out/tested
FROM scratch
ARG BASE
COPY --from=tested /out/ /app/
COPY --from=0 /out/sub/artifact /single
COPY --from=${BASE} /etc/passwd /passwd
"#;
    let ctx = context(dockerfile);
    let run = publish(&ctx, &reg, "multi", &base).run();
    run.assert_success();
    let image = pulled(&reg, "multi");
    assert_eq!(image.layers.len(), 3, "FROM scratch: only the COPY layers");
    assert_eq!(file(&image.layers[0], "app/sub/artifact"), "built\n");
    assert_eq!(file(&image.layers[0], "app/tested"), "built\n");
    assert_eq!(
        image.layers[0]
            .entry("app/sub/link")
            .unwrap()
            .link_target
            .as_deref(),
        Some("artifact")
    );
    assert_eq!(file(&image.layers[1], "single"), "built\n");
    assert!(file(&image.layers[2], "passwd").contains("app:x:1000"));
}

#[test]
fn cache_mount_persists_and_secret_stays_out() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let dockerfile = r#"ARG BASE
FROM ${BASE}
RUN --mount=type=cache,target=/root/.cache sh -c 'ls /root/.cache > /seen; date +%s%N > /root/.cache/stamp-$(cat /proc/sys/kernel/random/uuid 2>/dev/null || echo $$)'
RUN --mount=type=secret,id=token cat /run/secrets/token && wc -c < /run/secrets/token > /secret-len
"#;
    let ctx = context(dockerfile);
    // `no-cache`: the second build must run the RUN again to see the cache mount (the
    // layer cache would otherwise reuse the first build's layer).
    let p = publish(&ctx, &reg, "mounts", &base)
        .input("secrets", "token=s3cr3t-value")
        .input("no-cache", "true");
    let first = p.run();
    first.assert_success();
    let second = p.run();
    second.assert_success();
    for run in [&first, &second] {
        assert!(!run.stdout.contains("s3cr3t-value"), "{}", run.report());
        assert!(!run.stderr.contains("s3cr3t-value"), "{}", run.report());
    }
    let image = pulled(&reg, "mounts");
    let n = image.layers.len();
    // The second build saw what the first left in the cache.
    let seen = file(&image.layers[n - 2], "seen");
    assert!(seen.contains("stamp-"), "cache contents: {seen:?}");
    assert!(image.layers[n - 2].entry("root/.cache").is_none());
    let last = &image.layers[n - 1];
    assert_eq!(file(last, "secret-len").trim(), "12");
    assert!(first.stderr.contains("#4 ***"), "{}", first.report());
    for layer in &image.layers {
        assert!(layer.entry("run/secrets/token").is_none());
        for e in &layer.entries {
            let content = e.content.clone().unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&content).contains("s3cr3t-value"),
                "{}",
                e.path
            );
        }
    }
}

/// A bind mount's `from=` is a stage to build whatever the case of the field: the stage is
/// built only because the mount names it, and its files are seen by the RUN, not kept.
#[test]
fn bind_mount_from_a_stage_builds_that_stage_whatever_the_field_case() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let dockerfile = r#"ARG BASE
FROM ${BASE} AS wheels
RUN mkdir /out && echo built-in-wheels > /out/marker
FROM ${BASE}
RUN --mount=type=bind,FROM=wheels,Source=/out,target=/mnt cat /mnt/marker > /seen
"#;
    let ctx = context(dockerfile);
    let run = publish(&ctx, &reg, "bind-from", &base).run();
    run.assert_success();
    let image = pulled(&reg, "bind-from");
    let last = image.layers.last().unwrap();
    assert_eq!(file(last, "seen"), "built-in-wheels\n");
    assert!(
        last.entry("mnt/marker").is_none(),
        "the mount's files stayed in the layer"
    );
}

/// A mount that cannot mean anything is refused when the Dockerfile is read, before any
/// stage is built.
#[test]
fn an_unknown_mount_field_fails_before_anything_runs() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context(
        "ARG BASE\nFROM ${BASE}\nRUN echo ran > /ran\nRUN --mount=type=cache,taget=/c true\n",
    );
    let run = publish(&ctx, &reg, "bad-mount", &base).run();
    run.assert_exit(2);
    assert!(run.stderr.contains("Dockerfile:4"), "{}", run.report());
    assert!(
        run.stderr.contains("unknown field `taget`"),
        "{}",
        run.report()
    );
    assert!(!run.stderr.contains("resolving image"), "{}", run.report());
    assert!(reg.tags("test/bad-mount").is_empty());
}

/// A base image whose layer tries to write outside the rootfs in every known way.
fn push_hostile(reg: &Registry) -> String {
    let hostile = LayerBuilder::new()
        .symlink("escape-abs", "/")
        .symlink("escape-rel", "../../../../../../..")
        .finish();
    let hostile2 = LayerBuilder::new()
        .file("escape-abs/tmp/pwned-abs", 0o644, b"x")
        .file("escape-rel/tmp/pwned-rel", 0o644, b"x")
        .finish();
    let layers = vec![busybox_layer(), hostile, hostile2];
    let config = image_config(host_arch(), None, &layers);
    push_image(reg, "library/hostile:1", &layers, &config, &[])
}

#[test]
fn hostile_base_layers_write_nothing_outside_the_rootfs() {
    let reg = Registry::plain();
    let base = push_hostile(&reg);
    let ctx = context("ARG BASE\nFROM ${BASE}\nRUN ls /tmp/pwned-abs /tmp/pwned-rel > /found\n");
    let run = publish(&ctx, &reg, "hostile", &base).run();
    run.assert_success();
    for name in ["pwned-abs", "pwned-rel"] {
        assert!(
            !Path::new("/tmp").join(name).exists(),
            "{name} written on the host"
        );
    }
    let image = pulled(&reg, "hostile");
    let found = file(image.layers.last().unwrap(), "found");
    assert_eq!(found, "/tmp/pwned-abs\n/tmp/pwned-rel\n");
}

/// The base unpack alone, for bench/plugin.sh (`BENCH_LAYER=<layer.tar.gz> cargo test
/// --release --test it -- --ignored bench_unpack_layer --nocapture`): the layer file read,
/// decompressed and applied to an empty root, as a build does with a base layer.
#[test]
#[ignore]
fn bench_unpack_layer() {
    use spaceone_publish::build::{rootfs::Root, unpack};
    let Some(layer) = std::env::var_os("BENCH_LAYER") else {
        eprintln!("set BENCH_LAYER to a layer.tar.gz");
        return;
    };
    let dir = tempfile::tempdir_in(std::env::var_os("BENCH_DIR").unwrap_or_else(|| "/tmp".into()))
        .unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    let root = Root::open(&dir.path().join("root")).unwrap();
    let started = std::time::Instant::now();
    let blob = std::fs::File::open(&layer).unwrap();
    let applied = unpack::apply_layer(&root, blob, "bench").unwrap();
    println!(
        "unpack: {} entries in {:.2} s",
        applied.entries,
        started.elapsed().as_secs_f64()
    );
    // Left for the caller to remove, untimed, as `tar -xzf`'s tree is: deleting it here
    // would charge this figure with thousands of unlinks that tar's does not include.
    println!("tree: {}", dir.keep().display());
}

/// The snapshot benchmark (`cargo test --release --test it -- --ignored
/// snapshot_100k --nocapture`): walk a 100k-file rootfs, change 1,000 files, walk again and
/// diff. The goal is ≤ 1 s for the walk and diff.
#[test]
#[ignore]
fn bench_snapshot_100k_files() {
    use spaceone_publish::build::{rootfs::Root, snapshot};
    use std::sync::Arc;
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let root_path = dir.path().join("root");
    for d in 0..1000 {
        let sub = root_path.join(format!("usr/lib/pkg{d:04}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..100 {
            std::fs::write(sub.join(format!("f{f:03}.py")), b"x = 1\n").unwrap();
        }
    }
    let root = Arc::new(Root::open(&root_path).unwrap());
    let skip = snapshot::skip_list(&[]);
    let t = Instant::now();
    let before = snapshot::take(&root, &skip).unwrap();
    let walk = t.elapsed();
    for d in 0..1000 {
        std::fs::write(
            root_path.join(format!("usr/lib/pkg{d:04}/f000.py")),
            b"x = 2\n",
        )
        .unwrap();
    }
    let t = Instant::now();
    let after = snapshot::take(&root, &skip).unwrap();
    let entries = snapshot::diff(&root, &before, &after);
    let walk_and_diff = t.elapsed();
    println!(
        "snapshot: {} paths; walk {walk:?}; walk + diff after changing 1000 files {walk_and_diff:?} ({} layer entries)",
        after.entries.len(),
        entries.len()
    );
    assert_eq!(entries.len(), 1000 + 1000 + 2);
}

/// `docker-archive:FILE`: a RUN image written as a `docker load` tar. Its `manifest.json`
/// names the config and the layers, every blob's bytes match its digest, the config's
/// `diff_ids` match the layers uncompressed, and skopeo reads it as a docker archive.
#[test]
fn docker_archive_output() {
    use flate2::read::GzDecoder;
    use sha2::{Digest as _, Sha256};
    use std::collections::BTreeMap;
    use std::io::Read as _;

    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context("ARG BASE\nFROM ${BASE}\nRUN echo archived > /archived\n");
    let out = ctx.path().join("out/image.tar");
    publish(&ctx, &reg, "archive", &base)
        .input("output", format!("docker-archive:{}", out.display()))
        .run()
        .assert_success();

    let sha = |bytes: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut tar = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(path, bytes);
    }
    for (path, bytes) in &files {
        if let Some(hex) = path.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(sha(bytes), format!("sha256:{hex}"), "{path}");
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let entry = &manifest.as_array().unwrap()[..];
    assert_eq!(entry.len(), 1, "{manifest}");
    let tags: Vec<&str> = entry[0]["RepoTags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&format!("{}/test/archive:1.0.0", reg.host()).as_str()),
        "{tags:?}"
    );
    let config: serde_json::Value =
        serde_json::from_slice(&files[entry[0]["Config"].as_str().unwrap()]).unwrap();
    let layers: Vec<&str> = entry[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| {
            let mut raw = Vec::new();
            GzDecoder::new(&files[*l][..])
                .read_to_end(&mut raw)
                .unwrap();
            sha(&raw)
        })
        .collect();
    let expected: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    assert_eq!(diff_ids, expected);
    assert!(
        layers.len() >= 2,
        "base layer(s) plus the RUN layer: {layers:?}"
    );
    // The same file is an OCI layout in a tar, for loaders that prefer index.json.
    assert!(files.contains_key("oci-layout") && files.contains_key("index.json"));

    if which("skopeo") {
        let inspect = crate::support::skopeo::skopeo([
            "inspect".to_string(),
            format!("docker-archive:{}", out.display()),
        ]);
        assert!(
            inspect.status.success(),
            "{}",
            String::from_utf8_lossy(&inspect.stderr)
        );
        let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
        assert_eq!(
            info["Layers"].as_array().unwrap().len(),
            layers.len(),
            "{info}"
        );
    }
}

fn which(tool: &str) -> bool {
    std::process::Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

const CACHED: &str = r#"ARG BASE
FROM ${BASE}
ENV GREETING=hi
RUN echo "first-$((6*7))" && echo one > /first
COPY app.txt /app.txt
ARG SECOND=a
RUN echo "second-$((6*7))" && cat /first /app.txt > /second && echo "$GREETING $SECOND" >> /second
"#;

/// `pushed <digest> (<size>)` lines of a run.
fn pushed_blobs(run: &Run) -> Vec<String> {
    let lines = run.stderr.lines();
    lines
        .filter_map(|l| l.trim().strip_prefix("pushed "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The layer cache in the registry. A rebuild on a fresh machine (fresh
/// HOME: empty blob store and work dir) runs no RUN, uploads nothing and gives the same
/// digest; another image built from the same steps mounts the RUN layers from the cache
/// repository; a changed later step reuses the first RUN (fetching its files) and runs
/// only itself; `no-cache` runs everything.
#[test]
fn layer_cache_in_the_registry() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context(CACHED).file("app.txt", "app\n");
    let cache_repo = format!("{}/test/shared-cache", reg.host());
    let build = |name: &str| publish(&ctx, &reg, name, &base).input("cache-repo", &cache_repo);
    let ran = |run: &Run, marker: &str| run.stderr.contains(marker);

    let started = std::time::Instant::now();
    let cold = build("cached").run();
    let cold_time = started.elapsed();
    cold.assert_success();
    assert!(
        ran(&cold, "first-42") && ran(&cold, "second-42"),
        "{}",
        cold.report()
    );
    assert!(
        cold.stderr.contains("layer cache: stored"),
        "{}",
        cold.report()
    );
    assert!(
        cold.stderr
            .contains("taking the base unpacked since before the build"),
        "a cold build starts the base early\n{}",
        cold.report()
    );
    let image = pulled(&reg, "cached");
    let n = image.layers.len() - 3;
    let run_layers = [&image.layers[n].digest, &image.layers[n + 2].digest];

    // Fresh machine, same target: nothing runs, nothing is uploaded, same digest.
    let started = std::time::Instant::now();
    let warm = build("cached").run();
    let warm_time = started.elapsed();
    warm.assert_success();
    assert!(
        !ran(&warm, "first-42") && !ran(&warm, "second-42"),
        "a RUN executed\n{}",
        warm.report()
    );
    assert!(
        !warm.stderr.contains("unpacking"),
        "a warm rebuild unpacked a base\n{}",
        warm.report()
    );
    assert_eq!(
        pushed_blobs(&warm),
        Vec::<String>::new(),
        "{}",
        warm.report()
    );
    assert_eq!(digest_of(&warm), digest_of(&cold));
    eprintln!(
        "layer cache: cold build+push {cold_time:?} ({} blobs pushed), warm {warm_time:?} (0 pushed)",
        pushed_blobs(&cold).len()
    );

    // Another repository: the RUN layers are mounted from the cache, never uploaded.
    let other = build("other").run();
    other.assert_success();
    assert!(!ran(&other, "first-42") && !ran(&other, "second-42"));
    for digest in run_layers {
        assert!(
            other.stderr.contains(&format!("mounted {digest}")),
            "{digest} not mounted\n{}",
            other.report()
        );
        assert!(!pushed_blobs(&other).contains(digest), "{}", other.report());
    }

    // A changed ARG misses only the step that sees it; that RUN gets the first's files.
    let changed = build("cached")
        .input("build-args", format!("BASE={base}\nSECOND=b"))
        .run();
    changed.assert_success();
    assert!(
        !ran(&changed, "first-42") && ran(&changed, "second-42"),
        "{}",
        changed.report()
    );
    assert!(
        changed
            .stderr
            .contains("taking the base unpacked since before the build"),
        "the walk past a cache hit finds the miss and starts the base early\n{}",
        changed.report()
    );
    let image = pulled(&reg, "cached");
    assert_eq!(file(&image.layers[n + 2], "second"), "one\napp\nhi b\n");

    // no-cache: every RUN executes again, and gives the same image.
    let fresh = build("cached").input("no-cache", "true").run();
    fresh.assert_success();
    assert!(
        ran(&fresh, "first-42") && ran(&fresh, "second-42"),
        "{}",
        fresh.report()
    );
}
