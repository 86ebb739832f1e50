//! One [`PluginRequest`] in the words of one server generation.
//!
//! | neutral            | 1.x (`CreatePluginRequest`)   | 2.x (`RegisterPluginRequest`) |
//! |--------------------|-------------------------------|-------------------------------|
//! | `resource_type`    | `service_type` (2)            | `resource_type` (2)           |
//! | `capability`       | 11                            | 7                             |
//! | `template`         | 12                            | dropped, with a warning       |
//! | `labels`           | 13 (`ListValue`)              | 8                             |
//! | `tags`             | 14                            | 9                             |
//! | `plugin_id`        | dropped (server derives it)   | 10                            |
//! | `docs`             | dropped, with a warning       | 11                            |
//! | `project_id`       | 21                            | dropped, with a warning       |
//! | domain             | `domain_id` 22, from options  | never: it comes from the token|
//!
//! `registry_type` 2 means AWS_PUBLIC_ECR on 1.x and AWS_PRIVATE_ECR on 2.x, so each
//! generation gets its own mapping and a type its enum lacks is an error, never a number
//! that means something else.
//!
//! Updates send only what changed among the updatable fields (1.x: name, capability,
//! template, labels, tags; 2.x: name, capability, labels, tags, docs); a manifest field
//! that is absent leaves the server's value alone. Fields that cannot change (image,
//! registry type, resource type, provider) are compared too, and a difference becomes a
//! warning: changing them takes a deregister and a new register. A different *image* is
//! worse (the plugin id belongs to another image) and the flow refuses it.

use prost_types::{ListValue, Struct};
use serde_json::{Map, Value as Json};

use super::api::{from_list, from_struct, to_list, to_struct, v1, v2};
use super::error::SpaceOneError;
use super::request::{Generation, PluginRequest, RegistryType};

/// Warnings for fields this generation cannot carry.
pub fn dropped_fields(req: &PluginRequest, generation: Generation) -> Vec<String> {
    let mut notes = Vec::new();
    let mut drop = |present: bool, field: &str, why: &str| {
        if present {
            notes.push(format!(
                "`{field}` is not sent to a SpaceONE {generation} server: {why}"
            ));
        }
    };
    match generation {
        Generation::V1 => {
            drop(
                req.plugin_id != req.image_plugin_id(),
                "plugin_id",
                &format!(
                    "1.x always uses the last image segment, `{}`",
                    req.image_plugin_id()
                ),
            );
            drop(req.docs.is_some(), "docs", "1.x has no such field");
        }
        Generation::V2 => {
            drop(req.template.is_some(), "template", "2.x has no such field");
            drop(
                req.project_id.is_some(),
                "project_id",
                "2.x has no such field",
            );
        }
        Generation::Auto => {}
    }
    notes
}

/// Whether a server of `generation` can be sent this registry type at all.
pub fn check_registry_type(t: RegistryType, generation: Generation) -> Result<(), SpaceOneError> {
    match generation {
        Generation::V1 => v1_registry_type(t).map(|_| ()),
        Generation::V2 => v2_registry_type(t).map(|_| ()),
        Generation::Auto => Ok(()),
    }
}

fn v1_registry_type(t: RegistryType) -> Result<v1::PublicRegistryType, SpaceOneError> {
    Ok(match t {
        RegistryType::DockerHub => v1::PublicRegistryType::DockerHub,
        RegistryType::Harbor => v1::PublicRegistryType::Harbor,
        RegistryType::AwsPublicEcr => v1::PublicRegistryType::AwsPublicEcr,
        other => {
            return Err(SpaceOneError::RegistryTypeUnsupported {
                registry_type: other.as_str(),
                generation: "1.x",
            })
        }
    })
}

fn v2_registry_type(t: RegistryType) -> Result<v2::PublicRegistryType, SpaceOneError> {
    Ok(match t {
        RegistryType::DockerHub => v2::PublicRegistryType::DockerHub,
        RegistryType::Harbor => v2::PublicRegistryType::Harbor,
        RegistryType::AwsPrivateEcr => v2::PublicRegistryType::AwsPrivateEcr,
        RegistryType::Github => v2::PublicRegistryType::Github,
        RegistryType::GcpPrivateGcr => v2::PublicRegistryType::GcpPrivateGcr,
        other => {
            return Err(SpaceOneError::RegistryTypeUnsupported {
                registry_type: other.as_str(),
                generation: "2.x",
            })
        }
    })
}

