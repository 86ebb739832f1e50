//! The Repository service's calls, spoken in one generation's messages.
//!
//! [`Api`] is the only place that builds a 1.x or 2.x message and sends it; the flow
//! (`register.rs`), the pre-flight (`preflight.rs`) and the verbs (`verbs.rs`) speak to it
//! in neutral terms. What differs per generation:
//!
//! - 1.x puts `domain_id` in every body (the server needs it there when auth is off; with
//!   auth, the token's domain wins). 2.x has no such field: the domain is the token's.
//! - 1.x `get` takes a `GetRepositoryPluginRequest` (with `only`), 2.x a
//!   `RepositoryPluginRequest`. Both are always given the local repository id, so a
//!   managed plugin with the same id cannot shadow ours.
//! - Repository types are lower case on 1.x (`local`) and upper case on 2.x (`LOCAL`); only
//!   1.x can create a repository through the API.
//!
//! Every call goes through [`Connection::call`], so each one is retried on UNAVAILABLE and
//! DEADLINE_EXCEEDED, and only there. Not-found answers (`ERROR_NO_PLUGIN` as
//! INVALID_ARGUMENT, or NOT_FOUND) become `None` where a caller asked "is it there?".

use serde_json::{Map, Value as Json};

use super::api::{from_list, from_struct, v1, v2};
use super::connection::Connection;
use super::error::SpaceOneError;
use super::listing::ListFilter;
use super::request::{Generation, PluginRequest};
use super::translate::{self, Changes, Current};

/// A plugin as the server returned it, in its generation's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Info {
    V1(v1::PluginInfo),
    V2(v2::PluginInfo),
}

impl Info {
    /// The fields the flow compares, in neutral terms.
    pub fn current(&self) -> Current {
        match self {
            Info::V1(p) => Current::from(p),
            Info::V2(p) => Current::from(p),
        }
    }

    /// `(repository_id, repository_type)` of the repository the server found it in.
    pub fn repository(&self) -> (String, String) {
        let (id, kind) = match self {
            Info::V1(p) => p
                .repository_info
                .as_ref()
                .map(|r| (&r.repository_id, &r.repository_type)),
            Info::V2(p) => p
                .repository_info
                .as_ref()
                .map(|r| (&r.repository_id, &r.repository_type)),
        }
        .unzip();
        (
            id.cloned().unwrap_or_default(),
            kind.cloned().unwrap_or_default(),
        )
    }

    /// Whether it is in a local repository (`local` on 1.x, `LOCAL` on 2.x), not a
    /// managed or remote one.
    pub fn is_local(&self) -> bool {
        self.repository().1.eq_ignore_ascii_case("local")
    }

    /// `ENABLED`, `DISABLED` or `NONE`.
    pub fn state(&self) -> &'static str {
        match self {
            Info::V1(p) => v1::plugin_info::State::try_from(p.state)
                .map(|s| s.as_str_name())
                .unwrap_or("NONE"),
            Info::V2(p) => v2::plugin_info::State::try_from(p.state)
                .map(|s| s.as_str_name())
                .unwrap_or("NONE"),
        }
    }

    /// The PluginInfo in protobuf's JSON form: proto field names, enum names, default
    /// values left out (as spacectl `-o json` shows it).
    pub fn to_json(&self) -> Json {
        let mut o = Map::new();
        let mut s = |k: &str, v: &str| {
            if !v.is_empty() {
                o.insert(k.into(), Json::from(v));
            }
        };
        match self {
            Info::V1(p) => {
                s("plugin_id", &p.plugin_id);
                s("name", &p.name);
                s("image", &p.image);
                s("registry_url", &p.registry_url);
                s("state", self.state());
                s("service_type", &p.service_type);
                s("provider", &p.provider);
                s("registry_type", registry_name(self, p.registry_type));
                s("project_id", &p.project_id);
                s("domain_id", &p.domain_id);
                s("created_at", &p.created_at);
                s("updated_at", &p.updated_at);
                structs(
                    &mut o,
                    &[
                        ("registry_config", &p.registry_config),
                        ("capability", &p.capability),
                        ("template", &p.template),
                        ("tags", &p.tags),
                    ],
                );
                if let Some(l) = &p.labels {
                    o.insert("labels".into(), Json::Array(from_list(l)));
                }
                if let Some(r) = &p.repository_info {
                    o.insert(
                        "repository_info".into(),
                        repository(&r.repository_id, &r.name, &r.repository_type),
                    );
                }
            }
            Info::V2(p) => {
                s("plugin_id", &p.plugin_id);
                s("name", &p.name);
                s("state", self.state());
                s("resource_type", &p.resource_type);
                s("image", &p.image);
                s("provider", &p.provider);
                s("registry_type", registry_name(self, p.registry_type));
                s("registry_url", &p.registry_url);
                s("domain_id", &p.domain_id);
                s("created_at", &p.created_at);
                s("updated_at", &p.updated_at);
                structs(
                    &mut o,
                    &[
                        ("registry_config", &p.registry_config),
                        ("capability", &p.capability),
                        ("tags", &p.tags),
                        ("docs", &p.docs),
                    ],
                );
                if let Some(l) = &p.labels {
                    o.insert("labels".into(), Json::Array(from_list(l)));
                }
                if let Some(r) = &p.repository_info {
                    o.insert(
                        "repository_info".into(),
                        repository(&r.repository_id, &r.name, &r.repository_type),
                    );
                }
            }
        }
        Json::Object(o)
    }
}

