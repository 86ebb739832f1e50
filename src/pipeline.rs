//! The verbs, each top to bottom: environment → Inputs → Plan → Image → Pushed →
//! Registration → Report. Each step is one call into the module that owns it; no protocol
//! detail lives here.

use crate::ci::{Event, Reporter};
use crate::inputs::{Inputs, Verb};
use crate::oci::BlobStore;
use crate::output::{self, Delivered};
use crate::plan::Plan;
use crate::spaceone::{PluginRequest, Registration, Session, SpaceOneOptions, Timeouts};
use crate::{build, registry, Error};

/// What a publish or merge did, for the final report and CI outputs.
pub struct Report {
    pub delivered: Delivered,
    pub version: String,
    /// The request that was (or, in a dry run, would be) sent, as JSON.
    pub request: Option<serde_json::Value>,
    pub registration: Option<Registration>,
}

/// The result of any verb.
pub enum Outcome {
    Published(Report),
    /// A plugin as the server returned it (`get`, `enable`, `disable`, `deregister`).
    Plugin { verb: Verb, plugin_id: String, info: serde_json::Value },
}

pub async fn run(inputs: Inputs, reporter: &dyn Reporter) -> Result<Outcome, Error> {
    match inputs.verb {
        Verb::Publish => publish(inputs, reporter).await.map(Outcome::Published),
        verb => Err(Error::Plan(crate::plan::PlanError::Input {
            input: "verb",
            variable: inputs.source_of("verb"),
            problem: format!("`{verb:?}` is being wired in"),
        })),
    }
}

pub async fn publish(inputs: Inputs, reporter: &dyn Reporter) -> Result<Report, Error> {
    let plan = Plan::resolve(inputs)?;
    warn_all(reporter, &plan.notes);
    let store = BlobStore::open(&plan.store_dir)?;
    let registry = registry::Client::new(plan.registry.clone())?;
    let session = connect(plan.spaceone.as_ref(), reporter).await?;

    reporter.event(Event::Phase("build"));
    let mut image = build::build(&plan.build, &registry, &store, reporter).await?;
    image.annotations.extend(plan.annotations.clone());
    let sealed = image.seal(&store)?;

    reporter.event(Event::Phase("push"));
    let delivered =
        output::deliver(&plan.destination, &sealed, &plan.tags, plan.dry_run, &registry, &store, reporter).await?;

    let request = plan.registration.as_ref().map(|r| r.to_json_with_domain(plan.generation, plan.domain_id.as_deref()));
    let registration = register(plan.registration.as_ref(), session.as_ref(), reporter).await?;
    Ok(Report { delivered, version: plan.version, request, registration })
}

/// Connects first: an unreachable or unusable server must stop the run before the push.
async fn connect(options: Option<&SpaceOneOptions>, reporter: &dyn Reporter) -> Result<Option<Session>, Error> {
    match options {
        Some(options) => Ok(Some(Session::open(options, Timeouts::default(), reporter).await?)),
        None => Ok(None),
    }
}

/// Registers when there is a server, else shows what the request would have said.
async fn register(
    request: Option<&PluginRequest>,
    session: Option<&Session>,
    reporter: &dyn Reporter,
) -> Result<Option<Registration>, Error> {
    match (request, session) {
        (Some(request), Some(session)) => {
            reporter.event(Event::Phase("register"));
            Ok(Some(session.publish(request, reporter).await?))
        }
        (Some(request), None) => {
            warn_all(reporter, &request.notes);
            Ok(None)
        }
        (None, _) => Ok(None),
    }
}

fn warn_all(reporter: &dyn Reporter, notes: &[String]) {
    for note in notes {
        reporter.event(Event::Warning(note));
    }
}
