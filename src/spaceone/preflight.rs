//! Pre-flight against the detected server: what only the server's generation and its
//! current state can tell, checked after connecting and before the build and push.
//!
//! [`prepare`](super::prepare) already refused what every server would (image name,
//! required fields, manifest keys). [`Session::preflight`] adds, in this order:
//!
//! 1. **Local, by generation**: a registry type the generation's enum cannot express
//!    (GITHUB, GCP_PRIVATE_GCR, AWS_PRIVATE_ECR on 1.x; AWS_PUBLIC_ECR on 2.x); on 1.x
//!    without a token, a domain (the body is the only place it can travel); on 1.x,
//!    template schemas that are not valid JSON Schema (draft 7), which the server
//!    refuses with ERROR_INVALID_TEMPLATE_SCHEMA; for HARBOR, tags the server's connector
//!    cannot sort (1.x: `StrictVersion`, 2.x: PEP 440 versions), which break `register`
//!    and every later `get_versions`, unless the policy allows them. The connector sorts
//!    *every* tag of the repository, so the tags it already holds (read from the registry
//!    by the caller) are checked with the ones about to be pushed.
//! 2. **Server state**: the local repository exists (or 1.x may create it); a plugin
//!    with this id is the same image; its fixed fields match (or `replace` is allowed).
//!
//! Failures of group 1 are [`SpaceOneError::is_preflight`] (exit 2); group 2 failures are
//! about the server's state (exit 5). Nothing here changes the server.

use serde_json::Value as Json;

use super::error::SpaceOneError;
use super::register::{check_same_image, Session};
use super::request::{is_plain_version, Generation, PluginRequest, RegistryType};
use super::translate;

impl Session {
    /// Checks `request` against this server before anything is pushed (see the module
    /// doc); `existing_tags` are the tags the registry repository holds now. The answer is
    /// the warnings to show.
    pub async fn preflight(
        &self,
        request: &PluginRequest,
        existing_tags: &[String],
    ) -> Result<Vec<String>, SpaceOneError> {
        let warnings = check_request(
            request,
            self.generation,
            self.has_token || self.domain_id.is_some(),
            self.policy.allow_non_version_tags,
            existing_tags,
        )?;

        let api = self.api();
        match api.local_repository(false).await {
            Ok(repository_id) => {
                let plugin_id = request.plugin_id_for(self.generation);
                if let Some(existing) = api.get(plugin_id, &repository_id).await? {
                    let current = existing.current();
                    check_same_image(request, plugin_id, &current.image)?;
                    let fixed = translate::immutable_differences(request, &current);
                    if !fixed.is_empty() && !self.policy.replace {
                        return Err(SpaceOneError::ImmutableFields {
                            plugin_id: plugin_id.to_string(),
                            differences: fixed,
                        });
                    }
                }
                Ok(warnings)
            }
            Err(SpaceOneError::NoLocalRepository { .. })
                if self.generation == Generation::V1 && self.policy.create_local_repository =>
            {
                Ok(warnings) // created by `publish`
            }
            Err(e) => Err(e),
        }
    }
}

/// The checks that need the generation but not the server; the answer is the warnings.
pub fn check_request(
    request: &PluginRequest,
    generation: Generation,
    has_domain: bool,
    allow_non_version_tags: bool,
    existing_tags: &[String],
) -> Result<Vec<String>, SpaceOneError> {
    let mut warnings = Vec::new();
    translate::check_registry_type(request.registry_type, generation)?;
    if generation == Generation::V1 && !has_domain {
        return Err(SpaceOneError::DomainRequired);
    }
    if generation == Generation::V1 {
        if let Some(template) = &request.template {
            for (key, entry) in template {
                if let Some(schema) = entry.get("schema") {
                    check_schema(schema, &format!("template.{key}.schema")).map_err(
                        |(at, problem)| SpaceOneError::InvalidTemplateSchema {
                            at: request
                                .template_at
                                .clone()
                                .unwrap_or_else(|| "template".into()),
                            key: at,
                            problem,
                        },
                    )?;
                }
            }
        }
    }
    if request.registry_type == RegistryType::Harbor {
        let (sortable, generation_name, rule): (fn(&str) -> bool, _, _) = match generation {
            Generation::V1 => (
                is_plain_version,
                "1.x",
                "its HARBOR connector sorts every tag of the repository as a StrictVersion \
                 (1.2 or 1.2.3, optionally a1/b1) and fails on any other",
            ),
            _ => (
                is_pep440,
                "2.x",
                "its HARBOR connector sorts every tag of the repository as a PEP 440 version \
                 (1.2.3, v1.2.3, 1.2.3rc1) and fails on any other",
            ),
        };
        let unsortable = |tags: &[String]| -> Vec<String> {
            tags.iter().filter(|t| !sortable(t)).cloned().collect()
        };
        let pushed = unsortable(&request.pushed_tags);
        let existing: Vec<String> = unsortable(existing_tags)
            .into_iter()
            .filter(|t| !request.pushed_tags.contains(t))
            .collect();
        if !pushed.is_empty() || !existing.is_empty() {
            let error = SpaceOneError::UnsortableTags {
                pushed,
                existing,
                repository: request.image.clone(),
                registry_type: RegistryType::Harbor.as_str(),
                generation: generation_name,
                rule,
            };
            if !allow_non_version_tags {
                return Err(error);
            }
            warnings.push(format!("{error} (allowed by `allow-non-version-tags`)"));
        }
    }
    Ok(warnings)
}

