//! Derivation and pre-flight tables for `prepare`: what a pushed image and a manifest
//! turn into, and what is refused before anything is pushed.

use super::*;
use std::path::Path;

fn target(s: &str) -> Reference {
    s.parse().unwrap()
}

fn manifest(yaml: &str) -> PluginManifest {
    PluginManifest::parse(yaml, Path::new("plugin.yml")).unwrap()
}

fn prep(yaml: Option<&str>, image: &str) -> Result<PluginRequest, SpaceOneError> {
    let m = yaml.map(manifest);
    prepare(
        m.as_ref(),
        &target(image),
        "1.2.3",
        &RequestOverrides::default(),
    )
}

#[test]
fn derives_everything_from_the_image_alone() {
    // (pushed image, image, plugin_id, resource type, registry type)
    let cases = [
        (
            "cloudforet/plugin-aws-cloud-service-inven-collector:1.2.3",
            "cloudforet/plugin-aws-cloud-service-inven-collector",
            "plugin-aws-cloud-service-inven-collector",
            "inventory.Collector",
            RegistryType::DockerHub,
        ),
        (
            "docker.io/pyengine/plugin-slack-noti-protocol:1.2.3",
            "pyengine/plugin-slack-noti-protocol",
            "plugin-slack-noti-protocol",
            "notification.Protocol",
            RegistryType::DockerHub,
        ),
        (
            "127.0.0.1:5000/cloudforet/plugin-prometheus-mon-webhook:1.2.3",
            "cloudforet/plugin-prometheus-mon-webhook",
            "plugin-prometheus-mon-webhook",
            "monitoring.Webhook",
            RegistryType::Harbor,
        ),
        (
            "ghcr.io/acme/plugin-x-cost-datasource:1.2.3",
            "acme/plugin-x-cost-datasource",
            "plugin-x-cost-datasource",
            "cost_analysis.DataSource",
            RegistryType::Github,
        ),
        (
            "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/plugin-x-inven-collector:1.0",
            "plugin-x-inven-collector",
            "plugin-x-inven-collector",
            "inventory.Collector",
            RegistryType::AwsPrivateEcr,
        ),
        (
            "asia-docker.pkg.dev/proj/repo/plugin-x-noti-protocol:1.0",
            "proj/repo/plugin-x-noti-protocol",
            "plugin-x-noti-protocol",
            "notification.Protocol",
            RegistryType::GcpPrivateGcr,
        ),
        (
            "gcr.io/proj/plugin-x-mon-webhook:1.0",
            "proj/plugin-x-mon-webhook",
            "plugin-x-mon-webhook",
            "monitoring.Webhook",
            RegistryType::GcpPrivateGcr,
        ),
        (
            "harbor.example.com/p/plugin-aws-cloudtrail-mon-datasource",
            "p/plugin-aws-cloudtrail-mon-datasource",
            "plugin-aws-cloudtrail-mon-datasource",
            "monitoring.DataSource",
            RegistryType::Harbor,
        ),
        (
            "registry.example.com/plugin-keycloak-identity-auth",
            "plugin-keycloak-identity-auth",
            "plugin-keycloak-identity-auth",
            "identity.Domain",
            RegistryType::Harbor,
        ),
        (
            "index.docker.io/a/plugin-aws-account-collector",
            "a/plugin-aws-account-collector",
            "plugin-aws-account-collector",
            "identity.Provider",
            RegistryType::DockerHub,
        ),
    ];
    for (pushed, image, id, rt, reg) in cases {
        let r = prep(None, pushed).unwrap();
        assert_eq!(
            (
                r.image.as_str(),
                r.plugin_id.as_str(),
                r.name.as_str(),
                r.resource_type.as_str(),
                r.registry_type
            ),
            (image, id, id, rt, reg),
            "for {pushed}"
        );
    }
}

#[test]
fn the_manifest_wins_over_derivation_and_overrides_win_over_the_manifest() {
    let yaml = "name: Slack\nservice_type: notification.Protocol\nregistry_type: HARBOR\nimage: cloudforet/my-notifier\n";
    let r = prep(Some(yaml), "cloudforet/my-notifier:1.2.3").unwrap();
    assert_eq!(
        (r.name.as_str(), r.resource_type.as_str(), r.registry_type),
        ("Slack", "notification.Protocol", RegistryType::Harbor)
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("plugin.yml:3") && n.contains("docker.io (DOCKER_HUB)")),
        "{:?}",
        r.notes
    );

    let m = manifest(yaml);
    let o = RequestOverrides {
        registry_type: Some("DOCKER_HUB".into()),
    };
    let r = prepare(Some(&m), &target("cloudforet/my-notifier"), "1.2.3", &o).unwrap();
    assert_eq!(r.registry_type, RegistryType::DockerHub);

    let r = prep(
        Some("plugin_id: plugin-aws-ta-inven-collector\nresource_type: inventory.Collector\n"),
        "cloudforet/plugin-aws-trusted-advisor-inven-collector",
    )
    .unwrap();
    assert_eq!(r.plugin_id, "plugin-aws-ta-inven-collector");
    assert_eq!(
        r.plugin_id_for(Generation::V1),
        "plugin-aws-trusted-advisor-inven-collector"
    );
    assert_eq!(
        r.plugin_id_for(Generation::V2),
        "plugin-aws-ta-inven-collector"
    );
}

