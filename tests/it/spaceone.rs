//! Registration against real SpaceONE servers on loopback: the real spaceone-repository
//! 1.12.5 (1.x) and the 2.x stand-in on the official 2.x stubs and framework, both pointed
//! at a real registry holding the pushed image.
//!
//! What the servers record (`requests.jsonl`, decoded by the official Python stubs) is the
//! ground truth for the wire: every field must arrive under its own name, and
//! `unknown_fields` (field numbers the official message does not define) must stay empty.
//! The library is driven directly (`prepare` then `register`), as the pipeline does after
//! a push.

use std::future::Future;
use std::path::Path;

use serde_json::{json, Value};
use spaceone_publish::ci::RecordingReporter;
use spaceone_publish::secret::Secret;
use spaceone_publish::spaceone::{
    self, Action, Generation, PluginManifest, PluginRequest, PluginVerb, Registration,
    RequestOverrides, Retry, Session, SpaceOneError, SpaceOneOptions, Timeouts,
};

use crate::support::{jwt_v2, push_busybox, Registry, SpaceOne};

const IMAGE: &str = "acme/plugin-demo-inven-collector";

/// A 1.x-style manifest using every key both generations share, plus each one's own.
const MANIFEST: &str = "\
name: Demo Collector
service_type: inventory.Collector
image: acme/plugin-demo-inven-collector
provider: aws
registry_config: {}
capability:
  supported_schema: [aws_access_key, aws_assume_role]
  use_resource_secret: true
template:
  options:
    schema:
      type: object
      properties:
        region: {type: string, title: Region}
labels: [AWS, Demo]
tags:
  description: A demo collector
  icon: https://example.com/icon.svg
docs:
  en: '# Demo'
";

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn prepare(reg: &Registry, manifest: &str, version: &str) -> PluginRequest {
    let m = PluginManifest::parse(manifest, Path::new("plugin.yml")).unwrap();
    let target = reg
        .reference(&format!("{IMAGE}:{version}"))
        .parse()
        .unwrap();
    spaceone::prepare(Some(&m), &target, version, &RequestOverrides::default()).unwrap()
}

fn options(server: &SpaceOne, token: Option<&str>, domain_id: Option<&str>) -> SpaceOneOptions {
    SpaceOneOptions {
        endpoint: server.endpoint(),
        token: token.map(Secret::new),
        domain_id: domain_id.map(str::to_string),
        ca_cert: None,
        generation: Generation::Auto,
        workspace_id: None,
        policy: Default::default(),
    }
}

fn publish(
    opts: &SpaceOneOptions,
    request: &PluginRequest,
) -> (Result<Registration, SpaceOneError>, Vec<String>) {
    let reporter = RecordingReporter::default();
    let result = block_on(spaceone::register(opts, request, &reporter));
    (result, reporter.lines())
}

/// A session that retries without waiting (3 attempts), as every test wants.
async fn session(opts: &SpaceOneOptions) -> Result<Session, SpaceOneError> {
    let reporter = RecordingReporter::default();
    Session::open(opts, Timeouts::with_retry(Retry::immediate(3)), &reporter).await
}

/// Open, preflight, publish: the pipeline's order, with zero backoff.
fn publish_checked(
    opts: &SpaceOneOptions,
    request: &PluginRequest,
) -> (Result<Registration, SpaceOneError>, Vec<String>) {
    let reporter = RecordingReporter::default();
    let result = block_on(async {
        let s = Session::open(opts, Timeouts::with_retry(Retry::immediate(3)), &reporter).await?;
        s.preflight(request, &[]).await?;
        s.publish(request, &reporter).await
    });
    (result, reporter.lines())
}

fn manage(
    opts: &SpaceOneOptions,
    verb: PluginVerb,
    plugin_id: &str,
) -> Result<Value, SpaceOneError> {
    let reporter = RecordingReporter::default();
    block_on(async {
        session(opts)
            .await?
            .manage(verb, plugin_id, &reporter)
            .await
    })
}

