//! The text log format, written cheaply: the same lines as
//! `tracing_subscriber`'s default ("full") format without colours, byte
//! for byte, for a fraction of its work. Every request writes an access
//! line, so its cost is part of what each request costs: the default
//! format goes through `fmt::write` and its colour wrappers for every
//! piece of a line even when colours are off, and formats the time from
//! scratch for each line. With colours on (a terminal), both fall back to
//! the default format, which is what a person reading a terminal sees.
//!
//! What the default format does, and so what this one does:
//! - a line is `TIME LEVEL SPANS TARGET: FIELDS`, the time as RFC 3339 in
//!   UTC with microseconds, the level padded to five characters, each span
//!   of the scope from the root as `name{fields}:`;
//! - a field is `name=value` with the value's `Debug` form (a `%` field's
//!   `Display`), a leading `r#` stripped from the name; the `message` is
//!   written bare, its terminal control characters escaped (ESC, BEL, BS,
//!   FF, DEL as `\x1b` and the like, C1 controls as `\u{9b}`);
//! - the `log.*` fields of records forwarded from the `log` crate are left
//!   out, and the record's own target stands for the event's.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultFields, DefaultVisitor, Format, Full, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime as DefaultTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The fields of events and spans (see the module's documentation).
#[derive(Debug, Default, Clone, Copy)]
pub struct Fields;

impl<'writer> FormatFields<'writer> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return DefaultFields::new().format_fields(writer, fields);
        }
        let mut visitor = Visitor {
            sanitize: writer.sanitizes_ansi_escapes(),
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'a> {
    writer: Writer<'a>,
    sanitize: bool,
    is_empty: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn pad(&mut self) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        if field.name() != "message" {
            return self.record_debug(field, &value);
        }
        self.result = self.pad().and_then(|()| {
            if self.sanitize {
                write_escaped(&mut self.writer, value)
            } else {
                self.writer.write_str(value)
            }
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        // Rare, with its list of sources: the default's own code.
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        default.record_error(field, value);
        self.result = default.finish();
        self.is_empty = false;
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return;
        }
        self.result = self.pad().and_then(|()| {
            if name == "message" {
                if self.sanitize {
                    write!(Escaping(&mut self.writer), "{value:?}")
                } else {
                    write!(self.writer, "{value:?}")
                }
            } else {
                let name = name.strip_prefix("r#").unwrap_or(name);
                self.writer.write_str(name)?;
                self.writer.write_char('=')?;
                write!(self.writer, "{value:?}")
            }
        });
    }
}

/// Escapes what a terminal could take for a control sequence, as the
/// default format does for messages.
struct Escaping<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

fn write_escaped(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let mut plain = 0;
    for (i, ch) in s.char_indices() {
        let escaped = match ch {
            '\x1b' => "\\x1b",
            '\x07' => "\\x07",
            '\x08' => "\\x08",
            '\x0c' => "\\x0c",
            '\x7f' => "\\x7f",
            '\u{80}'..='\u{9f}' => "",
            _ => continue,
        };
        out.write_str(&s[plain..i])?;
        if escaped.is_empty() {
            write!(out, "\\u{{{:x}}}", ch as u32)?;
        } else {
            out.write_str(escaped)?;
        }
        plain = i + ch.len_utf8();
    }
    out.write_str(&s[plain..])
}

/// The event format (see the module's documentation).
#[derive(Default)]
pub struct Text {
    /// For a terminal, with colours.
    coloured: Format<Full, DefaultTime>,
}

impl<S, N> FormatEvent<S, N> for Text
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        if writer.has_ansi_escapes() {
            return self.coloured.format_event(ctx, writer, event);
        }
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());

        if Clock.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(level(meta.level()))?;
        writer.write_char(' ')?;

        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        writer.write_char('{')?;
                        writer.write_str(fields)?;
                        writer.write_char('}')?;
                    }
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }

        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// The time as the default format writes it, `2026-12-01T21:25:21.123456Z`:
/// the part down to the second is kept per thread and made again only when
/// the second changes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Clock;

/// 10000-01-01T00:00:00Z, in seconds since the epoch.
const AFTER_9999: u64 = 253_402_300_800;

