//! Manifests on the wire: GET with content negotiation, HEAD, PUT of exact bytes.
//!
//! A manifest's digest is the sha256 of its bytes *as stored*. So we never re-serialize:
//! a pushed manifest goes up as the bytes that were hashed when the image was sealed, and
//! a pulled one is hashed as received, then checked against the `Docker-Content-Digest`
//! header and, when the caller asked by digest, against that digest.
//!
//! `GET` sends `Accept` with every type we parse (OCI and Docker, manifest and index) —
//! without it a registry may fall back to the ancient schema 1. The type of what came
//! back is decided from the body's `mediaType` and the `Content-Type` header; when both
//! name manifest types and disagree, the response is refused (spec: content negotiation).

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::body::Body;
use super::client::read_capped;
use super::error::{RedactedUrl, RegistryError};
use super::session::{Request, Session};
use crate::oci::{Digest, MediaType};

/// Distribution refuses manifests over 4 MiB; so do we.
pub(super) const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

pub(super) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";

/// A manifest or index as received.
pub(super) struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: MediaType,
    pub digest: Digest,
    pub url: Url,
}

/// `GET /v2/<repository>/manifests/<reference>`, verified as the module docs say.
pub(super) async fn get(
    session: &Session,
    repository: &str,
    reference: &str,
    expected: Option<&Digest>,
) -> Result<Fetched, RegistryError> {
    let url = session.url(repository, &format!("manifests/{reference}"));
    let request = Request::new(Method::GET, url).header(ACCEPT, MediaType::ACCEPT);
    let response = session.expect(request, &[StatusCode::OK]).await?;
    let url = response.url().clone();
    let header_digest = header_digest(&response);
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let bytes = read_capped(response, &Method::GET, MANIFEST_LIMIT, "manifest").await?;
    let digest = Digest::sha256_of(&bytes);
    let mismatch = |expected: &Digest| RegistryError::DigestMismatch {
        what: "manifest",
        url: RedactedUrl::new(&url),
        expected: expected.clone(),
        actual: digest.clone(),
    };
    if let Some(header) = header_digest.as_ref() {
        if header.algorithm() == digest.algorithm() && *header != digest {
            return Err(mismatch(header));
        }
    }
    if let Some(expected) = expected {
        // Only sha256 is computed here; another algorithm must at least match the header.
        let verified = if expected.algorithm() == digest.algorithm() {
            *expected == digest
        } else {
            header_digest.as_ref() == Some(expected)
        };
        if !verified {
            return Err(mismatch(expected));
        }
    }
    let media_type = classify(content_type.as_deref(), &bytes, &url)?;
    Ok(Fetched {
        bytes,
        media_type,
        digest,
        url,
    })
}

/// Whether the repository holds the manifest `digest`. Only 200 means yes; 404 — and
/// 403, which some registries answer for unknown content — mean "not known to be". A 401
/// that survived re-authentication is an error: nothing else would work either.
pub(super) async fn exists(
    session: &Session,
    repository: &str,
    digest: &Digest,
) -> Result<bool, RegistryError> {
    let url = session.url(repository, &format!("manifests/{digest}"));
    let request = Request::new(Method::HEAD, url).header(ACCEPT, MediaType::ACCEPT);
    let response = session.send(request).await?;
    Ok(match response.status() {
        StatusCode::OK => header_digest(&response).is_none_or(|d| d == *digest),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => false,
        _ => return Err(session.fail(&Method::HEAD, response).await),
    })
}