/// A version `packaging.version.Version` parses (PEP 440, public and local parts), as the
/// 2.x server sorts a HARBOR repository's tags.
pub fn is_pep440(v: &str) -> bool {
    v.trim().parse::<pep440_rs::Version>().is_ok()
}

const TYPES: &[&str] = &[
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// Checks a value against the draft-7 meta-schema's structural rules (what
/// `Draft7Validator.check_schema` enforces); the error is `(json path, problem)`.
pub fn check_schema(schema: &Json, at: &str) -> Result<(), (String, String)> {
    let fail = |key: &str, problem: &str| Err((format!("{at}.{key}"), problem.to_string()));
    let object = match schema {
        Json::Bool(_) => return Ok(()),
        Json::Object(o) => o,
        other => {
            return Err((
                at.to_string(),
                format!(
                    "a schema must be an object or a boolean, not {}",
                    kind(other)
                ),
            ))
        }
    };
    for (key, value) in object {
        let sub = format!("{at}.{key}");
        match key.as_str() {
            "type" => {
                let ok = match value {
                    Json::String(t) => TYPES.contains(&t.as_str()),
                    Json::Array(ts) => {
                        !ts.is_empty()
                            && ts
                                .iter()
                                .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t)))
                            && unique(ts)
                    }
                    _ => false,
                };
                if !ok {
                    return fail(
                        key,
                        &format!(
                            "{value} is not one of {} (or a list of them)",
                            TYPES.join(", ")
                        ),
                    );
                }
            }
            "properties" | "patternProperties" | "definitions" => match value {
                Json::Object(m) => {
                    for (name, s) in m {
                        check_schema(s, &format!("{sub}.{name}"))?;
                    }
                }
                other => return fail(key, &format!("must be an object, not {}", kind(other))),
            },
            "dependencies" => match value {
                Json::Object(m) => {
                    for (name, s) in m {
                        if !matches!(s, Json::Array(_)) {
                            check_schema(s, &format!("{sub}.{name}"))?;
                        } else if !string_list(s) {
                            return fail(key, "a list must hold unique strings");
                        }
                    }
                }
                other => return fail(key, &format!("must be an object, not {}", kind(other))),
            },
            "items" => match value {
                Json::Array(items) => {
                    for (i, s) in items.iter().enumerate() {
                        check_schema(s, &format!("{sub}[{i}]"))?;
                    }
                }
                s => check_schema(s, &sub)?,
            },
            "additionalItems"
            | "additionalProperties"
            | "contains"
            | "propertyNames"
            | "not"
            | "if"
            | "then"
            | "else" => check_schema(value, &sub)?,
            "allOf" | "anyOf" | "oneOf" => match value {
                Json::Array(items) if !items.is_empty() => {
                    for (i, s) in items.iter().enumerate() {
                        check_schema(s, &format!("{sub}[{i}]"))?;
                    }
                }
                _ => return fail(key, "must be a non-empty list of schemas"),
            },
            "required" | "enum" | "examples" | "minLength" | "maxLength" | "minItems"
            | "maxItems" | "minProperties" | "maxProperties" | "multipleOf" | "maximum"
            | "minimum" | "exclusiveMaximum" | "exclusiveMinimum" | "title" | "description"
            | "$id" | "$ref" | "$schema" | "$comment" | "pattern" | "format"
            | "contentMediaType" | "contentEncoding" | "uniqueItems" | "readOnly" | "writeOnly" => {
                if let Some(problem) = scalar_problem(key, value) {
                    return fail(key, &problem);
                }
            }
            _ => {} // `default`, `const` and unknown keywords may hold anything
        }
    }
    Ok(())
}

/// What is wrong with a keyword whose value is not a schema, if anything.
fn scalar_problem(key: &str, value: &Json) -> Option<String> {
    let ok = match key {
        "required" => string_list(value),
        "enum" | "examples" => value.is_array(),
        "multipleOf" => value.as_f64().is_some_and(|n| n > 0.0),
        "maximum" | "minimum" | "exclusiveMaximum" | "exclusiveMinimum" => value.is_number(),
        "uniqueItems" | "readOnly" | "writeOnly" => value.is_boolean(),
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => {
            value.as_f64().is_some_and(|n| n >= 0.0 && n.fract() == 0.0)
        }
        _ => value.is_string(),
    };
    if ok {
        return None;
    }
    Some(match key {
        "required" => "must be a list of unique strings".to_string(),
        "enum" | "examples" => format!("must be a list, not {}", kind(value)),
        "multipleOf" => "must be a number greater than 0".to_string(),
        "maximum" | "minimum" | "exclusiveMaximum" | "exclusiveMinimum" => {
            format!("must be a number, not {}", kind(value))
        }
        "uniqueItems" | "readOnly" | "writeOnly" => {
            format!("must be true or false, not {}", kind(value))
        }
        "minLength" | "maxLength" | "minItems" | "maxItems" | "minProperties" | "maxProperties" => {
            "must be a non-negative integer".to_string()
        }
        _ => format!("must be a string, not {}", kind(value)),
    })
}

fn unique(items: &[Json]) -> bool {
    items
        .iter()
        .enumerate()
        .all(|(i, a)| items[i + 1..].iter().all(|b| a != b))
}

fn string_list(v: &Json) -> bool {
    matches!(v, Json::Array(items) if items.iter().all(Json::is_string) && unique(items))
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
#[path = "preflight_tests.rs"]
mod tests;
