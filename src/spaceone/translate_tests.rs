//! Wire checks: every field lands on the number the published `spaceone-api` descriptors
//! give it (1.12.54 for 1.x, 2.0.435 for 2.x). The expected numbers are written here from
//! those descriptors, not from `proto/`, and the encoded bytes are read back with prost's
//! raw wire functions, so a wrong number in a `.proto` file fails here.

use std::collections::BTreeMap;
use std::path::Path;

use prost::encoding::{decode_key, decode_varint, WireType};
use prost::Message;
use serde_json::json;

use super::*;
use crate::spaceone::manifest::PluginManifest;
use crate::spaceone::request::{prepare, RequestOverrides};

#[derive(Debug, PartialEq)]
enum Raw {
    Varint(u64),
    Bytes(Vec<u8>),
}

/// Field number → value, for a message whose fields each occur once.
fn read_wire(mut buf: &[u8]) -> BTreeMap<u32, Raw> {
    let mut out = BTreeMap::new();
    while !buf.is_empty() {
        let (number, wire_type) = decode_key(&mut buf).unwrap();
        let value = match wire_type {
            WireType::Varint => Raw::Varint(decode_varint(&mut buf).unwrap()),
            WireType::LengthDelimited => {
                let len = decode_varint(&mut buf).unwrap() as usize;
                let (bytes, rest) = buf.split_at(len);
                buf = rest;
                Raw::Bytes(bytes.to_vec())
            }
            other => panic!("unexpected wire type {other:?}"),
        };
        assert!(
            out.insert(number, value).is_none(),
            "field {number} occurs twice"
        );
    }
    out
}

enum Want {
    Str(&'static str),
    Enum(u64),
    Struct(serde_json::Value),
    List(&'static [&'static str]),
}

fn check(bytes: &[u8], want: &[(u32, &str, Want)]) {
    let got = read_wire(bytes);
    let numbers: Vec<u32> = got.keys().copied().collect();
    let expected: Vec<u32> = want.iter().map(|(n, _, _)| *n).collect();
    assert_eq!(numbers, expected, "field numbers on the wire");
    for (number, name, w) in want {
        let raw = &got[number];
        match (w, raw) {
            (Want::Str(s), Raw::Bytes(b)) => {
                assert_eq!(std::str::from_utf8(b).unwrap(), *s, "{name} ({number})")
            }
            (Want::Enum(v), Raw::Varint(x)) => assert_eq!(x, v, "{name} ({number})"),
            (Want::Struct(j), Raw::Bytes(b)) => {
                let s = prost_types::Struct::decode(b.as_slice()).unwrap();
                assert_eq!(s, to_struct(j.as_object().unwrap()), "{name} ({number})");
            }
            (Want::List(items), Raw::Bytes(b)) => {
                let l = prost_types::ListValue::decode(b.as_slice()).unwrap();
                let items: Vec<String> = items.iter().map(|s| s.to_string()).collect();
                assert_eq!(l, to_list(&items), "{name} ({number})");
            }
            (_, raw) => panic!("{name} ({number}) has the wrong wire type: {raw:?}"),
        }
    }
}

const FULL: &str = "\
name: Full Plugin
service_type: inventory.Collector
provider: aws
registry_type: HARBOR
registry_config: {url: r}
capability: {c: 1}
template: {t: 2}
labels: [a, b]
tags: {g: 3}
docs: {d: 4}
plugin_id: plugin-full-id
project_id: project-1
";

fn full() -> PluginRequest {
    let m = PluginManifest::parse(FULL, Path::new("full.yml")).unwrap();
    let target = "127.0.0.1:5000/acme/plugin-full-inven-collector:1.0.0"
        .parse()
        .unwrap();
    prepare(Some(&m), &target, "1.0.0", &RequestOverrides::default()).unwrap()
}

