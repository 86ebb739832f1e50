//! The binary as a new user runs it against the real SpaceONE services (1.x 1.12.5, and
//! 2.x 2.0.dev59 where its source is here): what the stand-in could not show. A HARBOR
//! repository holding `latest`, padded strings the server trims, a dev-build version, a
//! USER-role token, a managed plugin sharing the id, the `list` and `versions` verbs, and
//! a Docker Hub-typed plugin read through the harness's Docker Hub shim.

use serde_json::Value;

use crate::support::context::Context;
use crate::support::publish::{Publish, Run};
use crate::support::push_busybox;
use crate::support::registry::Registry;
use crate::support::spaceone::{jwt_v2, Generation, SpaceOne};

/// A plugin without RUN (the image is not what these tests are about).
fn plugin(manifest: &str) -> Context {
    Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0")
        .file("plugin.yaml", manifest)
}

const MANIFEST: &str = "name: Real Collector\nservice_type: inventory.Collector\nprovider: aws\n";

/// The binary pointed at `server` for `image` (a repository in `reg`), with the token a
/// domain admin of that generation has.
fn publish_to(ctx: &Context, reg: &Registry, server: &SpaceOne, image: &str) -> Publish {
    let run = ctx
        .publish()
        .input("image", format!("{}/{image}", reg.host()))
        .input("spaceone-endpoint", server.endpoint());
    match server.generation() {
        Generation::V1 => run.input("spaceone-domain-id", "domain-real"),
        _ => run.input("spaceone-token", jwt_v2("domain-real", "DOMAIN_ADMIN")),
    }
}

fn json_of(run: &Run) -> Value {
    run.assert_success();
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.report()))
}

/// The real 1.x service, then the real 2.x one where it can run here.
fn real_servers(reg: &Registry) -> Vec<SpaceOne> {
    let mut servers = vec![SpaceOne::v1(reg)];
    servers.extend(SpaceOne::v2_real(reg));
    servers
}

#[test]
fn a_repository_already_holding_latest_stops_the_publish_before_the_push() {
    let reg = Registry::plain();
    for (i, server) in real_servers(&reg).iter().enumerate() {
        let image = format!("acme/plugin-held{i}-inven-collector");
        push_busybox(&reg, &format!("{image}:latest"));
        let run = publish_to(&plugin(MANIFEST), &reg, server, &image)
            .input("version", "1.0.0")
            .run();
        run.assert_exit(2);
        assert!(
            run.stderr.contains("already holds tag `latest`")
                && run.stderr.contains("skopeo delete"),
            "{}",
            run.report()
        );
        assert_eq!(reg.tags(&image), ["latest"], "nothing was pushed");
        assert!(server.requests_for("register").is_empty());
    }
}

#[test]
fn a_padded_manifest_published_again_sends_no_update() {
    let reg = Registry::plain();
    let Some(server) = SpaceOne::v2_real(&reg) else {
        return;
    };
    let manifest = "name: Padded Collector\nresource_type: inventory.Collector\n\
                    tags: {description: '  spaced  ', nested: {x: ' y '}}\n\
                    capability: {' supported_schema ': [' aws ']}\n";
    let ctx = plugin(manifest);
    let image = "acme/plugin-padded-inven-collector";
    for version in ["1.0.0", "1.1.0"] {
        let run = publish_to(&ctx, &reg, &server, image)
            .input("version", version)
            .run();
        run.assert_success();
        if version == "1.1.0" {
            assert!(
                run.stderr.contains("already registered with this metadata"),
                "{}",
                run.report()
            );
        }
    }
    assert!(server.requests_for("update").is_empty());
}

#[test]
fn a_dev_build_version_on_2x_gets_no_1x_warning() {
    let reg = Registry::plain();
    let Some(server) = SpaceOne::v2_real(&reg) else {
        return;
    };
    let run = publish_to(
        &plugin(MANIFEST),
        &reg,
        &server,
        "acme/plugin-dev-inven-collector",
    )
    .input("version", "1.2.3.20231114.221320")
    .run();
    run.assert_success();
    assert!(!run.stderr.contains("1.x"), "{}", run.report());
}

