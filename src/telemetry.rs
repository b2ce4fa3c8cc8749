//! Logging: `tracing` to standard error, filtered by `RUST_LOG` (default
//! `info`), as readable text or as JSON lines. Text is coloured only on a
//! terminal, and never when `NO_COLOR` is set (to anything but "", as
//! no-color.org has it). The text format is the default one of
//! `tracing_subscriber`, written by [`text`] at a fraction of the cost.

mod text;

use std::fmt::Write as _;

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
        LogFormat::Json => {
            JSON_LINES.store(true, std::sync::atomic::Ordering::Relaxed);
            builder.json().try_init()
        }
    };
}

/// A value for a `%` field of a text log line, on one line: what could end
/// the line or start a forged one (a newline, any control character, a
/// line or paragraph separator) is escaped (`\n`, `\u{2028}`), everything
/// else written as it is. For text a client or a script controls: a
/// username in a thrown error, a name from the path.
pub struct OneLine<T>(pub T);

impl<T: std::fmt::Display> std::fmt::Display for OneLine<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // JSON lines escape their strings themselves
        if JSON_LINES.load(std::sync::atomic::Ordering::Relaxed) {
            return write!(f, "{}", self.0);
        }
        write!(Escaping(f), "{}", self.0)
    }
}

/// Whether the log is written as JSON lines (`--log-format json`).
static JSON_LINES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Writes through, escaping what [`OneLine`] escapes, with no copy.
struct Escaping<'a, 'b>(&'a mut std::fmt::Formatter<'b>);

impl std::fmt::Write for Escaping<'_, '_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        if s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
            return self.0.write_str(s);
        }
        for c in s.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                write!(self.0, "{}", c.escape_debug())?;
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod one_line_tests {
    use super::OneLine;

    #[test]
    fn what_could_start_a_line_is_escaped_and_nothing_else() {
        assert_eq!(OneLine("jane").to_string(), "jane");
        assert_eq!(OneLine("café \"x\"").to_string(), "café \"x\"");
        assert_eq!(
            OneLine("x\n2026-12-02T00:00:00Z ERROR forged\r\0\u{2028}").to_string(),
            "x\\n2026-12-02T00:00:00Z ERROR forged\\r\\0\\u{2028}"
        );
    }
}
