//! RUN steps that cannot reach the publisher.
//!
//! A static C program, compiled here and copied into the image, tries every way out a
//! compromised package has been seen to try; shell steps start `setsid` daemons. Each runs
//! under Docker's default capability set (what a container action gets, via `setpriv`)
//! and with every capability (a privileged runner). Every attempt must fail, and the
//! image must still build. A SIGTERM during a long RUN must end everything within 5 s.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::context::Context;
use crate::support::images::{host_arch, image_config, push_busybox, push_image};
use crate::support::process::{poll, run_tool};
use crate::support::publish::Publish;
use crate::support::read_back::read_back;
use crate::support::registry::Registry;
use crate::support::rootfs::{busybox_layer, host_disk, LayerBuilder};

/// `setpriv` arguments that give the binary Docker's default capability set.
const DOCKER_DEFAULT_CAPS: &[&str] = &[
    "setpriv",
    "--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap",
    "--",
];

const HOSTILE_C: &str = r#"
/* Every way out a RUN step has been seen to try. Prints "blocked <what>: <why>" or
   "ESCAPED <what>: <how>" per attempt and always exits 0, so the build goes on. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *marker; /* a host path the step must not create */

static void blocked(const char *what) { printf("blocked %s: %s\n", what, strerror(errno)); }

static void try_write_marker(const char *how) {
    int fd = open(marker, O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) { printf("wrote %s (%s)\n", marker, how); close(fd); }
    else printf("blocked write-outside (%s): %s\n", how, strerror(errno));
}

static void chroot_escape(void) {
    mkdir("/hostile-jail", 0755);
    int up = open("/", O_RDONLY | O_DIRECTORY);
    if (chroot("/hostile-jail") != 0) { blocked("chroot-escape"); close(up); return; }
    if (fchdir(up) != 0) { blocked("chroot-escape fchdir"); return; }
    for (int i = 0; i < 64; i++) chdir("..");
    if (chroot(".") != 0) { blocked("chroot-escape final chroot"); return; }
    struct stat st;
    if (stat("/hostile-jail", &st) != 0) printf("ESCAPED chroot-escape: / is not the image\n");
    try_write_marker("after chroot escape");
}

static void inherited_fds(void) {
    int found = 0;
    for (int fd = 3; fd < 4096; fd++) {
        if (fcntl(fd, F_GETFD) == -1) continue;
        found++;
        if (fchdir(fd) == 0) {
            for (int i = 0; i < 64; i++) chdir("..");
            char cwd[4096];
            if (getcwd(cwd, sizeof cwd)) printf("ESCAPED fd %d: reaches %s\n", fd, cwd);
        }
        printf("ESCAPED fd %d is open\n", fd);
    }
    if (!found) printf("blocked inherited-fds: only 0, 1, 2 are open\n");
}

static int is_publisher(pid_t pid) {
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 1; /* cannot tell: count it as the publisher */
    read(fd, comm, sizeof comm - 1);
    close(fd);
    return strncmp(comm, "spaceone-publis", 15) == 0;
}

static void ptrace_parent(void) {
    pid_t parent = getppid();
    if (ptrace(PTRACE_ATTACH, parent, 0, 0) == 0) {
        waitpid(parent, 0, __WALL);
        ptrace(PTRACE_DETACH, parent, 0, 0);
        if (is_publisher(parent)) printf("ESCAPED ptrace: attached to the publisher (pid %d)\n", parent);
        else printf("blocked ptrace: the parent (pid %d) is a process of the step\n", parent);
    } else blocked("ptrace");
}

static void read_environ(void) {
    mkdir("/proc", 0555);
    if (mount("proc", "/proc", "proc", 0, 0) != 0) blocked("mount-proc");
    DIR *proc = opendir("/proc");
    if (!proc) { blocked("environ"); return; }
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(proc))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[65536];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        seen++;
        if (n > 0 && memmem(buf, n, "PUBLISH_REGISTRY_PASSWORD", 25)) {
            int out = open("/loot", O_CREAT | O_WRONLY | O_TRUNC, 0644);
            write(out, buf, n);
            close(out);
            printf("ESCAPED environ: read the publisher's environment from %s\n", path);
        }
    }
    closedir(proc);
    printf("blocked environ: none of the %d environments visible holds the publisher's\n", seen);
}

