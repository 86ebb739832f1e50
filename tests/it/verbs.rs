//! The plugin verbs through the binary: `get`, `disable`, `enable`, `deregister`, each
//! exiting with the right code and printing the server's answer.

use crate::support::context::Context;
use crate::support::registry::Registry;
use crate::support::spaceone::SpaceOne;

const PLUGIN_YAML: &str =
    "name: verbs-inven-collector\nservice_type: inventory.Collector\nprovider: aws\n";

#[test]
fn issue_5_verbs_round_trip_through_the_binary() {
    let reg = Registry::plain();
    let server = SpaceOne::v1(&reg);
    let ctx = Context::new()
        .file("Dockerfile", "FROM scratch\nCOPY VERSION /\n")
        .file("VERSION", "1.0.0")
        .file("plugin.yaml", PLUGIN_YAML);
    let image = format!("{}/cloudforet/plugin-verbs-inven-collector", reg.host());
    let with_server = |verb: &str| {
        ctx.publish()
            .arg(verb)
            .input("image", &image)
            .input("spaceone-endpoint", server.endpoint())
            .input("spaceone-domain-id", "domain-test")
    };
    with_server("publish")
        .input("version", "1.0.0")
        .run()
        .assert_success();

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
