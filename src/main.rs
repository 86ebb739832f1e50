//! The command line: `--help`, `--version`, `--action-yml`, the verb, and the one place
//! where errors become exit codes.

use std::error::Error as _;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use spaceone_publish::build::sandbox;
use spaceone_publish::ci::Console;
use spaceone_publish::inputs::{docs, Inputs, Verb};
use spaceone_publish::{pipeline, Error};

fn main() -> ExitCode {
    let mut debug = false;
    let mut verb = None;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{}", docs::help());
                return ExitCode::SUCCESS;
            }
            "-V" | "--version" => {
                println!("spaceone-publish {}", env!("CARGO_PKG_VERSION"));
                return ExitCode::SUCCESS;
            }
            "--action-yml" => {
                print!("{}", docs::action_yml());
                return ExitCode::SUCCESS;
            }
            "--inputs-markdown" => {
                print!("{}", docs::markdown_table());
                return ExitCode::SUCCESS;
            }
            "--debug" => debug = true,
            other => match Verb::parse(other) {
                Ok(v) if verb.is_none() => verb = Some(v),
                _ => {
                    eprintln!("error: unknown argument `{other}` (see --help)");
                    return ExitCode::from(2);
                }
            },
        }
    }

    let mut inputs = match Inputs::from_env() {
        Ok(inputs) => inputs,
        Err(e) => return fail(&Console::plain(debug), &Error::from(e)),
    };
    if let Some(verb) = verb {
        inputs.verb = verb;
    }
    let console = Console::from_inputs(&inputs, debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Watched on a task of its own: a RUN step holds the pipeline's thread, and the cancel
    // must reach the step's processes while it does.
    let signalled = Arc::new(OnceLock::new());
    let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel();
    let signals = {
        let _entered = runtime.enter();
        shutdown_signals()
    };
    runtime.spawn({
        let signalled = signalled.clone();
        async move {
            let name = signals.await;
            sandbox::cancel();
            let _ = signalled.set(name);
            let _ = cancel_tx.send(name);
            std::thread::spawn(move || {
                std::thread::sleep(CANCEL_DEADLINE);
                eprintln!(
                    "error: cancelled by {name}; the build did not stop in time and was abandoned"
                );
                std::process::exit(130);
            });
        }
    });
    let result = runtime.block_on(async {
        tokio::select! {
            r = pipeline::run(inputs, console.reporter()) => r,
            Ok(name) = cancel_rx => Err(Error::Cancelled(name)),
        }
    });
    // A step that ended because of the signal fails; the signal is the reason.
    let result = match (result, signalled.get()) {
        (Err(_), Some(name)) => Err(Error::Cancelled(name)),
        (result, _) => result,
    };
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(outcome) => match console.finish(&outcome) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the dotenv file: {e}");
                ExitCode::from(1)
            }
        },
        Err(e) => fail(&console, &e),
    }
}

fn fail(console: &Console, error: &Error) -> ExitCode {
    let mut chain = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = cause.source();
    }
    let code = error.exit_code();
    if code == 1 {
        chain.push(
            "this is a bug in spaceone-publish; please report it with the output above".into(),
        );
    }
    console.error(&chain, error.hint().as_deref(), error.location());
    ExitCode::from(code)
}

/// How long after SIGINT or SIGTERM the process exits at the latest, cleaned up or not.
const CANCEL_DEADLINE: Duration = Duration::from_millis(4500);

/// SIGINT or SIGTERM, whichever comes first. The handlers are installed now, not at the
/// first poll, so a signal that comes early is not the default (immediate) death.
fn shutdown_signals() -> impl std::future::Future<Output = &'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    async move {
        tokio::select! {
            _ = int.recv() => "SIGINT",
            _ = term.recv() => "SIGTERM",
        }
    }
}
