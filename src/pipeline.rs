//! The publish verb, top to bottom: environment → Inputs → Plan → Image → Pushed →
//! Registration → Report. Each step is one call into the module that owns it; no protocol
//! detail lives here.

use crate::ci::{Event, Reporter};
use crate::inputs::Inputs;
use crate::oci::BlobStore;
use crate::output::{self, Delivered};
use crate::plan::Plan;
use crate::spaceone::{Registration, Session, Timeouts};
use crate::{build, registry, Error};

/// What a publish did, for the final report and CI outputs.
pub struct Report {
    pub delivered: Delivered,
    pub version: String,
    /// The request that was (or, in a dry run, would be) sent, as JSON.
    pub request: Option<serde_json::Value>,
    pub registration: Option<Registration>,
}

pub async fn publish(inputs: Inputs, reporter: &dyn Reporter) -> Result<Report, Error> {
    let plan = Plan::resolve(inputs)?;
    for note in &plan.notes {
        reporter.event(Event::Warning(note));
    }
    let store = BlobStore::open(&plan.store_dir)?;
    let registry = registry::Client::new(plan.registry.clone())?;
    // Connect first: an unreachable or unusable server must stop the run before the push.
    let session = match &plan.spaceone {
        Some(options) => Some(Session::open(options, Timeouts::default(), reporter).await?),
        None => None,
    };

    reporter.event(Event::Phase("build"));
    let image = build::build(&plan.build, &registry, &store, reporter).await?;
    let sealed = image.seal(&store)?;

    reporter.event(Event::Phase("push"));
    let delivered = output::deliver(
        &plan.destination,
        &sealed,
        &plan.tags,
        plan.dry_run,
        &registry,
        &store,
        reporter,
    )
    .await?;

    let request = plan
        .registration
        .as_ref()
        .map(|r| r.to_json_with_domain(plan.generation, plan.domain_id.as_deref()));
    let registration = match (&plan.registration, &session) {
        (Some(request), Some(session)) => {
            reporter.event(Event::Phase("register"));
            Some(session.publish(request, reporter).await?)
        }
        (Some(request), None) => {
            for note in &request.notes {
                reporter.event(Event::Warning(note));
            }
            None
        }
        _ => None,
    };
    Ok(Report {
        delivered,
        version: plan.version,
        request,
        registration,
    })
}
