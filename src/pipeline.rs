//! The verbs, each top to bottom: environment → Inputs → Plan → Image → Pushed →
//! Registration → Report. Each step is one call into the module that owns it; no protocol
//! detail lives here.

use crate::events::{Event, Phase, Reporter};
use crate::inputs::{Inputs, PluginVerb, Verb};
use crate::oci::{BlobStore, Index};
use crate::output::{self, Delivered};
use crate::plan::{ListPlan, MergePlan, Plan, PluginVerbPlan, Publication};
use crate::reference::Reference;
use crate::spaceone::{
    self, PluginRequest, Registration, RegistryType, Session, SpaceOneOptions, Timeouts,
};
use crate::{build, registry, Error};

/// What a publish or merge did, for the final report and CI outputs.
pub struct Report {
    pub delivered: Delivered,
    pub version: String,
    /// The request that was (or, in a dry run, would be) sent, as JSON.
    pub request: Option<serde_json::Value>,
    pub registration: Option<Registration>,
    /// Where the time went (a publish; `merge` builds nothing).
    pub timings: Option<Timings>,
}

/// A run's wall time and the build's share of it.
pub struct Timings {
    pub total_seconds: f64,
    pub build: build::timings::Timings,
}

/// The result of any verb.
pub enum Outcome {
    Published(Box<Report>),
    /// A plugin as the server returned it (`get`, `enable`, `disable`, `deregister`).
    Plugin {
        verb: PluginVerb,
        plugin_id: String,
        info: serde_json::Value,
    },
    /// The plugins of a repository (`list`).
    Listed(spaceone::PluginList),
    /// The versions of one plugin (`versions`).
    Versions(spaceone::Versions),
}

pub async fn run(inputs: Inputs, reporter: &dyn Reporter) -> Result<Outcome, Error> {
    match inputs.verb {
        Verb::Publish => publish(inputs, reporter)
            .await
            .map(|r| Outcome::Published(Box::new(r))),
        Verb::Merge => merge(inputs, reporter)
            .await
            .map(|r| Outcome::Published(Box::new(r))),
        Verb::List => list(inputs, reporter).await.map(Outcome::Listed),
        Verb::Versions => versions(inputs, reporter).await.map(Outcome::Versions),
        Verb::Plugin(verb) => plugin(inputs, verb, reporter).await,
    }
}

pub async fn publish(inputs: Inputs, reporter: &dyn Reporter) -> Result<Report, Error> {
    let started = std::time::Instant::now();
    let mut plan = Plan::resolve(inputs)?;
    warn_all(reporter, &plan.publication.notes);
    let store = BlobStore::open(&plan.store_dir)?;
    let registry = registry::Client::new(plan.publication.registry.clone())?;
    let also_push = plan
        .publication
        .also_push
        .iter()
        .map(|(image, options)| Ok((image.clone(), registry::Client::new(options.clone())?)))
        .collect::<Result<Vec<_>, Error>>()?;
    // The pre-flight checks are independent round trips to different servers: they run
    // at once, and their errors are reported in this order, whichever came first. The
    // base a RUN will need starts unpacking meanwhile (dropped unused if a check fails).
    let (session, credentials, platforms, mut early) = tokio::join!(
        connect(
            plan.publication.spaceone.as_ref(),
            plan.publication.registration.as_ref(),
            plan.destination.repository(),
            &registry,
            reporter,
        ),
        output::check_credentials(&plan, &also_push, &registry, reporter),
        build::check_platforms(&plan.build, &plan.platforms, &registry),
        build::start_early(&plan.build, &registry, &store, reporter),
    );
    let session = session?;
    credentials?;
    platforms?;
    let mut timings = build::timings::Timings::default();
    let mut images = Vec::with_capacity(plan.platforms.len());
    for platform in &plan.platforms {
        reporter.event(Event::Phase(Phase::Build(platform)));
        plan.build.platform = platform.clone();
        let (mut image, spent) =
            build::build(&plan.build, &registry, &store, reporter, early.take()).await?;
        timings.extend(spent);
        image
            .annotations
            .extend(plan.publication.annotations.clone());
        images.push(image.seal(&store)?);
    }
    let built = output::Built::new(images, &plan.publication.annotations);

    reporter.event(Event::Phase(Phase::Push));
    let delivered = output::deliver(
        &plan.destination,
        &also_push,
        &built,
        &plan.publication.tags,
        plan.publication.dry_run,
        &registry,
        &store,
        reporter,
    )
    .await?;

    let timings = Some((started, timings));
    finish(
        plan.publication,
        delivered,
        session.as_ref(),
        timings,
        reporter,
    )
    .await
}

