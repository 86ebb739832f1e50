//! [`FaultProxy`]: a loopback HTTP/1.1 proxy between a client and a registry that
//! injects faults into chosen requests and counts the bytes the client sent.
//!
//! Each client request is read head-first. If a [`Rule`] matches it (method, a path
//! substring, the n-th such request), the proxy acts *instead of* the registry:
//!
//! - [`Fault::Reset`]: reads that many body bytes, then resets the connection (unread
//!   bytes pending → the kernel sends RST) — a connection dying mid-body;
//! - [`Fault::Status`]: reads the body and answers a status (`500`, or `429` with
//!   `Retry-After`), with a distribution-style JSON error;
//! - [`Fault::Stall`]: reads the body, then says nothing for the given time.
//!
//! A faulted request never reaches the registry, like a request cut off in front of a
//! buffering load balancer. Every other request is forwarded on a fresh upstream
//! connection (`Connection: close` both ways, so one request per connection), and the
//! response relayed as it comes. `Host` is kept, so the registry's `Location`s point
//! back at the proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Fault {
    Reset { after: u64 },
    Status { code: u16, retry_after: Option<u64> },
    Stall(Duration),
}

/// Fires `fault` on the `nth` (from 1) request whose method is `method` and whose path
/// contains `path`; once.
#[derive(Clone, Debug)]
pub struct Rule {
    pub method: &'static str,
    pub path: String,
    pub nth: usize,
    pub fault: Fault,
}

impl Rule {
    pub fn new(method: &'static str, path: &str, nth: usize, fault: Fault) -> Rule {
        Rule {
            method,
            path: path.to_string(),
            nth,
            fault,
        }
    }
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    pub body_len: u64,
    /// `None` when forwarded; the fault otherwise.
    pub fault: Option<String>,
}

#[derive(Default)]
struct State {
    rules: Vec<(Rule, usize)>,
    seen: Vec<Seen>,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<Mutex<State>>,
    up: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Proxies to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16, rules: Vec<Rule>) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
            seen: Vec::new(),
        }));
        let up = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (state, up, stop) = (state.clone(), up.clone(), stop.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let (state, up) = (state.clone(), up.clone());
                    thread::spawn(move || handle(conn, upstream_port, &state, &up));
                }
            });
        }
        FaultProxy {
            port,
            state,
            up,
            stop,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every byte the client sent (heads and bodies, faulted requests included).
    pub fn bytes_up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Replaces the rules (counters restart).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        self.state.lock().unwrap().rules = rules.into_iter().map(|r| (r, 0)).collect();
    }

    /// Faults that fired, in order.
    pub fn fired(&self) -> Vec<String> {
        self.seen().into_iter().filter_map(|s| s.fault).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Counts bytes read from the client.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

fn handle(client: TcpStream, upstream_port: u16, state: &Mutex<State>, up: &Arc<AtomicU64>) {
    let mut reader = BufReader::new(Counting {
        inner: client.try_clone().unwrap(),
        count: up.clone(),
    });
    let mut client = client;
    loop {
        // Request head.
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.first() == Some(&0x16) && head.is_empty() {
                return; // a TLS ClientHello: not for us
            }
            let end = line == b"\r\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut words = text.split_whitespace();
        let method = words.next().unwrap_or("").to_string();
        let target = words.next().unwrap_or("/").to_string();
        let path = target.split('?').next().unwrap_or("").to_string();
        let len: u64 = text
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())
                    .flatten()
            })
            .unwrap_or(0);
        let fault = {
            let mut st = state.lock().unwrap();
            let mut fired = None;
            for (rule, count) in st.rules.iter_mut() {
                if rule.method == method && path.contains(&rule.path) {
                    *count += 1;
                    if *count == rule.nth && fired.is_none() {
                        fired = Some(rule.fault.clone());
                    }
                }
            }
            st.seen.push(Seen {
                method: method.clone(),
                path: path.clone(),
                body_len: len,
                fault: fired.as_ref().map(|f| format!("{method} {path}: {f:?}")),
            });
            fired
        };
        match fault {
            Some(Fault::Reset { after }) => {
                let _ = std::io::copy(
                    &mut (&mut reader).take(after.min(len)),
                    &mut std::io::sink(),
                );
                reset(&client);
                return;
            }
            Some(Fault::Status { code, retry_after }) => {
                let _ = std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink());
                let body = format!(
                    r#"{{"errors":[{{"code":"{}","message":"injected by the test proxy"}}]}}"#,
                    if code == 429 {
                        "TOOMANYREQUESTS"
                    } else {
                        "UNKNOWN"
                    }
                );
                let mut response = format!(
                    "HTTP/1.1 {code} Injected\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n",
                    body.len()
                );
                if let Some(s) = retry_after {
                    response += &format!("Retry-After: {s}\r\n");
                }
                response += "\r\n";
                response += &body;
                if client.write_all(response.as_bytes()).is_err() {
                    return;
                }
                continue; // keep-alive
            }
            Some(Fault::Stall(d)) => {
                let _ = std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink());
                thread::sleep(d);
                let _ = client.shutdown(Shutdown::Both);
                return;
            }
            None => {}
        }
        // Forward, one request per upstream connection.
        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
            return;
        };
        let mut new_head = String::new();
        for line in text.split("\r\n").filter(|l| !l.is_empty()) {
            if line
                .split_once(':')
                .is_some_and(|(k, _)| k.eq_ignore_ascii_case("connection"))
            {
                continue;
            }
            new_head.push_str(line);
            new_head.push_str("\r\n");
        }
        new_head.push_str("Connection: close\r\n\r\n");
        if upstream.write_all(new_head.as_bytes()).is_err() {
            return;
        }
        if std::io::copy(&mut (&mut reader).take(len), &mut upstream).is_err() {
            return;
        }
        // Relay the response until the registry closes.
        let _ = std::io::copy(&mut upstream, &mut client);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
}

/// Closes with RST rather than FIN (SO_LINGER 0).
fn reset(stream: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own, with a correctly sized `linger` value.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &linger as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    let _ = stream.shutdown(Shutdown::Read);
}
