//! The plugin verbs through the binary, on both server generations: `publish`, `list`,
//! `versions`, `get`, `disable`, `enable`, `deregister`, each exiting with the right code
//! and printing the server's answer.

use crate::support::context::Context;
use crate::support::registry::Registry;
use crate::support::spaceone::{jwt_v2, Generation, SpaceOne};

const PLUGIN_YAML: &str =
    "name: verbs-inven-collector\nservice_type: inventory.Collector\nprovider: aws\n";

#[test]
fn every_verb_round_trips_through_the_binary_on_both_generations() {
    let reg = Registry::plain();
    for server in [SpaceOne::v1(&reg), SpaceOne::v2_any(&reg, &[])] {
        round_trip(&reg, &server);
    }
}

fn round_trip(reg: &Registry, server: &SpaceOne) {
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0")
        .file("plugin.yaml", PLUGIN_YAML);
    let image = format!("{}/cloudforet/plugin-verbs-inven-collector", reg.host());
    let with_server = |verb: &str| {
        let run = ctx
            .publish()
            .arg(verb)
            .input("image", &image)
            .input("spaceone-endpoint", server.endpoint());
        match server.generation() {
            Generation::V1 => run.input("spaceone-domain-id", "domain-test"),
            _ => run.input("spaceone-token", jwt_v2("domain-test", "DOMAIN_ADMIN")),
        }
    };
    for version in ["1.0.0", "1.1.0"] {
        with_server("publish")
            .input("version", version)
            .run()
            .assert_success();
    }
    let listed = with_server("list").run();
    listed.assert_success();
    assert!(
        listed.stdout.contains("plugin-verbs-inven-collector")
            && listed.stdout.ends_with(" Count: 1 / 1\n"),
        "{}",
        listed.report()
    );
    let versions = with_server("versions").run();
    versions.assert_success();
    assert_eq!(
        versions.stdout.lines().next(),
        Some("1.1.0  (latest: what upgrade_mode AUTO takes)"),
        "{}",
        versions.report()
    );

    let state = |verb: &str| -> serde_json::Value {
        let run = with_server(verb).input("output-format", "json").run();
        run.assert_success();
        serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| panic!("{e}\n{}", run.report()))
    };
    assert_eq!(state("get")["plugin"]["state"], "ENABLED");
    assert_eq!(state("disable")["plugin"]["state"], "DISABLED");
    assert_eq!(state("get")["plugin"]["state"], "DISABLED");
    assert_eq!(state("enable")["plugin"]["state"], "ENABLED");
    let gone = state("deregister");
    assert_eq!(gone["plugin_id"], "plugin-verbs-inven-collector");

    // Gone: the server's own error code, exit 5.
    let run = with_server("get").run();
    run.assert_exit(5);
    assert!(run.stderr.contains("ERROR_NO_PLUGIN"), "{}", run.report());

    // Which plugin is a question answered before dialling anything.
    let run = ctx
        .publish()
        .arg("get")
        .input("spaceone-endpoint", server.endpoint())
        .run();
    run.assert_exit(2);
    assert!(run.stderr.contains("plugin-id"), "{}", run.report());
}