/// Struct numbers come back from Python as floats (`3.0`); compare numbers as f64.
fn numbers_as_floats(v: &Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64().unwrap()),
        Value::Array(items) => Value::Array(items.iter().map(numbers_as_floats).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), numbers_as_floats(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every recorded request decoded without unknown fields.
fn assert_no_unknown_fields(server: &SpaceOne) {
    for r in server.requests() {
        assert_eq!(
            r["unknown_fields"],
            json!([]),
            "{} carried unknown fields: {r}",
            r["method"]
        );
    }
}

#[test]
fn v1_registers_with_harbor_and_domain_id_then_updates_in_place() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let server = SpaceOne::v1(&reg);
    let opts = options(
        &server,
        Some("api-key-not-checked-by-this-server"),
        Some("domain-test"),
    );
    let local = server.local_repository_id().to_string();

    // First publish: registered, every field under its 1.x name.
    let request = prepare(&reg, MANIFEST, "1.0.0");
    let (result, lines) = publish(&opts, &request);
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}\n{}", server.log()));
    assert_eq!(
        (r.generation, r.action, r.plugin_id.as_str()),
        (
            Generation::V1,
            Action::Registered,
            "plugin-demo-inven-collector"
        )
    );
    assert_eq!(r.repository_id, local);
    assert_eq!(r.versions, ["1.0.0"]);
    assert!(r.version_listed());
    assert_eq!(r.registry_url, reg.host());
    assert!(
        lines.contains(&format!(
            "SpaceONE 1.x at {} (detected through reflection)",
            server.endpoint()
        )),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("warning: `docs` is not sent to a SpaceONE 1.x server")),
        "{lines:?}"
    );

    let registers = server.requests_for("register");
    assert_eq!(registers.len(), 1);
    let expected = json!({
        "name": "Demo Collector",
        "service_type": "inventory.Collector",
        "image": IMAGE,
        "provider": "aws",
        "registry_type": "HARBOR",
        "registry_config": {},
        "capability": {"supported_schema": ["aws_access_key", "aws_assume_role"], "use_resource_secret": true},
        "template": {"options": {"schema": {"type": "object", "properties": {"region": {"type": "string", "title": "Region"}}}}},
        "labels": ["AWS", "Demo"],
        "tags": {"description": "A demo collector", "icon": "https://example.com/icon.svg"},
        "domain_id": "domain-test",
    });
    assert_eq!(registers[0]["params"], expected);
    assert_eq!(
        numbers_as_floats(&request.to_json_with_domain(Generation::V1, Some("domain-test"))),
        numbers_as_floats(&expected)
    );
    let keys = registers[0]["metadata_keys"].as_array().unwrap();
    assert!(
        keys.contains(&json!("token")) && keys.contains(&json!("x_domain_id")),
        "{keys:?}"
    );
    for method in ["get", "get_versions"] {
        let params = &server.requests_for(method)[0]["params"];
        assert_eq!(
            params,
            &json!({"plugin_id": "plugin-demo-inven-collector", "domain_id": "domain-test", "repository_id": local})
        );
    }
    assert_eq!(
        server.requests_for("list")[0]["params"],
        json!({"repository_type": "local", "domain_id": "domain-test"})
    );

    // Second publish, new version and a new name: updated, not registered twice.
    push_busybox(&reg, &format!("{IMAGE}:1.1.0"));
    let renamed = MANIFEST.replace("name: Demo Collector", "name: Demo Collector 2");
    let (result, lines) = publish(&opts, &prepare(&reg, &renamed, "1.1.0"));
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}"));
    assert_eq!(
        (r.action, r.updated_fields.clone()),
        (Action::Updated, vec!["name".to_string()])
    );
    assert_eq!(r.versions, ["1.1.0", "1.0.0"], "HARBOR lists newest first");
    assert_eq!(
        server.requests_for("register").len(),
        1,
        "no second register"
    );
    let update = server.requests_for("update");
    assert_eq!(
        update.last().unwrap()["params"],
        json!({"plugin_id": "plugin-demo-inven-collector", "name": "Demo Collector 2", "domain_id": "domain-test"})
    );

    // Third publish, same metadata, generation given: the server already holds the new name.
    let fixed = SpaceOneOptions {
        generation: Generation::V1,
        ..opts.clone()
    };
    let (result, lines) = publish(&fixed, &prepare(&reg, &renamed, "1.1.0"));
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}"));
    assert_eq!(r.action, Action::Unchanged);
    assert!(
        lines.contains(&format!(
            "SpaceONE 1.x at {} (as configured)",
            server.endpoint()
        )),
        "{lines:?}"
    );
    assert_eq!(server.requests_for("update").len(), 1);

    assert_no_unknown_fields(&server);
    let all = format!("{lines:?}{}", server.log());
    assert!(
        !all.contains("api-key-not-checked"),
        "the token leaked into output"
    );
}