fn opt_struct(v: &Option<Map<String, Json>>) -> Option<Struct> {
    v.as_ref().map(to_struct)
}

/// An object as 2.x core's `MongoModel` stores it: keys and string values stripped, nested
/// objects likewise; lists are kept as they are.
fn trimmed(object: &Map<String, Json>) -> Map<String, Json> {
    object
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Json::String(text) => Json::String(text.trim().to_string()),
                Json::Object(inner) => Json::Object(trimmed(inner)),
                other => other.clone(),
            };
            (key.trim().to_string(), value)
        })
        .collect()
}

fn opt_list(v: &Option<Vec<String>>) -> Option<ListValue> {
    v.as_deref().map(to_list)
}

/// 1.x `Plugin.register`; `domain_id` from the options (required there when auth is off).
pub fn v1_register(
    req: &PluginRequest,
    domain_id: Option<&str>,
) -> Result<v1::CreatePluginRequest, SpaceOneError> {
    Ok(v1::CreatePluginRequest {
        name: req.name.clone(),
        service_type: req.resource_type.clone(),
        image: req.image.clone(),
        provider: req.provider.clone().unwrap_or_default(),
        registry_type: v1_registry_type(req.registry_type)? as i32,
        registry_config: opt_struct(&req.registry_config),
        capability: opt_struct(&req.capability),
        template: opt_struct(&req.template),
        labels: opt_list(&req.labels),
        tags: opt_struct(&req.tags),
        project_id: req.project_id.clone().unwrap_or_default(),
        domain_id: domain_id.unwrap_or_default().to_string(),
    })
}

/// 2.x `Plugin.register`.
pub fn v2_register(req: &PluginRequest) -> Result<v2::RegisterPluginRequest, SpaceOneError> {
    Ok(v2::RegisterPluginRequest {
        name: req.name.clone(),
        resource_type: req.resource_type.clone(),
        image: req.image.clone(),
        provider: req.provider.clone().unwrap_or_default(),
        registry_type: v2_registry_type(req.registry_type)? as i32,
        registry_config: opt_struct(&req.registry_config),
        capability: opt_struct(&req.capability),
        labels: opt_list(&req.labels),
        tags: opt_struct(&req.tags),
        plugin_id: req.plugin_id.clone(),
        docs: opt_struct(&req.docs),
    })
}

/// What a server holds for a plugin, in either generation's words.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Current {
    pub name: String,
    pub image: String,
    pub resource_type: String,
    pub provider: String,
    /// The enum name as the server's generation spells it.
    pub registry_type: String,
    pub registry_url: String,
    pub capability: Struct,
    pub template: Struct,
    pub labels: ListValue,
    pub tags: Struct,
    pub docs: Struct,
}

impl From<&v1::PluginInfo> for Current {
    fn from(p: &v1::PluginInfo) -> Self {
        Current {
            name: p.name.clone(),
            image: p.image.clone(),
            resource_type: p.service_type.clone(),
            provider: p.provider.clone(),
            registry_type: v1::PublicRegistryType::try_from(p.registry_type)
                .map(|t| t.as_str_name().to_string())
                .unwrap_or_else(|_| p.registry_type.to_string()),
            registry_url: p.registry_url.clone(),
            capability: p.capability.clone().unwrap_or_default(),
            template: p.template.clone().unwrap_or_default(),
            labels: p.labels.clone().unwrap_or_default(),
            tags: p.tags.clone().unwrap_or_default(),
            docs: Struct::default(),
        }
    }
}

impl From<&v2::PluginInfo> for Current {
    fn from(p: &v2::PluginInfo) -> Self {
        Current {
            name: p.name.clone(),
            image: p.image.clone(),
            resource_type: p.resource_type.clone(),
            provider: p.provider.clone(),
            registry_type: v2::PublicRegistryType::try_from(p.registry_type)
                .map(|t| t.as_str_name().to_string())
                .unwrap_or_else(|_| p.registry_type.to_string()),
            registry_url: p.registry_url.clone(),
            capability: p.capability.clone().unwrap_or_default(),
            template: Struct::default(),
            labels: p.labels.clone().unwrap_or_default(),
            tags: p.tags.clone().unwrap_or_default(),
            docs: p.docs.clone().unwrap_or_default(),
        }
    }
}