thread_local! {
    /// The second last written and its text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        let Some(now) = now.ok().filter(|t| t.as_secs() < AFTER_9999) else {
            // Before 1970 or after 9999 (signed years): the default's code.
            return DefaultTime.format_time(w);
        };
        let (secs, micros) = (now.as_secs(), now.subsec_micros());
        SECOND.with_borrow_mut(|(second, text)| {
            if *second != secs {
                text.clear();
                write_second(text, secs)?;
                *second = secs;
            }
            w.write_str(text)?;
            write!(w, ".{micros:06}Z")
        })
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of seconds since the epoch, in UTC (the
/// proleptic Gregorian calendar, as RFC 3339 has it).
fn write_second(out: &mut String, secs: u64) -> fmt::Result {
    let days = secs / 86_400;
    let in_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    )
}

/// The date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;
    use tracing_subscriber::fmt::MakeWriter;

    #[test]
    fn seconds_are_written_as_rfc_3339() {
        // checked with `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%S`
        for (secs, want) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (951_868_799, "2000-02-29T23:59:59"),
            (1_709_164_800, "2024-02-29T00:00:00"),
            (1_798_761_599, "2026-12-31T23:59:59"),
            (4_102_444_799, "2099-12-31T23:59:59"),
            (4_107_542_400, "2100-03-01T00:00:00"),
            (253_402_300_799, "9999-12-31T23:59:59"),
        ] {
            let mut text = String::new();
            write_second(&mut text, secs).unwrap();
            assert_eq!(text, want, "{secs}");
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        /// The lines written, each without its time (the first word).
        fn lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
            text.lines()
                .map(|l| l.split_once(' ').unwrap().1.to_string())
                .collect()
        }
    }

    /// Logs that exercise each rule of the default format.
    fn log_everything() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer \x1b[2J failure")]
        struct Outer(#[source] io::Error);

        let request = tracing::info_span!(
            "request",
            request_id = %"abc123",
            path = "/v1/x",
            r#type = 3_u64,
            connection = tracing::field::Empty,
            action = tracing::field::Empty,
        );
        let _guard = request.enter();
        request.record("connection", tracing::field::display("demo"));
        request.record("action", tracing::field::display("get_user"));
        tracing::info!(status = 200_u16, elapsed_ms = 3_u64, "answered");
        tracing::warn!(
            script = "login",
            field = %"x",
            flag = true,
            n = -4_i64,
            f = 1.5_f64,
            "red \x1b[31m bell \x07 c1 \u{9b} del \x7f é done"
        );
        let inner = tracing::debug_span!("script", name = "get_user");
        inner.in_scope(|| {
            tracing::error!(
                cause = &Outer(io::Error::other("disk \x1b")) as &dyn std::error::Error,
                "failed"
            );
            tracing::error!(message = "as a str field \x1b", other = "quoted \"x\"\x1b");
            let disk = io::Error::other("disk");
            tracing::error!(
                log.cause = &disk as &dyn std::error::Error,
                after = 1,
                "log. error"
            );
            tracing::trace!(?inner, "debug of a span");
        });
        drop(_guard);
        tracing::info!(target: "elsewhere", "no span");
        tracing::info!("");
        let record = log::Record::builder()
            .args(format_args!("from log \x1b"))
            .level(log::Level::Warn)
            .target("mysql_async::conn")
            .module_path(Some("mysql_async::conn"))
            .file(Some("src/conn.rs"))
            .line(Some(7))
            .build();
        tracing_log::format_trace(&record).unwrap();
    }

    #[test]
    fn lines_are_the_default_formats_byte_for_byte() {
        let ours = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(ours.clone())
            .fmt_fields(Fields)
            .event_format(Text::default())
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);

        let theirs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_writer(theirs.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);

        let (ours, theirs) = (ours.lines(), theirs.lines());
        assert_eq!(ours.len(), 9, "{ours:#?}");
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a, b);
        }
        assert_eq!(ours, theirs);
        assert!(
            ours[0].contains(r"request{request_id=abc123 "),
            "{}",
            ours[0]
        );
        assert!(
            ours[1].contains(r"\x1b[31m bell \x07 c1 \u{9b} del \x7f é"),
            "{}",
            ours[1]
        );
        assert!(
            ours[8].starts_with(" WARN mysql_async::conn: from log"),
            "{}",
            ours[8]
        );
    }

    #[test]
    fn times_are_the_default_formats() {
        let mut ours = String::new();
        Clock.format_time(&mut Writer::new(&mut ours)).unwrap();
        let mut theirs = String::new();
        DefaultTime
            .format_time(&mut Writer::new(&mut theirs))
            .unwrap();
        assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
        // the same second, or the next when the second turned between
        assert!(ours[..19] <= theirs[..19], "{ours} {theirs}");
        assert!(ours.ends_with('Z'));
    }
}