#[test]
fn v2_registers_with_a_jwt_and_no_unknown_fields_in_strict_mode() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:2.0.0"));
    let server = SpaceOne::v2_any(&reg, &[("SPACEONE_V2_STRICT", "1")]);
    let token = jwt_v2("domain-v2", "DOMAIN_ADMIN");
    let opts = options(&server, Some(&token), None);

    let manifest =
        format!("{MANIFEST}plugin_id: demo-collector\n").replace("service_type:", "resource_type:");
    let request = prepare(&reg, &manifest, "2.0.0");
    let (result, lines) = publish(&opts, &request);
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}\n{}", server.log()));
    assert_eq!(
        (r.generation, r.action, r.plugin_id.as_str()),
        (Generation::V2, Action::Registered, "demo-collector")
    );
    assert_eq!(
        (r.repository_id.as_str(), r.versions.clone()),
        ("repo-local", vec!["2.0.0".to_string()])
    );
    assert!(
        lines.iter().any(|l| l
            == "warning: `template` is not sent to a SpaceONE 2.x server: 2.x has no such field"),
        "{lines:?}"
    );

    let register = &server.requests_for("register")[0];
    let expected = json!({
        "name": "Demo Collector",
        "resource_type": "inventory.Collector",
        "image": IMAGE,
        "provider": "aws",
        "registry_type": "HARBOR",
        "registry_config": {},
        "capability": {"supported_schema": ["aws_access_key", "aws_assume_role"], "use_resource_secret": true},
        "labels": ["AWS", "Demo"],
        "tags": {"description": "A demo collector", "icon": "https://example.com/icon.svg"},
        "plugin_id": "demo-collector",
        "docs": {"en": "# Demo"},
    });
    assert_eq!(register["params"], expected);
    assert_eq!(register["token_claims"]["did"], "domain-v2");
    assert!(register["metadata_keys"]
        .as_array()
        .unwrap()
        .contains(&json!("token")));
    assert_eq!(
        server.requests_for("get")[0]["params"],
        json!({"plugin_id": "demo-collector", "repository_id": "repo-local"})
    );
    assert_eq!(
        server.requests_for("list")[0]["params"],
        json!({"repository_type": "LOCAL"})
    );

    // Again with a new name and new docs: one update with exactly those two fields.
    let changed = manifest
        .replace("name: Demo Collector", "name: Renamed")
        .replace("'# Demo'", "'# Demo v2'");
    let (result, lines) = publish(&opts, &prepare(&reg, &changed, "2.0.0"));
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}"));
    assert_eq!(
        (r.action, r.updated_fields.clone()),
        (
            Action::Updated,
            vec!["name".to_string(), "docs".to_string()]
        )
    );
    assert_eq!(server.requests_for("register").len(), 1);
    assert_eq!(
        server.requests_for("update")[0]["params"],
        json!({"plugin_id": "demo-collector", "name": "Renamed", "docs": {"en": "# Demo v2"}})
    );
    assert_no_unknown_fields(&server);
}