/// The updatable fields that differ; `None` means "leave as is".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub name: Option<String>,
    pub capability: Option<Struct>,
    pub template: Option<Struct>,
    pub labels: Option<ListValue>,
    pub tags: Option<Struct>,
    pub docs: Option<Struct>,
}

impl Changes {
    /// Every updatable field the request has, for when the current state is unknown.
    pub fn all(req: &PluginRequest, generation: Generation) -> Changes {
        Changes {
            name: Some(req.name.clone()),
            capability: opt_struct(&req.capability),
            template: opt_struct(&req.template).filter(|_| generation == Generation::V1),
            labels: opt_list(&req.labels),
            tags: opt_struct(&req.tags),
            docs: opt_struct(&req.docs).filter(|_| generation == Generation::V2),
        }
    }

    /// The request's updatable fields that differ from the server's, compared as the
    /// server stores them: a 2.x server trims strings (so `'  Padded  '` is stored as
    /// `Padded`, and sending it again would be an update every time).
    pub fn between(req: &PluginRequest, current: &Current, generation: Generation) -> Changes {
        let differs = |want: &Option<Map<String, Json>>, have: &Struct| {
            let stored = want.as_ref().map(|w| match generation {
                Generation::V2 => to_struct(&trimmed(w)),
                _ => to_struct(w),
            });
            stored.filter(|w| w != have)
        };
        Changes {
            name: Some(req.name.clone()).filter(|n| *n != current.name),
            capability: differs(&req.capability, &current.capability),
            template: differs(&req.template, &current.template)
                .filter(|_| generation == Generation::V1),
            labels: opt_list(&req.labels).filter(|l| *l != current.labels),
            tags: differs(&req.tags, &current.tags),
            docs: differs(&req.docs, &current.docs).filter(|_| generation == Generation::V2),
        }
    }

    /// Names of the changed fields, in request order.
    pub fn fields(&self) -> Vec<String> {
        let present = [
            ("name", self.name.is_some()),
            ("capability", self.capability.is_some()),
            ("template", self.template.is_some()),
            ("labels", self.labels.is_some()),
            ("tags", self.tags.is_some()),
            ("docs", self.docs.is_some()),
        ];
        present
            .iter()
            .filter(|(_, p)| *p)
            .map(|(n, _)| n.to_string())
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.fields().is_empty()
    }

    pub fn v1(self, plugin_id: &str, domain_id: Option<&str>) -> v1::UpdatePluginRequest {
        v1::UpdatePluginRequest {
            plugin_id: plugin_id.to_string(),
            name: self.name.unwrap_or_default(),
            capability: self.capability,
            template: self.template,
            labels: self.labels,
            tags: self.tags,
            domain_id: domain_id.unwrap_or_default().to_string(),
        }
    }

    pub fn v2(self, plugin_id: &str) -> v2::UpdatePluginRequest {
        v2::UpdatePluginRequest {
            plugin_id: plugin_id.to_string(),
            name: self.name.unwrap_or_default(),
            capability: self.capability,
            labels: self.labels,
            tags: self.tags,
            docs: self.docs,
        }
    }
}

/// Fields the request wants different but no `update` can change, one description each
/// (`provider `azure` (the request has `aws`)`). The image is not among them: a different
/// image under the same id is another plugin (see `register.rs`).
pub fn immutable_differences(req: &PluginRequest, current: &Current) -> Vec<String> {
    let mut notes = Vec::new();
    let mut check = |field: &str, want: &str, have: &str| {
        if want != have {
            let have = if have.is_empty() {
                "none".to_string()
            } else {
                format!("`{have}`")
            };
            notes.push(format!("{field} {have} (the request has `{want}`)"));
        }
    };
    check("resource type", &req.resource_type, &current.resource_type);
    check(
        "registry_type",
        req.registry_type.as_str(),
        &current.registry_type,
    );
    if let Some(provider) = &req.provider {
        check("provider", provider, &current.provider);
    }
    notes
}

