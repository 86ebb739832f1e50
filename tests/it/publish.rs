//! End to end through the real binary: a plugin context is built on a base image from a
//! local registry, pushed, read back with skopeo, and registered with SpaceONE servers.

use crate::support::context::Context;
use crate::support::images::push_busybox;
use crate::support::read_back::{read_back, EntryKind};
use crate::support::registry::Registry;
use crate::support::spaceone::{jwt_v2, SpaceOne};

/// 2023-11-14T22:13:20Z, the commit time of every test checkout.
const EPOCH: i64 = 1_700_000_000;

const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE} AS plugin
ENV PYTHONUNBUFFERED=1 \
    SPACEONE_PORT=50051
LABEL org.example.team="core" org.example.port="${SPACEONE_PORT}"
WORKDIR /opt/plugin
COPY --chown=1000:1000 pkg/*.txt /tmp/pkg/
COPY src/ ./src/
COPY --chmod=0755 bin/entry.sh /usr/local/bin/entry
USER 1000
EXPOSE ${SPACEONE_PORT}
ENTRYPOINT ["spaceone"]
CMD ["run", "grpc-server", "spaceone.inventory"]
"#;

const PLUGIN_YAML: &str = "name: test-inven-collector\n\
service_type: inventory.Collector\n\
provider: aws\n\
capability:\n  supported_schema: [aws_access_key]\n\
tags:\n  description: A test collector\n\
labels: [Compute, Test]\n\
template: {}\n";

/// A plugin-shaped context, committed at [`EPOCH`].
fn plugin_context() -> Context {
    Context::new()
        .file("Dockerfile", DOCKERFILE)
        .file(".dockerignore", "src/secret.txt\n**/__pycache__\n")
        .file("pkg/pip_requirements.txt", "spaceone-core\n")
        .file("src/VERSION", "1.0.0\n")
        .file(
            "src/setup.py",
            "from setuptools import setup\nsetup(name='x')\n",
        )
        .file("src/spaceone/inventory/__init__.py", "")
        .file("src/spaceone/inventory/__pycache__/x.pyc", "junk")
        .file("src/secret.txt", "do not ship")
        .file("bin/entry.sh", "#!/bin/sh\nexec spaceone \"$@\"\n")
        .mode("bin/entry.sh", 0o644)
        .git_init_commit(EPOCH)
}

fn digest_line(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.split('@').nth(1).filter(|d| d.starts_with("sha256:")))
        .unwrap_or_else(|| panic!("no pushed digest in stdout:\n{stdout}"))
        .to_string()
}

