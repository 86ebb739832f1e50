//! The registration flow: make the SpaceONE server know the pushed plugin version.
//!
//! ```text
//! connect ─► generation (option, or reflection) ─► [preflight, before the push]
//!        ─► local repository id (1.x: created when the policy allows)
//!        ─► get(plugin_id, repository_id=local)
//!             found ─────► fixed fields differ? error, or (replace) deregister + register
//!                          else update the updatable fields that differ (or nothing)
//!             not found ─► register ── ALREADY_EXISTS ─► update
//!        ─► get_versions(plugin_id, repository_id=local) until the pushed tag is listed
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
//! - **Fixed fields** (resource type, registry type, provider) cannot be updated. A
//!   difference is an error unless the policy says `replace`; then the plugin is
//!   deregistered and registered again, and a disabled plugin is disabled again.
//! - **get_versions** is the proof: the server lists the image's tags from its own registry
//!   connector, the same way a supervisor will later pick a version. It is asked a few
//!   times (a registry may be slow to list a new tag); a tag still missing is an error
//!   that explains the connector's limits (Docker Hub: public repositories, first page).
//!
//! Translation (`translate.rs`) decides what each generation receives; fields one cannot
//! carry are reported as warnings before anything is sent. Every server error becomes
//! [`SpaceOneError::Server`] with the method and the server's own `ERROR_…: message`.

use std::fmt;

use super::calls::Api;
use super::connection::{Connection, SpaceOneOptions, Timeouts};
use super::error::SpaceOneError;
use super::reflection;
use super::request::{Generation, PluginRequest, RegistryType};
use super::retry::Retry;
use super::translate::{self, Changes};
use crate::events::{Event, Reporter};

/// What the server did with the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It was not there; `register` created it.
    Registered,
    /// It was there and some updatable fields differed; `update` changed them.
    Updated,
    /// It was there with the same metadata; only the new tag was needed.
    Unchanged,
    /// Fixed fields differed and the policy allowed `replace`: deregistered, registered.
    Replaced,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Registered => "registered",
            Action::Updated => "updated",
            Action::Unchanged => "unchanged",
            Action::Replaced => "replaced",
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
    /// Fields `update` changed (empty unless `Updated`), or for `Replaced` the fixed
    /// fields that differed.
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
/// lets a caller fail on an unreachable server before any bytes move; then
/// [`Session::preflight`] checks the request against that generation and the server's
/// current state, still before the push.
#[derive(Debug)]
pub struct Session {
    pub(super) conn: Connection,
    pub(super) generation: Generation,
    pub(super) domain_id: Option<String>,
    pub(super) has_token: bool,
    pub(super) policy: super::connection::Policy,
}

