//! A SpaceONE-shaped Python plugin on a real Debian python base.
//!
//! The base is made by debootstrap (cached between runs, see `support/debian.rs`) and
//! pushed to the test registry by skopeo. The plugin's Dockerfile is shaped like a
//! cloudforet plugin's: ENV, `COPY pkg/*.txt`, `RUN pip install -r` (here from a wheel in
//! the context, no index), `COPY src`, `RUN pip install .`, `rm -rf /tmp/*`,
//! ENTRYPOINT/CMD. The real binary builds and pushes it with Docker's default
//! capabilities (no CAP_SYS_ADMIN); the image
//! is read back, unpacked layer by layer (whiteouts honoured) and run with chroot: the
//! module imports and the entry point prints what it was started with.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::context::Context;
use crate::support::debian::{cache_dir, debian_python, push_debian_python};
use crate::support::process::run_tool;
use crate::support::read_back::{read_back, EntryKind};
use crate::support::registry::Registry;
use crate::support::unpack_image::unpack_image;

const EPOCH: i64 = 1_700_000_000;

const DOCKERFILE: &str = r#"ARG BASE
FROM ${BASE}

ENV PYTHONUNBUFFERED 1
ENV SPACEONE_PORT 50051
ENV SERVER_TYPE grpc
ENV PKG_DIR /tmp/pkg
ENV SRC_DIR /tmp/src
# Debian's python is "externally managed" (PEP 668).
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