#[test]
fn plugin_is_built_pushed_and_reads_back() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let base_image = read_back(&reg, &base);
    let ctx = plugin_context();
    let image = format!("{}/cloudforet/plugin-test-inven-collector", reg.host());

    let run = ctx
        .publish()
        .input("image", &image)
        .input("build-args", format!("BASE={base}"))
        .run();
    run.assert_success();
    let digest = digest_line(&run.stdout);
    assert!(run.stdout.contains("version: 1.0.0"), "{}", run.report());

    let pulled = read_back(&reg, &format!("{image}:1.0.0"));
    assert_eq!(pulled.digest, digest);
    assert_eq!(
        pulled.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );

    // Configuration: the base's environment kept, ours added, everything else as written.
    let config = &pulled.config["config"];
    let env = pulled.env();
    assert!(
        env.iter().any(|e| e.starts_with("PATH=")),
        "base PATH lost: {env:?}"
    );
    assert!(env.contains(&"SPACEONE_PORT=50051".to_string()), "{env:?}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["spaceone"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["run", "grpc-server", "spaceone.inventory"])
    );
    assert_eq!(config["WorkingDir"], "/opt/plugin");
    assert_eq!(config["User"], "1000");
    assert_eq!(config["Labels"]["org.example.port"], "50051");
    assert_eq!(config["ExposedPorts"], serde_json::json!({"50051/tcp": {}}));
    assert_eq!(pulled.config["created"], "2023-11-14T22:13:20Z");

    // Layers: the base's exactly, then one per COPY.
    assert_eq!(pulled.layers.len(), base_image.layers.len() + 3);
    for (ours, theirs) in pulled.layers.iter().zip(&base_image.layers) {
        assert_eq!(
            ours.digest, theirs.digest,
            "base layers must be reused byte for byte"
        );
    }
    let diff_ids = pulled.config["rootfs"]["diff_ids"].as_array().unwrap();
    for (layer, diff_id) in pulled.layers.iter().zip(diff_ids) {
        assert_eq!(layer.diff_id, diff_id.as_str().unwrap());
    }
    let n = base_image.layers.len();
    let pkg = pulled.layers[n]
        .entry("tmp/pkg/pip_requirements.txt")
        .expect("pkg copied");
    assert_eq!((pkg.uid, pkg.gid, pkg.mtime), (1000, 1000, EPOCH as u64));
    assert_eq!(pkg.content.as_deref(), Some(&b"spaceone-core\n"[..]));
    let src = &pulled.layers[n + 1];
    assert!(
        src.entry("opt/plugin/src/setup.py").is_some(),
        "{:?}",
        src.paths()
    );
    assert!(
        src.entry("opt/plugin/src/secret.txt").is_none(),
        ".dockerignore not applied: {:?}",
        src.paths()
    );
    assert!(
        src.paths().iter().all(|p| !p.contains("__pycache__")),
        "{:?}",
        src.paths()
    );
    let setup = src.entry("opt/plugin/src/setup.py").unwrap();
    assert_eq!((setup.uid, setup.gid, setup.mode), (0, 0, 0o644));
    let entry = pulled.layers[n + 2].entry("usr/local/bin/entry").unwrap();
    assert_eq!((entry.kind, entry.mode), (EntryKind::File, 0o755));

    // A build without RUN never downloads its base: the layers were mounted, not fetched.
    for layer in &base_image.layers {
        assert!(
            run.stderr.contains(&format!("mounted {}", layer.digest)),
            "{}",
            run.report()
        );
        let fetched = format!("GET /v2/library/busybox/blobs/{}", layer.digest);
        let fetches = reg.log().matches(&fetched).count();
        assert_eq!(
            fetches,
            1,
            "only our read_back may fetch base layers:\n{}",
            reg.log()
        );
    }
}

#[test]
fn same_inputs_give_the_same_digest() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let first = plugin_context();
    let second = plugin_context();
    // A fresh clone has other file times; they must not matter.
    std::fs::write(
        second.join("src/setup.py"),
        "from setuptools import setup\nsetup(name='x')\n",
    )
    .unwrap();

    let publish = |ctx: &Context, repo: &str| {
        let run = ctx
            .publish()
            .input("image", format!("{}/cloudforet/{repo}", reg.host()))
            .input("build-args", format!("BASE={base}"))
            .run();
        run.assert_success();
        digest_line(&run.stdout)
    };
    // The repository name is in the image (its title label), so both go to the same one.
    let a = publish(&first, "plugin-a-inven-collector");
    let b = publish(&second, "plugin-a-inven-collector");
    assert_eq!(a, b);

    // And to an OCI layout, with no registry involved for a scratch base.
    let layout = |ctx: &Context| {
        let run = ctx.publish().input("output", "oci:out").run();
        run.assert_success();
        run.stdout.lines().next().unwrap().to_string()
    };
    assert_eq!(layout(&first), layout(&second));
}

