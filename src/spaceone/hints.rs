//! Known fixes for what a SpaceONE server answered: keyed by the server's `ERROR_…` code
//! and text, the call, and the generation (the same code has other causes on 1.x and
//! 2.x: `v1.2.3` breaks a 1.x tag listing and is fine on 2.x), falling back to the gRPC
//! status. Role hints name the role the server's own transaction rules require for that
//! call, not the one registering needs.

use tonic::Code;

use super::error::server_error_code;
use super::request::Generation;

/// The hint for a server error, if one is known.
pub(super) fn server_hint(
    method: &str,
    code: Code,
    details: &str,
    generation: Option<Generation>,
) -> Option<String> {
    if server_error_code(details) == Some("ERROR_PERMISSION_DENIED")
        || code == Code::PermissionDenied
    {
        return Some(role_hint(method, generation));
    }
    let hint = match server_error_code(details) {
        Some("ERROR_INVALID_IMAGE_NAME_FORMAT") | Some("ERROR_INVALID_IMAGE_LENGTH") => {
            "the image's last path segment becomes the plugin id: at most 48 characters of \
             [a-zA-Z0-9-], and `image` carries no registry host and no tag"
        }
        Some("ERROR_NO_IMAGE_IN_REGISTRY") => {
            "the server lists the image's tags in its own configured registry and found none: \
             check that the server's registry for this registry_type is the one pushed to, that \
             the repository is readable without credentials (Docker Hub: public), and that \
             `image` has no host"
        }
        Some("ERROR_REQUIRED_PARAMETER") if details.contains("domain_id") => {
            "a 1.x server without authentication needs the domain in the request: set \
             `spaceone-domain-id`"
        }
        Some("ERROR_AUTHENTICATE_FAILURE") => {
            "`spaceone-token` is sent as metadata `token`; it must be a valid JWT for this \
             server (1.x API key, 2.x App client secret)"
        }
        Some("ERROR_REGISTRY_SETTINGS") => {
            "the server has no registry URL configured for this registry_type; set \
             `registry-type` to one it is configured for"
        }
        Some("ERROR_SAVE_UNIQUE_VALUES") => {
            "a plugin with this plugin_id already exists in the domain (plugin_id is the \
             image's last path segment, so two namespaces can collide)"
        }
        Some("ERROR_NO_PLUGIN") if method.ends_with("get_versions") => {
            return Some(unsortable_tags_hint(
                "reports every tag-listing failure as ERROR_NO_PLUGIN",
                generation,
            ))
        }
        Some("ERROR_UNKNOWN") if details.contains("invalid version number") => {
            return Some(unsortable_tags_hint(
                "could not sort the repository's tags",
                Some(Generation::V1),
            ))
        }
        Some("ERROR_UNKNOWN") if details.contains("Invalid version:") => {
            return Some(unsortable_tags_hint(
                "could not sort the repository's tags",
                Some(Generation::V2),
            ))
        }
        Some("ERROR_UNKNOWN") if details.contains("api.github.com") => {
            "for GITHUB the server lists tags through api.github.com with the GitHub token of \
             its own configuration (CONNECTORS.GithubContainerRegistryConnector.github_token): \
             the server needs that token and access to api.github.com, or set `registry-type` \
             to one it reads directly (HARBOR reads any OCI registry it is configured for)"
        }
        Some("ERROR_UNKNOWN") if details.contains("'repository_id'") => {
            "the server has no local repository to register into; create one with \
             Repository.register (name: local, repository_type: local)"
        }
        _ if method.starts_with("ServerReflection") => {
            "the endpoint did not answer gRPC reflection as a SpaceONE server does: check that it \
             is the repository service's gRPC endpoint and that the scheme matches (grpc:// \
             plain, grpc+ssl:// TLS), or set the server generation explicitly"
        }
        _ => match code {
            Code::Unavailable => {
                "the server is unreachable or closed the connection: check the endpoint and \
                 its scheme (grpc:// plain, grpc+ssl:// TLS)"
            }
            Code::DeadlineExceeded => {
                "the call took longer than the deadline; raise it or check the server"
            }
            Code::Unimplemented => {
                "this server does not implement the call: is the endpoint the repository service?"
            }
            _ => return None,
        },
    };
    Some(hint.to_string())
}