#[test]
fn server_errors_surface_the_servers_error_code_and_a_hint() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let v1 = SpaceOne::v1(&reg);
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let request = prepare(&reg, MANIFEST, "1.0.0");

    // 1.x without a domain and without auth: the server's own required-parameter error.
    let (result, _) = publish(&options(&v1, None, None), &request);
    let e = result.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Plugin.register failed: INVALID_ARGUMENT ERROR_REQUIRED_PARAMETER: Required parameter. (key = domain_id)"
    );
    assert_eq!(e.error_code(), Some("ERROR_REQUIRED_PARAMETER"));
    assert!(e.hint().unwrap().contains("spaceone-domain-id"));

    // An image the server's registry does not have.
    let m = PluginManifest::parse(
        "service_type: inventory.Collector\n",
        Path::new("plugin.yml"),
    )
    .unwrap();
    let missing = reg
        .reference("acme/plugin-missing-inven-collector:1.0.0")
        .parse()
        .unwrap();
    let missing =
        spaceone::prepare(Some(&m), &missing, "1.0.0", &RequestOverrides::default()).unwrap();
    let (result, _) = publish(
        &options(&v2, Some(&jwt_v2("domain-v2", "DOMAIN_ADMIN")), None),
        &missing,
    );
    let e = result.unwrap_err();
    assert!(
        e.to_string().starts_with(
            "Plugin.register failed: INTERNAL ERROR_NO_IMAGE_IN_REGISTRY: Image does not found."
        ),
        "{e}"
    );

    // 2.x: a workspace member may not register.
    let (result, _) = publish(
        &options(&v2, Some(&jwt_v2("domain-v2", "WORKSPACE_MEMBER")), None),
        &request,
    );
    let e = result.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Plugin.register failed: PERMISSION_DENIED ERROR_PERMISSION_DENIED: Permission denied."
    );
    assert!(e.hint().unwrap().contains("DOMAIN_ADMIN"));

    // 2.x without a token.
    let (result, _) = publish(&options(&v2, None, None), &request);
    assert_eq!(
        result.unwrap_err().error_code(),
        Some("ERROR_AUTHENTICATE_FAILURE")
    );

    // 1.x registered, then a non-version tag lands in the repository: get_versions breaks.
    let opts = options(&v1, None, Some("domain-test"));
    publish(&opts, &request).0.unwrap();

    // Another namespace, same last segment: the plugin id is taken; nothing is updated.
    push_busybox(&reg, "other/plugin-demo-inven-collector:1.0.0");
    let other = reg
        .reference("other/plugin-demo-inven-collector:1.0.0")
        .parse()
        .unwrap();
    let other = spaceone::prepare(Some(&m), &other, "1.0.0", &RequestOverrides::default()).unwrap();
    let e = publish(&opts, &other).0.unwrap_err();
    assert_eq!(
        e.to_string(),
        "plugin id `plugin-demo-inven-collector` is already registered for image \
         `acme/plugin-demo-inven-collector`, not `other/plugin-demo-inven-collector`"
    );
    assert!(v1.requests_for("update").is_empty());
    push_busybox(&reg, &format!("{IMAGE}:latest"));
    let e = publish(&opts, &request).0.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Plugin.get_versions failed: INVALID_ARGUMENT ERROR_NO_PLUGIN"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("`latest`"));
}

#[test]
fn v1_without_a_local_repository_is_named_before_any_register() {
    let reg = Registry::plain();
    let server = SpaceOne::start(
        crate::support::Generation::V1,
        &reg,
        &["--no-local-repository"],
        &[],
    );
    let (result, _) = publish(
        &options(&server, None, Some("domain-test")),
        &prepare(&reg, MANIFEST, "1.0.0"),
    );
    let e = result.unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "SpaceONE at {} has no local repository (Repository.list returned no repositories)",
            server.endpoint()
        )
    );
    assert!(e.hint().unwrap().contains("repository_type=local"));
    assert!(server.requests_for("register").is_empty());
}