#[test]
fn run_is_refused_with_its_line_and_nothing_is_pushed() {
    // RUN executes; on `scratch` there is no shell, so the step fails (exit 3)
    // naming its line and the program, and nothing is pushed.
    let reg = Registry::plain();
    let ctx = Context::new()
        .file(
            "Dockerfile",
            "FROM scratch\nCOPY a /a\n# install\nRUN pip install -r /a\n",
        )
        .file("a", "x")
        .file("src/VERSION", "1.0.0");
    let run = ctx
        .publish()
        .input("image", format!("{}/cloudforet/plugin-x", reg.host()))
        .run();
    run.assert_exit(3);
    assert!(
        run.stderr
            .contains("Dockerfile:4: `RUN pip install -r /a` could not run"),
        "{}",
        run.report()
    );
    assert!(
        run.stderr
            .contains("cannot start `/bin/sh` inside the image's filesystem"),
        "{}",
        run.report()
    );
    assert!(reg.tags("cloudforet/plugin-x").is_empty());
    assert!(
        !reg.log()
            .contains("POST /v2/cloudforet/plugin-x/blobs/uploads"),
        "{}",
        reg.log()
    );
}

#[test]
fn bad_inputs_exit_2_naming_the_variable() {
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\n")
        .file("src/VERSION", "1.0.0");
    let cases: &[(&str, &str, &str)] = &[
        (
            "PUBLISH_IMAGE",
            "127.0.0.1:5000/Cloudforet/plugin-x",
            "input `image` (PUBLISH_IMAGE): repository names must be lower case",
        ),
        (
            "INPUT_DRY-RUN",
            "maybe",
            "input `dry-run` (INPUT_DRY-RUN): `maybe` is not a boolean",
        ),
        (
            "PUBLISH_SPACEONE_ENDPOINT",
            "https://x:443",
            "input `spaceone-endpoint` (PUBLISH_SPACEONE_ENDPOINT)",
        ),
        (
            "PUBLISH_DOCKERFILE",
            "nope/Dockerfile",
            "input `dockerfile` (PUBLISH_DOCKERFILE): nope/Dockerfile does not exist",
        ),
        ("PUBLISH_TARGET", "missing", "missing"),
    ];
    for (var, value, expected) in cases {
        let run = ctx.publish().env(var, value).run();
        run.assert_exit(2);
        assert!(
            run.stderr.contains(expected),
            "{var}={value}:\n{}",
            run.report()
        );
    }
}

#[test]
fn preflight_refuses_what_spaceone_would_and_pushes_nothing() {
    let reg = Registry::plain();
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0")
        .file("plugin.yaml", PLUGIN_YAML);
    let image = format!("{}/cloudforet/plugin_test_inven_collector", reg.host());
    let run = ctx
        .publish()
        .input("image", &image)
        .input("version", "1.0.0")
        // Something would be registered; without an endpoint nothing is, and the push goes on.
        .input("spaceone-endpoint", "grpc://127.0.0.1:9")
        .input("spaceone-token", "t")
        .run();
    run.assert_exit(2);
    assert!(
        run.stderr.contains("plugin_test_inven_collector"),
        "{}",
        run.report()
    );
    assert!(reg
        .tags("cloudforet/plugin_test_inven_collector")
        .is_empty());
}

#[test]
fn tls_and_htpasswd_push_and_secrets_stay_out_of_output() {
    let password = "s3cret-Passw0rd";
    let reg = Registry::tls_htpasswd("ci", password);
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = plugin_context();
    let image = format!("{}/cloudforet/plugin-tls-inven-collector", reg.host());
    let ca = reg.ca_cert_path().display().to_string();

    let anonymous = ctx
        .publish()
        .input("image", &image)
        .input("build-args", format!("BASE={base}"))
        .input("registry-ca-cert", &ca)
        .run();
    anonymous.assert_exit(4);
    assert!(anonymous.stderr.contains("401"), "{}", anonymous.report());

    let run = ctx
        .publish()
        .input("image", &image)
        .input("build-args", format!("BASE={base}"))
        .input("registry-ca-cert", &ca)
        .input("registry-username", "ci")
        .input("registry-password", password)
        .arg("--debug")
        .run();
    run.assert_success();
    assert!(
        !run.stdout.contains(password) && !run.stderr.contains(password),
        "{}",
        run.report()
    );
    assert_eq!(
        reg.tags("cloudforet/plugin-tls-inven-collector"),
        vec!["1.0.0"]
    );
}

