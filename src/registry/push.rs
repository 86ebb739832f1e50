//! The one push call: blobs first (each once, a few at a time), manifest last.
//!
//! [`Client::push`] is the whole strategy behind a single call, so `pipeline.rs` never
//! sees an HTTP verb:
//!
//! 1. Tags are validated before anything is sent.
//! 2. One session asks for `pull,push` on the target and `pull` on every repository of
//!    the same registry that base layers will be mounted from — push scope first, since
//!    some registries read only the first scope.
//! 3. `HEAD` the manifest by digest. If the repository already holds it, its blobs are
//!    there too (a registry refuses a manifest whose blobs are missing), so an unchanged
//!    re-publish sends no blob request at all.
//! 4. Otherwise every distinct blob (layers, then config) goes through
//!    `upload::push_blob` — existing, mounted or pushed — at most `jobs` at a time, each
//!    inside the retry policy.
//! 5. The manifest's exact bytes are PUT under every tag (or by digest when there are
//!    none), after all its blobs: a manifest never points at something missing.
//!
//! Every blob and manifest is reported as it completes; a retried failure is a note.
//! `index.rs` pushes image indexes the same way (children checked, index last).

use std::sync::Mutex;

use futures_util::{stream, StreamExt as _, TryStreamExt as _};
use reqwest::Method;

use super::challenge::Scopes;
use super::error::RegistryError;
use super::manifest;
use super::session::{Request, Session};
use super::upload::{self, BlobJob, UploadState};
use super::Client;
use crate::events::{BlobAction, Event, Reporter};
use crate::oci::{BlobStore, Digest, LayerOrigin, MediaType, SealedImage};
use crate::reference::{validate_tag, Reference};

/// What a push left in the registry.
#[derive(Clone, Debug)]
pub struct Pushed {
    /// The target repository, without tag or digest.
    pub repository: Reference,
    /// The manifest digest.
    pub digest: Digest,
    /// Tags now pointing at `digest` (empty: pushed by digest only).
    pub tags: Vec<String>,
    /// Every distinct blob, layers first then the config, and what it took.
    pub blobs: Vec<PushedBlob>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedBlob {
    pub digest: Digest,
    pub size: u64,
    pub action: BlobAction,
}

impl Pushed {
    /// Bytes actually sent as blob bodies (mounted and existing blobs cost nothing).
    pub fn uploaded_bytes(&self) -> u64 {
        self.blobs
            .iter()
            .filter(|b| b.action == BlobAction::Pushed)
            .map(|b| b.size)
            .sum()
    }
}

impl Client {
    /// Tries the credentials for pushing to `target` before anything is built: a token
    /// for the push scope (token auth), or `GET /v2/` with them (Basic). A wrong password
    /// is then found in a second, not after the build. Without credentials there is
    /// nothing to try: an anonymous push says what the registry wants when it happens.
    pub async fn check_push_credentials(
        &self,
        target: &Reference,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let session = self
            .session(target, Scopes::push(&target.repository, []))
            .await?;
        if self.auth().credential(session.host()).is_none() {
            return Ok(());
        }
        reporter.event(Event::Debug(&format!(
            "checking the credentials for {} (push)",
            target.name()
        )));
        let url = session.base_url();
        self.tuning()
            .run(
                |_| async {
                    let response = session.send(Request::new(Method::GET, url.clone())).await?;
                    match response.status().is_success() {
                        true => Ok(()),
                        false => Err(session.fail(&Method::GET, response).await),
                    }
                },
                |err, attempt, wait| {
                    reporter.event(Event::Note(&format!(
                        "{}: credential check attempt {attempt} failed ({err}); retrying in {:.1}s",
                        target.name(),
                        wait.as_secs_f64()
                    )))
                },
            )
            .await
    }

