//! The command line: `--help`, `--version`, `--action-yml`, the verb, and the one place
//! where errors become exit codes.

use std::error::Error as _;
use std::process::ExitCode;

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
    let result = runtime.block_on(async {
        tokio::select! {
            r = pipeline::run(inputs, console.reporter()) => r,
            name = shutdown_signal() => Err(Error::Cancelled(name)),
        }
    });
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

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