#[test]
fn registers_with_the_real_1x_service_then_updates() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let server = SpaceOne::v1(&reg);
    let ctx = plugin_context().file("plugin.yaml", PLUGIN_YAML);
    let image = format!("{}/cloudforet/plugin-test-inven-collector", reg.host());
    let publish = |ctx: &Context| {
        ctx.publish()
            .input("image", &image)
            .input("build-args", format!("BASE={base}"))
            .input("spaceone-endpoint", server.endpoint())
            .input("spaceone-domain-id", "domain-test")
            .run()
    };

    let run = publish(&ctx);
    run.assert_success();
    assert!(
        run.stdout
            .contains("plugin_id: plugin-test-inven-collector (registered on SpaceONE 1.x)"),
        "{}",
        run.report()
    );
    let registers = server.requests_for("register");
    assert_eq!(registers.len(), 1, "{registers:#?}");
    let params = &registers[0]["params"];
    assert_eq!(params["image"], "cloudforet/plugin-test-inven-collector");
    assert_eq!(params["registry_type"], "HARBOR");
    assert_eq!(params["service_type"], "inventory.Collector");
    assert_eq!(params["domain_id"], "domain-test");
    assert_eq!(params["labels"], serde_json::json!(["Compute", "Test"]));
    assert_eq!(
        params["capability"],
        serde_json::json!({"supported_schema": ["aws_access_key"]})
    );
    assert_eq!(registers[0]["unknown_fields"], serde_json::json!([]));

    // A second publish with a changed name updates the record instead of duplicating it.
    let renamed = ctx.file(
        "plugin.yaml",
        PLUGIN_YAML.replace("name: test-inven-collector", "name: renamed"),
    );
    let run = publish(&renamed);
    run.assert_success();
    assert!(
        run.stdout.contains("(updated on SpaceONE 1.x)"),
        "{}",
        run.report()
    );
    assert_eq!(server.requests_for("register").len(), 1);
    let updates = server.requests_for("update");
    assert_eq!(updates.last().unwrap()["params"]["name"], "renamed");
}

#[test]
fn registers_with_a_2x_server_from_a_1x_manifest() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let server = SpaceOne::v2_any(&reg, &[]);
    let ctx = plugin_context().file("plugin.yaml", PLUGIN_YAML);
    let token = jwt_v2("domain-test", "DOMAIN_ADMIN");
    let run = ctx
        .publish()
        .input(
            "image",
            format!("{}/cloudforet/plugin-test-inven-collector", reg.host()),
        )
        .input("build-args", format!("BASE={base}"))
        .input("spaceone-endpoint", server.endpoint())
        .input("spaceone-token", &token)
        .run();
    run.assert_success();
    assert!(
        run.stdout.contains("(registered on SpaceONE 2.x)"),
        "{}",
        run.report()
    );
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    let register = &server.requests_for("register")[0];
    let params = &register["params"];
    assert_eq!(params["resource_type"], "inventory.Collector");
    assert_eq!(params["image"], "cloudforet/plugin-test-inven-collector");
    assert!(
        params.get("template").is_none() && params.get("service_type").is_none(),
        "{params:#}"
    );
    assert_eq!(
        params["capability"],
        serde_json::json!({"supported_schema": ["aws_access_key"]})
    );
    assert_eq!(register["unknown_fields"], serde_json::json!([]));
    assert_eq!(register["token_claims"]["did"], "domain-test");
}

