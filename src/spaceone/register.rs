//! The registration flow: make the SpaceONE server know the pushed plugin version.
//!
//! ```text
//! connect ─► generation (option, or reflection) ─► local repository id
//!        ─► get(plugin_id, repository_id=local)
//!             found ─────► update the updatable fields that differ (or nothing)
//!             not found ─► register ── ALREADY_EXISTS ─► update
//!        ─► get_versions(plugin_id, repository_id=local): is the pushed tag listed?
//! ```
//!
//! Why each step:
//!
//! - The **local repository id** is passed to `get` and `get_versions` every time: without
//!   it the server searches its repositories in order and a managed plugin with the same id
//!   (a fork keeping `plugin-slack-noti-protocol`) shadows ours. 1.x keeps repositories in
//!   its database (type `local`); 2.x in its configuration (type `LOCAL`).
//! - **Not found** is not an error status of its own: both generations answer
//!   INVALID_ARGUMENT `ERROR_NO_PLUGIN` (NOT_FOUND is accepted too). It is a return value
//!   here, like "already up to date", not an `Err`.
//! - **register → ALREADY_EXISTS → get → update** covers a plugin `get` did not see the
//!   first time (a parallel job registering the same plugin).
//! - A plugin id **registered for another image** (`a/plugin-x` vs `b/plugin-x`: the id is
//!   the last image segment) is refused, never updated.
//! - **get_versions** is the proof: the server lists the image's tags from its own registry
//!   connector, the same way a supervisor will later pick a version. A missing tag is a
//!   warning (Docker Hub lists only its first page); a failing call is an error.
//!
//! Translation (`translate.rs`) decides what each generation receives; fields one cannot
//! carry are reported as warnings before anything is sent. Every server error becomes
//! [`SpaceOneError::Server`] with the method and the server's own `ERROR_…: message`.

use std::fmt;

use super::api::{v1, v2};
use super::connection::{Connection, SpaceOneOptions, Timeouts};
use super::error::SpaceOneError;
use super::reflection;
use super::request::{Generation, PluginRequest, RegistryType};
use super::translate::{self, Changes, Current};
use crate::ci::{Event, Reporter};

/// What the server did with the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It was not there; `register` created it.
    Registered,
    /// It was there and some updatable fields differed; `update` changed them.
    Updated,
    /// It was there with the same metadata; only the new tag was needed.
    Unchanged,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Registered => "registered",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
        })
    }
}

/// The outcome, for the report and CI outputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// `V1` or `V2`, never `Auto`.
    pub generation: Generation,
    pub plugin_id: String,
    /// The pushed tag.
    pub version: String,
    pub action: Action,
    /// Fields `update` changed (empty unless `Updated`).
    pub updated_fields: Vec<String>,
    /// The local repository the plugin lives in.
    pub repository_id: String,
    /// Where the server will pull the image from (`registry_url` of the plugin).
    pub registry_url: String,
    /// The server's version list, in the server's order (newest first for HARBOR).
    pub versions: Vec<String>,
}

impl Registration {
    /// Whether the server lists the pushed tag.
    pub fn version_listed(&self) -> bool {
        self.versions.contains(&self.version)
    }
}

/// Connects, detects the generation and registers or updates `request`.
pub async fn register(
    opts: &SpaceOneOptions,
    request: &PluginRequest,
    reporter: &dyn Reporter,
) -> Result<Registration, SpaceOneError> {
    Session::open(opts, Timeouts::default(), reporter)
        .await?
        .publish(request, reporter)
        .await
}

/// A connection whose server generation is known. Opening one early (before the push)
/// lets a caller fail on an unreachable server before any bytes move.
#[derive(Debug)]
pub struct Session {
    conn: Connection,
    generation: Generation,
    domain_id: Option<String>,
}

impl Session {
    pub async fn open(
        opts: &SpaceOneOptions,
        timeouts: Timeouts,
        reporter: &dyn Reporter,
    ) -> Result<Session, SpaceOneError> {
        let conn = Connection::open(opts, timeouts).await?;
        let (generation, how) = match opts.generation {
            Generation::Auto => (
                reflection::detect(&conn).await?,
                "detected through reflection",
            ),
            explicit => (explicit, "as configured"),
        };
        reporter.event(Event::Note(&format!(
            "SpaceONE {generation} at {} ({how})",
            conn.endpoint()
        )));
        let domain_id = opts
            .domain_id
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        Ok(Session {
            conn,
            generation,
            domain_id,
        })
    }

