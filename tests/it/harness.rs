//! Proof that the fixtures in `support/` work: registries come up (and go away),
//! skopeo pushes and reads back what we expect, TLS + htpasswd behaves like a private
//! registry, the SpaceONE servers start (when their venvs exist), and the `Publish` /
//! `Context` builders do what their docs say.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::support::images::host_arch;
use crate::support::process::run_tool;
use crate::support::*;

#[test]
fn plain_registry_serves_busybox_pushed_by_skopeo() {
    let reg = Registry::plain();
    assert_eq!(reg.get("/v2/").status, 200, "{}", reg.log());
    let reference = push_busybox(&reg, "library/busybox:1");
    assert_eq!(reference, format!("{}/library/busybox:1", reg.host()));

    let image = read_back(&reg, &reference);
    assert_eq!(
        image.media_type,
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(image.layers.len(), 1);
    let busybox = image
        .entry("/bin/busybox")
        .expect("bin/busybox in the layer");
    assert_eq!(
        (busybox.kind, busybox.mode, busybox.uid),
        (EntryKind::File, 0o755, 0)
    );
    assert_eq!(
        busybox.size,
        std::fs::metadata("/bin/busybox").unwrap().len()
    );
    let sh = image.entry("bin/sh").unwrap();
    assert_eq!(
        (sh.kind, sh.link_target.as_deref()),
        (EntryKind::Symlink, Some("busybox"))
    );
    assert_eq!(image.entry("tmp").unwrap().mode, 0o1777);
    let passwd =
        String::from_utf8(image.entry("etc/passwd").unwrap().content.clone().unwrap()).unwrap();
    assert!(passwd.contains("app:x:1000:1000:"), "{passwd}");

    assert_eq!(image.env(), vec![BASE_PATH_ENV.to_string()]);
    assert_eq!(image.config["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(image.config["architecture"], host_arch());
    assert_eq!(
        image.config["rootfs"]["diff_ids"][0],
        image.layers[0].diff_id.as_str()
    );
    assert_eq!(reg.tags("library/busybox"), vec!["1"]);
    assert!(
        reg.log().contains("PUT /v2/library/busybox/manifests/1"),
        "{}",
        reg.log()
    );
}

#[test]
fn registry_process_is_gone_after_drop() {
    let reg = Registry::plain();
    let url = reg.url();
    drop(reg);
    assert!(
        http_get(&format!("{url}/v2/"), None, None).is_err(),
        "{url} still answers after drop"
    );
}

#[test]
fn tls_htpasswd_registry_wants_credentials() {
    let reg = Registry::tls_htpasswd("ci-user", "s3cret!");
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let anonymous = reg.get("/v2/");
    assert_eq!(anonymous.status, 401, "{}", reg.log());
    let challenge = anonymous.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Basic realm="), "{challenge}");
    assert_eq!(reg.get_authenticated("/v2/").status, 200, "{}", reg.log());

    let reference = push_busybox(&reg, "team/base:1");
    let image = read_back(&reg, &reference);
    assert!(image.entry("bin/busybox").is_some());
    // Without the CA, the certificate must not be trusted.
    assert!(http_get(&format!("{}/v2/", reg.url()), None, None).is_err());
}

#[test]
fn v2s2_push_reads_back_as_docker_manifest() {
    let reg = Registry::plain();
    let reference = push_busybox_v2s2(&reg, "library/busybox:v2s2");
    let image = read_back(&reg, &reference);
    assert_eq!(
        image.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        image.layers[0].media_type,
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    );
    assert!(image.entry("bin/busybox").is_some());
}

#[test]
fn multi_platform_push_reads_back_as_index() {
    let reg = Registry::plain();
    let reference = push_busybox_multi_platform(&reg, "library/busybox:multi");
    let index = read_back(&reg, &reference);
    assert!(index.is_index(), "{}", index.manifest);
    assert_eq!(index.media_type, "application/vnd.oci.image.index.v1+json");
    assert_eq!(index.manifest["manifests"].as_array().unwrap().len(), 2);

    let arm = read_back_platform(&reg, &reference, "linux/arm64");
    assert_eq!(arm.digest, index.child_digest("linux/arm64/v8"));
    assert_eq!(arm.config["architecture"], "arm64");
    let marker = arm.entry("etc/platform").unwrap().content.clone().unwrap();
    assert_eq!(marker, b"linux/arm64/v8\n");
    let amd = read_back_platform(&reg, &reference, "linux/amd64");
    assert_eq!(
        amd.layers[0].digest, arm.layers[0].digest,
        "busybox layer is shared"
    );
    assert_ne!(amd.layers[1].digest, arm.layers[1].digest);
}

#[test]
fn registries_in_parallel_do_not_collide() {
    let handles: Vec<_> = (0..4)
        .map(|i| {
            std::thread::spawn(move || {
                let reg = Registry::plain();
                push_busybox(&reg, &format!("parallel/only-{i}:1"));
                let catalog = reg.get("/v2/_catalog").text();
                assert!(catalog.contains(&format!("parallel/only-{i}")), "{catalog}");
                assert_eq!(catalog.matches("parallel/").count(), 1, "{catalog}");
                (reg.port(), reg.storage_dir())
            })
        })
        .collect();
    let mut results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    results.sort();
    results.dedup_by_key(|r| r.0);
    assert_eq!(results.len(), 4, "ports collided: {results:?}");
    assert!(
        results.iter().all(|(_, dir)| !dir.exists()),
        "storage removed on drop"
    );
}

#[test]
fn spaceone_servers_start_record_requests_and_stop() {
    let checks: Vec<_> = [Generation::V1, Generation::V2, Generation::V2Real]
        .into_iter()
        .map(|generation| std::thread::spawn(move || check_server(generation)))
        .collect();
    for check in checks {
        check.join().unwrap();
    }
}

/// Starts `generation` (or prints why it is skipped), makes one call, checks it was
/// recorded with the token's claims, and that dropping the fixture stops the server.
fn check_server(generation: Generation) {
    if let Err(why) = generation.available() {
        return eprintln!("SKIP {generation:?} server check: {why}");
    }
    let python = match generation.python() {
        Ok(python) => python,
        Err(hint) => return eprintln!("SKIP {generation:?} server check: {hint}"),
    };
    let reg = Registry::plain();
    let server = SpaceOne::start(generation, &reg, &[], &[]);
    let repo_id = server.local_repository_id();
    assert!(repo_id.starts_with("repo-"), "{repo_id}\n{}", server.log());
    assert_eq!(
        server.requests(),
        Vec::<serde_json::Value>::new(),
        "{}",
        server.log()
    );

    let token = jwt_v2("domain-harness", "DOMAIN_ADMIN");
    grpc_call(
        &python,
        &server.endpoint(),
        "/spaceone.api.repository.v1.Repository/list",
        &token,
    );
    let recorded = server.requests_for("list");
    assert_eq!(
        recorded.len(),
        1,
        "{:?}\n{}",
        server.requests(),
        server.log()
    );
    assert_eq!(recorded[0]["service"], "Repository");
    assert_eq!(recorded[0]["token_claims"]["did"], "domain-harness");

    let port = server.port();
    drop(server);
    let listening = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    assert!(
        !listening,
        "{generation:?} server still listening after drop"
    );
}

/// One unary call with an empty request message, made with the venv's own grpcio; the
/// reply (or error status) does not matter, only that the server saw the call.
fn grpc_call(python: &Path, endpoint: &str, method: &str, token: &str) {
    let script = "import grpc, sys\n\
        ch = grpc.insecure_channel(sys.argv[1].replace('grpc://', ''))\n\
        call = ch.unary_unary(sys.argv[2])\n\
        try:\n    call(b'', metadata=(('token', sys.argv[3]),), timeout=20)\n\
        except grpc.RpcError as e:\n    print(e.code(), e.details())\n";
    run_tool(
        Command::new(python)
            .args(["-c", script, endpoint, method, token])
            .env_clear() // no proxy variables: the call must stay on loopback
            .env("PATH", std::env::var_os("PATH").unwrap_or_default()),
    );
}

#[test]
fn jwt_v2_is_a_decodable_compact_jws() {
    let token = jwt_v2("domain-123", "DOMAIN_ADMIN");
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        (claims["did"].as_str(), claims["rol"].as_str()),
        (Some("domain-123"), Some("DOMAIN_ADMIN"))
    );
    assert_eq!(
        (claims["ver"].as_str(), claims["typ"].as_str()),
        (Some("2.0"), Some("ACCESS_TOKEN"))
    );
    assert!(!parts[2].is_empty());
}

#[test]
fn context_builds_files_links_modes_and_dated_git_history() {
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\n")
        .file("src/VERSION", "1.0.0\n")
        .file("bin/run.sh", "#!/bin/sh\n")
        .mode("bin/run.sh", 0o755)
        .symlink("latest", "src/VERSION")
        .dir("empty")
        .git_init_commit(1_700_000_000)
        .git_tag("v1.2.3", 1_700_000_100);
    assert_eq!(
        std::fs::read_to_string(ctx.join("latest")).unwrap(),
        "1.0.0\n"
    );
    assert!(ctx.join("empty").is_dir());
    assert_eq!(
        git(ctx.path(), &["log", "-1", "--format=%ct %at"]),
        "1700000000 1700000000"
    );
    assert_eq!(git(ctx.path(), &["describe", "--tags"]), "v1.2.3");
    assert_eq!(
        git(ctx.path(), &["ls-files", "-s", "bin/run.sh"])
            .split(' ')
            .next(),
        Some("100755")
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = run_tool(Command::new("git").args(args).current_dir(dir));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn publish_runs_the_binary_with_only_the_given_environment() {
    let ctx = Context::new().file("Dockerfile", "FROM scratch\n");
    let run = ctx
        .publish()
        .input("registry-ca-cert", "/tmp/ca.pem")
        .github_input("spaceone-token", "t0ken")
        .github_actions()
        .arg("--help")
        .run();
    let keys = run.env_keys.join(" ");
    assert!(
        keys.contains("PUBLISH_REGISTRY_CA_CERT") && keys.contains("INPUT_SPACEONE-TOKEN"),
        "{keys}"
    );
    assert!(!keys.contains("CARGO"), "host env leaked: {keys}");
    assert!(run.github_output.is_some());
    // What a failing assertion prints: command, env keys (never values), both streams.
    run.assert_exit(run.status);
    let report = run.report();
    assert!(
        report.contains("--help") && report.contains("--- stderr ---"),
        "{report}"
    );
    assert!(
        !report.contains("t0ken"),
        "secret values must not be printed: {report}"
    );
}