#[test]
fn a_user_token_gets_and_lists_the_local_plugin_and_versions_names_the_role() {
    let reg = Registry::plain();
    let Some(server) = SpaceOne::v2_real(&reg) else {
        return;
    };
    // A managed plugin of the real server has this id; ours is registered locally.
    let image = "acme/plugin-slack-noti-protocol";
    let manifest = "name: Our Slack\nresource_type: notification.Protocol\n";
    publish_to(&plugin(manifest), &reg, &server, image)
        .input("version", "1.0.0")
        .run()
        .assert_success();

    let as_user = |verb: &str| {
        plugin(manifest)
            .publish()
            .arg(verb)
            .input("image", format!("{}/{image}", reg.host()))
            .input("spaceone-endpoint", server.endpoint())
            .input("spaceone-token", jwt_v2("domain-real", "USER"))
            .input("output-format", "json")
            .run()
    };
    let got = json_of(&as_user("get"));
    assert_eq!(
        got["plugin"]["image"], image,
        "the local plugin, not the managed one"
    );
    assert_eq!(got["plugin"]["repository_info"]["repository_type"], "LOCAL");

    let listed = json_of(&as_user("list"));
    assert_eq!(listed["total_count"], 1, "{listed:#}");
    assert_eq!(
        listed["results"][0]["plugin_id"],
        "plugin-slack-noti-protocol"
    );

    let run = as_user("versions");
    run.assert_exit(5);
    assert!(
        run.stderr.contains("Plugin.get_versions on 2.x needs a DOMAIN_ADMIN, WORKSPACE_OWNER or WORKSPACE_MEMBER token"),
        "{}",
        run.report()
    );
}

#[test]
fn list_shows_what_spacectl_list_shows_on_both_generations() {
    let reg = Registry::plain();
    for server in real_servers(&reg) {
        for (image, manifest) in [
            ("acme/plugin-aws-inven-collector", MANIFEST),
            (
                "acme/plugin-azure-inven-collector",
                "name: Azure Collector\nservice_type: inventory.Collector\nprovider: azure\n",
            ),
            (
                "acme/plugin-email-noti-protocol",
                "name: Email\nservice_type: notification.Protocol\n",
            ),
        ] {
            publish_to(&plugin(manifest), &reg, &server, image)
                .input("version", "1.0.0")
                .run()
                .assert_success();
        }
        let ctx = plugin(MANIFEST);
        let list = |filters: &[(&str, &str)]| {
            let mut run = publish_to(&ctx, &reg, &server, "acme/x").arg("list");
            for (name, value) in filters {
                run = run.input(name, value);
            }
            run.run()
        };
        let all = list(&[]);
        all.assert_success();
        let lines: Vec<&str> = all.stdout.lines().collect();
        assert!(
            lines[0].starts_with(" plugin_id ") && lines[0].contains("| registry_type"),
            "{}",
            all.report()
        );
        assert!(lines.contains(&" Count: 3 / 3"), "{}", all.report());
        assert!(
            all.stdout.contains("acme/plugin-email-noti-protocol"),
            "{}",
            all.report()
        );

        let collectors = list(&[("resource-type", "inventory.Collector")]);
        assert!(
            collectors.stdout.contains(" Count: 2 / 2"),
            "{}",
            collectors.report()
        );
        let aws = list(&[
            ("resource-type", "inventory.Collector"),
            ("provider", "aws"),
        ]);
        assert!(aws.stdout.contains(" Count: 1 / 1"), "{}", aws.report());
        assert!(
            aws.stdout.contains("plugin-aws-inven-collector"),
            "{}",
            aws.report()
        );

        let everything = json_of(&list(&[
            ("repository-id", "all"),
            ("output-format", "json"),
        ]));
        let managed = match server.generation() {
            Generation::V1 => 0,
            _ => 35,
        };
        assert_eq!(everything["total_count"], 3 + managed, "{everything:#}");
    }
}

#[test]
fn versions_come_in_the_servers_order_with_the_auto_latest_marked() {
    let reg = Registry::plain();
    let Some(server) = SpaceOne::v2_real(&reg) else {
        return;
    };
    let image = "acme/plugin-order-inven-collector";
    for version in ["1.9.0", "1.10.0", "1.2.0rc1"] {
        publish_to(&plugin(MANIFEST), &reg, &server, image)
            .input("version", version)
            .run()
            .assert_success();
    }
    let run = publish_to(&plugin(MANIFEST), &reg, &server, image)
        .arg("versions")
        .run();
    run.assert_success();
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        [
            "1.10.0  (latest: what upgrade_mode AUTO takes)",
            "1.9.0",
            "1.2.0rc1"
        ],
        "{}",
        run.report()
    );
}

#[test]
fn a_docker_hub_plugin_registers_through_the_servers_docker_hub_api() {
    let reg = Registry::plain();
    let Some(server) = SpaceOne::v2_real(&reg) else {
        return;
    };
    let image = "acme/plugin-hub-inven-collector";
    let run = publish_to(&plugin(MANIFEST), &reg, &server, image)
        .input("version", "1.0.0")
        .input("registry-type", "DOCKER_HUB")
        .input("output-format", "json")
        .run();
    let result = json_of(&run);
    assert_eq!(result["registration"]["version_listed"], true, "{result:#}");
    assert!(run
        .stderr
        .contains("Docker Hub: SpaceONE sees only the first page"));
    let registered = &server.requests_for("register")[0]["params"];
    assert_eq!(registered["registry_type"], "DOCKER_HUB");
}