/// `PUT /v2/<repository>/manifests/<reference>` with the exact `bytes`.
pub(super) async fn put(
    session: &Session,
    repository: &str,
    reference: &str,
    media_type: &MediaType,
    bytes: &[u8],
) -> Result<(), RegistryError> {
    let url = session.url(repository, &format!("manifests/{reference}"));
    let request = Request::new(Method::PUT, url)
        .header(CONTENT_TYPE, media_type.as_str())
        .body(Body::Bytes(bytes::Bytes::copy_from_slice(bytes)));
    let ok = [
        StatusCode::OK,
        StatusCode::CREATED,
        StatusCode::ACCEPTED,
        StatusCode::NO_CONTENT,
    ];
    let response = session.expect(request, &ok).await?;
    let ours = Digest::sha256_of(bytes);
    match header_digest(&response) {
        Some(theirs) if theirs.algorithm() == ours.algorithm() && theirs != ours => {
            Err(RegistryError::DigestMismatch {
                what: "stored manifest",
                url: RedactedUrl::new(response.url()),
                expected: ours,
                actual: theirs,
            })
        }
        _ => Ok(()),
    }
}

/// `Docker-Content-Digest`, when present and well-formed.
pub(super) fn header_digest(response: &reqwest::Response) -> Option<Digest> {
    response
        .headers()
        .get(DOCKER_CONTENT_DIGEST)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Decides what a manifest response is: the body's `mediaType`, else `Content-Type`, else
/// its shape (`manifests` → index, `config` → manifest). Only manifests and indexes pass.
pub(super) fn classify(
    content_type: Option<&str>,
    bytes: &[u8],
    url: &Url,
) -> Result<MediaType, RegistryError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<MediaType>,
        manifests: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
    }
    let probe: Probe =
        serde_json::from_slice(bytes).map_err(|source| RegistryError::InvalidJson {
            url: RedactedUrl::new(url),
            what: "manifest",
            source,
        })?;
    let known = |m: &MediaType| m.is_manifest() || m.is_index();
    let header = content_type.map(MediaType::parse).filter(known);
    let unsupported = |media_type: String| RegistryError::UnsupportedManifest {
        url: RedactedUrl::new(url),
        media_type,
    };
    let media_type = match (probe.media_type, header) {
        (Some(body), Some(header)) if known(&body) && body != header => {
            return Err(unsupported(format!(
                "{body} (the body says so, but Content-Type says {header})"
            )));
        }
        (Some(body), _) => body,
        (None, Some(header)) => header,
        (None, None) if probe.manifests.is_some() => MediaType::OciIndex,
        (None, None) if probe.config.is_some() => MediaType::OciManifest,
        (None, None) => {
            return Err(unsupported(
                content_type.unwrap_or("(no Content-Type)").to_string(),
            ))
        }
    };
    if known(&media_type) {
        Ok(media_type)
    } else {
        Err(unsupported(media_type.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let url = Url::parse("https://r/v2/a/manifests/1").unwrap();
        let oci_m = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#;
        let bare_m = r#"{"schemaVersion":2,"config":{},"layers":[]}"#;
        let bare_i = r#"{"schemaVersion":2,"manifests":[]}"#;
        let schema1 = r#"{"schemaVersion":1,"name":"a","fsLayers":[]}"#;
        let docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
        let cases: &[(Option<&str>, &str, Result<MediaType, &str>)] = &[
            (Some("application/vnd.oci.image.manifest.v1+json"), oci_m, Ok(MediaType::OciManifest)),
            (Some("application/json"), oci_m, Ok(MediaType::OciManifest)),
            (None, bare_m, Ok(MediaType::OciManifest)),
            (None, bare_i, Ok(MediaType::OciIndex)),
            (Some(docker_list), bare_i, Ok(MediaType::DockerManifestList)),
            (Some("application/vnd.oci.image.index.v1+json"), oci_m, Err("Content-Type says")),
            (
                Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
                schema1,
                Err("unsupported manifest type `application/vnd.docker.distribution.manifest.v1+prettyjws`"),
            ),
            (Some("text/html"), "<html>", Err("invalid manifest")),
        ];
        for (content_type, body, expected) in cases {
            let got = classify(*content_type, body.as_bytes(), &url);
            match expected {
                Ok(m) => assert_eq!(got.unwrap(), *m, "{body}"),
                Err(text) => {
                    let err = got.unwrap_err().to_string();
                    assert!(err.contains(text), "{body}: {err}");
                }
            }
        }
    }
}