static void handle_of_root(void) {
    struct { struct file_handle h; unsigned char bytes[128]; } fh;
    fh.h.handle_bytes = 128;
    int mount_id;
    if (name_to_handle_at(AT_FDCWD, "/", &fh.h, &mount_id, 0) != 0) { blocked("name_to_handle_at"); return; }
    int fd = open_by_handle_at(open("/", O_RDONLY), &fh.h, O_RDONLY);
    if (fd >= 0) printf("ESCAPED open_by_handle_at: fd %d\n", fd);
    else blocked("open_by_handle_at");
}

static void block_device(const char *spec) {
    unsigned maj = 0, min = 0;
    sscanf(spec, "%u:%u", &maj, &min);
    if (mknod("/hostile-disk", S_IFBLK | 0600, makedev(maj, min)) != 0) { blocked("mknod"); return; }
    int fd = open("/hostile-disk", O_RDONLY);
    char b[512];
    if (fd >= 0 && read(fd, b, sizeof b) == (ssize_t)sizeof b) printf("ESCAPED mknod: read the host's disk %u:%u\n", maj, min);
    else blocked("mknod open");
    unlink("/hostile-disk");
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    marker = argv[1];
    try_write_marker("its own path");
    chroot_escape();
    inherited_fds();
    ptrace_parent();
    read_environ();
    handle_of_root();
    block_device(argv[2]);
    printf("hostile done\n");
    return 0;
}
"#;

/// Compiles [`HOSTILE_C`] statically into `dir/hostile`.
fn compile_hostile(dir: &Path) {
    let source = dir.join("hostile.c");
    std::fs::write(&source, HOSTILE_C).unwrap();
    run_tool(
        Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(dir.join("hostile"))
            .arg(&source),
    );
    std::fs::remove_file(source).unwrap();
}

/// Processes of this machine whose command line is exactly `cmdline` (args joined by spaces).
fn processes(cmdline: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline)
                .unwrap_or(false)
        })
        .collect()
}

