//! The binary in reproduced CI environments: GitHub Actions (hyphenated `INPUT_*`,
//! `GITHUB_OUTPUT`, step summary, masks, annotations) and GitLab (its variables, sections,
//! dotenv report), plus tag rules and JSON output.

use crate::support::context::Context;
use crate::support::images::push_busybox;
use crate::support::read_back::read_back;
use crate::support::registry::Registry;

const EPOCH: i64 = 1_704_450_612; // 2024-01-05T10:30:12Z

fn context() -> Context {
    Context::new()
        .file(
            "Dockerfile",
            "ARG BASE=scratch\nFROM ${BASE}\nCOPY src /src\nCMD [\"run\"]\n",
        )
        .file("src/VERSION", "1.4.0\n")
        .file("src/app.py", "print('hi')\n")
        .git_init_commit(EPOCH)
}

#[test]
fn github_action_outputs_summary_and_masks() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = context().git_tag("v1.4.0", EPOCH);
    let secret = "ghp_not-a-real-token-123";
    let image = format!("{}/cloudforet/plugin-gh-inven-collector", reg.host());
    let run = ctx
        .publish()
        .github_actions()
        .github_input("image", &image)
        .github_input("build-args", format!("BASE={base}"))
        .github_input("semver-tags", "true")
        .github_input("registry-password", secret)
        .github_input("registry-username", "")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env(
            "GITHUB_REPOSITORY",
            "cloudforet-io/plugin-gh-inven-collector",
        )
        .run();
    run.assert_success();

    // The secret is masked before anything else, and never printed in clear.
    let first = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(first, format!("::add-mask::{secret}"), "{}", run.report());
    assert_eq!(run.stdout.matches(secret).count(), 1, "{}", run.report());
    assert!(!run.stderr.contains(secret));
    assert!(
        run.stdout.contains("::group::build") && run.stdout.contains("::group::push"),
        "{}",
        run.report()
    );
    assert!(run.stdout.contains("::endgroup::"));

    let outputs = run.github_outputs();
    let digest = outputs.get("digest").expect("digest output").clone();
    assert!(digest.starts_with("sha256:"), "{outputs:?}");
    assert_eq!(outputs["image"], image);
    assert_eq!(outputs["version"], "1.4.0");
    assert_eq!(outputs["tags"], "1.4.0\n1.4\n1\nlatest");
    let metadata: serde_json::Value = serde_json::from_str(&outputs["metadata"]).unwrap();
    assert_eq!(metadata["digest"], digest);

    let summary = run.step_summary.clone().expect("summary file");
    assert!(
        summary.contains(&format!("| digest | `{digest}` |")),
        "{summary}"
    );
    assert!(
        summary.contains("| tags | `1.4.0` `1.4` `1` `latest` |"),
        "{summary}"
    );
    assert!(summary.contains("reused"), "{summary}");

    // Every tag points at the digest, and the OCI labels describe the commit.
    for tag in ["1.4.0", "1.4", "1", "latest"] {
        assert_eq!(
            read_back(&reg, &format!("{image}:{tag}")).digest,
            digest,
            "{tag}"
        );
    }
    let pulled = read_back(&reg, &format!("{image}:1.4.0"));
    let labels = &pulled.config["config"]["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/cloudforet-io/plugin-gh-inven-collector"
    );
    assert_eq!(
        labels["org.opencontainers.image.created"],
        "2024-01-05T10:30:12Z"
    );
    assert_eq!(labels["org.opencontainers.image.version"], "1.4.0");
    assert_eq!(
        pulled.manifest["annotations"]["org.opencontainers.image.version"],
        "1.4.0"
    );
}

#[test]
fn github_errors_are_annotations_on_the_dockerfile_line() {
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY missing.txt /\n")
        .file("src/VERSION", "1.0.0");
    let run = ctx.publish().github_actions().run();
    run.assert_exit(2);
    let annotation = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::error "))
        .unwrap_or_else(|| panic!("{}", run.report()));
    assert!(
        annotation.starts_with("::error file=Dockerfile,line=2,"),
        "{annotation}"
    );
    assert!(annotation.contains("missing.txt"), "{annotation}");
}

#[test]
fn gitlab_defaults_sections_and_dotenv() {
    let reg = Registry::plain();
    let ctx = context();
    let dotenv = ctx.join("publish.env");
    let image = format!("{}/group/plugin-gl-inven-collector", reg.host());
    let run = ctx
        .publish()
        .env("GITLAB_CI", "true")
        .env("CI_REGISTRY_IMAGE", &image)
        .env("CI_COMMIT_TAG", "v2.0.1")
        .env("CI_COMMIT_SHA", "fedcba9876543210fedcba9876543210fedcba98")
        .env(
            "CI_PROJECT_URL",
            "https://gitlab.example.com/group/plugin-gl-inven-collector",
        )
        .input("dotenv-file", &dotenv)
        .input("sha-tag", "true")
        .run();
    run.assert_success();
    assert!(
        run.stderr.contains("section_start:") && run.stderr.contains(":spaceone_publish_push"),
        "{}",
        run.report()
    );
    assert!(run.stderr.contains("section_end:"), "{}", run.report());
    assert!(
        run.stderr.contains(":spaceone_publish_build_linux_"),
        "{}",
        run.report()
    );
    let mut tags = reg.tags("group/plugin-gl-inven-collector");
    tags.sort();
    assert_eq!(tags, vec!["2.0.1", "sha-fedcba9"]);

    let env = std::fs::read_to_string(&dotenv).unwrap();
    assert!(
        env.contains(&format!("SPACEONE_PUBLISH_IMAGE={image}\n")),
        "{env}"
    );
    assert!(env.contains("SPACEONE_PUBLISH_VERSION=2.0.1\n"), "{env}");
    assert!(
        env.contains("SPACEONE_PUBLISH_TAGS=2.0.1,sha-fedcba9\n"),
        "{env}"
    );
    assert!(
        env.lines()
            .any(|l| l.starts_with("SPACEONE_PUBLISH_DIGEST=sha256:")),
        "{env}"
    );
}

