//! What the server lists: the plugins of a repository (the `list` verb, what SpaceONE's own
//! register guide checks with `spacectl list repository.Plugin -p repository_id=…`) and
//! the versions of one plugin (the `versions` verb, what a supervisor with
//! `upgrade_mode: AUTO` picks from).
//!
//! Both address the local repository unless told otherwise: a 2.x server lists its 35
//! managed plugins first, and `get_versions` without a repository id answers for a
//! managed plugin of the same id. Finding the local repository takes `Repository.list`,
//! which a 2.x USER token may not call although it may list and get plugins; then the
//! local repository is read off the plugins' own `repository_info`.

use serde_json::Value as Json;

use super::calls::{Api, Info};
use super::error::SpaceOneError;
use super::register::Session;
use super::request::Generation;

/// The `list` filters; `None` lists everything the server's query allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// A repository id, `all` for every repository, or `None` for the local one.
    pub repository_id: Option<String>,
    /// `service_type` on 1.x, `resource_type` on 2.x.
    pub resource_type: Option<String>,
    pub provider: Option<String>,
    pub plugin_id: Option<String>,
}

impl ListFilter {
    /// The value of `repository-id` that lists every repository.
    pub const ALL: &'static str = "all";
}

/// Plugins as the server listed them, in its order.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginList {
    /// The repository listed (`all` for every one).
    pub repository_id: String,
    pub plugins: Vec<Info>,
    /// The server's `total_count`: how many match (a 2.x server without `total_count`
    /// in its answer counts as the number returned).
    pub total_count: usize,
}

impl PluginList {
    /// Every plugin in protobuf's JSON form, as `spacectl … -o json` shows it.
    pub fn to_json(&self) -> Json {
        serde_json::json!({
            "repository_id": self.repository_id,
            "results": self.plugins.iter().map(Info::to_json).collect::<Vec<_>>(),
            "total_count": self.total_count,
        })
    }
}

/// The versions the server lists for one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    pub plugin_id: String,
    pub repository_id: String,
    /// In the server's order: for HARBOR newest first by version, for Docker Hub the
    /// registry's (most recently pushed first).
    pub versions: Vec<String>,
}

impl Versions {
    /// The version `upgrade_mode: AUTO` takes: the first listed, whatever its number.
    pub fn latest(&self) -> Option<&str> {
        self.versions.first().map(String::as_str)
    }
}

impl Session {
    /// The plugins of the filter's repository (the local one by default).
    pub async fn list(&self, filter: &ListFilter) -> Result<PluginList, SpaceOneError> {
        let api = self.api();
        let (repository_id, only_local) = match filter.repository_id.as_deref() {
            Some(ListFilter::ALL) => (None, false),
            Some(id) => (Some(id.to_string()), false),
            None => match api.local_repository(false).await {
                Ok(id) => (Some(id), false),
                Err(e) if self.generation == Generation::V2 && e.is_permission_denied() => {
                    (None, true)
                }
                Err(e) => return Err(e),
            },
        };
        let (mut plugins, mut total_count) = api.list(repository_id.as_deref(), filter).await?;
        if only_local {
            plugins.retain(Info::is_local);
            total_count = plugins.len();
        }
        let repository_id = match (repository_id, plugins.first()) {
            (Some(id), _) => id,
            (None, Some(first)) if only_local => first.repository().0,
            (None, _) if only_local => "local".to_string(),
            (None, _) => ListFilter::ALL.to_string(),
        };
        Ok(PluginList {
            repository_id,
            plugins,
            total_count,
        })
    }

    /// The versions of `plugin_id` in the local repository.
    pub async fn versions(&self, plugin_id: &str) -> Result<Versions, SpaceOneError> {
        let api = self.api();
        let repository_id = self.local_repository_of(&api, plugin_id).await?;
        let versions = api.get_versions(plugin_id, &repository_id).await?;
        Ok(Versions {
            plugin_id: plugin_id.to_string(),
            repository_id,
            versions,
        })
    }

    /// The local repository's id, for a call about `plugin_id`: from `Repository.list`, or,
    /// where the token's role may not call it (2.x USER), from the local plugin's own
    /// `repository_info`.
    pub(super) async fn local_repository_of(
        &self,
        api: &Api<'_>,
        plugin_id: &str,
    ) -> Result<String, SpaceOneError> {
        match api.local_repository(false).await {
            Ok(id) => Ok(id),
            Err(denied) if self.generation == Generation::V2 && denied.is_permission_denied() => {
                let filter = ListFilter {
                    plugin_id: Some(plugin_id.to_string()),
                    ..ListFilter::default()
                };
                let (plugins, _) = api.list(None, &filter).await?;
                let elsewhere: Vec<String> = plugins
                    .iter()
                    .filter(|p| !p.is_local())
                    .map(|p| p.repository().0)
                    .collect();
                match plugins.iter().find(|p| p.is_local()) {
                    Some(local) => Ok(local.repository().0),
                    None => Err(SpaceOneError::NotLocal {
                        plugin_id: plugin_id.to_string(),
                        elsewhere,
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }
}
