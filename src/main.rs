//! The `customdb` command: parse the command line, set up logging, load the
//! settings, then serve, check, try an action, or run the script tests.
//! Exit status: 0 success, 1 the action or the check failed, 2 bad usage or
//! configuration.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use customdb::telemetry::{self, LogFormat};
use customdb::{commands, Application, Settings};

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
    /// Load every connection's scripts and list every problem as
    /// path:line:col: message. Needs no database.
    Check,
    /// Run one action as the HTTP API would and print its answer.
    Try {
        connection: String,
        action: String,
        /// The request body; read from standard input when left out.
        json: Option<String>,
    },
    /// Run the script test cases in each scripts_dir/tests/*.toml, each file
    /// on a fresh database of the configured server.
    Test {
        /// Only this connection's test files.
        #[arg(long)]
        connection: Option<String>,
        /// Only the cases whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Only these test files.
        files: Vec<PathBuf>,
    },
    /// Write a connection's whole user table as another platform's bulk
    /// import file, password hashes carried where the platform can verify
    /// them, through the connection's list_users script.
    Export(customdb::export::Options),
}

/// A request allocates and frees many small values (the script's maps, the
/// JSON), on several threads at once: mimalloc does that in fewer steps than
/// the system's allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const FAILED: u8 = 1;
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format);
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(USAGE);
        }
    };
    if let Command::Check = cli.command {
        return check(&settings);
    }
    // The server runs on threads of its own (see Application::run_until);
    // this runtime waits for signals, or runs a command's one script call.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build_local(Default::default())
        .expect("the Tokio runtime could not start: is the machine out of threads or memory?");
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(settings).await,
            Command::Try {
                connection,
                action,
                json,
            } => try_action(settings, &connection, &action, json).await,
            Command::Test {
                connection,
                filter,
                files,
            } => {
                let selection = commands::Selection {
                    connection,
                    filter,
                    files,
                };
                test(settings, &selection).await
            }
            Command::Export(options) => {
                // its reasons and its summary line are the command's to say
                let ended = customdb::export::run(settings, options).await;
                ExitCode::from(ended.code())
            }
            Command::Check => unreachable!("handled above"),
        }
    })
}

async fn serve(settings: Settings) -> ExitCode {
    // The handlers first, before the scripts load (which can take seconds):
    // a SIGTERM or Ctrl-C meanwhile is counted, a SIGHUP (a reload, which
    // the loading does anyway) ignored; none is the default action.
    let signals = customdb::startup::count_signals();
    #[cfg(unix)]
    let _hangups_ignored = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tracing::info!(
        "loading the scripts of {} connection(s)",
        settings.connections.len()
    );
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(USAGE);
        }
    };
    // Stopped while the scripts loaded: nothing was served, nothing drains.
    // The loading held this thread, so a signal that came meanwhile waits in
    // the driver: a moment's wait lets the counting task see it.
    let mut signals = signals;
    let stopped = *signals.borrow() > 0
        || matches!(
            tokio::time::timeout(std::time::Duration::from_millis(20), signals.changed()).await,
            Ok(Ok(()))
        );
    if stopped {
        tracing::info!("a signal came while the scripts loaded: not serving");
        return ExitCode::SUCCESS;
    }
    match app.run_until(signals).await {
        Ok(customdb::startup::Drained::Clean) => ExitCode::SUCCESS,
        // Now, not when the runtime has waited for the server's threads:
        // what they still run is dropped with the process.
        Ok(customdb::startup::Drained::TimedOut(cut)) => {
            std::process::exit(if cut > 0 { i32::from(FAILED) } else { 0 })
        }
        Err(e) => {
            tracing::error!("the server stopped: {e}");
            ExitCode::from(FAILED)
        }
    }
}

fn check(settings: &Settings) -> ExitCode {
    // Nothing to check is no success: most often the settings file was
    // not given.
    if settings.connections.is_empty() {
        tracing::error!(
            "no connection is configured: give the settings file with --config FILE (or CUSTOMDB_CONFIG)"
        );
        return ExitCode::from(USAGE);
    }
    // Checking scripts needs no token; what `serve` would refuse is told.
    if let Err(e) = settings.http.require_token() {
        tracing::warn!("serve would not start with these settings: {e}");
    }
    let (problems, notes) = commands::check(settings);
    for p in &problems {
        println!("{p}");
    }
    for note in &notes {
        eprintln!("{note}");
    }
    if problems.is_empty() {
        eprintln!(
            "ok: the scripts of {} connection(s) load",
            settings.connections.len()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("{} problem(s)", problems.len());
        ExitCode::from(FAILED)
    }
}

async fn try_action(
    settings: Settings,
    connection: &str,
    action: &str,
    json: Option<String>,
) -> ExitCode {
    let body = match json {
        Some(j) => j,
        None => {
            let mut text = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut text) {
                eprintln!("cannot read the request from standard input: {e}");
                return ExitCode::from(USAGE);
            }
            text
        }
    };
    match commands::try_action(settings, connection, action, body.as_bytes()).await {
        Ok(tried) => {
            println!("{}", tried.body);
            let t = tried.timings;
            eprintln!(
                "status {}; script {:.1} ms, {} quer{} in {:.1} ms",
                tried.status,
                t.script.as_secs_f64() * 1000.0,
                t.queries.len(),
                if t.queries.len() == 1 { "y" } else { "ies" },
                t.query_time().as_secs_f64() * 1000.0
            );
            if (200..300).contains(&tried.status) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(FAILED)
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(USAGE)
        }
    }
}

async fn test(settings: Settings, selection: &commands::Selection) -> ExitCode {
    let mut out = std::io::stdout();
    match commands::run_tests(settings, selection, &mut out).await {
        Ok(report) if report.failed == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(FAILED),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(USAGE)
        }
    }
}