#[test]
fn dev_build_version_and_json_output() {
    let ctx = context();
    let run = ctx
        .publish()
        .input("output", "oci:out")
        .input("dev-build", "true")
        .input("timezone", "+09:00")
        .input("semver-tags", "true")
        .input("output-format", "json")
        .run();
    run.assert_success();
    let result: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.report()));
    // Commit time 10:30:12Z is 19:30:12 in Seoul; a dev build is never `latest`.
    assert_eq!(result["version"], "1.4.0.20240105.193012");
    assert_eq!(result["tags"], serde_json::json!(["1.4.0.20240105.193012"]));
    assert!(result["digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn pre_releases_never_get_latest() {
    let ctx = context();
    let run = ctx
        .publish()
        .input("output", "oci:out")
        .input("version", "2.0.0-rc.1")
        .input("semver-tags", "true")
        .input("output-format", "json")
        .run();
    run.assert_success();
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(result["tags"], serde_json::json!(["2.0.0-rc.1"]));
}

#[test]
fn matrix_jobs_push_by_digest_and_merge_tags_one_index() {
    let reg = Registry::plain();
    let ctx = context();
    let image = format!("{}/cloudforet/plugin-matrix-inven-collector", reg.host());
    let digests = ctx.join("digests");
    std::fs::create_dir_all(&digests).unwrap();
    for (platform, file) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let run = ctx
            .publish()
            .github_actions()
            .github_input("image", &image)
            .github_input("platforms", platform)
            .github_input("push-by-digest", "true")
            .run();
        run.assert_success();
        std::fs::write(digests.join(file), &run.github_outputs()["digest"]).unwrap();
    }
    assert!(
        reg.tags("cloudforet/plugin-matrix-inven-collector")
            .is_empty(),
        "per-platform jobs must not tag"
    );

    let run = ctx
        .publish()
        .github_actions()
        .github_input("verb", "merge")
        .github_input("image", &image)
        .github_input("digests-dir", &digests)
        .github_input("semver-tags", "true")
        .run();
    run.assert_success();
    let outputs = run.github_outputs();
    let index = read_back(&reg, &format!("{image}:1.4.0"));
    assert!(index.is_index(), "{:?}", index.media_type);
    assert_eq!(index.digest, outputs["digest"]);
    let platforms: Vec<String> = index.manifest["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    let mut tags = reg.tags("cloudforet/plugin-matrix-inven-collector");
    tags.sort();
    assert_eq!(tags, ["1", "1.4", "1.4.0", "latest"]);
}

#[test]
fn several_platforms_in_one_run_make_an_index() {
    let reg = Registry::plain();
    let ctx = context();
    let image = format!("{}/cloudforet/plugin-multi-inven-collector", reg.host());
    let run = ctx
        .publish()
        .input("image", &image)
        .input("platforms", "linux/arm64,linux/amd64")
        .run();
    run.assert_success();
    let index = read_back(&reg, &format!("{image}:1.4.0"));
    assert!(index.is_index());
    let arm = crate::support::read_back::read_back_platform(
        &reg,
        &format!("{image}:1.4.0"),
        "linux/arm64",
    );
    assert_eq!(arm.config["architecture"], "arm64");
    assert_eq!(index.child_digest("linux/arm64"), arm.digest);
}

/// Every registry token obtained during the run is masked in the GitHub log before
/// anything else could print it.
#[test]
fn github_masks_registry_tokens_obtained() {
    use crate::support::token_auth::{TokenRegistry, PASSWORD, USER};
    let reg = TokenRegistry::start();
    let ctx = context();
    let run = ctx
        .publish()
        .github_actions()
        .github_input(
            "image",
            format!("{}/team/plugin-token-inven-collector", reg.host()),
        )
        .github_input("registry-username", USER)
        .github_input("registry-password", PASSWORD)
        .run();
    run.assert_success();
    let issued = reg.tokens.issued();
    assert!(!issued.is_empty(), "no token was issued:\n{}", run.report());
    for token in issued {
        assert!(
            run.stdout.contains(&format!("::add-mask::{token}")),
            "token not masked:\n{}",
            run.report()
        );
        let masked_at = run.stdout.find(&format!("::add-mask::{token}")).unwrap();
        assert_eq!(
            run.stdout.find(&token),
            Some(masked_at + "::add-mask::".len()),
            "token printed before its mask"
        );
        assert!(!run.stderr.contains(&token));
    }
}
