//! The `customdb` command: parse the command line, set up logging, load the
//! settings, build the application and run it.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use customdb::telemetry::{self, LogFormat};
use customdb::{Application, Settings};

#[derive(Parser)]
#[command(
    name = "customdb",
    version,
    about = "Hosts Rhai connector scripts over a legacy MySQL/MariaDB user table"
)]
struct Cli {
    /// A settings file layered over config/default.toml.
    #[arg(long, global = true, env = "CUSTOMDB_CONFIG")]
    config: Option<PathBuf>,
    /// How log lines are written to standard error.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve,
}

/// Blocking threads run scripts; Rhai's call depth wants more than 2 MiB.
const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build()
        .expect("the Tokio runtime could not start: is the machine out of threads or memory?");
    match cli.command {
        Command::Serve => runtime.block_on(async {
            let app = match Application::build(settings).await {
                Ok(app) => app,
                Err(e) => {
                    tracing::error!("{e}");
                    return ExitCode::from(2);
                }
            };
            match app.run_until(customdb::startup::shutdown_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!("the server stopped: {e}");
                    ExitCode::from(1)
                }
            }
        }),
    }
}