#[test]
fn v1_register_fields_land_on_their_numbers() {
    let msg = v1_register(&full(), Some("domain-1")).unwrap();
    check(
        &msg.encode_to_vec(),
        &[
            (1, "name", Want::Str("Full Plugin")),
            (2, "service_type", Want::Str("inventory.Collector")),
            (3, "image", Want::Str("acme/plugin-full-inven-collector")),
            (4, "provider", Want::Str("aws")),
            (5, "registry_type", Want::Enum(3)),
            (6, "registry_config", Want::Struct(json!({"url": "r"}))),
            (11, "capability", Want::Struct(json!({"c": 1}))),
            (12, "template", Want::Struct(json!({"t": 2}))),
            (13, "labels", Want::List(&["a", "b"])),
            (14, "tags", Want::Struct(json!({"g": 3}))),
            (21, "project_id", Want::Str("project-1")),
            (22, "domain_id", Want::Str("domain-1")),
        ],
    );
}

#[test]
fn v2_register_fields_land_on_their_numbers() {
    let msg = v2_register(&full()).unwrap();
    check(
        &msg.encode_to_vec(),
        &[
            (1, "name", Want::Str("Full Plugin")),
            (2, "resource_type", Want::Str("inventory.Collector")),
            (3, "image", Want::Str("acme/plugin-full-inven-collector")),
            (4, "provider", Want::Str("aws")),
            (5, "registry_type", Want::Enum(3)),
            (6, "registry_config", Want::Struct(json!({"url": "r"}))),
            (7, "capability", Want::Struct(json!({"c": 1}))),
            (8, "labels", Want::List(&["a", "b"])),
            (9, "tags", Want::Struct(json!({"g": 3}))),
            (10, "plugin_id", Want::Str("plugin-full-id")),
            (11, "docs", Want::Struct(json!({"d": 4}))),
        ],
    );
}

#[test]
fn updates_land_on_their_numbers() {
    let req = full();
    let v1 = Changes::all(&req, Generation::V1).v1("plugin-full-inven-collector", Some("domain-1"));
    check(
        &v1.encode_to_vec(),
        &[
            (1, "plugin_id", Want::Str("plugin-full-inven-collector")),
            (2, "name", Want::Str("Full Plugin")),
            (11, "capability", Want::Struct(json!({"c": 1}))),
            (12, "template", Want::Struct(json!({"t": 2}))),
            (13, "labels", Want::List(&["a", "b"])),
            (14, "tags", Want::Struct(json!({"g": 3}))),
            (21, "domain_id", Want::Str("domain-1")),
        ],
    );
    let v2 = Changes::all(&req, Generation::V2).v2("plugin-full-id");
    check(
        &v2.encode_to_vec(),
        &[
            (1, "plugin_id", Want::Str("plugin-full-id")),
            (2, "name", Want::Str("Full Plugin")),
            (3, "capability", Want::Struct(json!({"c": 1}))),
            (4, "labels", Want::List(&["a", "b"])),
            (5, "tags", Want::Struct(json!({"g": 3}))),
            (6, "docs", Want::Struct(json!({"d": 4}))),
        ],
    );
}

#[test]
fn lookups_land_on_their_numbers() {
    let get = v1::GetRepositoryPluginRequest {
        plugin_id: "p".into(),
        domain_id: "d".into(),
        repository_id: "r".into(),
        only: vec![],
    };
    check(
        &get.encode_to_vec(),
        &[
            (1, "plugin_id", Want::Str("p")),
            (2, "domain_id", Want::Str("d")),
            (3, "repository_id", Want::Str("r")),
        ],
    );
    let versions = v1::RepositoryPluginRequest {
        plugin_id: "p".into(),
        domain_id: "d".into(),
        repository_id: "r".into(),
    };
    check(
        &versions.encode_to_vec(),
        &[
            (1, "plugin_id", Want::Str("p")),
            (2, "domain_id", Want::Str("d")),
            (3, "repository_id", Want::Str("r")),
        ],
    );
    let v2get = v2::RepositoryPluginRequest {
        plugin_id: "p".into(),
        repository_id: "r".into(),
    };
    check(
        &v2get.encode_to_vec(),
        &[
            (1, "plugin_id", Want::Str("p")),
            (21, "repository_id", Want::Str("r")),
        ],
    );
    let repos = v1::RepositoryQuery {
        repository_type: "local".into(),
        domain_id: "d".into(),
        ..Default::default()
    };
    check(
        &repos.encode_to_vec(),
        &[
            (4, "repository_type", Want::Str("local")),
            (5, "domain_id", Want::Str("d")),
        ],
    );
    let repos = v2::RepositoryQuery {
        repository_type: "LOCAL".into(),
        ..Default::default()
    };
    check(
        &repos.encode_to_vec(),
        &[(2, "repository_type", Want::Str("LOCAL"))],
    );
}