    /// Pushes `image` (whose blobs are in `store`, or in the registry each base layer came
    /// from) to `target` under `tags`. See the module docs for the order of things.
    pub async fn push(
        &self,
        image: &SealedImage,
        target: &Reference,
        tags: &[String],
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<Pushed, RegistryError> {
        let unique = unique_tags(tags)?;
        let tags = unique.as_slice();
        let repository = target.repository.as_str();
        let local = LayerOrigin::Local;
        let mut jobs: Vec<BlobJob<'_>> = Vec::new();
        let layers = image
            .image
            .layers
            .iter()
            .map(|l| (&l.descriptor, &l.origin));
        for (descriptor, origin) in layers.chain([(&image.config, &local)]) {
            if !jobs
                .iter()
                .any(|j| j.descriptor.digest == descriptor.digest)
            {
                jobs.push(BlobJob { descriptor, origin });
            }
        }
        let mount_sources = jobs.iter().filter_map(|j| match j.origin {
            LayerOrigin::Remote(src) if src.same_registry(target) => Some(src.repository.as_str()),
            _ => None,
        });
        let scopes = Scopes::push(repository, mount_sources);
        reporter.event(Event::Debug(&format!(
            "pushing {} to {} (token scopes: {})",
            image.digest(),
            target.name(),
            scopes.key()
        )));
        let session = self.session(target, scopes).await?;
        self.report_masks(reporter);

        let tuning = self.tuning();
        let present = tuning
            .run(
                |_| manifest::exists(&session, repository, image.digest()),
                |err, attempt, wait| retrying(reporter, image.digest(), err, attempt, wait),
            )
            .await?;
        let blobs = if present {
            reporter.event(Event::Debug(&format!(
                "{} already holds manifest {}; skipping its blobs",
                target.name(),
                image.digest()
            )));
            jobs.iter()
                .map(|job| {
                    let blob = blob_of(job, BlobAction::Existing);
                    report(reporter, &blob);
                    blob
                })
                .collect()
        } else {
            let ctx = upload::Ctx {
                session: &session,
                target,
                store,
                reporter,
                tuning,
                chunk_size: self.chunk_size(),
            };
            let ctx = &ctx;
            // Futures are built by a plain iterator (lazy: nothing runs until polled) so
            // the whole push stays `Send`; `buffered` then runs `jobs` at a time.
            let uploads: Vec<_> = jobs
                .iter()
                .map(|job| async move {
                    let state = Mutex::new(UploadState::default());
                    let action = tuning
                        .run(
                            |_| upload::push_blob(ctx, job, &state),
                            |err, attempt, wait| {
                                retrying(reporter, &job.descriptor.digest, err, attempt, wait)
                            },
                        )
                        .await?;
                    let blob = blob_of(job, action);
                    report(reporter, &blob);
                    Ok::<_, RegistryError>(blob)
                })
                .collect();
            stream::iter(uploads)
                .buffered(self.jobs())
                .try_collect::<Vec<_>>()
                .await?
        };

        let digest = image.digest().clone();
        self.put_manifests(
            &session,
            target,
            tags,
            &image.manifest.media_type,
            &image.manifest_bytes,
            reporter,
        )
        .await?;
        self.report_warnings(reporter);

        Ok(Pushed {
            repository: without_tag(target),
            digest,
            tags: tags.to_vec(),
            blobs,
        })
    }
}

impl Client {
    /// PUTs `bytes` under every tag (by digest when there are none), each inside the
    /// retry policy.
    pub(super) async fn put_manifests(
        &self,
        session: &Session,
        target: &Reference,
        tags: &[String],
        media_type: &MediaType,
        bytes: &[u8],
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let digest = Digest::sha256_of(bytes);
        let by_digest = tags.is_empty();
        let by_digest_ref = [digest.to_string()];
        let references = if by_digest { &by_digest_ref[..] } else { tags };
        for reference in references {
            self.tuning()
                .run(
                    |_| manifest::put(session, &target.repository, reference, media_type, bytes),
                    |err, attempt, wait| retrying(reporter, &digest, err, attempt, wait),
                )
                .await?;
            let shown = if by_digest {
                format!("{}@{reference}", target.name())
            } else {
                format!("{}:{reference}", target.name())
            };
            reporter.event(Event::Manifest {
                target: &shown,
                digest: &digest,
            });
        }
        Ok(())
    }

    /// Announces tokens obtained so far for masking, before anything else is printed.
    pub(super) fn report_masks(&self, reporter: &dyn Reporter) {
        for token in self.auth().take_obtained() {
            reporter.event(Event::Mask(&token));
        }
    }

    /// Shows each `Warning` header the registry sent, once per client.
    pub(super) fn report_warnings(&self, reporter: &dyn Reporter) {
        let pending = self.take_warnings();
        self.report_masks(reporter);
        for text in pending {
            reporter.event(Event::Warning(&format!("registry: {text}")));
        }
    }
}

/// Tags validated and deduplicated, in order.
pub(super) fn unique_tags(tags: &[String]) -> Result<Vec<String>, RegistryError> {
    let mut unique: Vec<String> = Vec::new();
    for tag in tags {
        validate_tag(tag).map_err(|reason| RegistryError::InvalidTag { reason })?;
        if !unique.contains(tag) {
            unique.push(tag.clone());
        }
    }
    Ok(unique)
}

/// One line per retried failure, naming what failed and how long we wait.
fn retrying(
    reporter: &dyn Reporter,
    digest: &Digest,
    err: &RegistryError,
    attempt: u32,
    wait: std::time::Duration,
) {
    reporter.event(Event::Note(&format!(
        "{}: attempt {attempt} failed ({err}); retrying in {:.1}s",
        digest.short(),
        wait.as_secs_f64()
    )));
}

fn blob_of(job: &BlobJob<'_>, action: BlobAction) -> PushedBlob {
    PushedBlob {
        digest: job.descriptor.digest.clone(),
        size: job.descriptor.size,
        action,
    }
}

fn report(reporter: &dyn Reporter, blob: &PushedBlob) {
    reporter.event(Event::Blob {
        action: blob.action,
        digest: &blob.digest,
        size: blob.size,
    });
}

pub(super) fn without_tag(target: &Reference) -> Reference {
    target.name().parse().unwrap_or_else(|_| {
        let mut r = target.clone();
        r.tag = None;
        r.digest = None;
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::Platform;

    /// Compile-time check: every public operation's future can move across threads
    /// (the pipeline may spawn it or race it against a signal).
    #[allow(dead_code)]
    fn futures_are_send(
        client: &Client,
        image: &SealedImage,
        target: &Reference,
        store: &BlobStore,
        reporter: &dyn Reporter,
        digest: &Digest,
    ) {
        fn send<T: Send>(_: T) {}
        send(client.push(image, target, &[], store, reporter));
        send(client.resolve(target, &Platform::host()));
        send(client.fetch_blob(target, digest, store));
        send(client.list_tags(target));
        send(client.describe(target, digest));
        let index = crate::oci::Index::oci(Vec::new(), None);
        send(client.push_index(&index, target, &[], reporter));
    }
}
