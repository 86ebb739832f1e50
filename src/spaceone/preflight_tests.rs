use std::path::Path;

use serde_json::json;

use super::*;
use crate::spaceone::{prepare, PluginManifest, RequestOverrides};

fn request(manifest: &str, target: &str, version: &str) -> PluginRequest {
    let m = PluginManifest::parse(manifest, Path::new("plugin.yml")).unwrap();
    prepare(
        Some(&m),
        &target.parse().unwrap(),
        version,
        &RequestOverrides::default(),
    )
    .unwrap()
}

const HARBOR: &str = "registry.example.com/acme/plugin-x-inven-collector";

fn check(req: &PluginRequest, g: Generation) -> Result<(), String> {
    check_request(req, g, true, false, &[])
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn registry_types_a_generation_cannot_express_are_refused_before_the_push() {
    let github = request(
        "name: x\n",
        "ghcr.io/acme/plugin-x-inven-collector:1.0.0",
        "1.0.0",
    );
    assert_eq!(github.registry_type, RegistryType::Github);
    assert_eq!(check(&github, Generation::V2), Ok(()));
    let e = check_request(&github, Generation::V1, true, false, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "registry type GITHUB cannot be sent to a SpaceONE 1.x server"
    );
    assert!(e.is_preflight());
    assert!(e.hint().unwrap().contains("`registry-type`"));

    let gcp = request(
        "name: x\n",
        "europe-docker.pkg.dev/p/r/plugin-x-inven-collector:1.0.0",
        "1.0.0",
    );
    assert_eq!(gcp.registry_type, RegistryType::GcpPrivateGcr);
    assert!(check(&gcp, Generation::V1)
        .unwrap_err()
        .contains("GCP_PRIVATE_GCR"));
    let ecr = request(
        "name: x\n",
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/plugin-x-inven-collector:1.0.0",
        "1.0.0",
    );
    assert_eq!(ecr.registry_type, RegistryType::AwsPrivateEcr);
    assert!(check(&ecr, Generation::V1)
        .unwrap_err()
        .contains("AWS_PRIVATE_ECR"));
    let public_ecr = request(
        "registry_type: AWS_PUBLIC_ECR\n",
        &format!("{HARBOR}:1.0.0"),
        "1.0.0",
    );
    assert!(check(&public_ecr, Generation::V2)
        .unwrap_err()
        .contains("AWS_PUBLIC_ECR cannot be sent to a SpaceONE 2.x"));
}

#[test]
fn v1_without_token_or_domain_is_refused() {
    let req = request("name: x\n", &format!("{HARBOR}:1.0.0"), "1.0.0");
    let e = check_request(&req, Generation::V1, false, false, &[]).unwrap_err();
    assert!(e.is_preflight());
    assert!(
        e.to_string()
            .starts_with("input `spaceone-domain-id` is required"),
        "{e}"
    );
    assert!(check_request(&req, Generation::V2, false, false, &[]).is_ok());
}

#[test]
fn harbor_tags_must_be_sortable_by_the_generation() {
    let tags = |t: &[&str]| {
        request("name: x\n", &format!("{HARBOR}:1.0.0"), "1.0.0")
            .with_pushed_tags(&t.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    };
    let plain = tags(&["1.0", "1.0.0"]);
    assert_eq!(plain.pushed_tags, ["1.0.0", "1.0"]);
    assert_eq!(check(&plain, Generation::V1), Ok(()));

    let latest = tags(&["latest", "v1.0.0"]);
    let e = check_request(&latest, Generation::V1, true, false, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "tags `latest`, `v1.0.0` cannot be pushed for a HARBOR plugin on a SpaceONE 1.x server: \
         its HARBOR connector sorts every tag of the repository as a StrictVersion (1.2 or \
         1.2.3, optionally a1/b1) and fails on any other, so registering (and every later \
         version listing) would fail after the push"
    );
    assert!(e.is_preflight());
    assert!(e.hint().unwrap().contains("allow-non-version-tags"));
    // 2.x parses PEP 440: `v1.0.0` is fine there, `latest` is not.
    assert!(check(&latest, Generation::V2)
        .unwrap_err()
        .starts_with("tag `latest` cannot be pushed for a HARBOR plugin on a SpaceONE 2.x server"));
    // Forced: a warning instead. Another registry type: no complaint.
    let warnings = check_request(&latest, Generation::V1, true, true, &[]).unwrap();
    assert!(warnings[0].contains("allowed by `allow-non-version-tags`"));
    let hub = request(
        "name: x\n",
        "docker.io/acme/plugin-x-inven-collector:1.0.0",
        "1.0.0",
    )
    .with_pushed_tags(&["latest".to_string()]);
    assert_eq!(check(&hub, Generation::V1), Ok(()));
}

#[test]
fn tags_the_repository_already_holds_are_sorted_too() {
    let plain = request("name: x\n", &format!("{HARBOR}:1.1.0"), "1.1.0");
    let held = [
        "1.0.0".to_string(),
        "latest".into(),
        "main".into(),
        "v0.9".into(),
    ];
    let e = check_request(&plain, Generation::V2, true, false, &held).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "acme/plugin-x-inven-collector already holds tags `latest`, `main` for a HARBOR \
             plugin on a SpaceONE 2.x server"
        ),
        "{e}"
    );
    assert!(e.is_preflight());
    assert!(e.hint().unwrap().contains("skopeo delete"));
    // 1.x's StrictVersion refuses `v0.9` as well.
    let e = check_request(&plain, Generation::V1, true, false, &held).unwrap_err();
    assert!(e.to_string().contains("`latest`, `main`, `v0.9`"), "{e}");
}