#[test]
fn responses_decode_with_each_generations_numbers() {
    // A 2.x PluginInfo: 3 is `state` and 5 is `image` there (in 1.x, 3 is `image`).
    let info = v2::PluginInfo {
        plugin_id: "p".into(),
        state: v2::plugin_info::State::Enabled as i32,
        image: "acme/p".into(),
        registry_url: "127.0.0.1:5000".into(),
        ..Default::default()
    };
    let wire = read_wire(&info.encode_to_vec());
    assert_eq!(wire[&3], Raw::Varint(1));
    assert_eq!(wire[&5], Raw::Bytes(b"acme/p".to_vec()));
    assert_eq!(wire[&8], Raw::Bytes(b"127.0.0.1:5000".to_vec()));
    let info = v1::PluginInfo {
        image: "acme/p".into(),
        registry_url: "u".into(),
        ..Default::default()
    };
    let wire = read_wire(&info.encode_to_vec());
    assert_eq!(
        (&wire[&3], &wire[&4]),
        (&Raw::Bytes(b"acme/p".to_vec()), &Raw::Bytes(b"u".to_vec()))
    );
}

#[test]
fn registry_types_map_per_generation() {
    let mut req = full();
    for (t, one, two) in [
        (RegistryType::DockerHub, Some(1), Some(1)),
        (RegistryType::Harbor, Some(3), Some(3)),
        (RegistryType::AwsPublicEcr, Some(2), None),
        (RegistryType::AwsPrivateEcr, None, Some(2)),
        (RegistryType::Github, None, Some(4)),
        (RegistryType::GcpPrivateGcr, None, Some(5)),
    ] {
        req.registry_type = t;
        assert_eq!(
            v1_register(&req, None).ok().map(|m| m.registry_type),
            one,
            "{t} on 1.x"
        );
        assert_eq!(
            v2_register(&req).ok().map(|m| m.registry_type),
            two,
            "{t} on 2.x"
        );
    }
    req.registry_type = RegistryType::Github;
    let e = v1_register(&req, None).unwrap_err().to_string();
    assert_eq!(
        e,
        "registry type GITHUB cannot be sent to a SpaceONE 1.x server"
    );
}

#[test]
fn dry_run_json_is_the_request_as_sent() {
    let req = full();
    assert_eq!(
        req.to_json_with_domain(Generation::V1, Some("domain-1")),
        json!({
            "name": "Full Plugin", "service_type": "inventory.Collector",
            "image": "acme/plugin-full-inven-collector", "provider": "aws",
            "registry_type": "HARBOR", "registry_config": {"url": "r"},
            "capability": {"c": 1}, "template": {"t": 2}, "labels": ["a", "b"],
            "tags": {"g": 3}, "project_id": "project-1", "domain_id": "domain-1"
        })
    );
    assert_eq!(
        req.to_json(Generation::V2),
        json!({
            "name": "Full Plugin", "resource_type": "inventory.Collector",
            "image": "acme/plugin-full-inven-collector", "provider": "aws",
            "registry_type": "HARBOR", "registry_config": {"url": "r"},
            "capability": {"c": 1}, "labels": ["a", "b"], "tags": {"g": 3},
            "plugin_id": "plugin-full-id", "docs": {"d": 4}
        })
    );
    let both = req.to_json(Generation::Auto);
    assert_eq!(
        both.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["1.x", "2.x"]
    );
    let github = PluginRequest {
        registry_type: RegistryType::Github,
        ..req
    };
    assert_eq!(github.to_json(Generation::V1)["registry_type"], "GITHUB");
    assert_eq!(github.to_json(Generation::V2)["registry_type"], "GITHUB");
}