fn registry_name(info: &Info, number: i32) -> &'static str {
    match info {
        Info::V1(_) => v1::PublicRegistryType::try_from(number)
            .map(|t| t.as_str_name())
            .unwrap_or(""),
        Info::V2(_) => v2::PublicRegistryType::try_from(number)
            .map(|t| t.as_str_name())
            .unwrap_or(""),
    }
    .trim_start_matches("NONE_REGISTRY_TYPE")
}

fn structs(o: &mut Map<String, Json>, fields: &[(&str, &Option<prost_types::Struct>)]) {
    for (key, value) in fields {
        if let Some(v) = value {
            o.insert((*key).into(), Json::Object(from_struct(v)));
        }
    }
}

fn repository(id: &str, name: &str, kind: &str) -> Json {
    serde_json::json!({"repository_id": id, "name": name, "repository_type": kind})
}

/// Not-found answers: `ERROR_NO_PLUGIN` (INVALID_ARGUMENT) on both generations, or NOT_FOUND.
pub fn is_not_found(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::NotFound
        || (status.code() == tonic::Code::InvalidArgument
            && super::error::server_error_code(status.message()) == Some("ERROR_NO_PLUGIN"))
}

/// The calls, bound to a connection and a generation.
pub enum Api<'a> {
    V1 {
        conn: &'a Connection,
        domain_id: Option<&'a str>,
    },
    V2 {
        conn: &'a Connection,
    },
}

type V1Plugin = v1::plugin_client::PluginClient<tonic::transport::Channel>;
type V2Plugin = v2::plugin_client::PluginClient<tonic::transport::Channel>;

impl<'a> Api<'a> {
    /// `generation` must be `V1` or `V2` (`Auto` speaks 2.x).
    pub fn new(conn: &'a Connection, generation: Generation, domain_id: Option<&'a str>) -> Self {
        match generation {
            Generation::V1 => Api::V1 { conn, domain_id },
            _ => Api::V2 { conn },
        }
    }

    pub fn conn(&self) -> &Connection {
        match self {
            Api::V1 { conn, .. } | Api::V2 { conn } => conn,
        }
    }

    pub fn generation(&self) -> Generation {
        match self {
            Api::V1 { .. } => Generation::V1,
            Api::V2 { .. } => Generation::V2,
        }
    }

    fn domain(&self) -> String {
        match self {
            Api::V1 { domain_id, .. } => domain_id.unwrap_or_default().to_string(),
            Api::V2 { .. } => String::new(),
        }
    }

