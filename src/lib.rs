//! spaceone-publish: build a SpaceONE plugin image without a daemon, push it over the OCI
//! distribution API and register it with the SpaceONE Repository service, in one CI step.
//!
//! # Layout
//!
//! The data flows `environment → Inputs → Plan → Image → Pushed → Registration → Report`,
//! and each arrow is one call in [`pipeline`]:
//!
//! - [`inputs`]: every input (name, variables, default, the field it parses into, in one
//!   table); the only reader of the environment.
//! - [`plan`]: inputs resolved against the checkout (Dockerfile, version, plugin manifest).
//! - [`digest`]: content digests (`sha256:…`), hashing while streaming; a leaf.
//! - [`reference`]: image references, parsed and normalised once; [`host`]: registry
//!   hosts (`name[:port]`, `[ipv6]:port`), split by one rule.
//! - [`oci`]: digests, descriptors, manifests, the content-addressed blob store and the OCI
//!   image layout.
//! - [`build`]: the Dockerfile frontend, the stage loop, the rootfs (unpacked while the
//!   base downloads, started beside the pre-flight checks) and the deterministic layer
//!   writer.
//! - [`registry`]: the distribution client behind `registry::push`.
//! - [`spaceone`]: the Repository API of both server generations and the registration flow.
//! - [`events`]: what the library reports ([`events::Event`]) and to whom
//!   ([`events::Reporter`]); a leaf, so no library module imports the user layer.
//! - [`ci`]: everything the user sees (plain logs, GitHub, GitLab): the reporters.
//! - [`secret`]: values that never print; [`suggest`]: "did you mean"; [`backoff`]: the
//!   one retry loop.
//! - [`tags`]: versions and tag rules; [`time`]: reproducible timestamps.
//!
//! - [`output`]: where the image goes (registry, OCI layout, docker archive).
//! - [`pipeline`]: the arrows above, in order.
//!
//! Errors roll up into [`Error`], whose variant decides the exit code in `main.rs`.
//!
//! # Layers
//!
//! A module uses only modules below it, lowest first: `backoff`, `digest`, `host`, `secret`, `suggest`, `time` →
//! `reference`, `tags` → `oci` → `events` → `inputs` → `registry` → `build`, `spaceone` →
//! `plan` → `output` → `error` → `pipeline` → `ci` (and `main.rs`). Library modules report
//! through [`events::Reporter`] and never see the user layer; `tests/it/module_order.rs`
//! fails, naming the file and line, on a use that points up or sideways.

pub mod backoff;
pub mod build;
pub mod ci;
pub mod digest;
mod error;
pub mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod host;
pub mod inputs;
pub mod oci;
pub mod output;
pub mod pipeline;
pub mod plan;
pub mod reference;
pub mod registry;
pub mod secret;
pub mod spaceone;
pub mod suggest;
pub mod tags;
pub mod time;

pub use error::Error;