#[test]
fn server_errors_exit_5_with_the_server_code() {
    // The server lists tags in another registry than the one we push to, so it refuses the
    // registration with its own error, which nothing on our side could have known.
    let watched = Registry::plain();
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let server = SpaceOne::v1(&watched);
    let ctx = plugin_context().file("plugin.yaml", PLUGIN_YAML);
    let publish = |domain: Option<&str>| {
        let mut p = ctx
            .publish()
            .input(
                "image",
                format!("{}/cloudforet/plugin-test-inven-collector", reg.host()),
            )
            .input("build-args", format!("BASE={base}"))
            .input("spaceone-endpoint", server.endpoint());
        if let Some(domain) = domain {
            p = p.input("spaceone-domain-id", domain);
        }
        p.run()
    };
    let run = publish(Some("domain-test"));
    run.assert_exit(5);
    assert!(
        run.stderr.contains("ERROR_NO_IMAGE_IN_REGISTRY"),
        "{}",
        run.report()
    );

    // What the server would refuse for sure is caught before anything is pushed: 1.x with
    // auth off needs the domain in the body.
    let reg_tags_before = reg.tags("cloudforet/plugin-test-inven-collector");
    let run = publish(None);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("spaceone-domain-id"),
        "{}",
        run.report()
    );
    assert_eq!(
        reg.tags("cloudforet/plugin-test-inven-collector"),
        reg_tags_before
    );
}

#[test]
fn unreachable_spaceone_stops_the_run_before_the_push() {
    let reg = Registry::plain();
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0")
        .file("plugin.yaml", PLUGIN_YAML);
    let closed = crate::support::process::free_port();
    let run = ctx
        .publish()
        .input(
            "image",
            format!("{}/cloudforet/plugin-test-inven-collector", reg.host()),
        )
        .input("version", "1.0.0")
        .input("spaceone-endpoint", format!("grpc://127.0.0.1:{closed}"))
        .input("spaceone-domain-id", "domain-test")
        .run();
    run.assert_exit(5);
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{closed}")),
        "{}",
        run.report()
    );
    assert!(
        reg.tags("cloudforet/plugin-test-inven-collector")
            .is_empty(),
        "pushed before connecting"
    );
}

/// The README's first command: the example plugin builds offline into an OCI layout and
/// prints the registration request, the same digest every time.
#[test]
fn example_plugin_builds_offline_and_prints_the_request() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/plugin-example-inven-collector");
    let out = tempfile::tempdir().unwrap();
    let layout = out.path().join("layout");
    let run = || {
        let run = crate::support::publish::Publish::new(&example)
            .input("output", format!("oci:{}", layout.display()))
            .input("source-date-epoch", EPOCH.to_string())
            .run();
        run.assert_success();
        run
    };
    let first = run();
    assert!(
        first.stdout.contains("registration request (not sent)"),
        "{}",
        first.report()
    );
    assert!(
        first
            .stdout
            .contains("\"service_type\": \"inventory.Collector\""),
        "{}",
        first.report()
    );
    assert!(
        first
            .stdout
            .contains("\"image\": \"cloudforet/plugin-example-inven-collector\""),
        "{}",
        first.report()
    );
    let second = run();
    assert_eq!(first.stdout.lines().next(), second.stdout.lines().next());
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "1.0.0"
    );
}

#[test]
fn base_from_an_index_is_resolved_for_the_requested_platform() {
    let reg = Registry::plain();
    let base = crate::support::images::push_busybox_multi_platform(&reg, "library/multi:1");
    let arm = crate::support::read_back::read_back_platform(&reg, &base, "linux/arm64");
    let ctx = Context::new()
        .file("Dockerfile", "ARG BASE\nFROM $BASE\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0");
    let image = format!("{}/cloudforet/plugin-multi", reg.host());
    let run = ctx
        .publish()
        .input("image", &image)
        .input("version", "1.0.0")
        .input("platforms", "linux/arm64")
        .input("build-args", format!("BASE={base}"))
        .run();
    run.assert_success();
    let pulled = read_back(&reg, &format!("{image}:1.0.0"));
    assert_eq!(pulled.config["architecture"], "arm64");
    assert_eq!(pulled.layers[0].digest, arm.layers[0].digest);
    assert_eq!(pulled.layers[1].digest, arm.layers[1].digest);

    let run = ctx
        .publish()
        .input("image", &image)
        .input("version", "1.0.1")
        .input("platforms", "linux/s390x")
        .input("build-args", format!("BASE={base}"))
        .run();
    run.assert_exit(2); // bad input, found before any build
    assert!(
        run.stderr.contains("linux/s390x") && run.stderr.contains("linux/arm64"),
        "{}",
        run.report()
    );
}
