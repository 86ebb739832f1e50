//! Plans of the verbs other than `publish`: `merge` (an index over per-platform images
//! pushed by matrix jobs) and the plugin verbs (`get`, `enable`, `disable`, `deregister`).

use std::path::{Path, PathBuf};

use super::{
    checked_context, input_error, oci_annotations, spaceone_options, Destination, PlanError,
    Publication, Registering, Release,
};
use crate::inputs::Inputs;
use crate::reference::Reference;
use crate::spaceone;

/// The `merge` verb's plan: per-platform images pushed by matrix jobs become one index.
pub struct MergePlan {
    pub image: Reference,
    /// Per-platform manifest digests, from `digests` and the files in `digests-dir`.
    pub digests: Vec<crate::oci::Digest>,
    pub publication: Publication,
}

impl MergePlan {
    pub fn resolve(inputs: Inputs) -> Result<MergePlan, PlanError> {
        let mut notes = inputs.unknown.clone();
        let context = checked_context(&inputs)?;
        super::checks::check(&inputs)?;
        let image = inputs.image.clone().ok_or_else(|| {
            input_error(
                &inputs,
                "image",
                "`merge` needs the repository the matrix jobs pushed to".into(),
            )
        })?;
        let mut digests = inputs.digests.clone();
        if let Some(dir) = &inputs.digests_dir {
            digests.extend(digest_files(&inputs, dir)?);
        }
        digests.sort();
        digests.dedup();
        if digests.is_empty() {
            let problem = "no digests to merge: set `digests` or `digests-dir` (files written by the matrix jobs)";
            return Err(input_error(&inputs, "digests", problem.into()));
        }
        let release = Release::resolve(&inputs, &context)?;
        let destination = Destination::Registry(image.clone());
        let registration =
            Registering::resolve(&inputs, &context, &destination, &release, &mut notes)?;
        let annotations = oci_annotations(&inputs, &destination, &release);
        let publication = Publication::new(
            &inputs,
            release,
            Some(&image),
            registration,
            annotations,
            notes,
        );
        Ok(MergePlan {
            image,
            digests,
            publication,
        })
    }
}

/// Digests from a directory of small files (one digest each; names are free), as matrix
/// jobs leave them in a downloaded artifact.
fn digest_files(inputs: &Inputs, dir: &Path) -> Result<Vec<crate::oci::Digest>, PlanError> {
    let read_err = |source| PlanError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let mut digests = Vec::new();
    for path in entries.iter().filter(|p| p.is_file()) {
        let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
            path: path.clone(),
            source,
        })?;
        let text = text.trim();
        // A file may be named by the digest's hex, holding nothing (docker's own recipe).
        let candidate = if text.is_empty() {
            format!(
                "sha256:{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            )
        } else {
            text.to_string()
        };
        let digest = candidate.parse().map_err(|e: crate::oci::DigestError| {
            input_error(inputs, "digests-dir", format!("{}: {e}", path.display()))
        })?;
        digests.push(digest);
    }
    Ok(digests)
}

/// The plugin verbs' plan: which plugin, on which server.
pub struct PluginVerbPlan {
    pub plugin_id: String,
    pub options: spaceone::SpaceOneOptions,
}

impl PluginVerbPlan {
    pub fn resolve(inputs: Inputs) -> Result<PluginVerbPlan, PlanError> {
        let plugin_id = match (&inputs.plugin_id, &inputs.image) {
            (Some(id), _) => id.clone(),
            (None, Some(image)) => image
                .repository
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            (None, None) => {
                return Err(input_error(
                    &inputs,
                    "plugin-id",
                    "which plugin? set `plugin-id` (or `image`)".into(),
                ))
            }
        };
        Ok(PluginVerbPlan {
            plugin_id,
            options: spaceone_options(&inputs)?,
        })
    }
}

/// The `list` verb's plan: which plugins, on which server.
pub struct ListPlan {
    pub filter: spaceone::ListFilter,
    pub options: spaceone::SpaceOneOptions,
}

impl ListPlan {
    pub fn resolve(inputs: Inputs) -> Result<ListPlan, PlanError> {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        Ok(ListPlan {
            filter: spaceone::ListFilter {
                repository_id: given(&inputs.repository_id),
                resource_type: given(&inputs.resource_type),
                provider: given(&inputs.provider),
                plugin_id: given(&inputs.plugin_id),
            },
            options: spaceone_options(&inputs)?,
        })
    }
}
