//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default
//! `info`), as readable text or as JSON lines. Text is coloured only on a
//! terminal, and never when `NO_COLOR` is set (to anything but "", as
//! no-color.org has it).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // A second call (as in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text if ansi => builder.try_init(),
        // Without colours, fields are written plainly, the same text as the
        // default formatter's, which styles each field name even with
        // colours off: the logging of a get_user costs about a third less.
        LogFormat::Text => builder.fmt_fields(plain_fields()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `name=value` pairs separated by spaces, the message bare: what the
/// default text formatter writes when colours are off.
fn plain_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        if field.name() == "message" {
            write!(w, "{value:?}")
        } else {
            write!(w, "{field}={value:?}")
        }
    })
    .delimited(" ")
}
