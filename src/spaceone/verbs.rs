//! The maintenance verbs: `get`, `enable`, `disable` and `deregister` one plugin, for
//! cleanup and inspection workflows (`spaceone-publish get|enable|disable|deregister`).
//!
//! Each opens a [`Session`] (so the generation is detected as for a publish), finds the
//! local repository, and makes one call. `get` always names the local repository, so a
//! managed plugin with the same id is never what you see. Errors are the server's own
//! (`Plugin.get failed: INVALID_ARGUMENT ERROR_NO_PLUGIN: …`), never swallowed: a
//! cleanup job that deregisters a plugin twice fails the second time with NOT_FOUND.
//!
//! The answer is JSON: the PluginInfo in protobuf's JSON form for `get`, `enable` and
//! `disable`; `{"plugin_id": …, "deregistered": true}` for `deregister`.

use serde_json::{json, Value as Json};

use super::connection::{SpaceOneOptions, Timeouts};
use super::error::SpaceOneError;
use super::register::Session;
use crate::events::{Event, Reporter};

pub use crate::inputs::PluginVerb;

/// Opens a session with the default timeouts and retries, and applies `verb`.
pub async fn manage(
    opts: &SpaceOneOptions,
    verb: PluginVerb,
    plugin_id: &str,
    reporter: &dyn Reporter,
) -> Result<Json, SpaceOneError> {
    Session::open(opts, Timeouts::default(), reporter)
        .await?
        .manage(verb, plugin_id, reporter)
        .await
}

impl Session {
    /// Applies `verb` to the plugin `plugin_id` (see the module doc).
    pub async fn manage(
        &self,
        verb: PluginVerb,
        plugin_id: &str,
        reporter: &dyn Reporter,
    ) -> Result<Json, SpaceOneError> {
        let plugin_id = plugin_id.trim();
        if plugin_id.is_empty() {
            return Err(SpaceOneError::MissingField {
                field: "plugin id",
                why: format!("`{verb}` needs input `plugin-id`"),
            });
        }
        let api = self.api();
        let answer = match verb {
            PluginVerb::Get => {
                let repository_id = self.local_repository_of(&api, plugin_id).await?;
                api.get_or_status(plugin_id, &repository_id)
                    .await
                    .map_err(|(_, e)| e)?
                    .to_json()
            }
            PluginVerb::Enable | PluginVerb::Disable => api
                .set_enabled(plugin_id, verb == PluginVerb::Enable)
                .await?
                .to_json(),
            PluginVerb::Deregister => {
                api.deregister(plugin_id).await?;
                json!({"plugin_id": plugin_id, "deregistered": true})
            }
        };
        reporter.event(Event::Note(&match verb {
            PluginVerb::Get => format!(
                "plugin {plugin_id}: {}",
                answer["state"].as_str().unwrap_or("?")
            ),
            PluginVerb::Enable => format!("enabled plugin {plugin_id}"),
            PluginVerb::Disable => format!("disabled plugin {plugin_id}"),
            PluginVerb::Deregister => format!("deregistered plugin {plugin_id}"),
        }));
        Ok(answer)
    }
}
