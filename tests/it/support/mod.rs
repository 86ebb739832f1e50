//! Fixtures for end-to-end tests: real servers on loopback, real tools, no mocks.
//!
//! Every fixture owns a fresh temp dir and a random loopback port, so tests can run in
//! parallel threads. Servers are child processes held by a [`process::Daemon`] guard that
//! kills exactly that PID on drop. Every panic carries the log, stdout or stderr that
//! explains it.
//!
//! | file | gives |
//! |---|---|
//! | `registry.rs` | [`Registry`]: CNCF distribution (`docker-registry`), plain or TLS + htpasswd |
//! | `tls.rs` | a throw-away CA, server certificate and bcrypt htpasswd file |
//! | `http.rs` | [`http_get`]: a one-shot HTTP(S) GET for probes and assertions |
//! | `rootfs.rs` | the busybox root filesystem as one deterministic gzip layer |
//! | `oci_layout.rs` | writes an OCI image layout (blobs, manifests, index) |
//! | `images.rs` | [`push_busybox`] and its v2s2 / multi-platform variants, via skopeo |
//! | `skopeo.rs` | runs skopeo with the right TLS/credential flags for a [`Registry`] |
//! | `read_back.rs` | [`read_back`]: what a registry really holds ([`PulledImage`]) |
//! | `spaceone.rs` | [`SpaceOne`]: the Python 1.x / 2.x servers, [`jwt_v2`] |
//! | `publish.rs` | [`Publish`]: runs the real binary like a CI would; [`Run`] |
//! | `context.rs` | [`Context`]: a temp build context with files, modes, git history |
//! | `process.rs` | child-process guard, tool runner, polling with a deadline |
//! | `token_auth.rs` | `TokenRegistry`: distribution with `auth: token` and our JWT token service |
//! | `fault_proxy.rs` | `FaultProxy`: resets, 500/429, stalls between client and registry |
//! | `debian.rs` | a Debian python base made by debootstrap, cached under `target/test-fixtures` |
//! | `unpack_image.rs` | [`unpack_image`]: pull an image and apply its layers (whiteouts) to a rootfs |

// Each test uses a few of these helpers; the rest would warn as dead code.
#![allow(dead_code, unused_imports)]

pub mod context;
pub mod debian;
pub mod fault_proxy;
pub mod http;
pub mod images;
pub mod oci_layout;
pub mod process;
pub mod publish;
pub mod read_back;
pub mod registry;
pub mod rootfs;
pub mod skopeo;
pub mod spaceone;
pub mod tls;
pub mod token_auth;
pub mod unpack_image;

pub use context::Context;
pub use http::{http_get, HttpResponse};
pub use images::{
    push_busybox, push_busybox_multi_platform, push_busybox_v2s2, BASE_PATH_ENV, BUSYBOX_APPLETS,
};
pub use publish::{Publish, Run};
pub use read_back::{
    read_back, read_back_platform, skopeo_inspect, skopeo_inspect_config, skopeo_inspect_raw,
    EntryKind, PulledImage, PulledLayer, TarEntry,
};
pub use registry::Registry;
pub use spaceone::{jwt_v2, Generation, SpaceOne};