#[test]
fn dropped_fields_are_named_per_generation() {
    let req = full();
    let v1 = dropped_fields(&req, Generation::V1);
    assert_eq!(v1.len(), 2, "{v1:?}");
    assert!(v1[0].starts_with("`plugin_id` is not sent to a SpaceONE 1.x server: 1.x always uses the last image segment, `plugin-full-inven-collector`"));
    assert!(v1[1].starts_with("`docs` is not sent to a SpaceONE 1.x server"));
    let v2 = dropped_fields(&req, Generation::V2);
    assert_eq!(
        v2,
        [
            "`template` is not sent to a SpaceONE 2.x server: 2.x has no such field",
            "`project_id` is not sent to a SpaceONE 2.x server: 2.x has no such field"
        ]
    );
}

#[test]
fn changes_are_only_what_differs_among_updatable_fields() {
    let req = full();
    let mut current = Current {
        name: "Full Plugin".into(),
        image: req.image.clone(),
        resource_type: "inventory.Collector".into(),
        provider: "aws".into(),
        registry_type: "HARBOR".into(),
        capability: to_struct(json!({"c": 1.0}).as_object().unwrap()),
        template: to_struct(json!({"t": 2}).as_object().unwrap()),
        labels: to_list(&["a".into(), "b".into()]),
        tags: to_struct(json!({"g": 3}).as_object().unwrap()),
        docs: to_struct(json!({"d": 4}).as_object().unwrap()),
        ..Default::default()
    };
    assert!(Changes::between(&req, &current, Generation::V1).is_empty());
    assert!(immutable_differences(&req, &current).is_empty());

    current.name = "Old".into();
    current.tags = prost_types::Struct::default();
    current.docs = prost_types::Struct::default();
    current.provider = "azure".into();
    assert_eq!(
        Changes::between(&req, &current, Generation::V1).fields(),
        ["name", "tags"]
    );
    assert_eq!(
        Changes::between(&req, &current, Generation::V2).fields(),
        ["name", "tags", "docs"]
    );
    let notes = immutable_differences(&req, &current);
    assert_eq!(notes.len(), 1);
    assert!(
        notes[0] == "provider `azure` (the request has `aws`)",
        "{notes:?}"
    );
}

#[test]
fn padded_strings_compare_as_a_2x_server_stores_them() {
    let manifest = "name: Padded\nservice_type: inventory.Collector\n\
                    tags: {' description ': '  spaced  ', nested: {x: ' y '}, list: [' z ']}\n";
    let m = PluginManifest::parse(manifest, Path::new("plugin.yml")).unwrap();
    let target = "127.0.0.1:5000/acme/plugin-padded-inven-collector:1.0.0"
        .parse()
        .unwrap();
    let req = prepare(Some(&m), &target, "1.0.0", &RequestOverrides::default()).unwrap();
    // What the real 2.x server returned after registering that manifest.
    let stored = json!({"description": "spaced", "nested": {"x": "y"}, "list": [" z "]});
    let current = Current {
        name: "Padded".into(),
        tags: to_struct(stored.as_object().unwrap()),
        ..Default::default()
    };
    assert!(Changes::between(&req, &current, Generation::V2).is_empty());
    // A 1.x server stores what it was sent: there the padding is a difference.
    assert_eq!(
        Changes::between(&req, &current, Generation::V1).fields(),
        ["tags"]
    );
}
