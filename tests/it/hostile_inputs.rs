//! Bad input, fed to the real binary: every row is one environment and build context, the
//! exit code it must end with, what the message must say (the input, or file:line), what it
//! must never say (a secret), and, for every row, that nothing reached the registry.
//!
//! One loopback registry serves the whole table: each row pushes (or would push) to its own
//! repository, so after the table the catalog must hold nothing but the one base image the
//! sparse-layer row builds on. Rows run one after another and every failure is collected,
//! so one run shows all the rows that broke.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use crate::support::images::{host_arch, image_config, push_image};
use crate::support::rootfs::{busybox_layer, host_disk, Layer, LayerBuilder};
use crate::support::{Context, Registry};

const DOCKERFILE: &str = "FROM scratch\nCOPY a.txt /a.txt\n";
const MANIFEST: &str = "name: hostile\nservice_type: inventory.Collector\nprovider: aws\n";
/// An endpoint nothing listens on: a row that got as far as connecting would fail there.
const NOWHERE: &str = "grpc://127.0.0.1:9";
const KEY_ONLY: &str =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";

/// One case. Values and files may say `{host}` (the registry), `{ctx}` (the context
/// directory) and `{base:NAME}` (a hostile base image of [`hostile_bases`]); they are filled
/// in before the run.
struct Row {
    name: &'static str,
    env: Vec<(String, OsString)>,
    files: Vec<(String, Vec<u8>)>,
    symlinks: Vec<(&'static str, &'static str)>,
    exit: i32,
    says: Vec<&'static str>,
    hides: Option<&'static str>,
}

fn row(name: &'static str) -> Row {
    Row {
        name,
        env: vec![],
        files: vec![("Dockerfile".into(), DOCKERFILE.into())],
        symlinks: vec![],
        exit: 2,
        says: vec![],
        hides: None,
    }
}

impl Row {
    /// Sets input `name` the plain way (`PUBLISH_…`).
    fn input(self, name: &str, value: &str) -> Row {
        let key = format!("PUBLISH_{}", name.to_ascii_uppercase().replace('-', "_"));
        self.var(&key, value)
    }

    fn var(mut self, key: &str, value: &str) -> Row {
        self.env.push((key.into(), value.into()));
        self
    }

    /// A variable whose value is the raw bytes given (not UTF-8).
    fn bytes(mut self, key: &str, value: &[u8]) -> Row {
        self.env
            .push((key.into(), OsString::from_vec(value.to_vec())));
        self
    }

    fn file(mut self, path: &str, contents: impl Into<Vec<u8>>) -> Row {
        self.files.retain(|(p, _)| p != path);
        self.files.push((path.into(), contents.into()));
        self
    }

    fn dockerfile(self, text: &str) -> Row {
        self.file("Dockerfile", text)
    }

    /// The manifest at `plugin.yaml`, with an endpoint so that it is used (without one a
    /// manifest that fails is only a warning: nothing would be registered).
    fn manifest(self, contents: impl Into<Vec<u8>>) -> Row {
        self.file("plugin.yaml", contents)
            .input("plugin-manifest", "{ctx}/plugin.yaml")
            .input("spaceone-endpoint", NOWHERE)
    }

    fn symlink(mut self, path: &'static str, target: &'static str) -> Row {
        self.symlinks.push((path, target));
        self
    }

    fn exit(mut self, code: i32) -> Row {
        self.exit = code;
        self
    }

    fn says(mut self, text: &'static str) -> Row {
        self.says.push(text);
        self
    }

    fn hides(mut self, secret: &'static str) -> Row {
        self.hides = Some(secret);
        self
    }
}

