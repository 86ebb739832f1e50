//! Where a built image goes: a registry (the push), an OCI image layout on disk, or a
//! `docker load` tar.
//!
//! One platform gives one image manifest. Several give one manifest per platform plus an
//! index over them: the children are pushed by digest first, then the index under the
//! tags, so a tag never points at something incomplete.
//!
//! A layout must hold every blob, so base layers that stayed in their registry during the
//! build are downloaded into the blob store first; a registry push mounts or copies them
//! registry-side instead.
//!
//! A docker archive (`docker-archive:FILE`) is what `docker save` writes since Docker 25:
//! `manifest.json` (`Config`, `RepoTags`, `Layers`) for `docker load` and skopeo, with
//! the blobs under `blobs/sha256/`, plus `oci-layout` and `index.json` so the same file
//! is also an OCI layout in a tar. Layers stay gzip-compressed as stored: `docker load`
//! has detected compressed layer tarballs since Docker 1.10 (it compares each layer's
//! uncompressed digest with the config's `diff_ids`, which are ours already), so
//! decompressing would only make the file bigger and the write slower. One platform
//! only: the loader has no notion of an index (the plan refuses several).

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::events::{BlobAction, Event, Reporter};
use crate::oci::{
    layout, BlobStore, Descriptor, Digest, Index, LayerOrigin, MediaType, SealedImage,
};
use crate::plan::Destination;
use crate::reference::Reference;
use crate::registry;

/// The result of delivering an image (or an index of images).
#[derive(Debug, Clone)]
pub struct Delivered {
    /// The digest the tags point at: the manifest's, or the index's.
    pub digest: Digest,
    /// The repositories pushed to (no tag), the registered one first; in a dry run, the
    /// ones that would have been.
    pub repositories: Vec<Reference>,
    /// Nothing was pushed: `dry-run`.
    pub dry_run: bool,
    pub tags: Vec<String>,
    /// Where it was written locally (`oci:DIR` or `docker-archive:FILE`).
    pub local: Option<String>,
    pub size: u64,
    pub layers: usize,
    /// Blobs the registry already had or mounted, and blobs uploaded (with their bytes).
    pub reused_blobs: usize,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
}

/// What a build produced: one image per platform, and an index over them when there are
/// several.
pub struct Built {
    pub images: Vec<SealedImage>,
    pub index: Option<Index>,
}

impl Built {
    /// The index lists the images in platform order, so its bytes are stable.
    pub fn new(
        images: Vec<SealedImage>,
        annotations: &std::collections::BTreeMap<String, String>,
    ) -> Built {
        let index = (images.len() > 1).then(|| {
            let mut manifests: Vec<Descriptor> =
                images.iter().map(|i| i.manifest.clone()).collect();
            manifests.sort_by(|a, b| a.platform.cmp(&b.platform));
            Index::oci(
                manifests,
                (!annotations.is_empty()).then(|| annotations.clone()),
            )
        });
        Built { images, index }
    }
}

/// Pushes `images` (and their index) with `tags` to one repository, counting blobs.
#[allow(clippy::too_many_arguments)]
async fn push_to(
    target: &Reference,
    registry: &registry::Client,
    images: &[SealedImage],
    index: Option<&Index>,
    tags: &[String],
    store: &BlobStore,
    reporter: &dyn Reporter,
    delivered: &mut Delivered,
) -> Result<(), OutputError> {
    // Children go by digest only when an index will carry the tags.
    let image_tags: &[String] = if index.is_some() { &[] } else { tags };
    for image in images {
        let pushed = registry
            .push(image, target, image_tags, store, reporter)
            .await?;
        let uploaded = pushed
            .blobs
            .iter()
            .filter(|b| b.action == BlobAction::Pushed)
            .count();
        delivered.uploaded_blobs += uploaded;
        delivered.reused_blobs += pushed.blobs.len() - uploaded;
        delivered.uploaded_bytes += pushed.uploaded_bytes();
    }
    if let Some(index) = index {
        registry.push_index(index, target, tags, reporter).await?;
    }
    Ok(())
}

