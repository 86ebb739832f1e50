//! The one integration-test binary (`cargo test --test it`).
//!
//! `support/` holds the fixtures every end-to-end test uses: a real registry, base
//! images pushed by skopeo, the SpaceONE stand-in servers, and a builder that runs the
//! real `spaceone-publish` binary. `harness` proves those fixtures work.

mod action_image;
mod base_unpack;
mod build;
mod ci;
mod harness;
mod hostile_inputs;
mod module_order;
mod plugin_repos;
mod publish;
mod python_plugin;
mod registry;
mod run_isolation;
mod spaceone;
mod spaceone_real;
mod support;
mod verbs;
