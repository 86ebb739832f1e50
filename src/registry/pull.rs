//! Reading from a registry: resolving a base image, downloading blobs, listing tags.
//!
//! [`Client::resolve`] turns `FROM python:3.12` into content: the manifest (via the index
//! entry for the wanted platform, skipping attestation entries) and the config. It never
//! downloads layers — a build that does not need a base's files pushes them by mount or
//! registry-to-registry copy. When the files are needed, [`Client::download_blob`] hands
//! a layer's chunks over as they arrive (the builder unpacks them on the way) and says at
//! the end whether the bytes had the digest; [`Client::fetch_blob`] streams a blob into
//! the [`BlobStore`] instead, which refuses it unless the digest matches.

use bytes::Bytes;
use futures_util::StreamExt as _;
use reqwest::header::LINK;
use reqwest::{Method, Response, StatusCode};

use super::challenge::Scopes;
use super::client::read_capped;
use super::error::{RedactedUrl, RegistryError};
use super::manifest;
use super::session::{Request, Session};
use super::targets::resolve_location;
use super::Client;
use crate::digest::Hasher;
use crate::oci::{
    BlobStore, Descriptor, Digest, ImageConfig, Index, Manifest, Platform, StoreError, StoredBlob,
};
use crate::reference::Reference;

/// Image configs are JSON; a huge one is a mistake or an attack.
pub(super) const CONFIG_LIMIT: usize = 16 * 1024 * 1024;
/// Tag lists are paged; one page is small.
const TAG_PAGE_LIMIT: usize = 4 * 1024 * 1024;
/// Chunks in flight between the download and the blocking writer.
const WRITE_QUEUE: usize = 16;

/// A base image resolved to content for one platform.
#[derive(Clone, Debug)]
pub struct ResolvedImage {
    /// The reference as asked for.
    pub reference: Reference,
    /// The index the manifest was selected from, when the reference named an index.
    pub index_digest: Option<Digest>,
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    pub config: ImageConfig,
    /// The image's own platform, from its config. For a single-platform image this may
    /// differ from the one asked for; the caller decides whether that is acceptable.
    pub platform: Platform,
}

/// A blob on its way from a registry: its chunks in order, hashed as they pass.
pub struct BlobDownload {
    url: url::Url,
    expected: Digest,
    hasher: Hasher,
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Bytes>> + Send>>,
}

impl BlobDownload {
    /// The next chunk, or `None` at the end of a blob whose bytes had the digest asked for;
    /// a blob that ends with other bytes is [`RegistryError::DigestMismatch`].
    pub async fn next(&mut self) -> Result<Option<Bytes>, RegistryError> {
        match self.body.next().await {
            Some(Ok(chunk)) => {
                self.hasher.update(&chunk);
                Ok(Some(chunk))
            }
            Some(Err(e)) => Err(RegistryError::transport(&Method::GET, &self.url, e)),
            None => {
                let actual = std::mem::take(&mut self.hasher).finish();
                if actual == self.expected {
                    return Ok(None);
                }
                Err(RegistryError::DigestMismatch {
                    what: "blob",
                    url: RedactedUrl::new(&self.url),
                    expected: self.expected.clone(),
                    actual,
                })
            }
        }
    }
}