    /// `V1` or `V2`.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Registers or updates the plugin, then checks the version list.
    pub async fn publish(
        &self,
        request: &PluginRequest,
        reporter: &dyn Reporter,
    ) -> Result<Registration, SpaceOneError> {
        let generation = self.generation;
        for note in request
            .notes
            .iter()
            .chain(&translate::dropped_fields(request, generation))
        {
            reporter.event(Event::Warning(note));
        }
        let api = match generation {
            Generation::V1 => Api::V1 {
                conn: &self.conn,
                domain_id: self.domain_id.as_deref(),
            },
            _ => Api::V2 { conn: &self.conn },
        };
        let plugin_id = request.plugin_id_for(generation);

        let repository_id = api.local_repository().await?;
        reporter.event(Event::Debug(&format!("local repository: {repository_id}")));

        let (action, updated_fields, info) = match api.get(plugin_id, &repository_id).await? {
            Some(current) => update_existing(&api, request, plugin_id, current, reporter).await?,
            None => match api.register(request).await {
                Ok(info) => (Action::Registered, Vec::new(), info),
                Err(SpaceOneError::Server {
                    code: tonic::Code::AlreadyExists,
                    details,
                    ..
                }) => {
                    reporter.event(Event::Debug(&format!(
                        "register: {details}; updating instead"
                    )));
                    match api.get(plugin_id, &repository_id).await? {
                        Some(current) => {
                            update_existing(&api, request, plugin_id, current, reporter).await?
                        }
                        None => {
                            let changes = Changes::all(request, generation);
                            let fields = changes.fields();
                            let info = api.update(plugin_id, changes).await?;
                            (Action::Updated, fields, info)
                        }
                    }
                }
                Err(e) => return Err(e),
            },
        };
        reporter.event(Event::Note(&match action {
            Action::Registered => format!(
                "registered plugin {plugin_id} ({}, {})",
                request.image, request.registry_type
            ),
            Action::Updated => format!("updated plugin {plugin_id}: {}", updated_fields.join(", ")),
            Action::Unchanged => {
                format!("plugin {plugin_id} is already registered with this metadata")
            }
        }));

        let versions = api.get_versions(plugin_id, &repository_id).await?;
        let registration = Registration {
            generation,
            plugin_id: plugin_id.to_string(),
            version: request.version.clone(),
            action,
            updated_fields,
            repository_id,
            registry_url: info.registry_url,
            versions,
        };
        report_versions(&registration, request.registry_type, reporter);
        Ok(registration)
    }
}

/// Updates a plugin the server already has: refuses one registered for another image,
/// warns about fields no update can change, and sends only what differs.
async fn update_existing(
    api: &Api<'_>,
    request: &PluginRequest,
    plugin_id: &str,
    current: Current,
    reporter: &dyn Reporter,
) -> Result<(Action, Vec<String>, Current), SpaceOneError> {
    if current.image != request.image {
        return Err(SpaceOneError::PluginIdTaken {
            plugin_id: plugin_id.to_string(),
            registered_image: current.image,
            image: request.image.clone(),
        });
    }
    for note in translate::immutable_differences(request, &current) {
        reporter.event(Event::Warning(&note));
    }
    let changes = Changes::between(request, &current, api.generation());
    if changes.is_empty() {
        return Ok((Action::Unchanged, Vec::new(), current));
    }
    let fields = changes.fields();
    let info = api.update(plugin_id, changes).await?;
    Ok((Action::Updated, fields, info))
}

fn report_versions(r: &Registration, registry_type: RegistryType, reporter: &dyn Reporter) {
    let shown = r
        .versions
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if r.version_listed() {
        reporter.event(Event::Note(&format!(
            "SpaceONE lists version {} of {} ({} versions: {shown})",
            r.version,
            r.plugin_id,
            r.versions.len()
        )));
    } else {
        reporter.event(Event::Warning(&format!(
            "SpaceONE does not list version {} of {} yet (it lists: {}); the server reads tags from its \
             own {registry_type} registry connector",
            r.version,
            r.plugin_id,
            if shown.is_empty() { "nothing" } else { &shown }
        )));
    }
    if registry_type == RegistryType::DockerHub {
        reporter.event(Event::Note(
            "Docker Hub: SpaceONE sees only the first page (10 tags) and takes the first listed tag as \
             latest, so pushing another tag changes what `latest` means",
        ));
    }
}

/// The calls of the flow, spoken in one generation's messages.
enum Api<'a> {
    V1 {
        conn: &'a Connection,
        domain_id: Option<&'a str>,
    },
    V2 {
        conn: &'a Connection,
    },
}

/// Not-found answers: `ERROR_NO_PLUGIN` (INVALID_ARGUMENT) on both generations, or NOT_FOUND.
fn is_not_found(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::NotFound
        || (status.code() == tonic::Code::InvalidArgument
            && super::error::server_error_code(status.message()) == Some("ERROR_NO_PLUGIN"))
}