/// disable → get shows DISABLED → enable → deregister → get fails with the server's code,
/// on both generations, through the library API the CLI verbs call.
#[test]
fn verbs_round_trip_on_both_generations() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let v1 = SpaceOne::v1(&reg);
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let v2_token = jwt_v2("domain-v2", "DOMAIN_ADMIN");
    let cases = [
        (
            &v1,
            options(&v1, None, Some("domain-test")),
            "ERROR_NOT_FOUND",
        ),
        (&v2, options(&v2, Some(&v2_token), None), "ERROR_NOT_FOUND"),
    ];
    let id = "plugin-demo-inven-collector";
    for (server, opts, gone) in cases {
        let what = format!("{:?}", server.generation());
        publish_checked(&opts, &prepare(&reg, MANIFEST, "1.0.0"))
            .0
            .unwrap_or_else(|e| panic!("{what}: {e}\n{}", server.log()));

        let got = manage(&opts, PluginVerb::Get, id).unwrap();
        assert_eq!(
            (got["plugin_id"].as_str(), got["state"].as_str()),
            (Some(id), Some("ENABLED")),
            "{what}: {got}"
        );
        assert_eq!(got["image"], IMAGE, "{what}");
        assert_eq!(got["registry_type"], "HARBOR", "{what}");
        assert_eq!(got["labels"], json!(["AWS", "Demo"]), "{what}");

        let disabled = manage(&opts, PluginVerb::Disable, id).unwrap();
        assert_eq!(disabled["state"], "DISABLED", "{what}");
        assert_eq!(
            manage(&opts, PluginVerb::Get, id).unwrap()["state"],
            "DISABLED"
        );
        let enabled = manage(&opts, PluginVerb::Enable, id).unwrap();
        assert_eq!(enabled["state"], "ENABLED", "{what}");

        assert_eq!(
            manage(&opts, PluginVerb::Deregister, id).unwrap(),
            json!({"plugin_id": id, "deregistered": true})
        );
        let e = manage(&opts, PluginVerb::Get, id).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "Plugin.get failed: INVALID_ARGUMENT ERROR_NO_PLUGIN: Plugin does not exists."
            ),
            "{what}: {e}"
        );
        assert!(!e.is_preflight());
        assert_eq!(spaceone_publish::Error::from(e).exit_code(), 5);
        // A second deregister is the server's NOT_FOUND, not a silent success.
        let e = manage(&opts, PluginVerb::Deregister, id).unwrap_err();
        assert_eq!(e.error_code(), Some(gone), "{what}: {e}");

        // The 1.x calls carry the domain and get names the local repository.
        if server.generation() == crate::support::Generation::V1 {
            let local = server.local_repository_id();
            assert_eq!(
                server.requests_for("get").last().unwrap()["params"],
                json!({"plugin_id": id, "domain_id": "domain-test", "repository_id": local})
            );
            assert_eq!(
                server.requests_for("disable")[0]["params"],
                json!({"plugin_id": id, "domain_id": "domain-test"})
            );
        }
        assert_no_unknown_fields(server);
    }
}