#[test]
fn pep440_versions() {
    for v in [
        "1",
        "1.2.3",
        "v1.2.3",
        "1.2.3rc1",
        "1.2.3-rc.1",
        "1.2.3.20220429.104002",
        "1.0.post1",
        "1.0.dev3",
        "1!2.0",
        "1.0+local.7",
        "2.0a",
    ] {
        assert!(is_pep440(v), "{v}");
    }
    for v in [
        "latest",
        "",
        "v",
        "1.2.3-beta_x",
        "main",
        "sha-abc123",
        "1.0+",
        "1..2",
    ] {
        assert!(!is_pep440(v), "{v}");
    }
}

#[test]
fn v1_template_schemas_must_be_valid_json_schema() {
    let manifest = |schema: &str| {
        format!("name: x\nservice_type: inventory.Collector\ntemplate:\n  options:\n    schema: {schema}\n")
    };
    let ok = request(
        &manifest("{type: object, required: [a], properties: {a: {type: [string, 'null'], minLength: 1}}}"),
        &format!("{HARBOR}:1.0.0"),
        "1.0.0",
    );
    assert_eq!(check(&ok, Generation::V1), Ok(()));

    let bad = request(
        &manifest("{type: object, properties: {region: {type: text}}}"),
        &format!("{HARBOR}:1.0.0"),
        "1.0.0",
    );
    let e = check_request(&bad, Generation::V1, true, false, &[]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "plugin manifest plugin.yml:3: `template.options.schema.properties.region.type` is not a \
         valid JSON Schema (draft 7): \"text\" is not one of array, boolean, integer, null, \
         number, object, string (or a list of them); a SpaceONE 1.x server refuses it with \
         ERROR_INVALID_TEMPLATE_SCHEMA"
    );
    assert!(e.is_preflight());
    // 2.x drops `template` (with a warning), so it is not checked there.
    assert_eq!(check(&bad, Generation::V2), Ok(()));
}

#[test]
fn schema_rules_table() {
    let bad = [
        (
            json!("object"),
            "s",
            "a schema must be an object or a boolean, not a string",
        ),
        (
            json!({"required": "a"}),
            "s.required",
            "must be a list of unique strings",
        ),
        (
            json!({"required": ["a", "a"]}),
            "s.required",
            "must be a list of unique strings",
        ),
        (
            json!({"properties": []}),
            "s.properties",
            "must be an object, not a list",
        ),
        (
            json!({"items": [{"type": 1}]}),
            "s.items[0].type",
            "1 is not one of",
        ),
        (
            json!({"anyOf": []}),
            "s.anyOf",
            "must be a non-empty list of schemas",
        ),
        (
            json!({"minLength": -1}),
            "s.minLength",
            "must be a non-negative integer",
        ),
        (
            json!({"title": 3}),
            "s.title",
            "must be a string, not a number",
        ),
        (
            json!({"enum": "a"}),
            "s.enum",
            "must be a list, not a string",
        ),
        (
            json!({"not": 3}),
            "s.not",
            "a schema must be an object or a boolean, not a number",
        ),
    ];
    for (schema, at, problem) in bad {
        let (got_at, got) = check_schema(&schema, "s").unwrap_err();
        assert_eq!(got_at, at, "{schema}");
        assert!(got.starts_with(problem), "{schema}: {got}");
    }
    for schema in [
        json!(true),
        json!({}),
        json!({"type": "object", "default": {"x": 1}, "x-custom": [1], "dependencies": {"a": ["b"]}}),
    ] {
        assert_eq!(check_schema(&schema, "s"), Ok(()), "{schema}");
    }
}