impl Api<'_> {
    fn conn(&self) -> &Connection {
        match self {
            Api::V1 { conn, .. } | Api::V2 { conn } => conn,
        }
    }

    fn generation(&self) -> Generation {
        match self {
            Api::V1 { .. } => Generation::V1,
            Api::V2 { .. } => Generation::V2,
        }
    }

    fn endpoint(&self) -> String {
        self.conn().endpoint().to_string()
    }

    async fn local_repository(&self) -> Result<String, SpaceOneError> {
        let fail = |status| SpaceOneError::server("Repository.list", &status);
        let repositories: Vec<(String, String)> = match self {
            Api::V1 { conn, domain_id } => {
                let query = v1::RepositoryQuery {
                    repository_type: "local".into(),
                    domain_id: domain_id.unwrap_or_default().into(),
                    ..Default::default()
                };
                let mut client = v1::repository_client::RepositoryClient::new(conn.channel());
                let list = client
                    .list(conn.request(query))
                    .await
                    .map_err(fail)?
                    .into_inner();
                list.results
                    .into_iter()
                    .map(|r| (r.repository_id, r.repository_type))
                    .collect()
            }
            Api::V2 { conn } => {
                let query = v2::RepositoryQuery {
                    repository_type: "LOCAL".into(),
                    ..Default::default()
                };
                let mut client = v2::repository_client::RepositoryClient::new(conn.channel());
                let list = client
                    .list(conn.request(query))
                    .await
                    .map_err(fail)?
                    .into_inner();
                list.results
                    .into_iter()
                    .map(|r| (r.repository_id, r.repository_type))
                    .collect()
            }
        };
        repositories
            .iter()
            .find(|(_, t)| t.eq_ignore_ascii_case("local"))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                let found = if repositories.is_empty() {
                    "no repositories".to_string()
                } else {
                    let kinds: Vec<String> = repositories
                        .iter()
                        .map(|(id, t)| format!("{id} ({t})"))
                        .collect();
                    kinds.join(", ")
                };
                SpaceOneError::NoLocalRepository {
                    endpoint: self.endpoint(),
                    found,
                }
            })
    }

    async fn get(
        &self,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Option<Current>, SpaceOneError> {
        let answer = match self {
            Api::V1 { conn, domain_id } => {
                let msg = v1::GetRepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: domain_id.unwrap_or_default().into(),
                    repository_id: repository_id.into(),
                    only: Vec::new(),
                };
                let mut client = v1::plugin_client::PluginClient::new(conn.channel());
                client
                    .get(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
            }
            Api::V2 { conn } => {
                let msg = v2::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    repository_id: repository_id.into(),
                };
                let mut client = v2::plugin_client::PluginClient::new(conn.channel());
                client
                    .get(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
            }
        };
        match answer {
            Ok(current) => Ok(Some(current)),
            Err(status) if is_not_found(&status) => Ok(None),
            Err(status) => Err(SpaceOneError::server("Plugin.get", &status)),
        }
    }

    async fn register(&self, request: &PluginRequest) -> Result<Current, SpaceOneError> {
        let fail = |status| SpaceOneError::server("Plugin.register", &status);
        match self {
            Api::V1 { conn, domain_id } => {
                let msg = translate::v1_register(request, *domain_id)?;
                let mut client = v1::plugin_client::PluginClient::new(conn.channel());
                client
                    .register(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
                    .map_err(fail)
            }
            Api::V2 { conn } => {
                let msg = translate::v2_register(request)?;
                let mut client = v2::plugin_client::PluginClient::new(conn.channel());
                client
                    .register(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
                    .map_err(fail)
            }
        }
    }

    async fn update(&self, plugin_id: &str, changes: Changes) -> Result<Current, SpaceOneError> {
        let fail = |status| SpaceOneError::server("Plugin.update", &status);
        match self {
            Api::V1 { conn, domain_id } => {
                let mut client = v1::plugin_client::PluginClient::new(conn.channel());
                let msg = changes.v1(plugin_id, *domain_id);
                client
                    .update(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
                    .map_err(fail)
            }
            Api::V2 { conn } => {
                let mut client = v2::plugin_client::PluginClient::new(conn.channel());
                let msg = changes.v2(plugin_id);
                client
                    .update(conn.request(msg))
                    .await
                    .map(|r| Current::from(&r.into_inner()))
                    .map_err(fail)
            }
        }
    }

    async fn get_versions(
        &self,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Vec<String>, SpaceOneError> {
        let answer = match self {
            Api::V1 { conn, domain_id } => {
                let msg = v1::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    domain_id: domain_id.unwrap_or_default().into(),
                    repository_id: repository_id.into(),
                };
                let mut client = v1::plugin_client::PluginClient::new(conn.channel());
                client
                    .get_versions(conn.request(msg))
                    .await
                    .map(|r| r.into_inner().results)
            }
            Api::V2 { conn } => {
                let msg = v2::RepositoryPluginRequest {
                    plugin_id: plugin_id.into(),
                    repository_id: repository_id.into(),
                };
                let mut client = v2::plugin_client::PluginClient::new(conn.channel());
                client
                    .get_versions(conn.request(msg))
                    .await
                    .map(|r| r.into_inner().results)
            }
        };
        answer.map_err(|status| SpaceOneError::server("Plugin.get_versions", &status))
    }
}
