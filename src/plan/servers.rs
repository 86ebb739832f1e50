//! How to reach the servers: registry options (credentials, mirrors, CA, chunking) and
//! SpaceONE options, from the inputs, checked as far as possible without the network.

use super::{checks, input_error, PlanError};
use crate::inputs::Inputs;
use crate::reference::Reference;
use crate::registry::{self, Credential, RegistryOptions};
use crate::secret::Secret;
use crate::spaceone;

/// How to reach SpaceONE, checked as far as possible without the network.
pub fn spaceone_options(inputs: &Inputs) -> Result<spaceone::SpaceOneOptions, PlanError> {
    checks::spaceone_ca_cert(inputs)?;
    let endpoint = inputs.spaceone_endpoint.clone().ok_or_else(|| {
        input_error(
            inputs,
            "spaceone-endpoint",
            "is required to talk to SpaceONE".into(),
        )
    })?;
    let options = spaceone::SpaceOneOptions {
        endpoint,
        token: inputs.spaceone_token.clone(),
        domain_id: inputs.spaceone_domain_id.clone(),
        ca_cert: inputs.spaceone_ca_cert.clone(),
        generation: inputs.spaceone_api,
        workspace_id: inputs.spaceone_workspace_id.clone(),
        policy: spaceone::Policy {
            replace: inputs.replace,
            create_local_repository: inputs.create_local_repository,
            allow_non_version_tags: inputs.allow_non_version_tags,
        },
    };
    options.validate()?;
    Ok(options)
}

/// The `registry-logins` line whose prefix fits `repository` on `host` best.
fn best_login<'a>(
    inputs: &'a Inputs,
    host: &str,
    repository: &str,
) -> Option<(&'a String, &'a Secret)> {
    inputs
        .registry_logins
        .iter()
        .filter_map(|(prefix, user, password)| {
            registry::scope_fit(prefix, host, Some(repository)).map(|fit| (fit, user, password))
        })
        .max_by_key(|(fit, _, _)| *fit)
        .map(|(_, user, password)| (user, password))
}

/// Registry options for pushing to `target`: explicit credentials go to its registry,
/// before CI ones. The `registry-logins` line with the longest prefix of the repository
/// wins; else `registry-username`/`registry-password`, which are for the first image's
/// registry (and every other image there).
pub fn registry_options(inputs: &Inputs, target: Option<&Reference>) -> RegistryOptions {
    let first_host = inputs.image.as_ref().map(|i| i.registry.as_str());
    let given = |t: &Reference| match (&inputs.registry_username, &inputs.registry_password) {
        (Some(user), Some(password)) if first_host.is_none_or(|h| h == t.registry) => {
            Some((user, password))
        }
        _ => None,
    };
    let credential = |registry: &str, (username, password): (&String, &Secret)| Credential {
        registry: registry.to_string(),
        username: username.clone(),
        password: password.clone(),
    };
    let mut explicit: Vec<Credential> = target
        .and_then(|t| {
            best_login(inputs, &t.registry, &t.repository)
                .or_else(|| given(t))
                .map(|login| credential(&t.registry, login))
        })
        .into_iter()
        .collect();
    // A mirror's own login, when `registry-logins` names its host (pulls need it too).
    for (_, location) in &inputs.registry_mirrors {
        let (host, path) = location.split_once('/').unwrap_or((location, ""));
        if let Some(login) = best_login(inputs, host, path) {
            explicit.push(credential(host, login));
        }
    }
    let ci = inputs
        .ci_credentials
        .iter()
        .map(|(registry, username, password)| Credential {
            registry: registry.clone(),
            username: username.clone(),
            password: password.clone(),
        })
        .collect();
    RegistryOptions {
        insecure: inputs.insecure_registries.clone(),
        ca_cert: inputs.registry_ca_cert.clone(),
        credentials: explicit,
        ci_credentials: ci,
        jobs: registry::DEFAULT_JOBS,
        docker_config: inputs.docker_config.clone(),
        auth_files: inputs.auth_files.clone(),
        chunk_size: inputs.registry_chunk_size,
        repository: target.map(|t| t.repository.clone()),
        mirrors: inputs
            .registry_mirrors
            .iter()
            .map(|(registry, location)| registry::Mirror {
                registry: registry.clone(),
                location: location.clone(),
            })
            .collect(),
    }
}
