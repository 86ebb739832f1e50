//! The generated SpaceONE and gRPC-reflection client code, and the bridge between
//! `serde_json` values and `google.protobuf.{Struct, ListValue, Value}`.
//!
//! Both server generations serve the package `spaceone.api.repository.v1`, so the gRPC
//! paths are the same (`/spaceone.api.repository.v1.Plugin/register`) while the messages
//! are numbered differently (1.x `CreatePluginRequest` vs 2.x `RegisterPluginRequest`,
//! `capability` on 11 vs 7, …). `build.rs` compiles each tree of `proto/` in its own run
//! and the results live side by side here:
//!
//! - [`v1`]: 1.x (`spaceone-api` 1.12): `Plugin`, `Repository` (register, list).
//! - [`v2`]: 2.x (`spaceone-api` 2.0): `Plugin`, `Repository` (list only).
//! - [`reflection`]: `grpc.reflection.v1alpha`, used to tell the two apart.
//!
//! The module nesting mirrors the protobuf packages because the generated code refers to
//! other packages by relative paths (`super::super::core::v1::Query`).
//!
//! Struct-typed fields (`capability`, `tags`, `template`, `docs`, `registry_config`) are
//! kept as JSON objects everywhere else in the crate; [`to_struct`] and [`from_struct`]
//! convert at the wire. A `Struct` has only one number type (double), so integers come
//! back as floats: compare values after a round trip through [`to_struct`], not before.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use serde_json::{Map, Number, Value as Json};

/// SpaceONE 1.x (`spaceone-api` 1.12.x).
#[allow(clippy::all, rustdoc::all)]
pub mod v1 {
    pub mod spaceone {
        pub mod api {
            pub mod core {
                pub mod v1 {
                    include!(concat!(env!("OUT_DIR"), "/v1/spaceone.api.core.v1.rs"));
                }
            }
            pub mod repository {
                pub mod v1 {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/v1/spaceone.api.repository.v1.rs"
                    ));
                }
            }
        }
    }
    pub use spaceone::api::core::v1::Query;
    pub use spaceone::api::repository::v1::*;
}

/// SpaceONE 2.x (`spaceone-api` 2.0.x).
#[allow(clippy::all, rustdoc::all)]
pub mod v2 {
    pub mod spaceone {
        pub mod api {
            pub mod core {
                pub mod v2 {
                    include!(concat!(env!("OUT_DIR"), "/v2/spaceone.api.core.v2.rs"));
                }
            }
            pub mod repository {
                pub mod v1 {
                    include!(concat!(
                        env!("OUT_DIR"),
                        "/v2/spaceone.api.repository.v1.rs"
                    ));
                }
            }
        }
    }
    pub use spaceone::api::core::v2::Query;
    pub use spaceone::api::repository::v1::*;
}

/// `grpc.reflection.v1alpha`, the only reflection version SpaceONE servers answer.
#[allow(clippy::all, rustdoc::all)]
pub mod reflection {
    include!(concat!(
        env!("OUT_DIR"),
        "/reflection/grpc.reflection.v1alpha.rs"
    ));
}

/// A JSON object as a `google.protobuf.Struct`.
pub fn to_struct(object: &Map<String, Json>) -> Struct {
    Struct {
        fields: object
            .iter()
            .map(|(k, v)| (k.clone(), to_value(v)))
            .collect(),
    }
}

/// Strings as a `google.protobuf.ListValue` (how `labels` travels).
pub fn to_list(items: &[String]) -> ListValue {
    ListValue {
        values: items
            .iter()
            .map(|s| Value {
                kind: Some(Kind::StringValue(s.clone())),
            })
            .collect(),
    }
}

pub fn to_value(json: &Json) -> Value {
    let kind = match json {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(*b),
        Json::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Kind::StringValue(s.clone()),
        Json::Array(items) => Kind::ListValue(ListValue {
            values: items.iter().map(to_value).collect(),
        }),
        Json::Object(object) => Kind::StructValue(to_struct(object)),
    };
    Value { kind: Some(kind) }
}

/// A `google.protobuf.Struct` as a JSON object (fields in key order).
pub fn from_struct(s: &Struct) -> Map<String, Json> {
    s.fields
        .iter()
        .map(|(k, v)| (k.clone(), from_value(v)))
        .collect()
}

pub fn from_list(list: &ListValue) -> Vec<Json> {
    list.values.iter().map(from_value).collect()
}

pub fn from_value(value: &Value) -> Json {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(*b),
        Some(Kind::NumberValue(n)) => number(*n),
        Some(Kind::StringValue(s)) => Json::String(s.clone()),
        Some(Kind::ListValue(list)) => Json::Array(from_list(list)),
        Some(Kind::StructValue(s)) => Json::Object(from_struct(s)),
    }
}

/// Whole doubles print as integers (`3`, not `3.0`), as protobuf's JSON mapping does.
fn number(n: f64) -> Json {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        Json::Number(Number::from(n as i64))
    } else {
        Number::from_f64(n).map(Json::Number).unwrap_or(Json::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn struct_round_trip_keeps_shape_and_turns_whole_floats_into_integers() {
        let original = json!({
            "supported_schema": ["aws_access_key", "aws_assume_role"],
            "use_resource_secret": true,
            "nested": {"n": 3, "f": 1.5, "none": null},
        });
        let back = from_struct(&to_struct(original.as_object().unwrap()));
        assert_eq!(Json::Object(back), original);
    }

    #[test]
    fn labels_are_string_values() {
        let list = to_list(&["Slack".into(), "Notification".into()]);
        assert_eq!(
            from_list(&list),
            vec![json!("Slack"), json!("Notification")]
        );
    }
}
