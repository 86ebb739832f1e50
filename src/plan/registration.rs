//! The registration request, derived from the image, the plugin manifest and the inputs,
//! and where it is sent.

use std::path::Path;

use super::{input_error, spaceone_options, Destination, PlanError, Release, MANIFEST_CANDIDATES};
use crate::inputs::Inputs;
use crate::reference::Reference;
use crate::spaceone;

/// The registration request and where it goes.
pub struct Registering {
    pub request: Option<spaceone::PluginRequest>,
    pub options: Option<spaceone::SpaceOneOptions>,
}

impl Registering {
    pub fn resolve(
        inputs: &Inputs,
        context: &Path,
        destination: &Destination,
        release: &Release,
        notes: &mut Vec<String>,
    ) -> Result<Registering, PlanError> {
        let manifest_path = inputs.plugin_manifest.clone().or_else(|| {
            MANIFEST_CANDIDATES
                .iter()
                .map(|c| context.join(c))
                .find(|p| p.is_file())
        });
        let manifest = match manifest_path.as_deref().map(spaceone::PluginManifest::load) {
            Some(Err(e)) if inputs.spaceone_endpoint.is_none() => {
                notes.push(format!(
                    "no spaceone-endpoint, so nothing is registered; the plugin manifest is \
                     not used: {e}"
                ));
                return Ok(Registering {
                    request: None,
                    options: None,
                });
            }
            loaded => loaded.transpose()?,
        };
        if inputs.spaceone_endpoint.is_none() && manifest.is_none() {
            return Ok(Registering {
                request: None,
                options: None,
            });
        }
        let target = registration_target(destination, manifest.as_ref(), context);
        let version = release.version.clone().ok_or_else(|| {
            let problem =
                "no version to register: set `version`, push a git tag, or add src/VERSION";
            input_error(inputs, "version", problem.into())
        })?;
        let overrides = spaceone::RequestOverrides {
            registry_type: inputs.registry_type.clone(),
        };
        let request = match spaceone::prepare(manifest.as_ref(), &target, &version, &overrides) {
            Ok(request) => request.with_pushed_tags(&release.tags),
            // Nothing is registered without an endpoint, so a manifest kept for another
            // image (e.g. `test/spacectl/register_plugin.yaml`) must not stop the push.
            Err(e) if inputs.spaceone_endpoint.is_none() => {
                notes.push(format!(
                    "no spaceone-endpoint, so nothing is registered; the plugin manifest would \
                     not register this image: {e}"
                ));
                return Ok(Registering {
                    request: None,
                    options: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let pushing = matches!(destination, Destination::Registry(_));
        let options = match &inputs.spaceone_endpoint {
            Some(_) if pushing && !inputs.dry_run => Some(spaceone_options(inputs)?),
            Some(_) if !pushing => {
                notes.push(
                    "the image is written locally, not pushed: registration is printed, not sent"
                        .into(),
                );
                None
            }
            Some(_) => None,
            None => {
                notes.push("no spaceone-endpoint: registration is printed, not sent".into());
                None
            }
        };
        Ok(Registering {
            request: Some(request),
            options,
        })
    }
}

/// The reference registration describes: the push target, or for a local output the
/// manifest's `image` (else the context directory's name).
fn registration_target(
    destination: &Destination,
    manifest: Option<&spaceone::PluginManifest>,
    context: &Path,
) -> Reference {
    match destination {
        Destination::Registry(r)
        | Destination::Layout { name: Some(r), .. }
        | Destination::DockerArchive { name: Some(r), .. } => r.clone(),
        Destination::Layout { name: None, .. } | Destination::DockerArchive { name: None, .. } => {
            let from_manifest = manifest
                .and_then(|m| m.image())
                .and_then(|i| i.parse::<Reference>().ok());
            from_manifest.unwrap_or_else(|| {
                let dir = context
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().to_lowercase()));
                let name = dir.unwrap_or_else(|| "plugin".into());
                format!("localhost/{name}")
                    .parse()
                    .unwrap_or_else(|_| "localhost/plugin".parse().expect("valid"))
            })
        }
    }
}
