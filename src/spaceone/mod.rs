//! SpaceONE: from a plugin manifest and a pushed image to a plugin version the Repository
//! service (`spaceone.api.repository.v1.Plugin`) lists, on either server generation.
//!
//! A SpaceONE plugin record has no version field: a version is a tag of the plugin's image
//! in a registry the *server* can list. So registering is two things: the record (name,
//! resource type, capability, …) must exist in the server's local repository, and the
//! pushed tag must show up in `get_versions`.
//!
//! Two server generations speak the same gRPC paths with differently numbered messages
//! (1.x `CreatePluginRequest` with `domain_id` in the body, 2.x `RegisterPluginRequest`
//! with the domain taken from the token). This module keeps one neutral request and
//! translates it at the last moment, after asking the server which one it is.
//!
//! | file | concept |
//! |---|---|
//! | `api.rs` | generated clients for 1.x, 2.x and reflection; JSON ↔ `Struct` |
//! | `manifest.rs` | the plugin YAML (both generations' keys), with positions in errors |
//! | `request.rs` | [`prepare`]: derivation and pre-flight checks, before any push |
//! | `translate.rs` | the neutral request in 1.x or 2.x messages; dry-run JSON; update diffs |
//! | `connection.rs` | endpoint, TLS, `token` metadata, deadlines |
//! | `retry.rs` | [`Retry`]: UNAVAILABLE / DEADLINE_EXCEEDED only, bounded backoff |
//! | `reflection.rs` | telling 1.x from 2.x through reflection v1alpha |
//! | `calls.rs` | each Repository call in one generation's messages |
//! | `preflight.rs` | [`Session::preflight`]: what the detected server would refuse |
//! | `register.rs` | [`register`]: get → register or update → get_versions |
//! | `verbs.rs` | [`manage`]: `deregister`, `enable`, `disable`, `get` |
//! | `listing.rs` | [`Session::list`] and [`Session::versions`]: what the server lists |
//! | `error.rs` | [`SpaceOneError`], with the server's `ERROR_…` text and hints |
//! | `hints.rs` | the known fixes for a server's answer, per call and generation |
//!
//! Call order for a caller: [`PluginManifest::load`] and [`prepare`] while planning (a
//! bad manifest or image name stops the run before the push), [`Session::open`] and
//! [`Session::preflight`] before building (what only the server's generation and state
//! can tell), then [`Session::publish`] after the push. Nothing here prints: progress and warnings go to a [`crate::events::Reporter`].

pub mod api;
mod calls;
mod connection;
mod error;
mod hints;
mod listing;
mod manifest;
mod preflight;
mod reflection;
mod register;
mod request;
mod retry;
mod translate;
mod verbs;

pub use connection::{Connection, Endpoint, Policy, SpaceOneOptions, Timeouts};
pub use error::{code_name, SpaceOneError};
pub use listing::{ListFilter, PluginList, Versions};
pub use manifest::{JsonObject, PluginManifest};
pub use reflection::detect;
pub use register::{register, Action, Registration, Session};
pub use request::{
    prepare, resource_type_for, Generation, PluginRequest, RegistryType, RequestOverrides,
};
pub use retry::Retry;
pub use translate::dropped_fields;
pub use verbs::{manage, PluginVerb};
