//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default
//! `info`), as readable text or as JSON lines. Text is coloured only on a
//! terminal, and never when `NO_COLOR` is set (to anything but "", as
//! no-color.org has it). The text format is the default one of
//! `tracing_subscriber`, written by [`text`] at a fraction of the cost.

mod text;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        );
    // A second call (as in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder
            .fmt_fields(text::Fields)
            .event_format(text::Text::default())
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