/// Delivers the built images to `destination`, and to every repository in `also` (each
/// with its own client, so its own credentials) when that is a registry.
/// Tries the push credentials of every repository [`deliver`] will push to, before the
/// build: a wrong password must not cost a whole build first. A dry run pushes nothing,
/// so it tries nothing.
pub async fn check_credentials(
    plan: &crate::plan::Plan,
    also: &[(Reference, registry::Client)],
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Result<(), OutputError> {
    let Destination::Registry(target) = &plan.destination else {
        return Ok(());
    };
    if plan.publication.dry_run {
        return Ok(());
    }
    let targets = std::iter::once((target, registry)).chain(also.iter().map(|(r, c)| (r, c)));
    for (target, client) in targets {
        client.check_push_credentials(target, reporter).await?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    destination: &Destination,
    also: &[(Reference, registry::Client)],
    built: &Built,
    tags: &[String],
    dry_run: bool,
    registry: &registry::Client,
    store: &BlobStore,
    reporter: &dyn Reporter,
) -> Result<Delivered, OutputError> {
    let (images, index) = (&built.images, built.index.as_ref());
    let top = match index {
        Some(index) => {
            let stored = store.put(&serde_json::to_vec(index).expect("index serializes"))?;
            Descriptor::new(MediaType::OciIndex, stored.digest, stored.size)
        }
        None => images[0].manifest.clone(),
    };
    let mut delivered = Delivered {
        digest: top.digest.clone(),
        repositories: Vec::new(),
        dry_run,
        tags: tags.to_vec(),
        local: None,
        size: images.iter().map(SealedImage::layers_size).sum(),
        layers: images.iter().map(|i| i.image.layers.len()).sum(),
        reused_blobs: 0,
        uploaded_blobs: 0,
        uploaded_bytes: 0,
    };
    match destination {
        Destination::Registry(target) => {
            let targets = std::iter::once((target, registry))
                .chain(also.iter().map(|(reference, client)| (reference, client)));
            for (target, registry) in targets {
                let repository = target.name().parse().unwrap_or_else(|_| target.clone());
                if dry_run {
                    reporter.event(Event::Note(&format!(
                        "dry run: {} would be pushed to {}",
                        top.digest,
                        target.name()
                    )));
                } else {
                    push_to(
                        target,
                        registry,
                        images,
                        index,
                        tags,
                        store,
                        reporter,
                        &mut delivered,
                    )
                    .await?;
                }
                delivered.repositories.push(repository);
            }
        }
        Destination::DockerArchive { file, name } => {
            let [image] = images.as_slice() else {
                unreachable!("the plan allows one platform in a docker archive")
            };
            fetch_remote_layers(images, registry, store).await?;
            let repo_tags: Vec<String> = match name {
                Some(name) => tags
                    .iter()
                    .map(|t| format!("{}:{t}", name.name()))
                    .collect(),
                None => vec![],
            };
            write_docker_archive(file, store, image, &repo_tags)?;
            // The result line on stdout says where it went; the log does not repeat it.
            delivered.local = Some(format!("docker-archive:{}", file.display()));
        }
        Destination::Layout { dir, .. } => {
            fetch_remote_layers(images, registry, store).await?;
            layout::write(dir, store, images, &top, tags)?;
            delivered.local = Some(format!("oci:{}", dir.display()));
        }
    }
    Ok(delivered)
}

/// Downloads every base layer still in its registry into the blob store.
async fn fetch_remote_layers(
    images: &[SealedImage],
    registry: &registry::Client,
    store: &BlobStore,
) -> Result<(), OutputError> {
    for image in images {
        for layer in &image.image.layers {
            if let LayerOrigin::Remote(source) = &layer.origin {
                if !store.contains(&layer.descriptor.digest) {
                    registry
                        .fetch_blob(source, &layer.descriptor.digest, store)
                        .await?;
                }
            }
        }
    }
    Ok(())
}

/// Why an image could not be delivered; `crate::Error` gives each its exit code.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    #[error("writing the OCI layout failed")]
    Layout(#[from] layout::LayoutError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("the blob store failed")]
    Store(#[from] crate::oci::StoreError),
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the docker archive {path}")]
pub struct ArchiveError {
    path: PathBuf,
    #[source]
    source: io::Error,
}

/// Writes `image` (every blob local) as a `docker load` tar at `file`: a temp file next to
/// it, renamed at the end, so `file` is never half written. Entries are sorted, owned by
/// root and dated 0, so the same image gives the same bytes.
pub fn write_docker_archive(
    file: &Path,
    store: &BlobStore,
    image: &SealedImage,
    repo_tags: &[String],
) -> Result<(), ArchiveError> {
    let fail = |source| ArchiveError {
        path: file.to_path_buf(),
        source,
    };
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    let path_of = |d: &Digest| format!("blobs/sha256/{}", d.hex());
    let manifest = serde_json::json!([{
        "Config": path_of(&image.config.digest),
        "RepoTags": repo_tags,
        "Layers": image.image.layers.iter().map(|l| path_of(&l.descriptor.digest)).collect::<Vec<_>>(),
    }]);
    let mut top = image.manifest.clone();
    top.platform = None;
    if let Some(tag) = repo_tags.first() {
        top.annotations = Some(
            [("io.containerd.image.name".to_string(), tag.clone())]
                .into_iter()
                .collect(),
        );
    }
    let index = Index::oci(vec![top], None);
    let mut blobs: Vec<&Digest> = image
        .image
        .layers
        .iter()
        .map(|l| &l.descriptor.digest)
        .chain([&image.config.digest, &image.manifest.digest])
        .collect();
    blobs.sort_by_key(|d| d.hex().to_string());
    blobs.dedup();

    let mut tar = tar::Builder::new(io::BufWriter::new(tmp.as_file()));
    let header = |size: u64, mode: u32| {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_entry_type(tar::EntryType::Regular);
        h
    };
    let mut dir_header = header(0, 0o755);
    dir_header.set_entry_type(tar::EntryType::Directory);
    for d in ["blobs/", "blobs/sha256/"] {
        tar.append_data(&mut dir_header.clone(), d, io::empty())
            .map_err(fail)?;
    }
    for digest in blobs {
        let blob = File::open(store.path(digest)).map_err(fail)?;
        let size = blob.metadata().map_err(fail)?.len();
        tar.append_data(&mut header(size, 0o644), path_of(digest), blob)
            .map_err(fail)?;
    }
    let json = |v: &serde_json::Value| serde_json::to_vec(v).expect("json serializes");
    let index = serde_json::to_value(&index).expect("index serializes");
    for (name, bytes) in [
        ("index.json", json(&index)),
        ("manifest.json", json(&manifest)),
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
    ] {
        tar.append_data(
            &mut header(bytes.len() as u64, 0o644),
            name,
            bytes.as_slice(),
        )
        .map_err(fail)?;
    }
    tar.into_inner().map_err(fail)?.flush().map_err(fail)?;
    let tmp = tmp.into_temp_path();
    std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(fail)?;
    tmp.persist(file).map_err(|e| fail(e.error))?;
    Ok(())
}

/// Pushes an index whose children are already in `target` (the `merge` verb).
pub async fn deliver_index(
    target: &Reference,
    index: &Index,
    tags: &[String],
    dry_run: bool,
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Result<Delivered, OutputError> {
    let bytes = serde_json::to_vec(index).expect("index serializes");
    let digest = Digest::sha256_of(&bytes);
    if dry_run {
        reporter.event(Event::Note(&format!(
            "dry run: index {digest} would be pushed to {}",
            target.name()
        )));
    } else {
        registry.push_index(index, target, tags, reporter).await?;
    }
    Ok(Delivered {
        digest,
        repositories: vec![target.clone()],
        dry_run,
        tags: tags.to_vec(),
        local: None,
        size: index.manifests.iter().map(|m| m.size).sum(),
        layers: 0,
        reused_blobs: 0,
        uploaded_blobs: 0,
        uploaded_bytes: 0,
    })
}