/// Pre-flight against the detected server: every rule that needs the generation or the
/// server's state fails before anything would be pushed, naming the field.
#[test]
fn preflight_refuses_what_the_detected_server_would() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let v1 = SpaceOne::v1(&reg);
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let v1_opts = options(&v1, None, Some("domain-test"));
    let v2_opts = options(&v2, Some(&jwt_v2("domain-v2", "DOMAIN_ADMIN")), None);
    let preflight = |opts: &SpaceOneOptions, request: &PluginRequest| {
        block_on(async {
            session(opts)
                .await?
                .preflight(request, &[])
                .await
                .map(|_| ())
        })
    };
    let with_type = |t: &str| {
        let m = PluginManifest::parse(MANIFEST, Path::new("plugin.yml")).unwrap();
        let target = reg.reference(&format!("{IMAGE}:1.0.0")).parse().unwrap();
        let overrides = RequestOverrides {
            registry_type: Some(t.into()),
        };
        spaceone::prepare(Some(&m), &target, "1.0.0", &overrides).unwrap()
    };

    // GITHUB exists only on 2.x.
    let github = with_type("GITHUB");
    let e = preflight(&v1_opts, &github).unwrap_err();
    assert_eq!(
        e.to_string(),
        "registry type GITHUB cannot be sent to a SpaceONE 1.x server"
    );
    assert_eq!(spaceone_publish::Error::from(e).exit_code(), 2);
    preflight(&v2_opts, &github).unwrap();

    // 1.x needs a domain when there is no token.
    let e = preflight(&options(&v1, None, None), &prepare(&reg, MANIFEST, "1.0.0")).unwrap_err();
    assert!(e.is_preflight(), "{e}");

    // HARBOR and a tag the connector cannot sort.
    let latest = prepare(&reg, MANIFEST, "1.0.0").with_pushed_tags(&["latest".into()]);
    let e = preflight(&v1_opts, &latest).unwrap_err();
    assert!(
        e.to_string().starts_with("tag `latest` cannot be pushed"),
        "{e}"
    );
    assert!(preflight(&v2_opts, &latest).unwrap_err().is_preflight());

    // A template schema the real 1.x server refuses; pre-flight says so first.
    let broken = MANIFEST.replace("region: {type: string", "region: {type: text");
    let request = prepare(&reg, &broken, "1.0.0");
    let e = preflight(&v1_opts, &request).unwrap_err();
    assert!(
        e.to_string().starts_with(
            "plugin manifest plugin.yml:9: `template.options.schema.properties.region.type` is \
             not a valid JSON Schema (draft 7)"
        ),
        "{e}"
    );
    let (sent_anyway, _) = publish(&v1_opts, &request);
    assert_eq!(
        sent_anyway.unwrap_err().error_code(),
        Some("ERROR_INVALID_TEMPLATE_SCHEMA"),
        "the server agrees"
    );
    preflight(&v2_opts, &request).unwrap(); // 2.x drops `template`
    assert!(v1.requests_for("register").len() == 1 && v2.requests_for("register").is_empty());

    // Registered once; then a fixed field (provider) changes: refused before the push.
    let request = prepare(&reg, MANIFEST, "1.0.0");
    for opts in [&v1_opts, &v2_opts] {
        publish_checked(opts, &request).0.unwrap();
    }
    let moved = prepare(
        &reg,
        &MANIFEST.replace("provider: aws", "provider: azure"),
        "1.0.0",
    );
    for opts in [&v1_opts, &v2_opts] {
        let e = preflight(opts, &moved).unwrap_err();
        assert_eq!(
            e.to_string(),
            "plugin `plugin-demo-inven-collector` is registered with values that cannot be \
             updated: provider `aws` (the request has `azure`)"
        );
        assert!(e.hint().unwrap().contains("`replace: true`"));
    }
}

/// `replace: true` deregisters and registers again when a fixed field changed; a disabled
/// plugin stays disabled.
#[test]
fn replace_re_registers_a_plugin_whose_fixed_fields_changed() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let mut opts = options(&v2, Some(&jwt_v2("domain-v2", "DOMAIN_ADMIN")), None);
    publish_checked(&opts, &prepare(&reg, MANIFEST, "1.0.0"))
        .0
        .unwrap();
    manage(&opts, PluginVerb::Disable, "plugin-demo-inven-collector").unwrap();

    let moved = prepare(
        &reg,
        &MANIFEST.replace("provider: aws", "provider: azure"),
        "1.0.0",
    );
    let e = publish_checked(&opts, &moved).0.unwrap_err();
    assert!(matches!(e, SpaceOneError::ImmutableFields { .. }), "{e}");

    opts.policy.replace = true;
    let (result, lines) = publish_checked(&opts, &moved);
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}"));
    assert_eq!(r.action, Action::Replaced);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("replacing plugin plugin-demo-inven-collector: provider `aws`")),
        "{lines:?}"
    );
    let got = manage(&opts, PluginVerb::Get, "plugin-demo-inven-collector").unwrap();
    assert_eq!(
        (got["provider"].as_str(), got["state"].as_str()),
        (Some("azure"), Some("DISABLED"))
    );
    assert_eq!(v2.requests_for("deregister").len(), 1);
    assert_eq!(v2.requests_for("register").len(), 2);
}

