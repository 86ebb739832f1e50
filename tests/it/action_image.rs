//! The action's own image, the way users get it: built from the repository's Dockerfile by
//! the tool itself (as the release workflow does), then started the way GitHub's runner
//! starts a container action and the way GitLab runs a job in it, publishing a
//! plugin-shaped example to a loopback registry from inside.
//!
//! The static musl binary is built by `.ci/run` (`cargo build --release --target
//! x86_64-unknown-linux-musl`); where it is absent these tests say so and skip. There is
//! no Docker Hub here, so the base is alpine's stand-in: busybox with the host's CA bundle
//! at alpine's path (`BASE` is an ARG of the Dockerfile for that reason).

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use crate::support::context::Context;
use crate::support::images::{host_arch, image_config, push_image};
use crate::support::read_back::read_back;
use crate::support::registry::Registry;
use crate::support::rootfs::{busybox_layer, LayerBuilder};
use crate::support::unpack_image::unpack_image;

const MUSL_BINARY: &str = "target/x86_64-unknown-linux-musl/release/spaceone-publish";
const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";
/// The budget for the image: alpine is about 3.5 MB compressed and the binary under 4 MB;
/// the tool's own layer must stay under 8 MB, the whole image (alpine) under 25 MB.
const OWN_LAYERS_BUDGET: u64 = 8 << 20;
const IMAGE_BUDGET: u64 = 25 << 20;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The musl binary, or `None` after saying why (a user's clone that never built it).
fn musl_binary() -> Option<PathBuf> {
    let path = repo_root().join(MUSL_BINARY);
    if path.is_file() {
        return Some(path);
    }
    eprintln!(
        "SKIP: {} is missing: build it with `cargo build --release --locked --target \
         x86_64-unknown-linux-musl` (`.ci/run` does)",
        path.display()
    );
    None
}

/// Alpine's stand-in: busybox (`/bin/sh`) and a CA bundle where alpine keeps it.
fn push_base(reg: &Registry) -> String {
    let bundle = fs::read(Path::new("/").join(CA_BUNDLE)).expect("the host's CA bundle");
    let certs = LayerBuilder::new()
        .dir("etc", 0o755, 0, 0)
        .dir("etc/ssl", 0o755, 0, 0)
        .dir("etc/ssl/certs", 0o755, 0, 0)
        .file(CA_BUNDLE, 0o644, &bundle)
        .finish();
    let layers = vec![busybox_layer(), certs];
    let config = image_config(host_arch(), None, &layers);
    push_image(reg, "library/alpine:3.20", &layers, &config, &[])
}

/// Builds the action image with the tool, from the repository's Dockerfile, into `reg`.
fn build_action_image(reg: &Registry, binary: &Path) -> String {
    let base = push_base(reg);
    let ctx = Context::new().dir("target/x86_64-unknown-linux-musl/release");
    fs::copy(binary, ctx.join(MUSL_BINARY)).unwrap();
    let image = format!("{}/cloudforet/spaceone-publish", reg.host());
    ctx.publish()
        .input("dockerfile", repo_root().join("Dockerfile"))
        .input("image", &image)
        .input("version", "0.0.1")
        .input("build-args", format!("BASE={base}"))
        .run()
        .assert_success();
    format!("{image}:0.0.1")
}

#[test]
fn the_action_image_is_small_and_holds_the_binary_a_shell_and_ca_certificates() {
    let Some(binary) = musl_binary() else {
        return;
    };
    let reg = Registry::plain();
    let reference = build_action_image(&reg, &binary);
    let image = read_back(&reg, &reference);
    let config = &image.config["config"];
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/spaceone-publish"])
    );
    assert_eq!(config["WorkingDir"], "/workspace");
    let sizes: Vec<u64> = image.manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .collect();
    let own = *sizes.last().unwrap();
    eprintln!("action image layers (compressed bytes): {sizes:?}; own layer {own}");
    assert!(own < OWN_LAYERS_BUDGET, "own layer {own} bytes");
    assert!(sizes.iter().sum::<u64>() < IMAGE_BUDGET, "{sizes:?}");
    let binary_entry = image.entry("usr/local/bin/spaceone-publish").unwrap();
    assert_eq!(binary_entry.mode & 0o7777, 0o755);
    assert!(image.entry("bin/sh").is_some() && image.entry(CA_BUNDLE).is_some());
}

