//! Registry hosts as people write them: `name[:port]` or `[ipv6][:port]`. One parser, so
//! every place that needs the name without its port, the port, or whether the host is
//! this machine, splits an IPv6 address the same way (on the bracket, never on its
//! colons).

/// A checked `host[:port]`, borrowed from where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryHost<'a> {
    written: &'a str,
    /// The name without the port; an IPv6 address keeps its brackets.
    name: &'a str,
    port: Option<u16>,
}

impl<'a> RegistryHost<'a> {
    /// Parses `host`; a bad port is refused here, since sent on it only comes back as a
    /// connection or authentication error.
    pub fn parse(host: &'a str) -> Result<RegistryHost<'a>, String> {
        let (name, port) = match host.strip_prefix('[') {
            Some(rest) => match rest.split_once(']') {
                Some((ip, tail)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => {
                    let name = &host[..ip.len() + 2];
                    match tail.strip_prefix(':') {
                        Some(port) => (name, Some(port)),
                        None if tail.is_empty() => (name, None),
                        None => return Err(format!("`{host}` is not `[ipv6]:port`")),
                    }
                }
                _ => return Err(format!("`{host}` is not `[ipv6]:port`")),
            },
            None => match host.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (host, None),
            },
        };
        let name_ok = name.starts_with('[')
            || (!name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')));
        if !name_ok {
            return Err(format!("`{name}` is not a host name"));
        }
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                match p.parse::<u16>() {
                    Ok(port @ 1..) => Some(port),
                    _ => return Err(format!("port `{p}` of `{host}` is out of range (1-65535)")),
                }
            }
            Some(p) => return Err(format!("port `{p}` of `{host}` is not a number (1-65535)")),
        };
        Ok(RegistryHost {
            written: host,
            name,
            port,
        })
    }

    /// As written, port included.
    pub fn as_str(&self) -> &'a str {
        self.written
    }

    /// Without the port (`[::1]` for `[::1]:5000`).
    pub fn name(&self) -> &'a str {
        self.name
    }

    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Whether the host is this machine: `localhost`, `*.localhost`, or a loopback
    /// address (plain HTTP is allowed there).
    pub fn is_loopback(&self) -> bool {
        let bare = self.name.trim_start_matches('[').trim_end_matches(']');
        let lower = bare.to_ascii_lowercase();
        lower == "localhost"
            || lower.ends_with(".localhost")
            || bare
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_splits_on_the_bracket_and_ports_are_checked() {
        let h = RegistryHost::parse("[::1]:5000").unwrap();
        assert_eq!((h.name(), h.port()), ("[::1]", Some(5000)));
        assert!(h.is_loopback());
        let h = RegistryHost::parse("[2001:db8::1]").unwrap();
        assert_eq!((h.name(), h.port()), ("[2001:db8::1]", None));
        assert!(!h.is_loopback());
        let h = RegistryHost::parse("registry.local:443").unwrap();
        assert_eq!((h.name(), h.port()), ("registry.local", Some(443)));
        assert!(RegistryHost::parse("127.0.0.1:5000").unwrap().is_loopback());
        assert!(RegistryHost::parse("cache.localhost")
            .unwrap()
            .is_loopback());
        for bad in [
            "a:0", "a:99999", "a:abc", "a:", "[::1", "[zz]:1", "[::1]x", ":5000", "a b",
        ] {
            assert!(RegistryHost::parse(bad).is_err(), "{bad}");
        }
    }
}
