//! Where a stage starts: `scratch`, an earlier stage's image, or an image from a registry,
//! resolved by reference for the build's platform with its layers left where they are.

use std::collections::BTreeMap;

use super::dockerfile::Stage;
use super::{expand, instruction_error, BuildError, Builder};
use crate::events::Event;
use crate::oci::{Image, ImageConfig, Layer, LayerOrigin};
use crate::reference::Reference;

impl Builder<'_> {
    pub(super) async fn base_image(&self, stage: &Stage) -> Result<Image, BuildError> {
        let plan = self.plan;
        let df = &plan.dockerfile;
        let word = expand::expand(&stage.base, df.escape, &|n| self.globals.get(n).cloned())
            .map_err(|e| instruction_error(df, stage.line, e.to_string()))?;
        if word.eq_ignore_ascii_case("scratch") {
            return Ok(Image {
                config: ImageConfig::scratch(&plan.platform),
                layers: vec![],
                annotations: BTreeMap::new(),
            });
        }
        if let Some(earlier) = df
            .stage_by_name_or_index(&word)
            .filter(|s| s.index < stage.index)
        {
            let built = self
                .built
                .get(&earlier.index)
                .expect("dependencies come first");
            return Ok(built.image.clone());
        }
        self.resolve(&word, stage.line).await
    }

    /// An image from a registry, by reference, its layers left there.
    pub(super) async fn resolve(&self, word: &str, line: usize) -> Result<Image, BuildError> {
        let plan = self.plan;
        let df = &plan.dockerfile;
        let reference: Reference =
            word.parse()
                .map_err(|e: crate::reference::ReferenceError| {
                    instruction_error(df, line, e.to_string())
                })?;
        self.reporter.event(Event::Note(&format!(
            "resolving image {reference} for {}",
            plan.platform
        )));
        let resolved = self
            .registry
            .resolve(&reference, &plan.platform)
            .await
            .map_err(|source| BuildError::Base {
                path: df.path.clone(),
                line,
                reference: word.to_string(),
                source: Box::new(source),
            })?;
        let origin = LayerOrigin::Remote(resolved.reference.clone());
        let mut config = resolved.config;
        let layers = resolved
            .manifest
            .layers
            .iter()
            .zip(config.rootfs.diff_ids.iter())
            .map(|(descriptor, diff_id)| {
                let mut descriptor = descriptor.clone();
                descriptor.media_type = descriptor.media_type.to_oci();
                Layer {
                    descriptor,
                    diff_id: crate::oci::DiffId(diff_id.clone()),
                    origin: origin.clone(),
                }
            })
            .collect();
        config.created = None;
        Ok(Image {
            config,
            layers,
            annotations: BTreeMap::new(),
        })
    }
}