impl Session {
    pub async fn open(
        opts: &SpaceOneOptions,
        timeouts: Timeouts,
        reporter: &dyn Reporter,
    ) -> Result<Session, SpaceOneError> {
        let conn = Connection::open(opts, timeouts).await?;
        let (generation, how) = match opts.generation {
            Generation::Auto => (detect(&conn).await?, "detected through reflection"),
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
        let has_token = opts
            .token
            .as_ref()
            .is_some_and(|t| !t.expose().trim().is_empty());
        Ok(Session {
            conn,
            generation,
            domain_id,
            has_token,
            policy: opts.policy,
        })
    }

    /// `V1` or `V2`.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    pub(super) fn api(&self) -> Api<'_> {
        Api::new(&self.conn, self.generation, self.domain_id.as_deref())
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
        let api = self.api();
        let plugin_id = request.plugin_id_for(generation);

        let repository_id = api
            .local_repository(self.policy.create_local_repository)
            .await?;
        reporter.event(Event::Debug(&format!("local repository: {repository_id}")));

        let (action, updated_fields, info) = match api.get(plugin_id, &repository_id).await? {
            Some(current) => {
                self.update_existing(&api, request, plugin_id, current, reporter)
                    .await?
            }
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
                            self.update_existing(&api, request, plugin_id, current, reporter)
                                .await?
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
            Action::Replaced => format!(
                "replaced plugin {plugin_id} (deregistered and registered again: {})",
                updated_fields.join("; ")
            ),
        }));

        let versions = self
            .wait_for_version(&api, request, plugin_id, &repository_id)
            .await?;
        let registration = Registration {
            generation,
            plugin_id: plugin_id.to_string(),
            version: request.version.clone(),
            action,
            updated_fields,
            repository_id,
            registry_url: info.current().registry_url,
            versions,
        };
        report_versions(&registration, request.registry_type, reporter);
        Ok(registration)
    }

    /// Updates a plugin the server already has: refuses one registered for another image,
    /// refuses (or with `replace`, re-creates) one whose fixed fields differ, and sends
    /// only what differs.
    async fn update_existing(
        &self,
        api: &Api<'_>,
        request: &PluginRequest,
        plugin_id: &str,
        existing: super::calls::Info,
        reporter: &dyn Reporter,
    ) -> Result<(Action, Vec<String>, super::calls::Info), SpaceOneError> {
        let current = existing.current();
        check_same_image(request, plugin_id, &current.image)?;
        if request.derived {
            // Derived values would overwrite what a manifest once set ("Slack Notification
            // Protocol" → `plugin-slack-noti-protocol`); the new version needs no update,
            // the server lists it from the registry.
            reporter.event(Event::Note(&format!(
                "no plugin manifest: plugin {plugin_id} keeps its registered metadata"
            )));
            return Ok((Action::Unchanged, Vec::new(), existing));
        }
        let fixed = translate::immutable_differences(request, &current);
        if !fixed.is_empty() {
            if !self.policy.replace {
                return Err(SpaceOneError::ImmutableFields {
                    plugin_id: plugin_id.to_string(),
                    differences: fixed,
                });
            }
            let disabled = existing.state() == "DISABLED";
            reporter.event(Event::Warning(&format!(
                "replacing plugin {plugin_id}: {}",
                fixed.join("; ")
            )));
            api.deregister(plugin_id).await?;
            let mut info = api.register(request).await?;
            if disabled {
                info = api.set_enabled(plugin_id, false).await?;
            }
            return Ok((Action::Replaced, fixed, info));
        }
        let changes = Changes::between(request, &current, api.generation());
        if changes.is_empty() {
            return Ok((Action::Unchanged, Vec::new(), existing));
        }
        let fields = changes.fields();
        let info = api.update(plugin_id, changes).await?;
        Ok((Action::Updated, fields, info))
    }

    /// Asks `get_versions` until the pushed tag is listed, as often as the retry policy
    /// allows; a tag still missing is [`SpaceOneError::VersionNotListed`].
    async fn wait_for_version(
        &self,
        api: &Api<'_>,
        request: &PluginRequest,
        plugin_id: &str,
        repository_id: &str,
    ) -> Result<Vec<String>, SpaceOneError> {
        let retry = self.conn.retry();
        // Err(Ok(listed)): not listed yet, ask again; Err(Err(e)): the call failed.
        let (result, attempts) = retry
            .run(
                |e: &Result<Vec<String>, SpaceOneError>| e.is_ok(),
                || async {
                    let versions = api
                        .get_versions(plugin_id, repository_id)
                        .await
                        .map_err(Err)?;
                    if versions.contains(&request.version) {
                        Ok(versions)
                    } else {
                        Err(Ok(versions))
                    }
                },
            )
            .await;
        match result {
            Ok(versions) => Ok(versions),
            Err(Err(e)) => Err(e),
            Err(Ok(listed)) => Err(SpaceOneError::VersionNotListed {
                plugin_id: plugin_id.to_string(),
                version: request.version.clone(),
                registry_type: request.registry_type.as_str(),
                listed,
                attempts,
            }),
        }
    }
}

/// A plugin id registered for another image is another plugin: never update it.
pub(super) fn check_same_image(
    request: &PluginRequest,
    plugin_id: &str,
    registered: &str,
) -> Result<(), SpaceOneError> {
    if registered != request.image {
        return Err(SpaceOneError::PluginIdTaken {
            plugin_id: plugin_id.to_string(),
            registered_image: registered.to_string(),
            image: request.image.clone(),
        });
    }
    Ok(())
}

/// Reflection under the retry policy (an UNAVAILABLE answer is asked again).
async fn detect(conn: &Connection) -> Result<Generation, SpaceOneError> {
    let transient = |e: &SpaceOneError| matches!(e, SpaceOneError::Server { code, .. } if Retry::is_transient(*code));
    let (result, attempts) = conn
        .retry()
        .run(transient, || reflection::detect(conn))
        .await;
    result.map_err(|e| match e {
        SpaceOneError::Server {
            method,
            code,
            details,
            ..
        } => SpaceOneError::Server {
            method,
            code,
            details,
            attempts,
            generation: None,
        },
        other => other,
    })
}

fn report_versions(r: &Registration, registry_type: RegistryType, reporter: &dyn Reporter) {
    let shown = r
        .versions
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    reporter.event(Event::Note(&format!(
        "SpaceONE lists version {} of {} ({} versions: {shown})",
        r.version,
        r.plugin_id,
        r.versions.len()
    )));
    if registry_type == RegistryType::DockerHub {
        reporter.event(Event::Note(
            "Docker Hub: SpaceONE sees only the first page (10 tags) and takes the first listed tag as \
             latest, so pushing another tag changes what `latest` means",
        ));
    }
}