impl PluginRequest {
    /// The register request exactly as it would be sent to a server of `generation`, in
    /// protobuf's JSON form (proto field names, enum names, defaults left out), for a
    /// dry run. `Auto` shows both generations under `"1.x"` and `"2.x"`. A 1.x request
    /// also carries `domain_id` from the options; see [`PluginRequest::to_json_with_domain`].
    /// A registry type the generation cannot express is shown by name; sending it would
    /// fail with [`SpaceOneError::RegistryTypeUnsupported`] before any call.
    pub fn to_json(&self, generation: Generation) -> Json {
        self.to_json_with_domain(generation, None)
    }

    pub fn to_json_with_domain(&self, generation: Generation, domain_id: Option<&str>) -> Json {
        let expressible = match generation {
            Generation::V1 => v1_registry_type(self.registry_type).is_ok(),
            Generation::V2 => v2_registry_type(self.registry_type).is_ok(),
            Generation::Auto => true,
        };
        let shown = if expressible {
            std::borrow::Cow::Borrowed(self)
        } else {
            std::borrow::Cow::Owned(PluginRequest {
                registry_type: RegistryType::DockerHub,
                ..self.clone()
            })
        };
        let mut json = match generation {
            Generation::V1 => {
                v1_json(&v1_register(&shown, domain_id).expect("registry type is expressible"))
            }
            Generation::V2 => v2_json(&v2_register(&shown).expect("registry type is expressible")),
            Generation::Auto => {
                let mut both = Map::new();
                both.insert(
                    "1.x".into(),
                    self.to_json_with_domain(Generation::V1, domain_id),
                );
                both.insert(
                    "2.x".into(),
                    self.to_json_with_domain(Generation::V2, domain_id),
                );
                return Json::Object(both);
            }
        };
        if !expressible {
            json["registry_type"] = Json::from(self.registry_type.as_str());
        }
        json
    }
}

/// Builds a JSON object field by field, leaving out proto3 defaults as the wire does.
#[derive(Default)]
struct JsonFields(Map<String, Json>);

impl JsonFields {
    fn str(mut self, key: &str, v: &str) -> Self {
        if !v.is_empty() {
            self.0.insert(key.into(), Json::String(v.into()));
        }
        self
    }
    fn enumeration(mut self, key: &str, number: i32, name: Option<&str>) -> Self {
        if number != 0 {
            self.0.insert(
                key.into(),
                name.map(Json::from).unwrap_or(Json::from(number)),
            );
        }
        self
    }
    fn structure(mut self, key: &str, v: &Option<Struct>) -> Self {
        if let Some(s) = v {
            self.0.insert(key.into(), Json::Object(from_struct(s)));
        }
        self
    }
    fn list(mut self, key: &str, v: &Option<ListValue>) -> Self {
        if let Some(l) = v {
            self.0.insert(key.into(), Json::Array(from_list(l)));
        }
        self
    }
}

fn v1_json(m: &v1::CreatePluginRequest) -> Json {
    let registry = v1::PublicRegistryType::try_from(m.registry_type)
        .ok()
        .map(|t| t.as_str_name());
    let f = JsonFields::default()
        .str("name", &m.name)
        .str("service_type", &m.service_type)
        .str("image", &m.image)
        .str("provider", &m.provider)
        .enumeration("registry_type", m.registry_type, registry)
        .structure("registry_config", &m.registry_config)
        .structure("capability", &m.capability)
        .structure("template", &m.template)
        .list("labels", &m.labels)
        .structure("tags", &m.tags)
        .str("project_id", &m.project_id)
        .str("domain_id", &m.domain_id);
    Json::Object(f.0)
}

fn v2_json(m: &v2::RegisterPluginRequest) -> Json {
    let registry = v2::PublicRegistryType::try_from(m.registry_type)
        .ok()
        .map(|t| t.as_str_name());
    let f = JsonFields::default()
        .str("name", &m.name)
        .str("resource_type", &m.resource_type)
        .str("image", &m.image)
        .str("provider", &m.provider)
        .enumeration("registry_type", m.registry_type, registry)
        .structure("registry_config", &m.registry_config)
        .structure("capability", &m.capability)
        .list("labels", &m.labels)
        .structure("tags", &m.tags)
        .str("plugin_id", &m.plugin_id)
        .structure("docs", &m.docs);
    Json::Object(f.0)
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