impl Client {
    /// Resolves `image` for `platform`: GET the manifest (every type we parse in `Accept`);
    /// if it is an index, select `platform` (attestations skipped; none → the error lists
    /// what is available) and GET that manifest; then GET the config. Digests are checked
    /// against `Docker-Content-Digest`, the bytes, and the reference's digest if it has one.
    pub async fn resolve(
        &self,
        image: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedImage, RegistryError> {
        // A mirror is tried first, as registries.conf and kaniko do; any failure there
        // (missing, unreachable, refused) falls back to the image's own registry. The
        // reference returned is the one that answered, so layers come from there too.
        for mirrored in self.mirrored(image) {
            if let Ok(resolved) = self.resolve_at(&mirrored, platform).await {
                return Ok(resolved);
            }
        }
        self.resolve_at(image, platform).await
    }

    async fn resolve_at(
        &self,
        image: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedImage, RegistryError> {
        let repository = image.repository.as_str();
        let session = self.session(image, Scopes::pull(repository)).await?;
        let top = manifest::get(
            &session,
            repository,
            &image.manifest_ref(),
            image.digest.as_ref(),
        )
        .await?;
        let (index_digest, fetched) = if top.media_type.is_index() {
            let index: Index = parse_json(&top.bytes, &top.url, "image index")?;
            let entry = index
                .select(platform)
                .ok_or_else(|| RegistryError::PlatformNotFound {
                    reference: image.original().to_string(),
                    platform: Box::new(platform.clone()),
                    available: index.platforms(),
                })?;
            let child = entry.digest.to_string();
            let child = manifest::get(&session, repository, &child, Some(&entry.digest)).await?;
            if !child.media_type.is_manifest() {
                return Err(RegistryError::UnsupportedManifest {
                    url: RedactedUrl::new(&child.url),
                    media_type: format!("{} (nested inside an index)", child.media_type),
                });
            }
            (Some(top.digest), child)
        } else {
            (None, top)
        };
        let manifest: Manifest = parse_json(&fetched.bytes, &fetched.url, "image manifest")?;
        let (config_bytes, config_url) =
            get_small_blob(&session, repository, &manifest.config, CONFIG_LIMIT).await?;
        let config: ImageConfig = parse_json(&config_bytes, &config_url, "image config")?;
        let platform = Platform {
            architecture: config.architecture.clone(),
            os: config.os.clone(),
            os_version: None,
            variant: config.variant.clone(),
        };
        Ok(ResolvedImage {
            reference: image.clone(),
            index_digest,
            manifest_digest: fetched.digest,
            manifest,
            config,
            platform,
        })
    }

    /// Downloads blob `digest` of `repo` into `store`, streamed and verified. A blob the
    /// store already holds is not downloaded again (same digest, same bytes).
    pub async fn fetch_blob(
        &self,
        repo: &Reference,
        digest: &Digest,
        store: &BlobStore,
    ) -> Result<StoredBlob, RegistryError> {
        if let Ok(size) = store.size(digest) {
            return Ok(StoredBlob {
                digest: digest.clone(),
                size,
            });
        }
        let mut download = self.download_blob(repo, digest).await?;

        // Disk writes run on a blocking thread, fed through a bounded queue.
        let mut writer = store.writer().map_err(RegistryError::Store)?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(WRITE_QUEUE);
        let expected = digest.clone();
        let root = store.root().to_path_buf();
        let write = tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            while let Some(chunk) = rx.blocking_recv() {
                writer
                    .write_all(&chunk)
                    .map_err(|source| StoreError::Write {
                        path: root.clone(),
                        source,
                    })?;
            }
            writer.commit_expecting(&expected)
        });
        let downloaded = async {
            while let Some(chunk) = download.next().await? {
                if tx.send(chunk).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok::<(), RegistryError>(())
        }
        .await;
        drop(tx);
        let written = write.await;
        downloaded?;
        match written {
            Ok(result) => result.map_err(RegistryError::Store),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    /// Starts downloading blob `digest` of `repo`; the caller takes the chunks as they
    /// come (to unpack them while they arrive) and learns at the end whether the bytes had
    /// that digest.
    pub async fn download_blob(
        &self,
        repo: &Reference,
        digest: &Digest,
    ) -> Result<BlobDownload, RegistryError> {
        let session = self.session(repo, Scopes::pull(&repo.repository)).await?;
        let response = get_blob(&session, &repo.repository, digest).await?;
        Ok(BlobDownload {
            url: response.url().clone(),
            expected: digest.clone(),
            hasher: Hasher::default(),
            body: Box::pin(response.bytes_stream()),
        })
    }

    /// Every tag of `repo`, following `Link: <…>; rel="next"` pages. A repository that
    /// does not exist yet (404 `NAME_UNKNOWN`) has no tags.
    pub async fn list_tags(&self, repo: &Reference) -> Result<Vec<String>, RegistryError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let session = self.session(repo, Scopes::pull(&repo.repository)).await?;
        let mut url = session.url(&repo.repository, "tags/list");
        let mut tags = Vec::new();
        loop {
            let response = session.send(Request::new(Method::GET, url)).await?;
            match response.status() {
                StatusCode::OK => {}
                _ => {
                    let err = session.fail(&Method::GET, response).await;
                    return match &err {
                        RegistryError::Status {
                            status: StatusCode::NOT_FOUND,
                            body,
                            ..
                        } if body.has_code("NAME_UNKNOWN") => Ok(Vec::new()),
                        _ => Err(err),
                    };
                }
            }
            let page_url = response.url().clone();
            let next = next_link(&response);
            let bytes = read_capped(response, &Method::GET, TAG_PAGE_LIMIT, "tag list").await?;
            let page: Page = parse_json(&bytes, &page_url, "tag list")?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) => url = next,
                None => return Ok(tags),
            }
        }
    }
}