    /// The id of the local repository, creating it on 1.x when `create` allows.
    pub async fn local_repository(&self, create: bool) -> Result<String, SpaceOneError> {
        let repositories = self.repositories().await?;
        if let Some((id, _)) = repositories
            .iter()
            .find(|(_, t)| t.eq_ignore_ascii_case("local"))
        {
            return Ok(id.clone());
        }
        if let (true, Api::V1 { conn, .. }) = (create, self) {
            let msg = v1::CreateRepositoryRequest {
                name: "local".into(),
                repository_type: "local".into(),
                endpoint: String::new(),
                domain_id: self.domain(),
            };
            let info = conn
                .call("Repository.register", msg, |ch, req| async move {
                    v1::repository_client::RepositoryClient::new(ch)
                        .register(req)
                        .await
                })
                .await
                .map_err(|(_, e)| e.from_generation(self.generation()))?;
            return Ok(info.repository_id);
        }
        let found = if repositories.is_empty() {
            "no repositories".to_string()
        } else {
            let kinds: Vec<String> = repositories
                .iter()
                .map(|(id, t)| format!("{id} ({t})"))
                .collect();
            kinds.join(", ")
        };
        Err(SpaceOneError::NoLocalRepository {
            endpoint: self.conn().endpoint().to_string(),
            found,
        })
    }

    /// `(repository_id, repository_type)` of the local-typed repositories the server lists.
    async fn repositories(&self) -> Result<Vec<(String, String)>, SpaceOneError> {
        const METHOD: &str = "Repository.list";
        Ok(match self {
            Api::V1 { conn, .. } => {
                let query = v1::RepositoryQuery {
                    repository_type: "local".into(),
                    domain_id: self.domain(),
                    ..Default::default()
                };
                conn.call(METHOD, query, |ch, req| async move {
                    v1::repository_client::RepositoryClient::new(ch)
                        .list(req)
                        .await
                })
                .await
                .map_err(|(_, e)| e.from_generation(self.generation()))?
                .results
                .into_iter()
                .map(|r| (r.repository_id, r.repository_type))
                .collect()
            }
            Api::V2 { conn } => {
                let query = v2::RepositoryQuery {
                    repository_type: "LOCAL".into(),
                    ..Default::default()
                };
                conn.call(METHOD, query, |ch, req| async move {
                    v2::repository_client::RepositoryClient::new(ch)
                        .list(req)
                        .await
                })
                .await
                .map_err(|(_, e)| e.from_generation(self.generation()))?
                .results
                .into_iter()
                .map(|r| (r.repository_id, r.repository_type))
                .collect()
            }
        })
    }