/// Assembles the per-platform images of a matrix build into one tagged index, then
/// registers it once.
pub async fn merge(inputs: Inputs, reporter: &dyn Reporter) -> Result<Report, Error> {
    let plan = MergePlan::resolve(inputs)?;
    warn_all(reporter, &plan.publication.notes);
    let registry = registry::Client::new(plan.publication.registry.clone())?;
    let session = connect(
        plan.publication.spaceone.as_ref(),
        plan.publication.registration.as_ref(),
        Some(&plan.image),
        &registry,
        reporter,
    )
    .await?;

    reporter.event(Event::Phase(Phase::Merge));
    let mut manifests = Vec::with_capacity(plan.digests.len());
    for digest in &plan.digests {
        manifests.push(registry.describe(&plan.image, digest).await?);
    }
    manifests.sort_by(|a, b| a.platform.cmp(&b.platform));
    let annotations =
        (!plan.publication.annotations.is_empty()).then(|| plan.publication.annotations.clone());
    let index = Index::oci(manifests, annotations);
    let mut delivered = output::deliver_index(
        &plan.image,
        &index,
        &plan.publication.tags,
        plan.publication.dry_run,
        &registry,
        reporter,
    )
    .await?;
    for (image, options) in &plan.publication.also_push {
        let client = registry::Client::new(options.clone())?;
        let more = output::deliver_index(
            image,
            &index,
            &plan.publication.tags,
            plan.publication.dry_run,
            &client,
            reporter,
        )
        .await?;
        delivered.repositories.extend(more.repositories);
    }

    finish(
        plan.publication,
        delivered,
        session.as_ref(),
        None,
        reporter,
    )
    .await
}

/// The last arrow of `publish` and `merge`: what was delivered is registered, and
/// reported; `timings` (when the build was timed) are its start and the build's figures.
async fn finish(
    publication: Publication,
    delivered: output::Delivered,
    session: Option<&Session>,
    timings: Option<(std::time::Instant, build::timings::Timings)>,
    reporter: &dyn Reporter,
) -> Result<Report, Error> {
    let request = publication.request_json();
    let registration = register(publication.registration.as_ref(), session, reporter).await?;
    Ok(Report {
        delivered,
        version: publication.version,
        request,
        registration,
        timings: timings.map(|(started, build)| Timings {
            total_seconds: started.elapsed().as_secs_f64(),
            build,
        }),
    })
}

/// `deregister`, `enable`, `disable`, `get`: one call on the plugin.
pub async fn plugin(
    inputs: Inputs,
    verb: PluginVerb,
    reporter: &dyn Reporter,
) -> Result<Outcome, Error> {
    let plan = PluginVerbPlan::resolve(inputs)?;
    let info = spaceone::manage(&plan.options, verb, &plan.plugin_id, reporter).await?;
    Ok(Outcome::Plugin {
        verb,
        plugin_id: plan.plugin_id,
        info,
    })
}

/// `list`: the plugins of a repository, as SpaceONE's register guide checks them.
pub async fn list(inputs: Inputs, reporter: &dyn Reporter) -> Result<spaceone::PluginList, Error> {
    let plan = ListPlan::resolve(inputs)?;
    let session = Session::open(&plan.options, Timeouts::default(), reporter).await?;
    Ok(session.list(&plan.filter).await?)
}

/// `versions`: what the server lists for one plugin, and which one AUTO upgrades take.
pub async fn versions(
    inputs: Inputs,
    reporter: &dyn Reporter,
) -> Result<spaceone::Versions, Error> {
    let plan = PluginVerbPlan::resolve(inputs)?;
    let session = Session::open(&plan.options, Timeouts::default(), reporter).await?;
    Ok(session.versions(&plan.plugin_id).await?)
}

/// Connects and checks the request against the server first: an unreachable server, or a
/// request it would refuse, must stop the run before the push.
async fn connect(
    options: Option<&SpaceOneOptions>,
    request: Option<&PluginRequest>,
    repository: Option<&Reference>,
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Result<Option<Session>, Error> {
    let Some(options) = options else {
        return Ok(None);
    };
    let session = Session::open(options, Timeouts::default(), reporter).await?;
    if let Some(request) = request {
        let existing = existing_tags(request, repository, registry, reporter).await;
        warn_all(reporter, &session.preflight(request, &existing).await?);
    }
    Ok(Some(session))
}

/// The tags the repository holds now: a HARBOR connector sorts them with the pushed ones.
/// A registry that will not list them is a warning, not a stop: the push says more.
async fn existing_tags(
    request: &PluginRequest,
    repository: Option<&Reference>,
    registry: &registry::Client,
    reporter: &dyn Reporter,
) -> Vec<String> {
    let Some(repository) = repository.filter(|_| request.registry_type == RegistryType::Harbor)
    else {
        return Vec::new();
    };
    registry.list_tags(repository).await.unwrap_or_else(|e| {
        reporter.event(Event::Warning(&format!(
            "cannot list the tags {repository} holds ({e}): tags the server could not sort \
             are not checked before the push"
        )));
        Vec::new()
    })
}

/// Registers when there is a server, else shows what the request would have said.
async fn register(
    request: Option<&PluginRequest>,
    session: Option<&Session>,
    reporter: &dyn Reporter,
) -> Result<Option<Registration>, Error> {
    match (request, session) {
        (Some(request), Some(session)) => {
            reporter.event(Event::Phase(Phase::Register));
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