/// Kills (by PID) the processes [`processes`] finds, returning them: what a failed
/// assertion would otherwise leave running.
fn stop_all(cmdline: &str) -> Vec<u32> {
    let left = processes(cmdline);
    for pid in &left {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    left
}

/// The publish started by the cancel test, killed by PID if the test fails before it ends.
struct Started(std::process::Child);

impl Drop for Started {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The stage roots left under the binary's cache directory in `home`.
fn build_roots_left(home: &Path) -> Vec<String> {
    match std::fs::read_dir(home.join(".cache/spaceone-publish/build/rootfs")) {
        Ok(dir) => dir
            .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn hostile_steps(wrapper: &[&str], sleeps: u32, isolation: &str) {
    let password = format!("pw-never-readable-{sleeps}");
    let reg = Registry::tls_htpasswd("ci", &password);
    let base = push_busybox(&reg, "library/busybox:1");
    let marker = format!("/tmp/spaceone-escape-{}-{sleeps}", std::process::id());
    let (a, b, c) = (sleeps, sleeps + 1, sleeps + 2);
    let dockerfile = format!(
        "ARG BASE\nFROM ${{BASE}}\nCOPY hostile /hostile\n\
         RUN /hostile {marker} {disk}\n\
         RUN setsid sleep {a} & setsid sh -c 'sleep {b} & exec sleep {c}' & echo daemons started\n\
         RUN echo after the daemons > /after\n\
         RUN (test -e /proc/1/status && echo own /proc: $(ls -d /proc/[0-9]* | wc -l) processes) || echo no /proc\n",
        disk = host_disk()
    );
    let ctx = Context::new()
        .file("Dockerfile", dockerfile)
        .file("src/VERSION", "1.0.0\n");
    compile_hostile(ctx.path());
    let image = format!("{}/test/hostile-run", reg.host());
    let publish = Publish::new(ctx.path())
        .under(wrapper)
        .input("image", &image)
        .input("build-args", format!("BASE={base}"))
        .input("registry-username", "ci")
        .input("registry-password", &password)
        .input("registry-ca-cert", reg.ca_cert_path())
        .timeout(Duration::from_secs(120));
    let started = Instant::now();
    let run = publish.run();
    let took = started.elapsed();
    run.assert_success();
    let all = format!("{}\n{}", run.stdout, run.stderr);

    for attempt in [
        "blocked chroot-escape",
        "blocked inherited-fds: only 0, 1, 2 are open",
        "blocked ptrace",
        "blocked mount-proc",
        "blocked environ",
        "blocked open_by_handle_at",
        "blocked mknod",
        "hostile done",
        "daemons started",
    ] {
        assert!(
            all.contains(attempt),
            "`{attempt}` missing\n{}",
            run.report()
        );
    }
    assert!(!all.contains("ESCAPED"), "{}", run.report());
    if isolation == "namespaces" {
        // Its own PID namespace: the shell, its subshells, `ls` and `wc`; nothing else of
        // the machine.
        let seen: u32 = all
            .lines()
            .filter(|l| l.starts_with('#'))
            .find_map(|l| l.split_once(" own /proc: "))
            .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no own /proc\n{}", run.report()));
        assert!(seen <= 8, "{seen} processes visible\n{}", run.report());
    } else {
        assert!(all.contains("no /proc"), "{}", run.report());
    }
    assert!(!all.contains(&password), "{}", run.report());
    assert_eq!(
        all.matches(&format!("RUN isolation: {isolation}\n"))
            .count(),
        1,
        "{}",
        run.report()
    );
    assert!(!Path::new(&marker).exists(), "{marker} written on the host");
    // The daemons neither hold the step's output (the publish would hang) nor outlive it.
    assert!(took < Duration::from_secs(60), "took {took:?}");
    for n in [a, b, c] {
        let left = stop_all(&format!("sleep {n}"));
        assert!(
            left.is_empty(),
            "`sleep {n}` outlived the publish: {left:?}"
        );
    }
    assert_eq!(build_roots_left(publish.home()), Vec::<String>::new());

    let pulled = read_back(&reg, &reg.reference("test/hostile-run:1.0.0"));
    let paths: Vec<String> = pulled
        .layers
        .iter()
        .flat_map(|l| l.entries.iter().map(|e| e.path.clone()))
        .collect();
    assert!(paths.iter().any(|p| p == "after"), "{paths:?}");
    assert!(!paths.iter().any(|p| p == "loot"), "{paths:?}");
}

#[test]
fn hostile_run_steps_fail_under_docker_default_caps() {
    hostile_steps(DOCKER_DEFAULT_CAPS, 9870, "chroot, capabilities dropped");
}

#[test]
fn hostile_run_steps_fail_with_all_caps() {
    hostile_steps(&[], 9770, "namespaces");
}

#[test]
fn sigterm_during_run_cancels_within_5s_and_pushes_nothing() {
    cancel_during_run(DOCKER_DEFAULT_CAPS, 673);
}

#[test]
fn sigterm_during_run_in_namespaces_cancels_within_5s() {
    cancel_during_run(&[], 674);
}

fn cancel_during_run(wrapper: &[&str], sleep: u32) {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    let ctx = Context::new()
        .file(
            "Dockerfile",
            format!(
                "ARG BASE\nFROM ${{BASE}}\nRUN echo step-begins && trap '' TERM && sleep {sleep}\n"
            ),
        )
        .file("src/VERSION", "1.0.0\n");
    let publish = Publish::new(ctx.path())
        .under(wrapper)
        .input("image", format!("{}/test/cancel", reg.host()))
        .input("build-args", format!("BASE={base}"));
    let mut started = Started(publish.spawn());
    let child = &mut started.0;
    let stderr = Arc::new(Mutex::new(String::new()));
    let reader = {
        let stderr = stderr.clone();
        let pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = stderr.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        })
    };
    let step = poll(Duration::from_secs(60), Duration::from_millis(20), || {
        (!processes(&format!("sleep {sleep}")).is_empty()).then_some(())
    });
    if step.is_none() {
        stop_all(&format!("sleep {sleep}"));
        panic!("the RUN step never started");
    }
    let signalled = Instant::now();
    run_tool(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status = poll(Duration::from_secs(10), Duration::from_millis(20), || {
        child.try_wait().unwrap()
    })
    .expect("the publish exits after SIGTERM");
    let took = signalled.elapsed();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    eprintln!("publish exited {took:?} after SIGTERM");
    assert!(took < Duration::from_secs(5), "took {took:?}\n{stderr}");
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cancelled by SIGTERM"), "{stderr}");
    assert_eq!(
        stop_all(&format!("sleep {sleep}")),
        Vec::<u32>::new(),
        "the step outlived the publish"
    );
    assert_eq!(reg.tags("test/cancel"), Vec::<String>::new());
    assert_eq!(build_roots_left(publish.home()), Vec::<String>::new());
}

#[test]
fn whiteout_naming_the_parent_of_the_root_is_refused() {
    let reg = Registry::plain();
    let hostile = LayerBuilder::new().file(".wh...", 0o644, b"").finish();
    let layers = vec![busybox_layer(), hostile];
    let config = image_config(host_arch(), None, &layers);
    let base = push_image(&reg, "library/whiteout:1", &layers, &config, &[]);
    let ctx = Context::new()
        .file("Dockerfile", "ARG BASE\nFROM ${BASE}\nRUN true\n")
        .file("src/VERSION", "1.0.0\n");
    let publish = Publish::new(ctx.path())
        .input("image", format!("{}/test/whiteout", reg.host()))
        .input("build-args", format!("BASE={base}"));
    // The directory that holds every build's root, with a neighbour the whiteout aims at.
    let roots = publish.home().join(".cache/spaceone-publish/build/rootfs");
    std::fs::create_dir_all(&roots).unwrap();
    std::fs::write(roots.join("neighbour"), "another build's").unwrap();
    let run = publish.run();
    run.assert_exit(3);
    assert!(
        run.stderr.contains(&format!(
            "layer {}: entry `.wh...` is refused",
            layers[1].digest
        )),
        "{}",
        run.report()
    );
    assert!(run.stderr.contains("names none"), "{}", run.report());
    assert!(roots.join("neighbour").exists(), "{}", run.report());
    assert_eq!(reg.tags("test/whiteout"), Vec::<String>::new());
}

/// RUN cannot `mknod`, but the unpacker can: a base image carrying the host's disk as a
/// block device (or `/dev/mem`) would hand it to every RUN. Only FIFOs and the harmless
/// character devices are made.
#[test]
fn device_nodes_in_a_base_image_reach_run_only_when_harmless() {
    let reg = Registry::plain();
    let disk = host_disk();
    let (major, minor) = disk.split_once(':').unwrap();
    let devices = LayerBuilder::new()
        .dir("devs", 0o755, 0, 0)
        .device(
            "devs/disk",
            tar::EntryType::Block,
            major.parse().unwrap(),
            minor.parse().unwrap(),
            0o666,
        )
        .device("devs/mem", tar::EntryType::Char, 1, 1, 0o666)
        .device("devs/null", tar::EntryType::Char, 1, 3, 0o666)
        .device("devs/fifo", tar::EntryType::Fifo, 0, 0, 0o644)
        .finish();
    let layers = vec![busybox_layer(), devices];
    let config = image_config(host_arch(), None, &layers);
    let base = push_image(&reg, "library/devices:1", &layers, &config, &[]);
    let ctx = Context::new()
        .file(
            "Dockerfile",
            "ARG BASE\nFROM ${BASE}\n\
             RUN for d in disk mem; do if test -e /devs/$d; then echo READ $d: $(head -c 64 /devs/$d | wc -c); else echo no $d; fi; done; \
             test -c /devs/null && echo null is there; test -p /devs/fifo && echo fifo is there\n",
        )
        .file("src/VERSION", "1.0.0\n");
    let run = Publish::new(ctx.path())
        .input("image", format!("{}/test/devices", reg.host()))
        .input("build-args", format!("BASE={base}"))
        .run();
    run.assert_success();
    let all = format!("{}\n{}", run.stdout, run.stderr);
    for expected in ["no disk", "no mem", "fifo is there"] {
        assert!(
            all.contains(expected),
            "`{expected}` missing\n{}",
            run.report()
        );
    }
    let read = all
        .lines()
        .any(|l| l.starts_with('#') && l.contains(" READ "));
    assert!(!read, "{}", run.report());
    if !all.contains("no CAP_MKNOD") {
        assert!(all.contains("null is there"), "{}", run.report());
    }
    assert!(
        all.contains(&format!(
            "layer {}: 2 device node(s) not created, `devs/disk` the first",
            layers[1].digest
        )),
        "{}",
        run.report()
    );
}

#[test]
fn chroot_and_mknod_in_run_fail_naming_the_capability() {
    let reg = Registry::plain();
    let base = push_busybox(&reg, "library/busybox:1");
    for (line, capability) in [
        ("chroot / true", "CAP_SYS_CHROOT"),
        ("mknod /dev/disk0 b 8 0", "CAP_MKNOD"),
    ] {
        let ctx = Context::new()
            .file(
                "Dockerfile",
                format!("ARG BASE\nFROM ${{BASE}}\nRUN {line}\n"),
            )
            .file("src/VERSION", "1.0.0\n");
        let run = Publish::new(ctx.path())
            .under(DOCKER_DEFAULT_CAPS)
            .input("image", format!("{}/test/refused", reg.host()))
            .input("build-args", format!("BASE={base}"))
            .run();
        run.assert_exit(3);
        for want in [
            "Dockerfile:3".to_string(),
            format!("`RUN {line}` failed with exit code 1"),
            "Operation not permitted".to_string(),
            format!("RUN steps run without {capability}, which this step needs"),
        ] {
            assert!(
                run.stderr.contains(&want),
                "`{want}` missing\n{}",
                run.report()
            );
        }
    }
}

#[test]
fn sigterm_while_unpacking_the_base_removes_the_build_root() {
    let reg = Registry::plain();
    let mut many = LayerBuilder::new();
    for i in 0..40_000 {
        many = many.file(&format!("many/{:03}/f{i}", i % 200), 0o644, b"x");
    }
    let layers = vec![busybox_layer(), many.finish()];
    let config = image_config(host_arch(), None, &layers);
    let base = push_image(&reg, "library/many:1", &layers, &config, &[]);
    let ctx = Context::new()
        .file("Dockerfile", "ARG BASE\nFROM ${BASE}\nRUN true\n")
        .file("src/VERSION", "1.0.0\n");
    let publish = Publish::new(ctx.path())
        .input("image", format!("{}/test/cancel-unpack", reg.host()))
        .input("build-args", format!("BASE={base}"));
    let mut started = Started(publish.spawn());
    let child = &mut started.0;
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut stderr = String::new();
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(60)) {
        stderr.push_str(&line);
        stderr.push('\n');
        if line.starts_with("unpacking ") {
            break;
        }
    }
    assert!(stderr.contains("unpacking "), "{stderr}");
    let signalled = Instant::now();
    run_tool(Command::new("kill").args(["-TERM", &child.id().to_string()]));
    let status = poll(Duration::from_secs(10), Duration::from_millis(20), || {
        child.try_wait().unwrap()
    })
    .expect("the publish exits after SIGTERM");
    let took = signalled.elapsed();
    reader.join().unwrap();
    stderr.extend(lines_rx.try_iter().map(|l| l + "\n"));
    eprintln!("publish exited {took:?} after SIGTERM during the unpack");
    assert!(took < Duration::from_secs(5), "took {took:?}\n{stderr}");
    assert_ne!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("cancelled by SIGTERM"), "{stderr}");
    assert_eq!(
        build_roots_left(publish.home()),
        Vec::<String>::new(),
        "{stderr}"
    );
    assert_eq!(reg.tags("test/cancel-unpack"), Vec::<String>::new());
}