    /// The plugin in the local repository, or `None` when the server does not have it.
    pub async fn get(
        &self,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Option<Info>, SpaceOneError> {
        match self.get_or_status(plugin_id, repository_id).await {
            Ok(info) => Ok(Some(info)),
            Err((status, _)) if is_not_found(&status) => Ok(None),
            Err((_, e)) => Err(e),
        }
    }

    /// `get`, with not-found as the server's own error.
    pub async fn get_or_status(
        &self,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Info, (tonic::Status, SpaceOneError)> {
        const METHOD: &str = "Plugin.get";
        let answer = match self {
            Api::V1 { conn, .. } => {
                let msg = v1::GetRepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: self.domain(),
                    repository_id: repository_id.into(),
                    only: Vec::new(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).get(req).await
                })
                .await
                .map(Info::V1)
            }
            Api::V2 { conn } => {
                let msg = v2::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    repository_id: repository_id.into(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).get(req).await
                })
                .await
                .map(Info::V2)
            }
        };
        answer.map_err(|(status, e)| (status, e.from_generation(self.generation())))
    }

    pub async fn register(&self, request: &PluginRequest) -> Result<Info, SpaceOneError> {
        const METHOD: &str = "Plugin.register";
        let answer = match self {
            Api::V1 { conn, domain_id } => {
                let msg = translate::v1_register(request, *domain_id)?;
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).register(req).await
                })
                .await
                .map(Info::V1)
            }
            Api::V2 { conn } => {
                let msg = translate::v2_register(request)?;
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).register(req).await
                })
                .await
                .map(Info::V2)
            }
        };
        answer.map_err(|(_, e)| e.from_generation(self.generation()))
    }

    pub async fn update(&self, plugin_id: &str, changes: Changes) -> Result<Info, SpaceOneError> {
        const METHOD: &str = "Plugin.update";
        let answer = match self {
            Api::V1 { conn, domain_id } => {
                let msg = changes.v1(plugin_id, *domain_id);
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).update(req).await
                })
                .await
                .map(Info::V1)
            }
            Api::V2 { conn } => {
                let msg = changes.v2(plugin_id);
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).update(req).await
                })
                .await
                .map(Info::V2)
            }
        };
        answer.map_err(|(_, e)| e.from_generation(self.generation()))
    }

    /// `enable` (`true`) or `disable` (`false`).
    pub async fn set_enabled(&self, plugin_id: &str, enabled: bool) -> Result<Info, SpaceOneError> {
        let method = if enabled {
            "Plugin.enable"
        } else {
            "Plugin.disable"
        };
        let answer = match self {
            Api::V1 { conn, .. } => {
                let msg = v1::PluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: self.domain(),
                };
                conn.call(method, msg, |ch, req| async move {
                    let mut client = V1Plugin::new(ch);
                    if enabled {
                        client.enable(req).await
                    } else {
                        client.disable(req).await
                    }
                })
                .await
                .map(Info::V1)
            }
            Api::V2 { conn } => {
                let msg = v2::PluginRequest {
                    plugin_id: plugin_id.into(),
                };
                conn.call(method, msg, |ch, req| async move {
                    let mut client = V2Plugin::new(ch);
                    if enabled {
                        client.enable(req).await
                    } else {
                        client.disable(req).await
                    }
                })
                .await
                .map(Info::V2)
            }
        };
        answer.map_err(|(_, e)| e.from_generation(self.generation()))
    }

    pub async fn deregister(&self, plugin_id: &str) -> Result<(), SpaceOneError> {
        const METHOD: &str = "Plugin.deregister";
        let answer = match self {
            Api::V1 { conn, .. } => {
                let msg = v1::PluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: self.domain(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).deregister(req).await
                })
                .await
            }
            Api::V2 { conn } => {
                let msg = v2::PluginRequest {
                    plugin_id: plugin_id.into(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).deregister(req).await
                })
                .await
            }
        };
        answer
            .map(|_| ())
            .map_err(|(_, e)| e.from_generation(self.generation()))
    }

    /// The plugins of `repository_id` (every repository when `None`) that pass `filter`,
    /// with the server's `total_count`.
    pub async fn list(
        &self,
        repository_id: Option<&str>,
        filter: &ListFilter,
    ) -> Result<(Vec<Info>, usize), SpaceOneError> {
        const METHOD: &str = "Plugin.list";
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let repository_id = repository_id.unwrap_or_default().to_string();
        let answer = match self {
            Api::V1 { conn, .. } => {
                let msg = v1::PluginQuery {
                    plugin_id: text(&filter.plugin_id),
                    service_type: text(&filter.resource_type),
                    provider: text(&filter.provider),
                    repository_id,
                    domain_id: self.domain(),
                    ..Default::default()
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).list(req).await
                })
                .await
                .map(|r| {
                    let total = r.total_count;
                    (
                        r.results.into_iter().map(Info::V1).collect::<Vec<_>>(),
                        total,
                    )
                })
            }
            Api::V2 { conn } => {
                let msg = v2::PluginQuery {
                    plugin_id: text(&filter.plugin_id),
                    resource_type: text(&filter.resource_type),
                    provider: text(&filter.provider),
                    repository_id,
                    ..Default::default()
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).list(req).await
                })
                .await
                .map(|r| {
                    let total = r.total_count;
                    (
                        r.results.into_iter().map(Info::V2).collect::<Vec<_>>(),
                        total,
                    )
                })
            }
        };
        let (plugins, total) = answer.map_err(|(_, e)| e.from_generation(self.generation()))?;
        let total = usize::try_from(total).unwrap_or(0).max(plugins.len());
        Ok((plugins, total))
    }

    /// The versions (tags) the server lists for the plugin, in its order.
    pub async fn get_versions(
        &self,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Vec<String>, SpaceOneError> {
        const METHOD: &str = "Plugin.get_versions";
        let answer = match self {
            Api::V1 { conn, .. } => {
                let msg = v1::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: self.domain(),
                    repository_id: repository_id.into(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V1Plugin::new(ch).get_versions(req).await
                })
                .await
                .map(|v| v.results)
            }
            Api::V2 { conn } => {
                let msg = v2::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    repository_id: repository_id.into(),
                };
                conn.call(METHOD, msg, |ch, req| async move {
                    V2Plugin::new(ch).get_versions(req).await
                })
                .await
                .map(|v| v.results)
            }
        };
        answer.map_err(|(_, e)| e.from_generation(self.generation()))
    }
}
