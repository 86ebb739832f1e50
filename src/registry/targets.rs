//! Where a request may go: upload `Location`s resolved against the request that got them
//! (relative or absolute, keeping distribution's signed `_state` query), `digest=` added
//! properly encoded, and the targets a redirect, `Location` or token realm must never
//! reach ([`unsafe_target`]).

use reqwest::header::LOCATION;
use reqwest::{Method, Response};
use url::Url;

use super::error::{RedactedUrl, RegistryError};
use crate::oci::Digest;

pub(super) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Why following `from` → `to` (a redirect, an upload `Location`, a token realm) is
/// refused, if it is: a link-local (169.254.0.0/16, fe80::/10) or unspecified address —
/// cloud metadata services live there (ggcr's SSRF guard) — or https → http unless
/// `plain_ok` (the target is loopback or listed insecure).
pub(super) fn unsafe_target(from: &Url, to: &Url, plain_ok: bool) -> Option<String> {
    use std::net::IpAddr;
    let ip = match to.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        }),
        _ => None,
    };
    match ip {
        Some(ip) if ip.is_unspecified() => return Some(format!("{ip} is unspecified")),
        Some(IpAddr::V4(v4)) if v4.is_link_local() => return Some(format!("{v4} is link-local")),
        Some(IpAddr::V6(v6)) if v6.segments()[0] & 0xffc0 == 0xfe80 => {
            return Some(format!("{v6} is link-local"))
        }
        _ => {}
    }
    if from.scheme() == "https" && to.scheme() == "http" && !plain_ok {
        return Some("it downgrades https to http on a host not listed insecure".into());
    }
    None
}

/// The response's `Location`, resolved against the URL of the request that got it
/// (unchecked: [`Session::location`] is the checked one).
pub(super) fn location(response: &Response, method: &Method) -> Result<Url, RegistryError> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| resolve_location(response.url(), v))
        .ok_or_else(|| RegistryError::Location {
            method: method.clone(),
            url: RedactedUrl::new(response.url()),
            status: response.status(),
        })
}

pub(super) fn resolve_location(request_url: &Url, location: &str) -> Option<Url> {
    let location = location.trim();
    if location.is_empty() {
        return None;
    }
    request_url.join(location).ok()
}

/// `url` with `digest=<d>` appended to whatever query it already has.
pub(super) fn with_digest(mut url: Url, digest: &Digest) -> Url {
    url.query_pairs_mut()
        .append_pair("digest", &digest.to_string());
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_table() {
        let base = Url::parse("http://127.0.0.1:5000/v2/a/b/blobs/uploads/").unwrap();
        let cases = [
            (
                "/v2/a/b/blobs/uploads/1f2e?_state=xYz%2B%3D%3D",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/1f2e?_state=xYz%2B%3D%3D",
            ),
            (
                "1f2e?_state=s",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/1f2e?_state=s",
            ),
            (
                "https://storage.example.com/upload/1f2e?sig=abc",
                "https://storage.example.com/upload/1f2e?sig=abc",
            ),
            ("//cdn.example.com/x", "http://cdn.example.com/x"),
            (
                "  /v2/a/b/blobs/uploads/9  ",
                "http://127.0.0.1:5000/v2/a/b/blobs/uploads/9",
            ),
        ];
        for (location, expected) in cases {
            assert_eq!(
                resolve_location(&base, location).unwrap().as_str(),
                expected,
                "{location}"
            );
        }
        assert!(resolve_location(&base, "").is_none());
    }

    #[test]
    fn digest_is_appended_and_encoded() {
        let d: Digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap();
        let enc = "sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let cases = [
            (
                "http://h/v2/a/blobs/uploads/1",
                format!("http://h/v2/a/blobs/uploads/1?digest={enc}"),
            ),
            (
                "http://h/v2/a/blobs/uploads/1?_state=xYz%2B%3D%3D",
                format!("http://h/v2/a/blobs/uploads/1?_state=xYz%2B%3D%3D&digest={enc}"),
            ),
            (
                "https://s3/x?a=1&b=2",
                format!("https://s3/x?a=1&b=2&digest={enc}"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                with_digest(Url::parse(input).unwrap(), &d).as_str(),
                expected
            );
        }
    }

    #[test]
    fn unsafe_targets_are_refused() {
        let url = |s: &str| Url::parse(s).unwrap();
        let from = url("https://registry.example/v2/a/blobs/uploads/x");
        let cases = [
            ("https://s3.example/bucket/blob?sig=1", false, None),
            ("https://10.0.0.5/upload", false, None),
            (
                "http://169.254.169.254/latest/meta-data/",
                true,
                Some("link-local"),
            ),
            ("https://169.254.1.1/x", false, Some("link-local")),
            ("https://[fe80::1]/x", false, Some("link-local")),
            ("https://[febf::1]/x", false, Some("link-local")),
            ("https://[fec0::1]/x", false, None),
            (
                "https://[::ffff:169.254.169.254]/x",
                false,
                Some("link-local"),
            ),
            ("https://0.0.0.0/x", false, Some("unspecified")),
            ("https://[::]/x", false, Some("unspecified")),
            ("http://registry.example/v2/", false, Some("downgrades")),
            ("http://registry.example/v2/", true, None),
        ];
        for (to, plain_ok, expected) in cases {
            let got = unsafe_target(&from, &url(to), plain_ok);
            match expected {
                None => assert_eq!(got, None, "{to}"),
                Some(word) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(word)),
                    "{to}: {got:?}"
                ),
            }
        }
        // http → http is no downgrade (a plain-HTTP registry's own Locations).
        let plain = url("http://127.0.0.1:5000/v2/");
        assert_eq!(
            unsafe_target(&plain, &url("http://other:5000/x"), false),
            None
        );
    }
}