/// Why a HARBOR listing fails and what to do, in the sort rules of the generation.
fn unsortable_tags_hint(what: &str, generation: Option<Generation>) -> String {
    let rule = match generation {
        Some(Generation::V1) => {
            "a 1.x server sorts every tag of a HARBOR repository as a StrictVersion: one tag \
             that is not a plain version (1.2 or 1.2.3, e.g. `latest` or `v1.2.3`) breaks it"
        }
        Some(Generation::V2) => {
            "a 2.x server sorts every tag of a HARBOR repository as a PEP 440 version: one tag \
             such as `latest`, `main` or `sha-1a2b3c4` breaks it (`v1.2.3` and `1.2.3rc1` are \
             fine)"
        }
        _ => {
            "the server sorts every tag of a HARBOR repository as a version (1.x: plain \
             1.2.3 only; 2.x: PEP 440): one tag such as `latest` breaks it"
        }
    };
    format!(
        "the server {what}: {rule}. Delete such tags from the repository (e.g. `skopeo \
         delete docker://<image>:latest`), or publish to a repository that holds version tags \
         only"
    )
}

/// The role a call needs, as the server's own transaction rules state it.
fn role_hint(method: &str, generation: Option<Generation>) -> String {
    let call = method.rsplit('.').next().unwrap_or(method);
    let writes = matches!(
        call,
        "register" | "update" | "enable" | "disable" | "deregister"
    );
    match generation {
        Some(Generation::V1) => format!(
            "{method} on 1.x needs an API key of a DOMAIN-scoped role whose policy allows \
             repository.Plugin{}",
            if writes {
                " writes (the domain admin's)"
            } else {
                " reads"
            }
        ),
        _ => {
            let roles = match (method, call) {
                ("Repository.list", _) | (_, "get_versions") => {
                    "a DOMAIN_ADMIN, WORKSPACE_OWNER or WORKSPACE_MEMBER token (USER is refused)"
                }
                (_, "get" | "list") => "any role, USER included",
                _ if writes => {
                    "a DOMAIN_ADMIN token (a Domain Admin App); workspace roles are refused"
                }
                _ => "a DOMAIN_ADMIN token",
            };
            format!("{method} on 2.x needs {roles}; the token's role is its `rol` claim")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(method: &str, details: &str, generation: Option<Generation>) -> String {
        server_hint(method, Code::InvalidArgument, details, generation).unwrap_or_default()
    }

    #[test]
    fn role_hints_name_the_role_the_call_needs() {
        let denied = "ERROR_PERMISSION_DENIED: Permission denied.";
        let v2 = Some(Generation::V2);
        assert!(hint("Plugin.register", denied, v2).contains("needs a DOMAIN_ADMIN token"));
        assert!(hint("Plugin.get_versions", denied, v2).contains("WORKSPACE_MEMBER"));
        assert!(hint("Repository.list", denied, v2).contains("USER is refused"));
        assert!(hint("Plugin.get", denied, v2).contains("USER included"));
        assert!(hint("Plugin.update", denied, Some(Generation::V1)).contains("DOMAIN-scoped"));
    }

    #[test]
    fn tag_sorting_hints_follow_the_generation() {
        let no_plugin = "ERROR_NO_PLUGIN: Plugin does not exists.";
        let v1 = hint("Plugin.get_versions", no_plugin, Some(Generation::V1));
        let v2 = hint("Plugin.get_versions", no_plugin, Some(Generation::V2));
        assert!(
            v1.contains("`v1.2.3`") && v1.contains("StrictVersion"),
            "{v1}"
        );
        assert!(v2.contains("`v1.2.3` and `1.2.3rc1` are fine"), "{v2}");
        let invalid = "ERROR_UNKNOWN: Invalid version: 'latest'";
        assert!(hint("Plugin.register", invalid, None).contains("PEP 440"));
    }
}