COPY pkg/*.txt pkg/*.whl ${PKG_DIR}/
RUN pip install --no-index --find-links ${PKG_DIR} -r ${PKG_DIR}/pip_requirements.txt

COPY ./src ${SRC_DIR}
WORKDIR ${SRC_DIR}
RUN pip install --no-index --no-build-isolation . && \
    rm -rf /tmp/*

EXPOSE ${SPACEONE_PORT}
ENTRYPOINT ["spaceone"]
CMD ["run", "grpc-server", "spaceone.plugin_x"]
"#;

const SETUP_PY: &str = r#"from setuptools import find_namespace_packages, setup

setup(
    name="plugin-x",
    version="1.2.3",
    packages=find_namespace_packages(include=["spaceone.*"]),
    install_requires=["spaceone-fake-core"],
    entry_points={"console_scripts": ["spaceone = spaceone.plugin_x.main:main"]},
)
"#;

const PLUGIN_INIT: &str =
    "from spaceone.core import VERSION as CORE_VERSION\n\nNAME = \"plugin_x\"\n";

const PLUGIN_MAIN: &str = r#"import os
import sys

from spaceone.core import banner


def main():
    print("plugin_x says:", " ".join(sys.argv[1:]),
          "port=" + os.environ.get("SPACEONE_PORT", "?"),
          "cwd=" + os.getcwd(), banner())
"#;

/// Writes `spaceone_fake_core-1.0.0-py3-none-any.whl` (the `spaceone.core` namespace
/// package, like the real spaceone-core) by hand with Python's zipfile, RECORD included.
const MAKE_WHEEL: &str = r#"
import base64, hashlib, sys, zipfile
files = {
    "spaceone/core/__init__.py": 'VERSION = "1.0.0"\n\ndef banner():\n    return "fake-core " + VERSION\n',
    "spaceone_fake_core-1.0.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: spaceone-fake-core\nVersion: 1.0.0\n",
    "spaceone_fake_core-1.0.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    "spaceone_fake_core-1.0.0.dist-info/top_level.txt": "spaceone\n",
}
def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(c.encode())},{len(c.encode())}\n" for p, c in files.items())
record += "spaceone_fake_core-1.0.0.dist-info/RECORD,,\n"
files["spaceone_fake_core-1.0.0.dist-info/RECORD"] = record
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for p, c in files.items():
        info = zipfile.ZipInfo(p, date_time=(2024, 1, 1, 0, 0, 0))
        z.writestr(info, c)
"#;

fn plugin_context() -> Context {
    let ctx = Context::new()
        .file("Dockerfile", DOCKERFILE)
        .file("pkg/pip_requirements.txt", "spaceone-fake-core==1.0.0\n")
        .file("src/setup.py", SETUP_PY)
        .file("src/spaceone/plugin_x/__init__.py", PLUGIN_INIT)
        .file("src/spaceone/plugin_x/main.py", PLUGIN_MAIN)
        .file("README.md", "not copied\n");
    run_tool(
        Command::new("python3")
            .args(["-c", MAKE_WHEEL])
            .arg(ctx.join("pkg/spaceone_fake_core-1.0.0-py3-none-any.whl")),
    );
    ctx
}

/// Runs the binary in `ctx`, with `docker_default_caps` under `setpriv` with Docker's
/// default capability set (as in a GitHub container action; its RUN steps drop
/// CAP_SYS_CHROOT and CAP_MKNOD too), else with every capability (RUN steps get
/// namespaces); returns (exit code, stdout, stderr).
fn publish_with(
    ctx: &Context,
    image: &str,
    base: &str,
    docker_default_caps: bool,
) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let binary = env!("CARGO_BIN_EXE_spaceone-publish");
    let mut command = match docker_default_caps {
        true => {
            let mut c = Command::new("setpriv");
            c.args([
                "--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap",
                "--",
            ])
            .arg(binary);
            c
        }
        false => Command::new(binary),
    };
    let out = command
        .current_dir(ctx.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("PUBLISH_IMAGE", image)
        .env("PUBLISH_VERSION", "1.2.3")
        .env("PUBLISH_BUILD_ARGS", format!("BASE={base}"))
        .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
        .output()
        .expect("the binary (under setpriv, from util-linux) runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `chroot <root> /usr/bin/env -i -C <cwd> <env> <argv>`: stdout, panicking with the
/// output unless it exits 0.
fn chroot(root: &std::path::Path, env: &[String], cwd: &str, argv: &[String]) -> String {
    let out = run_tool(
        Command::new("chroot")
            .arg(root)
            .args(["/usr/bin/env", "-i", "-C", cwd])
            .args(env)
            .args(argv),
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn spaceone_python_plugin_on_debootstrapped_debian_builds_and_runs() {
    let started = Instant::now();
    let base_layer = debian_python();
    let fixture_time = started.elapsed();
    eprintln!(
        "debian python base: {} ({} MiB gzip); debootstrap took {:.1} s when made; {} in {:.1?}",
        cache_dir().display(),
        base_layer.layer.gz.len() >> 20,
        base_layer.debootstrap_seconds,
        if base_layer.made_now {
            "made now"
        } else {
            "loaded from the cache"
        },
        fixture_time,
    );

    let reg = Registry::plain();
    let base = push_debian_python(&reg, "library/debian-python:bookworm");
    let ctx = plugin_context();
    let image = format!("{}/plugins/plugin-x", reg.host());

    let t = Instant::now();
    let (status, stdout, stderr) = publish_with(&ctx, &image, &base, true);
    let build_time = t.elapsed();
    eprintln!("plugin build + push with Docker's default capabilities: {build_time:.1?}");
    assert_eq!(status, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("Successfully installed spaceone-fake-core-1.0.0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Successfully installed plugin-x-1.2.3"),
        "{stderr}"
    );
    assert!(build_time < Duration::from_secs(300));
    assert!(
        stderr.contains("RUN isolation: chroot, capabilities dropped"),
        "{stderr}"
    );

    // With every capability the RUN steps get namespaces, and pip works there too.
    let t = Instant::now();
    let all_caps = format!("{image}-all-caps");
    let (status, stdout, stderr_all) = publish_with(&ctx, &all_caps, &base, false);
    eprintln!(
        "plugin build + push with every capability: {:.1?}",
        t.elapsed()
    );
    assert_eq!(status, 0, "stdout:\n{stdout}\nstderr:\n{stderr_all}");
    for want in [
        "RUN isolation: namespaces",
        "Successfully installed spaceone-fake-core-1.0.0",
        "Successfully installed plugin-x-1.2.3",
    ] {
        assert!(stderr_all.contains(want), "`{want}` missing\n{stderr_all}");
    }

    // What the registry holds.
    let reference = format!("{image}:1.2.3");
    let pulled = read_back(&reg, &reference);
    let config = &pulled.config["config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["spaceone"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["run", "grpc-server", "spaceone.plugin_x"])
    );
    assert_eq!(config["WorkingDir"], "/tmp/src");
    assert!(
        config["ExposedPorts"].get("50051/tcp").is_some(),
        "{config}"
    );
    for want in [
        "SPACEONE_PORT=50051",
        "PKG_DIR=/tmp/pkg",
        "PYTHONUNBUFFERED=1",
    ] {
        assert!(pulled.env().iter().any(|e| e == want), "{want}: {config}");
    }
    assert_eq!(
        pulled.layers[0].digest, base_layer.layer.digest,
        "the base layer is reused as pushed"
    );
    // `rm -rf /tmp/*` emptied /tmp: either a whiteout per name or /tmp made opaque.
    let last = pulled.layers.last().unwrap();
    let whiteout = |p: &str| last.entry(p).is_some_and(|e| e.kind == EntryKind::Whiteout);
    assert!(
        whiteout("tmp/.wh..wh..opq") || (whiteout("tmp/.wh.pkg") && whiteout("tmp/.wh.src")),
        "{:?}",
        last.paths()
    );
    assert!(
        last.entry("usr/local/bin/spaceone").is_some(),
        "{:?}",
        last.paths()
    );
    for layer in &pulled.layers[1..] {
        for skipped in ["etc/resolv.conf", "etc/hosts", "dev/null", "proc"] {
            assert!(layer.entry(skipped).is_none(), "{skipped} leaked");
        }
    }

    // What `docker run` would see.
    let t = Instant::now();
    let unpacked = unpack_image(&reg, &reference);
    eprintln!("pull + unpack: {:.1?}", t.elapsed());
    let root = unpacked.path();
    assert!(!root.join("tmp/pkg").exists(), "whiteouts are honoured");
    assert!(!root.join("tmp/src").exists(), "whiteouts are honoured");
    assert!(root.join("usr/local/bin/spaceone").is_file());
    std::fs::create_dir_all(root.join("tmp/src")).unwrap(); // as a runtime does for WorkingDir
    let env = unpacked.strings("Env");

    let imported = chroot(
        root,
        &env,
        "/",
        &[
            "python3".into(),
            "-c".into(),
            "import spaceone.plugin_x as p; print(p.NAME, p.CORE_VERSION, p.__file__)".into(),
        ],
    );
    assert_eq!(
        imported.trim(),
        "plugin_x 1.0.0 /usr/local/lib/python3.11/dist-packages/spaceone/plugin_x/__init__.py"
    );

    let mut argv = unpacked.strings("Entrypoint");
    argv.extend(unpacked.strings("Cmd"));
    let cwd = unpacked.config["config"]["WorkingDir"]
        .as_str()
        .unwrap()
        .to_string();
    let ran = chroot(root, &env, &cwd, &argv);
    assert_eq!(
        ran.trim(),
        "plugin_x says: run grpc-server spaceone.plugin_x port=50051 cwd=/tmp/src fake-core 1.0.0"
    );
    // The entry point by its full path, as the issue says.
    let ran = chroot(
        root,
        &env,
        "/",
        &["/usr/local/bin/spaceone".into(), "run".into(), "x".into()],
    );
    assert!(
        ran.starts_with("plugin_x says: run x port=50051 cwd=/ "),
        "{ran}"
    );
}