/// The example plugin, with a base the registry holds, as a checkout in `workspace`.
fn checkout_example(workspace: &Path) {
    let example = repo_root().join("examples/plugin-example-inven-collector");
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", example.display()))
        .arg(workspace)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Runs `program` chrooted into `root` in `workdir` with exactly `env`, as a container
/// runtime would; returns (exit code, stdout and stderr, seconds from exec to the first
/// line on either).
fn run_in(
    root: &Path,
    workdir: &str,
    program: &[&str],
    env: &[(String, String)],
) -> (i32, String, f64) {
    let mut command = Command::new(program[0]);
    command
        .args(&program[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (root, workdir) = (root.to_path_buf(), workdir.to_string());
    // SAFETY: between fork and exec only async-signal-safe calls are made (chroot, chdir).
    unsafe {
        command.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir(&workdir)
        });
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("spawn in the chroot");
    let (tx, rx) = mpsc::channel();
    let readers: Vec<_> = [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ]
    .into_iter()
    .map(|stream| {
        let tx = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                let _ = tx.send((started.elapsed().as_secs_f64(), line.unwrap()));
            }
        })
    })
    .collect();
    drop(tx);
    let lines: Vec<(f64, String)> = rx.iter().collect();
    readers.into_iter().for_each(|r| r.join().unwrap());
    let status = child.wait().unwrap();
    let first = lines.iter().map(|(t, _)| *t).fold(f64::INFINITY, f64::min);
    let text = lines.into_iter().map(|(_, l)| l + "\n").collect();
    (status.code().unwrap_or(-1), text, first)
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_action_image_publishes_as_github_and_gitlab_run_it() {
    let Some(binary) = musl_binary() else {
        return;
    };
    let reg = Registry::plain();
    let reference = build_action_image(&reg, &binary);
    let root = unpack_image(&reg, &reference);
    let base = reg.reference("library/alpine:3.20");

    // GitHub: the runner mounts these and sets the environment; the entrypoint is exec'd
    // directly in /github/workspace.
    for dir in [
        "github/workspace",
        "github/home",
        "github/file_commands",
        "github/workflow",
        "home/runner/work/_temp",
    ] {
        fs::create_dir_all(root.path().join(dir)).unwrap();
    }
    checkout_example(&root.path().join("github/workspace"));
    let github_image = format!("{}/cloudforet/plugin-example-inven-collector", reg.host());
    let (code, stderr, first) = run_in(
        root.path(),
        "/github/workspace",
        &["/usr/local/bin/spaceone-publish"],
        &env(&[
            ("GITHUB_ACTIONS", "true"),
            ("CI", "true"),
            ("HOME", "/github/home"),
            ("GITHUB_WORKSPACE", "/github/workspace"),
            ("GITHUB_OUTPUT", "/github/file_commands/set_output_1"),
            (
                "GITHUB_STEP_SUMMARY",
                "/github/file_commands/step_summary_1",
            ),
            ("GITHUB_ENV", "/github/file_commands/set_env_1"),
            (
                "GITHUB_REPOSITORY",
                "cloudforet-io/plugin-example-inven-collector",
            ),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_REF", "refs/tags/v1.2.0"),
            ("RUNNER_TEMP", "/home/runner/work/_temp"),
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("INPUT_IMAGE", &github_image),
            ("INPUT_VERSION", "1.2.0"),
            ("INPUT_BUILD-ARGS", &format!("BASE_IMAGE={base}")),
            ("INPUT_SEMVER-TAGS", "false"),
        ]),
    );
    assert_eq!(code, 0, "{stderr}");
    eprintln!(
        "GitHub container action: first log line {:.2} ms after exec",
        first * 1000.0
    );
    let outputs =
        fs::read_to_string(root.path().join("github/file_commands/set_output_1")).unwrap();
    for wanted in ["version", "1.2.0", "digest", "sha256:", &github_image] {
        assert!(
            outputs.contains(wanted),
            "{wanted} missing from:\n{outputs}"
        );
    }
    let summary =
        fs::read_to_string(root.path().join("github/file_commands/step_summary_1")).unwrap();
    assert!(summary.contains("### spaceone-publish"), "{summary}");
    assert_eq!(
        reg.tags("cloudforet/plugin-example-inven-collector"),
        ["1.2.0"]
    );
    assert!(!root.path().join("github/workspace/oci-layout").exists());

    // GitLab: `entrypoint: [""]`, the job's script through /bin/sh, CI_* variables, the
    // outputs as a dotenv report.
    fs::create_dir_all(root.path().join("builds/acme/plugin")).unwrap();
    checkout_example(&root.path().join("builds/acme/plugin"));
    let gitlab_image = format!("{}/acme/plugin", reg.host());
    let (code, stderr, _) = run_in(
        root.path(),
        "/builds/acme/plugin",
        &["/bin/sh", "-c", "spaceone-publish"],
        &env(&[
            ("GITLAB_CI", "true"),
            ("CI", "true"),
            ("HOME", "/root"),
            ("CI_PROJECT_DIR", "/builds/acme/plugin"),
            ("CI_REGISTRY_IMAGE", &gitlab_image),
            ("CI_COMMIT_TAG", "v1.3.0"),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            ),
            ("PUBLISH_VERSION", "1.3.0"),
            ("PUBLISH_BUILD_ARGS", &format!("BASE_IMAGE={base}")),
            ("PUBLISH_DOTENV_FILE", "publish.env"),
        ]),
    );
    assert_eq!(code, 0, "{stderr}");
    let dotenv = fs::read_to_string(root.path().join("builds/acme/plugin/publish.env")).unwrap();
    assert!(
        dotenv.contains("SPACEONE_PUBLISH_VERSION=1.3.0"),
        "{dotenv}"
    );
    assert_eq!(reg.tags("acme/plugin"), ["1.3.0"]);
}