fn rows() -> Vec<Row> {
    let deep = format!("name: x\ntags: {}1{}\n", "[".repeat(100), "]".repeat(100));
    let mut bomb = String::from("name: x\ntags:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..9 {
        let p = i - 1;
        let refs = vec![format!("*a{p}"); 10].join(", ");
        bomb += &format!("  a{i}: &a{i} [{refs}]\n");
    }
    let mut big = String::from(MANIFEST);
    big += "tags:\n";
    while big.len() < 50 << 20 {
        big +=
            "  k: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n";
    }
    let long_line = format!("FROM scratch\nLABEL a={}\n", "x".repeat(1 << 20));
    vec![
        // Environment values.
        row("a non-UTF-8 image is an input error naming it")
            .bytes("INPUT_IMAGE", b"127.0.0.1/a\xff")
            .says("input `image` (INPUT_IMAGE): the value is not valid UTF-8"),
        row("non-UTF-8 build-args are an input error naming them")
            .bytes("INPUT_BUILD-ARGS", b"A=\xfe")
            .says("input `build-args` (INPUT_BUILD-ARGS): the value is not valid UTF-8"),
        row("an image port above 65535 is refused")
            .input("image", "127.0.0.1:99999/hostile/x")
            .says("input `image` (PUBLISH_IMAGE): port `99999`"),
        row("an image port that is not a number is refused")
            .input("image", "localhost:abc/hostile/x")
            .says("input `image` (PUBLISH_IMAGE): port `abc`"),
        row("image port 0 is refused")
            .input("image", "127.0.0.1:0/hostile/x")
            .says("input `image` (PUBLISH_IMAGE): port `0`"),
        row("an upper-case image is refused with the fix")
            .input("image", "{host}/Hostile/X")
            .says("input `image` (PUBLISH_IMAGE): repository names must be lower case"),
        row("an image with a scheme is refused")
            .input("image", "https://{host}/hostile/x")
            .says("input `image` (PUBLISH_IMAGE): write it without a scheme"),
        row("an image with a digest is refused")
            .input("image", "{host}/hostile/x@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            .says("cannot carry a digest"),
        row("platform windows/amd64 is refused with what is supported")
            .input("platforms", "windows/amd64")
            .says("input `platforms` (PUBLISH_PLATFORMS): `windows/amd64`")
            .says("supported: linux/amd64, linux/amd64/v2"),
        row("a path as a platform is refused")
            .input("platforms", "../../etc")
            .says("input `platforms` (PUBLISH_PLATFORMS): `../../etc` is not a platform"),
        row("a platform without an architecture is refused")
            .input("platforms", "linux")
            .says("input `platforms` (PUBLISH_PLATFORMS): `linux` is not a platform"),
        row("a source-date-epoch past year 9999 is refused")
            .input("source-date-epoch", "253402300800")
            .says("input `source-date-epoch` (PUBLISH_SOURCE_DATE_EPOCH): `253402300800` is after 9999"),
        row("a SOURCE_DATE_EPOCH that is no number is refused")
            .var("SOURCE_DATE_EPOCH", "yesterday")
            .says("input `source-date-epoch` (SOURCE_DATE_EPOCH): `yesterday` is not a Unix timestamp"),
        row("a chunk size of 2^64 does not wrap to 0")
            .input("registry-chunk-size", "18446744073709551616")
            .says("input `registry-chunk-size` (PUBLISH_REGISTRY_CHUNK_SIZE): `18446744073709551616` is too large"),
        row("a chunk size whose product overflows is refused")
            .input("registry-chunk-size", "17592186044416MiB")
            .says("`17592186044416MiB` is too large"),
        row("a chunk size of 0 is refused")
            .input("registry-chunk-size", "0")
            .says("input `registry-chunk-size` (PUBLISH_REGISTRY_CHUNK_SIZE): `0` is zero"),
        row("a boolean spelled yes is refused")
            .input("dry-run", "yes")
            .says("input `dry-run` (PUBLISH_DRY_RUN): `yes` is not a boolean"),
        row("a boolean spelled 1 is refused")
            .input("push-by-digest", "1")
            .says("input `push-by-digest` (PUBLISH_PUSH_BY_DIGEST): `1` is not a boolean"),
        row("push-by-digest with a spaceone-endpoint names both")
            .input("push-by-digest", "true")
            .input("spaceone-endpoint", NOWHERE)
            .says("input `push-by-digest` (PUBLISH_PUSH_BY_DIGEST): cannot be combined with `spaceone-endpoint`"),
        row("an insecure registry given as a URL is refused")
            .input("insecure-registries", "http://{host}")
            .says("input `insecure-registries` (PUBLISH_INSECURE_REGISTRIES): `http://")
            .says("expected `host[:port]`"),
        row("an insecure registry with a path is refused")
            .input("insecure-registries", "{host}/v2")
            .says("has a path; expected `host[:port]`"),
        row("a malformed secrets line is named without its value")
            .input("secrets", "token=fine\nhunter2-not-shown")
            .says("input `secrets` (PUBLISH_SECRETS): line 2: no `=`")
            .hides("hunter2-not-shown"),
        row("a secrets line with spaces in its id is named without its value")
            .input("secrets", "my token=hunter2-not-shown")
            .says("input `secrets` (PUBLISH_SECRETS): line 1:")
            .hides("hunter2-not-shown"),
        row("a dotenv-file in a missing directory is refused before the push")
            .input("dotenv-file", "{ctx}/no/such/dir/out.env")
            .says("input `dotenv-file` (PUBLISH_DOTENV_FILE):")
            .says("does not exist"),
        row("an unwritable GITHUB_OUTPUT is refused before the push")
            .var("GITHUB_ACTIONS", "true")
            .var("GITHUB_OUTPUT", "{ctx}/missing/output")
            .says("GITHUB_OUTPUT: {ctx}/missing/output cannot be created"),
        row("a GITHUB_OUTPUT that is a directory is refused")
            .var("GITHUB_ACTIONS", "true")
            .var("GITHUB_OUTPUT", "{ctx}")
            .says("GITHUB_OUTPUT: {ctx} is a directory"),
        row("a missing registry-ca-cert fails at plan time")
            .input("registry-ca-cert", "{ctx}/missing.pem")
            .says("input `registry-ca-cert` (PUBLISH_REGISTRY_CA_CERT): cannot read"),
        row("an empty registry-ca-cert fails at plan time")
            .file("ca.pem", "")
            .input("registry-ca-cert", "{ctx}/ca.pem")
            .says("input `registry-ca-cert` (PUBLISH_REGISTRY_CA_CERT): {ctx}/ca.pem is empty"),
        row("a registry-ca-cert that is not PEM fails at plan time")
            .file("ca.pem", "not a certificate\n")
            .input("registry-ca-cert", "{ctx}/ca.pem")
            .says("{ctx}/ca.pem is not PEM"),
        row("a key-only registry-ca-cert fails at plan time")
            .file("ca.pem", KEY_ONLY)
            .input("registry-ca-cert", "{ctx}/ca.pem")
            .says("input `registry-ca-cert` (PUBLISH_REGISTRY_CA_CERT): {ctx}/ca.pem holds no `BEGIN CERTIFICATE` block"),
        row("a directory as registry-ca-cert fails at plan time")
            .input("registry-ca-cert", "{ctx}")
            .says("input `registry-ca-cert` (PUBLISH_REGISTRY_CA_CERT): {ctx} is a directory"),
        row("a spaceone-ca-cert that is not PEM fails at plan time")
            .file("ca.pem", "not a certificate\n")
            .input("spaceone-endpoint", NOWHERE)
            .input("spaceone-ca-cert", "{ctx}/ca.pem")
            .says("input `spaceone-ca-cert` (PUBLISH_SPACEONE_CA_CERT): {ctx}/ca.pem is not PEM"),
        row("an unknown time zone name is refused with what is accepted")
            .input("timezone", "Mars/Olympus_Mons")
            .says("input `timezone` (PUBLISH_TIMEZONE): `Mars/Olympus_Mons` is not a time zone"),
        row("an https spaceone-endpoint is refused")
            .input("spaceone-endpoint", "https://{host}")
            .says("input `spaceone-endpoint` (PUBLISH_SPACEONE_ENDPOINT)"),
        row("a tag starting with a dash is refused")
            .input("tags", "1.0.0,-rc")
            .says("input `tags` (PUBLISH_TAGS): `-rc` is not a valid tag"),
        // Plugin manifests.
        row("an alias bomb in the plugin manifest is named with its position")
            .manifest(bomb)
            .says("plugin manifest {ctx}/plugin.yaml:")
            .says("too many aliases"),
        row("deep nesting in the plugin manifest is named with its line")
            .manifest(deep)
            .says("plugin manifest {ctx}/plugin.yaml:2:")
            .says("nested deeper than 64 levels"),
        row("a plugin manifest that is not UTF-8 names the line")
            .manifest(b"name: x\nprovider: \xff\n".to_vec())
            .says("plugin manifest {ctx}/plugin.yaml:2:11: not UTF-8 text"),
        row("a 50 MB plugin manifest is refused before the push")
            .manifest(big)
            .says("plugin manifest {ctx}/plugin.yaml:1:1: the file is 50.0 MiB; a plugin manifest is at most 1 MiB"),
        row("a plugin manifest with a byte order mark is read")
            .file("plugin.yaml", format!("\u{feff}{MANIFEST}"))
            .input("plugin-manifest", "{ctx}/plugin.yaml")
            .input("output", "oci:{ctx}/out")
            .exit(0)
            .says("registration request (not sent)")
            .says("\"name\": \"hostile\""),
        // Dockerfiles.
        row("COPY --from a later stage that builds on this one is a loop")
            .dockerfile("FROM scratch AS a\nCOPY --from=b /x /x\nFROM a AS b\n")
            .says("Dockerfile:2: COPY --from=b names stage b (line 3), which is not an earlier stage"),
        row("COPY --from its own stage is a loop")
            .dockerfile("FROM scratch AS a\nCOPY --from=a /x /x\n")
            .says("Dockerfile:2: COPY --from=a names stage a (line 1)"),
        row("an unterminated heredoc names its line")
            .dockerfile("FROM scratch\nCOPY <<EOF /x\nhello\n")
            .says("Dockerfile:2: heredoc <<EOF is not terminated"),
        row("a 1 MB line is refused")
            .dockerfile(&long_line)
            .says("Dockerfile:2: the instruction is 1048584 bytes long; at most 65536"),
        row("COPY from outside the context is refused")
            .dockerfile("FROM scratch\nCOPY ../x /x\n")
            .says("Dockerfile:2: COPY source \"../x\" is outside the build context"),
        row("COPY through a symlink leaving the context is refused")
            .dockerfile("FROM scratch\nCOPY link /x\n")
            .symlink("link", "/etc/passwd")
            .says("Dockerfile:2: COPY source \"link\" is a symlink resolving to /etc/passwd, outside the build context"),
        row("COPY through a symlinked directory leaving the context is refused")
            .dockerfile("FROM scratch\nCOPY up/etc/passwd /x\n")
            .symlink("up", "../../../../../../..")
            .says("Dockerfile:2: COPY source \"up/etc/passwd\""),
        row("FROM --platform=banana is refused")
            .dockerfile("FROM --platform=banana scratch\nCOPY a.txt /a.txt\n")
            .says("Dockerfile:1: FROM --platform=banana: `banana` is not a platform"),
        row("FROM --platform=windows/amd64 is refused")
            .dockerfile("FROM --platform=windows/amd64 scratch\n")
            .says("Dockerfile:1: FROM --platform=windows/amd64")
            .says("supported: linux/amd64"),
        row("EXPOSE abc is refused")
            .dockerfile("FROM scratch\nEXPOSE abc\n")
            .says("Dockerfile:2: EXPOSE `abc` is not a port"),
        row("EXPOSE 0 is refused")
            .dockerfile("FROM scratch\nEXPOSE 80 0/udp\n")
            .says("Dockerfile:2: EXPOSE `0/udp` is not a port"),
        row("EXPOSE a port from an ARG is checked once expanded")
            .dockerfile("FROM scratch\nARG PORT=70000\nEXPOSE $PORT\n")
            .says("Dockerfile:3: EXPOSE `70000` is not a port"),
        row("EXPOSE with an unknown protocol is refused")
            .dockerfile("FROM scratch\nEXPOSE 80/icmp\n")
            .says("Dockerfile:2: EXPOSE `80/icmp`: `icmp` is not a protocol"),
        row("COPY --chmod beyond 7777 is refused")
            .dockerfile("FROM scratch\nCOPY --chmod=77777777 a.txt /a.txt\n")
            .says("Dockerfile:2: COPY --chmod=77777777 is not an octal mode from 0 to 7777"),
        row("an unknown instruction is named with a suggestion")
            .dockerfile("FROM scratch\nCOPPY a.txt /a.txt\n")
            .says("Dockerfile:2: unknown instruction \"COPPY\""),
        row("a missing Dockerfile names the input")
            .input("dockerfile", "{ctx}/nope/Dockerfile")
            .says("input `dockerfile` (PUBLISH_DOCKERFILE): {ctx}/nope/Dockerfile does not exist"),
        row("a Dockerfile without FROM is refused")
            .dockerfile("ARG A=1\n")
            .says("Dockerfile: no FROM instruction"),
        row("an unknown target stage lists the stages")
            .input("target", "nope")
            .dockerfile("FROM scratch AS one\nCOPY a.txt /a.txt\n")
            .says("target stage \"nope\" not found (named stages: one)"),
        // Base images (see hostile_bases).
        row("a sparse base-layer entry claiming 10 GiB is refused, not written out")
            .dockerfile("FROM {base:sparse}\nRUN true\n")
            .exit(3)
            .says("entry `big` is refused: a sparse file claiming 10.0 GiB from 512 bytes"),
        row("a base-layer entry climbing out with `..` is refused")
            .dockerfile("FROM {base:dotdot}\nRUN true\n")
            .exit(3)
            .says("entry `etc/../../planted` is refused"),
        row("a base-layer hard link to a file outside the root is refused")
            .dockerfile("FROM {base:hardlink}\nRUN true\n")
            .exit(3)
            .says("entry `passwd`"),
        row("a base-layer whiteout of `..` is refused")
            .dockerfile("FROM {base:whiteout}\nRUN true\n")
            .exit(3)
            .says("entry `etc/.wh..` is refused"),
        row("a base-layer header claiming more bytes than the layer holds is refused")
            .dockerfile("FROM {base:truncated}\nRUN true\n")
            .exit(3)
            .says("cannot unpack a layer"),
        row("a base layer that is not gzip or tar is refused")
            .dockerfile("FROM {base:garbage}\nRUN true\n")
            .exit(3)
            .says("the archive is unreadable"),
        row("a base-layer symlink to the host's /tmp keeps later entries inside the root")
            .dockerfile("FROM {base:abs-symlink}\nRUN /bin/true\n")
            .input("output", "oci:{ctx}/out")
            .exit(0)
            .says("to oci:{ctx}/out"),
        row("a device node of the host's disk in a base layer is not made for RUN")
            .dockerfile("FROM {base:devices}\nRUN /bin/true\n")
            .input("output", "oci:{ctx}/out")
            .exit(0)
            .says("1 device node(s) not created, `disk` the first"),
    ]
}

/// The hostile base images the table builds on, by name: each is one layer of the attack
/// on top of (where a row runs something) a busybox layer. Symlinks and hard links aim at
/// `outside`, a directory of the host that must stay empty.
fn hostile_bases(reg: &Registry, outside: &str) -> Vec<(&'static str, String, Layer)> {
    let disk = host_disk();
    let (major, minor) = disk.split_once(':').unwrap_or(("8", "0"));
    let bases: Vec<(&'static str, Layer)> = vec![
        (
            "sparse",
            LayerBuilder::new()
                .sparse("big", 10 << 30, &[7; 512])
                .finish(),
        ),
        ("dotdot", raw_layer(&[(b'0', "etc/../../planted", "", 1)])),
        (
            "hardlink",
            raw_layer(&[(
                b'1',
                "passwd",
                &format!("../../../../../../..{outside}/host-file"),
                0,
            )]),
        ),
        ("whiteout", raw_layer(&[(b'0', "etc/.wh..", "", 0)])),
        ("truncated", truncated_layer()),
        (
            "garbage",
            Layer::from_gz(b"\x1f\x8b\x08\x00 this is no deflate stream".to_vec()),
        ),
        (
            "abs-symlink",
            LayerBuilder::new()
                .symlink("escape", outside)
                .symlink("escape-rel", &format!("../../../../../../..{outside}"))
                .file(
                    "escape/planted",
                    0o644,
                    b"planted through an absolute symlink",
                )
                .file(
                    "escape-rel/planted-rel",
                    0o644,
                    b"planted through a relative one",
                )
                .hardlink("escape/linked", "bin/busybox")
                .finish(),
        ),
        (
            "devices",
            LayerBuilder::new()
                .device(
                    "disk",
                    tar::EntryType::Block,
                    major.parse().unwrap(),
                    minor.parse().unwrap(),
                    0o666,
                )
                .finish(),
        ),
    ];
    bases
        .into_iter()
        .map(|(name, layer)| {
            let mut layers = vec![layer];
            if matches!(name, "abs-symlink" | "devices") {
                layers.insert(0, busybox_layer());
            }
            let config = image_config(host_arch(), None, &layers);
            let repo = format!("hostile/{name}-base:1");
            let reference = push_image(reg, &repo, &layers, &config, &[]);
            (name, reference, layers.pop().unwrap())
        })
        .collect()
}

/// A tar whose one entry claims 10 GiB and holds 512 bytes before the archive ends.
fn truncated_layer() -> Layer {
    let mut tar = header(b'0', "big", "", 10 << 30).as_bytes().to_vec();
    tar.extend_from_slice(&[7; 512]);
    Layer::from_tar(tar)
}

/// A tar of `(type flag, name, link name, size)` entries written byte by byte, names as
/// given (the tar crate refuses to write `..`); regular files hold `size` bytes of `x`.
fn raw_layer(entries: &[(u8, &str, &str, u64)]) -> Layer {
    let mut tar = Vec::new();
    for (kind, name, link, size) in entries {
        tar.extend_from_slice(header(*kind, name, link, *size).as_bytes());
        let mut data = vec![b'x'; *size as usize];
        data.resize(size.div_ceil(512) as usize * 512, 0);
        tar.extend_from_slice(&data);
    }
    tar.extend_from_slice(&[0; 1024]);
    Layer::from_tar(tar)
}

fn header(kind: u8, name: &str, link: &str, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    let gnu = header.as_gnu_mut().unwrap();
    gnu.name[..name.len()].copy_from_slice(name.as_bytes());
    gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
    gnu.typeflag = [kind];
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    header
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn hostile_inputs_fail_clearly_and_push_nothing() {
    let reg = Registry::plain();
    let host = reg.host();
    let outside = tempfile::tempdir().unwrap();
    let outside_path = outside.path().display().to_string();
    std::fs::write(outside.path().join("host-file"), "the host's\n").unwrap();
    let bases = hostile_bases(&reg, &outside_path);

    let rows = rows();
    assert!(rows.len() >= 60, "the table has {} rows", rows.len());
    let mut failures = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let mut ctx = Context::new().file("a.txt", "a\n");
        let dir = ctx.path().display().to_string();
        let fill = |s: &str| {
            let mut s = s.replace("{host}", &host).replace("{ctx}", &dir);
            for (name, reference, _) in &bases {
                s = s.replace(&format!("{{base:{name}}}"), reference);
            }
            s
        };
        for (path, contents) in &row.files {
            let contents = match std::str::from_utf8(contents) {
                Ok(text) if text.len() < 1 << 20 => fill(text).into_bytes(),
                _ => contents.clone(),
            };
            ctx = ctx.file(path, contents);
        }
        for (path, target) in &row.symlinks {
            ctx = ctx.symlink(path, target);
        }
        let repo = format!("hostile/row-{i}");
        let mut publish = ctx
            .publish()
            .input("image", format!("{host}/{repo}"))
            .input("version", "1.0.0");
        for (key, value) in &row.env {
            let value = match value.to_str() {
                Some(text) => OsString::from(fill(text)),
                None => value.clone(),
            };
            publish = publish.env(key, value);
        }
        let run = publish.run();
        let output = format!("{}\n{}", run.stdout, run.stderr);
        let mut problems = Vec::new();
        if run.status != row.exit {
            problems.push(format!("exit {} (expected {})", run.status, row.exit));
        }
        for text in &row.says {
            if !output.contains(&fill(text)) {
                problems.push(format!("no `{}` in the output", fill(text)));
            }
        }
        if row.hides.is_some_and(|secret| output.contains(secret)) {
            problems.push("a secret is in the output".into());
        }
        let hostile_layer = bases.iter().find(|(name, _, _)| {
            row.files
                .iter()
                .any(|(_, f)| contains(f, &format!("{{base:{name}}}")))
        });
        if let Some((_, _, layer)) = hostile_layer.filter(|_| row.exit != 0) {
            if !output.contains(&layer.digest) {
                problems.push(format!("the hostile layer {} is not named", layer.digest));
            }
        }
        let planted: Vec<_> = std::fs::read_dir(outside.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name != "host-file")
            .collect();
        if !planted.is_empty() {
            problems.push(format!("written outside the build root: {planted:?}"));
        }
        if !reg.tags(&repo).is_empty() {
            problems.push(format!("{repo} was pushed: {:?}", reg.tags(&repo)));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "row {i}, {}: {}\n{}",
                row.name,
                problems.join("; "),
                run.report()
            ));
        }
    }
    let catalog = reg.get("/v2/_catalog").text();
    let repositories: serde_json::Value = serde_json::from_str(&catalog).unwrap();
    let mut expected: Vec<String> = bases
        .iter()
        .map(|(name, _, _)| format!("hostile/{name}-base"))
        .collect();
    expected.sort();
    assert_eq!(
        repositories["repositories"],
        serde_json::json!(expected),
        "only the base images are in the registry"
    );
    assert_eq!(
        std::fs::read_to_string(outside.path().join("host-file")).unwrap(),
        "the host's\n",
        "a file outside the build root changed"
    );
    assert!(
        failures.is_empty(),
        "{} row(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
