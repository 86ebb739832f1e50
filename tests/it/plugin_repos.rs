//! What real plugin repositories need, on a context shaped like theirs: `ENV PKG_DIR=/tmp/pkg
//! SRC_DIR=/tmp/src`, `COPY pkg/*.txt ${PKG_DIR}/`, `RUN pip install -r …`, `COPY src
//! ${SRC_DIR}`, `RUN pip install .`, `ENTRYPOINT ["spaceone"]`, no plugin manifest.
//!
//! The base is busybox with a `pip` stand-in (a shell script that records what it
//! installs and says `pip-stand-in:` when it runs): what these tests check is which RUN
//! steps execute and what the layers hold, not pip; `python_plugin.rs` runs the real one.

use std::process::Command;

use crate::support::context::Context;
use crate::support::images::{host_arch, image_config, push_image};
use crate::support::process::run_tool;
use crate::support::publish::{Publish, Run};
use crate::support::read_back::read_back;
use crate::support::registry::Registry;
use crate::support::rootfs::{busybox_layer, LayerBuilder};
use crate::support::unpack_image::unpack_image;

const DOCKERFILE: &str = r#"ARG BASE
FROM ${BASE}

ENV PKG_DIR=/tmp/pkg SRC_DIR=/tmp/src
COPY pkg/*.txt ${PKG_DIR}/
RUN pip install -r ${PKG_DIR}/pip_requirements.txt

COPY src ${SRC_DIR}
WORKDIR ${SRC_DIR}
RUN pip install . && stat -c 'mode %n %a' /tmp /tmp/pkg /tmp/src /tmp/src/plugin_x

ENTRYPOINT ["spaceone"]
CMD ["run", "plugin-server", "plugin_x"]
"#;

const PIP: &str = r#"#!/bin/sh
# A pip stand-in: records requirements and the package name, and says that it ran.
echo "pip-stand-in: $*" >&2
mkdir -p /usr/local/lib/site
case "$1 $2" in
  "install -r") cat "$3" >> /usr/local/lib/site/installed ;;
  "install .") cat setup.cfg >> /usr/local/lib/site/installed ;;
esac
"#;

/// `python-core` as far as these tests need it: busybox plus `/usr/local/bin/pip`.
fn push_base(reg: &Registry) -> String {
    push_base_as(reg, "cloudforet/python-core:2")
}

/// The same image pushed to `reg` as `repo_tag`.
fn push_base_as(reg: &Registry, repo_tag: &str) -> String {
    let pip = LayerBuilder::new()
        .dir("usr/local", 0o755, 0, 0)
        .dir("usr/local/bin", 0o755, 0, 0)
        .file("usr/local/bin/pip", 0o755, PIP.as_bytes())
        .dir("usr/local/lib", 0o755, 0, 0)
        .finish();
    let layers = vec![busybox_layer(), pip];
    let config = image_config(host_arch(), None, &layers);
    push_image(reg, repo_tag, &layers, &config, &[])
}

/// A plugin checkout as a runner with umask 002 leaves it: directories 0775.
fn plugin_repo() -> Context {
    Context::new()
        .file("Dockerfile", DOCKERFILE)
        .file("pkg/pip_requirements.txt", "spaceone-core\nspaceone-api\n")
        .file("src/setup.cfg", "[metadata]\nname = plugin-x\n")
        .file("src/VERSION", "1.2.0\n")
        .file("src/plugin_x/__init__.py", "NAME = 'plugin_x'\n")
        .file("README.md", "# plugin-x\n")
        .mode("src", 0o775)
        .mode("src/plugin_x", 0o775)
}

fn publish(ctx: &Context, reg: &Registry, base: &str) -> Publish {
    ctx.publish()
        .input("image", format!("{}/cloudforet/plugin-x", reg.host()))
        .input("build-args", format!("BASE={base}"))
        .input(
            "cache-repo",
            format!("{}/cloudforet/build-cache", reg.host()),
        )
}

fn ran_pip(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter_map(|l| l.split_once("pip-stand-in: ").map(|(_, a)| a.to_string()))
        .collect()
}

fn layer_digests(reg: &Registry, tag: &str) -> Vec<String> {
    let image = read_back(reg, &format!("{}/cloudforet/plugin-x:{tag}", reg.host()));
    image.layers.iter().map(|l| l.digest.clone()).collect()
}

#[test]
fn copy_into_tmp_keeps_the_base_sticky_mode_and_creates_missing_dirs_0755() {
    let reg = Registry::plain();
    let base = push_base(&reg);
    let ctx = plugin_repo().git_init_commit(1_700_000_000);
    let run = publish(&ctx, &reg, &base).run();
    run.assert_success();

    // What the second RUN saw, and what `docker run` sees.
    for want in [
        "mode /tmp 1777",
        "mode /tmp/pkg 755",
        "mode /tmp/src 755",
        "mode /tmp/src/plugin_x 775",
    ] {
        assert!(run.stderr.contains(want), "{want}\n{}", run.report());
    }
    let reference = format!("{}/cloudforet/plugin-x:1.2.0", reg.host());
    let pulled = read_back(&reg, &reference);
    for layer in &pulled.layers[2..] {
        assert!(
            layer.entry("tmp").is_none() && layer.entry("tmp/").is_none(),
            "a layer rewrites /tmp: {:?}",
            layer.paths()
        );
    }
    let unpacked = unpack_image(&reg, &reference);
    let mode = |p: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(unpacked.path().join(p))
            .unwrap_or_else(|e| panic!("{p}: {e}"))
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(mode("tmp/pkg"), 0o755);
    // The directory named by COPY is a destination (created 0755, as Docker and BuildKit
    // do); what it holds keeps the checkout's modes.
    assert_eq!(mode("tmp/src"), 0o755);
    assert_eq!(mode("tmp/src/plugin_x"), 0o775);
    assert_eq!(mode("tmp/src/setup.cfg"), 0o644);
}

#[test]
fn a_commit_that_changes_no_copied_file_re_runs_no_run_and_keeps_every_layer() {
    let reg = Registry::plain();
    let base = push_base(&reg);
    // No SOURCE_DATE_EPOCH: the epoch is the commit time, as in a real release workflow.
    let ctx = plugin_repo().git_init_commit(1_700_000_000);
    let first = publish(&ctx, &reg, &base)
        .input("tags", "first")
        .input("output-format", "json")
        .run();
    first.assert_success();
    assert_eq!(ran_pip(&first).len(), 2, "{}", first.report());
    assert!(first.stderr.contains("line 6: DONE "), "{}", first.report());
    let first_layers = layer_digests(&reg, "first");
    let timings = |run: &Run| {
        let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
        result["timings"].clone()
    };
    let cold = timings(&first);
    assert!(cold["unpack_seconds"].as_f64().unwrap() > 0.0, "{cold}");
    let runs = |t: &serde_json::Value| -> Vec<(u64, bool)> {
        t["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["instruction"].as_str().unwrap().starts_with("RUN"))
            .map(|s| (s["line"].as_u64().unwrap(), s["cached"].as_bool().unwrap()))
            .collect()
    };
    assert_eq!(runs(&cold), [(6, false), (10, false)], "{cold}");

    // An empty commit, then one that changes a file no COPY takes.
    let ctx = ctx.git_commit(1_700_086_400, "empty");
    let empty = publish(&ctx, &reg, &base)
        .input("tags", "empty")
        .input("output-format", "json")
        .run();
    empty.assert_success();
    assert_eq!(ran_pip(&empty), Vec::<String>::new(), "{}", empty.report());
    assert_eq!(layer_digests(&reg, "empty"), first_layers);
    // Warm: every RUN from the cache, and no base byte unpacked.
    let warm = timings(&empty);
    assert_eq!(runs(&warm), [(6, true), (10, true)], "{warm}");
    assert_eq!(warm["unpack_seconds"].as_f64(), Some(0.0), "{warm}");

    let ctx = ctx
        .file("README.md", "# plugin-x, now documented\n")
        .git_commit(1_700_172_800, "docs");
    let docs = publish(&ctx, &reg, &base).input("tags", "docs").run();
    docs.assert_success();
    assert_eq!(ran_pip(&docs), Vec::<String>::new(), "{}", docs.report());
    assert_eq!(layer_digests(&reg, "docs"), first_layers);

    // A shallow clone (actions/checkout's default) sees every file as changed by its one
    // commit: the COPY layers carry that commit's time, but no RUN runs again.
    let shallow_build = |ctx: &Context, tag: &str| {
        let clone = tempfile::tempdir().unwrap();
        run_tool(
            Command::new("git")
                .args(["clone", "--quiet", "--depth=1"])
                .arg(format!("file://{}", ctx.path().display()))
                .arg(clone.path().join("repo")),
        );
        let run = Publish::new(clone.path().join("repo"))
            .input("image", format!("{}/cloudforet/plugin-x", reg.host()))
            .input("build-args", format!("BASE={base}"))
            .input(
                "cache-repo",
                format!("{}/cloudforet/build-cache", reg.host()),
            )
            .input("tags", tag)
            .run();
        run.assert_success();
        run
    };
    shallow_build(&ctx, "shallow-1");
    let ctx = ctx.git_commit(1_700_200_000, "empty again");
    let again = shallow_build(&ctx, "shallow-2");
    assert_eq!(ran_pip(&again), Vec::<String>::new(), "{}", again.report());

    // Changing a requirement re-runs the install after it, and only from there on.
    let ctx = ctx
        .file(
            "pkg/pip_requirements.txt",
            "spaceone-core\nspaceone-api\nboto3\n",
        )
        .git_commit(1_700_259_200, "boto3");
    let changed = publish(&ctx, &reg, &base).input("tags", "changed").run();
    changed.assert_success();
    let ran = ran_pip(&changed);
    assert!(
        ran.first()
            .is_some_and(|r| r.starts_with("install -r /tmp/pkg/pip_requirements.txt")),
        "{}",
        changed.report()
    );
    let changed_layers = layer_digests(&reg, "changed");
    assert_eq!(changed_layers[..2], first_layers[..2], "the base is kept");
    assert_ne!(changed_layers[2], first_layers[2]);
}

#[test]
fn a_manifest_kept_for_another_image_does_not_block_a_push_that_registers_nothing() {
    let reg = Registry::plain();
    let base = push_base(&reg);
    // As in one real repository: a spacectl test manifest naming the old namespace.
    let ctx = plugin_repo().file(
        "test/spacectl/register_plugin.yaml",
        "image: spaceone/plugin-x\nname: Plugin X\nservice_type: inventory.Collector\n",
    );
    let run = publish(&ctx, &reg, &base).run();
    run.assert_success();
    assert!(run.stdout.contains("pushed "), "{}", run.report());
    assert!(
        run.stderr
            .contains("no spaceone-endpoint, so nothing is registered")
            && run.stderr.contains("spaceone/plugin-x"),
        "the manifest's disagreement is said, not fatal\n{}",
        run.report()
    );
    assert_eq!(reg.tags("cloudforet/plugin-x"), ["1.2.0"]);

    // Where it would register, the disagreement stops the run before the push, with a fix.
    let registering = publish(&ctx, &reg, &base)
        .input("version", "1.3.0")
        .input("spaceone-endpoint", "grpc://127.0.0.1:9")
        .input("spaceone-token", "t")
        .run();
    registering.assert_exit(2);
    assert!(
        registering
            .stderr
            .contains("remove `image` from the manifest or set it to `cloudforet/plugin-x`"),
        "{}",
        registering.report()
    );
    assert_eq!(reg.tags("cloudforet/plugin-x"), ["1.2.0"]);
}

#[test]
fn a_dry_run_says_nothing_was_pushed_and_pushes_nothing() {
    let reg = Registry::plain();
    let base = push_base(&reg);
    let ctx = plugin_repo();
    let run = publish(&ctx, &reg, &base).input("dry-run", "true").run();
    run.assert_success();
    assert!(!run.stdout.contains("pushed "), "{}", run.report());
    assert!(
        run.stdout.contains("dry run, not pushed: "),
        "{}",
        run.report()
    );
    let json = publish(&ctx, &reg, &base)
        .input("dry-run", "true")
        .input("output-format", "json")
        .run();
    json.assert_success();
    let result: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(result["dry_run"], true, "{result}");
    assert!(reg.tags("cloudforet/plugin-x").is_empty());
}

#[test]
fn a_platform_the_base_lacks_fails_before_the_build_naming_what_it_has() {
    let reg = Registry::plain();
    let base = push_base(&reg); // host architecture only
    let other = if host_arch() == "amd64" {
        "linux/arm64"
    } else {
        "linux/amd64"
    };
    let run = publish(&plugin_repo(), &reg, &base)
        .input("platforms", other)
        .run();
    run.assert_exit(2);
    assert!(
        run.stderr.contains(&format!(
            "has no {other} image (it has: linux/{})",
            host_arch()
        )),
        "{}",
        run.report()
    );
    assert!(ran_pip(&run).is_empty(), "a RUN executed\n{}", run.report());
    assert!(reg.tags("cloudforet/plugin-x").is_empty());

    // Both platforms asked, the base has one: nothing is built for either.
    let both = publish(&plugin_repo(), &reg, &base)
        .input("platforms", format!("linux/{},{other}", host_arch()))
        .run();
    both.assert_exit(2);
    assert!(ran_pip(&both).is_empty(), "{}", both.report());
}

#[test]
fn one_run_pushes_one_digest_to_two_namespaces_each_with_its_own_account() {
    use crate::support::token_auth::{TokenRegistry, BOB, BOB_PASSWORD, PASSWORD, USER};
    let bases = Registry::plain();
    let base = push_base(&bases);
    let reg = TokenRegistry::start();
    let ctx = plugin_repo().git_init_commit(1_700_000_000);
    let images = format!(
        "{host}/pyengine/plugin-x\n{host}/cloudforet/plugin-x",
        host = reg.host()
    );
    let release = || {
        ctx.publish()
            .input("image", &images)
            .input("build-args", format!("BASE={base}"))
            .input("registry-username", USER)
            .input("registry-password", PASSWORD)
    };

    // alice's account may not push to pyengine/: without a login for it, nothing lands.
    let refused = release().run();
    refused.assert_exit(4);

    let run = release()
        .input(
            "registry-logins",
            format!("{}/pyengine={BOB}:{BOB_PASSWORD}", reg.host()),
        )
        .run();
    run.assert_success();
    assert_eq!(ran_pip(&run).len(), 2, "built once\n{}", run.report());
    let pushed: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("pushed "))
        .collect();
    assert_eq!(pushed.len(), 2, "{}", run.report());
    let digest = |line: &str| line.split_once('@').unwrap().1.to_string();
    assert_eq!(digest(pushed[0]), digest(pushed[1]), "one digest");
    assert!(pushed[0].starts_with(&format!("{}/pyengine/plugin-x@", reg.host())));
    assert!(pushed[1].starts_with(&format!("{}/cloudforet/plugin-x@", reg.host())));
    let log = reg.log();
    for repo in ["pyengine/plugin-x", "cloudforet/plugin-x"] {
        assert!(
            log.contains(&format!("PUT /v2/{repo}/manifests/1.2.0")),
            "{repo} has no tag\n{log}"
        );
    }
    assert!(!run.stdout.contains(BOB_PASSWORD) && !run.stderr.contains(BOB_PASSWORD));

    // The same accounts from one podman auth.json: the namespaced key wins for pyengine/.
    let auth = tempfile::tempdir().unwrap();
    let basic = |u: &str, p: &str| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
    };
    let file = auth.path().join("auth.json");
    std::fs::write(
        &file,
        serde_json::json!({"auths": {
            reg.host(): {"auth": basic(USER, PASSWORD)},
            format!("{}/pyengine", reg.host()): {"auth": basic(BOB, BOB_PASSWORD)},
        }})
        .to_string(),
    )
    .unwrap();
    let from_file = ctx
        .publish()
        .input("image", &images)
        .input("build-args", format!("BASE={base}"))
        .input("tags", "from-auth-json")
        .env("REGISTRY_AUTH_FILE", &file)
        .run();
    from_file.assert_success();
    assert!(
        reg.log()
            .contains("PUT /v2/pyengine/plugin-x/manifests/from-auth-json"),
        "{}",
        from_file.report()
    );
}

#[test]
fn a_literal_docker_hub_base_comes_from_the_mirror_with_its_own_login() {
    // Every plugin pins `FROM cloudforet/python-core:2` literally, and this machine, like a
    // runner without Docker Hub credentials, cannot pull it from Docker Hub.
    let mirror = Registry::tls_htpasswd("puller", "mirror-pw");
    push_base_as(&mirror, "hub/cloudforet/python-core:2");
    let reg = Registry::plain();
    let ctx = plugin_repo().file(
        "Dockerfile",
        DOCKERFILE.replace("ARG BASE\nFROM ${BASE}", "FROM cloudforet/python-core:2"),
    );
    let run = ctx
        .publish()
        .input("image", format!("{}/cloudforet/plugin-x", reg.host()))
        .input(
            "registry-mirrors",
            format!("docker.io={}/hub", mirror.host()),
        )
        .input("registry-ca-cert", mirror.ca_cert_path())
        .input(
            "registry-logins",
            format!("{}/hub=puller:mirror-pw", mirror.host()),
        )
        .run();
    run.assert_success();
    assert_eq!(ran_pip(&run).len(), 2, "{}", run.report());
    assert_eq!(reg.tags("cloudforet/plugin-x"), ["1.2.0"]);
    assert!(
        mirror
            .log()
            .contains("/v2/hub/cloudforet/python-core/manifests/2"),
        "{}",
        mirror.log()
    );
    assert!(!run.stderr.contains("mirror-pw") && !run.stdout.contains("mirror-pw"));
}

#[test]
fn build_roots_go_to_the_work_dir_and_leave_nothing_there() {
    let reg = Registry::plain();
    let base = push_base(&reg);
    let work = tempfile::tempdir().unwrap();
    let run = publish(&plugin_repo(), &reg, &base)
        .input("work-dir", work.path())
        .run();
    run.assert_success();
    assert!(
        run.stderr
            .contains(&format!("into {}", work.path().display())),
        "{}",
        run.report()
    );
    // Build roots live in `rootfs/` and go when the build ends.
    let left: Vec<_> = std::fs::read_dir(work.path().join("rootfs"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "build roots left behind: {left:?}");
}

/// A notification plugin as eight of nine real repositories are: no manifest. Registered
/// once with one, a later release without one must not overwrite its metadata.
#[test]
fn a_release_without_a_manifest_changes_no_registered_metadata_on_both_generations() {
    use crate::support::spaceone::{jwt_v2, SpaceOne};
    let reg = Registry::plain();
    let base = push_base(&reg);
    for server in [SpaceOne::v1(&reg), SpaceOne::v2(&reg)] {
        let generation = format!("{:?}", server.generation());
        let repo = Context::new()
            .file("Dockerfile", "ARG BASE\nFROM ${BASE}\nCOPY src /tmp/src\n")
            .file("src/VERSION", "1.0.0\n");
        let token = jwt_v2("domain-test", "DOMAIN_ADMIN");
        let release = |ctx: &Context, version: &str| {
            let run = ctx
                .publish()
                .input(
                    "image",
                    format!("{}/cloudforet/plugin-slack-noti-protocol", reg.host()),
                )
                .input("build-args", format!("BASE={base}"))
                .input("version", version)
                .input("spaceone-endpoint", server.endpoint())
                .input("spaceone-token", &token)
                .input("spaceone-domain-id", "domain-test")
                .input("output-format", "json")
                .run();
            run.assert_success();
            run
        };
        let with_manifest = repo.file(
            "plugin.yaml",
            "name: Slack Notification Protocol\nservice_type: notification.Protocol\n\
             provider: slack\nlabels: [Slack]\ntags: {description: Slack}\n",
        );
        release(&with_manifest, "1.0.0");
        std::fs::remove_file(with_manifest.join("plugin.yaml")).unwrap();
        let again = release(&with_manifest, "1.0.1");
        assert!(
            again
                .stderr
                .contains("no plugin manifest: plugin plugin-slack-noti-protocol keeps its registered metadata"),
            "{generation}\n{}",
            again.report()
        );
        let updates = server.requests_for("update");
        assert!(updates.is_empty(), "{generation}: {updates:#?}");
        let get = with_manifest
            .publish()
            .arg("get")
            .input(
                "image",
                format!("{}/cloudforet/plugin-slack-noti-protocol", reg.host()),
            )
            .input("spaceone-endpoint", server.endpoint())
            .input("spaceone-token", &token)
            .input("spaceone-domain-id", "domain-test")
            .input("output-format", "json")
            .run();
        get.assert_success();
        let plugin: serde_json::Value = serde_json::from_str(get.stdout.trim()).unwrap();
        assert_eq!(
            plugin["plugin"]["name"], "Slack Notification Protocol",
            "{generation}: {plugin:#}"
        );
        assert_eq!(plugin["plugin"]["provider"], "slack", "{generation}");

        // The first registration without a manifest says what it derived.
        let fresh = Context::new()
            .file("Dockerfile", "ARG BASE\nFROM ${BASE}\nCOPY src /tmp/src\n")
            .file("src/VERSION", "1.0.0\n");
        let first = fresh
            .publish()
            .input(
                "image",
                format!("{}/cloudforet/plugin-email-noti-protocol", reg.host()),
            )
            .input("build-args", format!("BASE={base}"))
            .input("spaceone-endpoint", server.endpoint())
            .input("spaceone-token", &token)
            .input("spaceone-domain-id", "domain-test")
            .run();
        first.assert_success();
        assert!(
            first.stderr.contains(
                "no plugin manifest: a first registration uses derived values (plugin_id \
                 `plugin-email-noti-protocol`, name `plugin-email-noti-protocol`, type \
                 `notification.Protocol`"
            ),
            "{generation}\n{}",
            first.report()
        );
    }
}