/// 1.x with `create-local-repository`: the missing local repository is created, then used.
#[test]
fn v1_creates_the_local_repository_when_allowed() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let server = SpaceOne::start(
        crate::support::Generation::V1,
        &reg,
        &["--no-local-repository"],
        &[],
    );
    let mut opts = options(&server, None, Some("domain-test"));
    opts.policy.create_local_repository = true;
    let (result, lines) = publish_checked(&opts, &prepare(&reg, MANIFEST, "1.0.0"));
    let r = result.unwrap_or_else(|e| panic!("{e}\n{lines:?}\n{}", server.log()));
    assert_eq!(r.action, Action::Registered);
    let created = server.requests_for("register");
    assert_eq!(created[0]["service"], "Repository");
    assert_eq!(
        created[0]["params"],
        json!({"name": "local", "repository_type": "local", "domain_id": "domain-test"})
    );
    assert!(r.repository_id.starts_with("repo-"), "{}", r.repository_id);
}

/// The pushed tag must be listed by the server; if not, an error that explains why.
#[test]
fn a_version_the_server_does_not_list_is_an_error() {
    let reg = Registry::plain();
    push_busybox(&reg, &format!("{IMAGE}:1.0.0"));
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let opts = options(&v2, Some(&jwt_v2("domain-v2", "DOMAIN_ADMIN")), None);
    // 1.0.1 was never pushed: registration works (the image has tags), the check does not.
    let e = publish_checked(&opts, &prepare(&reg, MANIFEST, "1.0.1"))
        .0
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "SpaceONE does not list version 1.0.1 of plugin plugin-demo-inven-collector (after 3 \
         get_versions calls it lists: 1.0.0)"
    );
    assert!(e.hint().unwrap().contains("tags/list"), "{:?}", e.hint());
    assert_eq!(v2.requests_for("get_versions").len(), 3);
    assert_eq!(spaceone_publish::Error::from(e).exit_code(), 5);
}

/// Server down: connecting is retried, then the run fails with exit 5; a server that goes
/// away mid-session makes each call retry UNAVAILABLE, then fail naming the attempts.
#[test]
fn server_down_retries_then_exits_5() {
    let closed = crate::support::process::free_port();
    let opts = SpaceOneOptions {
        endpoint: format!("grpc://127.0.0.1:{closed}"),
        ..options_for(None)
    };
    let e = block_on(session(&opts)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("connecting to SpaceONE at grpc://127.0.0.1:{closed} failed (after 3 attempts)")
    );
    assert_eq!(spaceone_publish::Error::from(e).exit_code(), 5);

    let reg = Registry::plain();
    let v2 = SpaceOne::v2_any(&reg, &[]);
    let opts = options(&v2, Some(&jwt_v2("domain-v2", "DOMAIN_ADMIN")), None);
    let reporter = RecordingReporter::default();
    let e = block_on(async {
        let s = session(&opts).await.unwrap();
        drop(v2);
        s.manage(PluginVerb::Get, "plugin-x", &reporter).await
    })
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("Repository.list failed: UNAVAILABLE")
            && text.ends_with("(after 3 attempts)"),
        "{text}"
    );
    assert_eq!(spaceone_publish::Error::from(e).exit_code(), 5);
}

fn options_for(domain_id: Option<&str>) -> SpaceOneOptions {
    SpaceOneOptions {
        endpoint: String::new(),
        token: None,
        domain_id: domain_id.map(str::to_string),
        ca_cert: None,
        generation: Generation::Auto,
        workspace_id: None,
        policy: Default::default(),
    }
}