#[test]
fn a_disagreeing_manifest_image_is_an_error_naming_both() {
    let e = prep(
        Some("name: x\nimage: pyengine/plugin-keycloak-oidc\n"),
        "127.0.0.1:5000/cloudforet/plugin-keycloak-identity-auth:1.0",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "plugin manifest plugin.yml:2: `image: pyengine/plugin-keycloak-oidc` disagrees with the pushed \
         image repository `cloudforet/plugin-keycloak-identity-auth` (from `127.0.0.1:5000/cloudforet/plugin-keycloak-identity-auth:1.0`)"
    );
    assert!(e
        .hint()
        .unwrap()
        .contains("`cloudforet/plugin-keycloak-identity-auth`"));
    // With a host, it still disagrees: `image` is a path inside the registry.
    assert!(prep(
        Some("image: docker.io/cloudforet/plugin-x-inven-collector\n"),
        "cloudforet/plugin-x-inven-collector"
    )
    .is_err());
}

#[test]
fn preflight_quotes_the_servers_image_rule() {
    let e = prep(None, "pyengine/plugin-slack-notification-protocol_settings").unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("image `pyengine/plugin-slack-notification-protocol_settings` cannot be registered: its last segment"), "{text}");
    assert!(
        text.contains("`_`") && text.contains("Image name format is [a-zA-Z0-9\\-]+"),
        "{text}"
    );
    assert_eq!(e.hint().unwrap(), "rename the image repository, e.g. to `pyengine/plugin-slack-notification-protocol-settings`");

    let e = prep(None, "acme/plugin.x-inven-collector")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`.`"), "{e}");

    let ok48 = format!("acme/{}-inven-collector", "a".repeat(48 - 16));
    assert_eq!(prep(None, &ok48).unwrap().plugin_id.len(), 48);
    let long = format!("acme/{}-inven-collector", "a".repeat(49 - 16));
    let e = prep(None, &long).unwrap_err().to_string();
    assert!(
        e.contains("is 49 characters") && e.contains("ERROR_INVALID_IMAGE_LENGTH"),
        "{e}"
    );
}

#[test]
fn required_fields_and_conflicts() {
    let e = prep(None, "acme/my-plugin").unwrap_err();
    assert!(
        e.to_string()
            .starts_with("the plugin's service_type/resource_type is missing"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("resource_type"));

    let e = prep(
        Some("service_type: a.B\nresource_type: c.D\n"),
        "acme/my-plugin",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "plugin manifest plugin.yml:2:1: `service_type: a.B` and `resource_type: c.D` disagree"
        ),
        "{e}"
    );

    let m = manifest("service_type: a.B\n");
    let e = prepare(
        Some(&m),
        &target("acme/my-plugin"),
        " ",
        &RequestOverrides::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("version is missing"), "{e}");

    let o = RequestOverrides {
        registry_type: Some("quay".into()),
    };
    let e = prepare(Some(&m), &target("acme/my-plugin"), "1", &o)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("registry type `quay` (input `registry-type`) is not one of"),
        "{e}"
    );
    let e = prep(
        Some("service_type: a.B\nregistry_type: QUAY\n"),
        "acme/my-plugin",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "registry type `QUAY` (`registry_type` in plugin.yml:2) is not one of DOCKER_HUB"
        ),
        "{e}"
    );
}

#[test]
fn notes_for_what_only_the_server_could_refuse() {
    let m = manifest("service_type: a.B\ndomain_id: domain-1\n");
    let r = prepare(
        Some(&m),
        &target("127.0.0.1:5000/acme/my-plugin"),
        "v1.0.0",
        &RequestOverrides::default(),
    )
    .unwrap();
    // Whether `v1.0.0` sorts depends on the generation: the pre-flight says, not a note.
    assert!(
        !r.notes.iter().any(|n| n.contains("v1.0.0")),
        "{:?}",
        r.notes
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.contains("`domain_id: domain-1` in plugin.yml:2 is not sent")),
        "{:?}",
        r.notes
    );
}

#[test]
fn plain_versions_and_names() {
    for v in ["1.0", "1.2.3", "10.20.30", "1.2.3a1", "1.2b2"] {
        assert!(is_plain_version(v), "{v}");
    }
    for v in [
        "latest",
        "v1.2.3",
        "1",
        "1.2.3.4",
        "1.2.3-rc.1",
        "1.2.3.20240105.193012",
        "1..2",
    ] {
        assert!(!is_plain_version(v), "{v}");
    }
    assert_eq!("2.x".parse(), Ok(Generation::V2));
    assert_eq!(
        RegistryType::parse("docker-hub", "input").unwrap(),
        RegistryType::DockerHub
    );
}
