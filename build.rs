//! Generates the gRPC client code for `proto/` with a pure-Rust protobuf compiler
//! (`protox`), so building needs no system `protoc`.
//!
//! The two SpaceONE server generations define the same package
//! (`spaceone.api.repository.v1`) with different messages, so each tree is compiled in its
//! own run into its own directory under `OUT_DIR`; `src/spaceone/api.rs` includes them as
//! separate modules. Only clients are generated. With well-known types not compiled,
//! prost-build maps `google.protobuf.*` to `prost-types` by itself.

use std::path::{Path, PathBuf};

/// (directory under `proto/` and under `OUT_DIR`, entry files relative to it)
const TREES: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "spaceone/api/repository/v1/plugin.proto",
            "spaceone/api/repository/v1/repository.proto",
        ],
    ),
    (
        "v2",
        &[
            "spaceone/api/repository/v1/plugin.proto",
            "spaceone/api/repository/v1/repository.proto",
        ],
    ),
    ("reflection", &["grpc/reflection/v1alpha/reflection.proto"]),
];

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (tree, files) in TREES {
        if let Err(e) = compile(Path::new("proto").join(tree), files, out_dir.join(tree)) {
            panic!("compiling proto/{tree}: {e}");
        }
    }
}

fn compile(root: PathBuf, files: &[&str], out: PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&out)?;
    let paths: Vec<PathBuf> = files.iter().map(|f| root.join(f)).collect();
    let fds = protox::compile(&paths, [&root])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        .build_transport(true)
        .compile_well_known_types(false)
        .out_dir(&out)
        .compile_fds(fds)?;
    Ok(())
}