/// `GET /v2/<repository>/blobs/<digest>`, redirects followed (without credentials when
/// they leave the registry), expecting 200.
pub(super) async fn get_blob(
    session: &Session,
    repository: &str,
    digest: &Digest,
) -> Result<Response, RegistryError> {
    let url = session.url(repository, &format!("blobs/{digest}"));
    session
        .expect(Request::new(Method::GET, url), &[StatusCode::OK])
        .await
}

/// A small blob (a config) read into memory and verified.
pub(super) async fn get_small_blob(
    session: &Session,
    repository: &str,
    descriptor: &Descriptor,
    limit: usize,
) -> Result<(Vec<u8>, url::Url), RegistryError> {
    let response = get_blob(session, repository, &descriptor.digest).await?;
    let url = response.url().clone();
    let bytes = read_capped(response, &Method::GET, limit, "config").await?;
    let actual = Digest::sha256_of(&bytes);
    if descriptor.digest.algorithm() == actual.algorithm() && actual != descriptor.digest {
        return Err(RegistryError::DigestMismatch {
            what: "config",
            url: RedactedUrl::new(&url),
            expected: descriptor.digest.clone(),
            actual,
        });
    }
    Ok((bytes, url))
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    url: &url::Url,
    what: &'static str,
) -> Result<T, RegistryError> {
    serde_json::from_slice(bytes).map_err(|source| RegistryError::InvalidJson {
        url: RedactedUrl::new(url),
        what,
        source,
    })
}

/// The `rel="next"` target of a `Link` header, resolved against the response URL.
fn next_link(response: &Response) -> Option<url::Url> {
    let header = response.headers().get(LINK)?.to_str().ok()?;
    parse_next_link(response.url(), header)
}

fn parse_next_link(base: &url::Url, header: &str) -> Option<url::Url> {
    header.split(',').find_map(|link| {
        let (target, params) = link.trim().split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        next.then(|| resolve_location(base, target)).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_table() {
        let base = url::Url::parse("http://h:5000/v2/a/tags/list").unwrap();
        let cases = [
            (
                r#"</v2/a/tags/list?last=b&n=100>; rel="next""#,
                Some("http://h:5000/v2/a/tags/list?last=b&n=100"),
            ),
            (
                r#"<https://x/v2/a/tags/list?last=c>;rel=next"#,
                Some("https://x/v2/a/tags/list?last=c"),
            ),
            (
                r#"</first>; rel="prev", </v2/a/tags/list?last=d>; rel="next""#,
                Some("http://h:5000/v2/a/tags/list?last=d"),
            ),
            (r#"</v2/a/tags/list?last=b>; rel="prev""#, None),
            ("garbage", None),
        ];
        for (header, expected) in cases {
            assert_eq!(
                parse_next_link(&base, header)
                    .as_ref()
                    .map(url::Url::as_str),
                expected,
                "{header}"
            );
        }
    }
}
