//! The export's files: the output (one file, or numbered parts under the
//! target's limits), each written as `NAME.partial` and renamed when
//! complete; the report (JSON Lines); and the state saved after every page
//! (cursor, counts, the current part's name and length, the report's
//! length; never a hash or profile data), replaced atomically, so that a
//! resume continues exactly where the last saved page ended.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rhai::Dynamic;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::records::{self, Problem};
use super::{Listed, Options, Target};

/// Where an export stands: what the state file holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    pub connection: String,
    pub format: Target,
    pub max_file_bytes: u64,
    pub max_file_users: u64,
    /// The options that change what a record holds (Kratos's schema id and
    /// migration hook): a resume with others would mix two kinds of record.
    /// `None` in a state written before they were recorded: not compared.
    #[serde(default)]
    pub record_options: Option<String>,
    /// The last user_id listed, as the script returned it.
    pub cursor: Option<Value>,
    /// The greatest int user_id listed: an int id must be past it even
    /// when string ids came between (a script mixing the two types).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greatest_int: Option<i64>,
    /// Users listed, written, and with a report entry.
    pub listed: u64,
    pub written: u64,
    pub reported: u64,
    /// Files completed.
    pub files: u64,
    /// The part being written (its number, 0 before the first), its length
    /// in bytes and its users.
    pub part: u64,
    pub part_bytes: u64,
    pub part_users: u64,
    pub report_bytes: u64,
    /// The report's path, made absolute: a `--resume` without `--report`
    /// continues it, one naming another file is refused (that file is not
    /// this export's, and would be cut to the recorded length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
}

impl State {
    /// The cursor as the script's `after`: `()` at the start.
    pub fn cursor_dynamic(&self) -> Dynamic {
        match &self.cursor {
            None => Dynamic::UNIT,
            Some(Value::Number(n)) => n.as_i64().map_or(Dynamic::UNIT, Dynamic::from_int),
            Some(Value::String(s)) => s.clone().into(),
            Some(_) => Dynamic::UNIT,
        }
    }

    /// Moves the cursor to the next listed user, checking that the walk
    /// progresses: not the cursor again, and past it when ids are ints.
    pub fn advance(&mut self, raw: &Value, id: &str) -> Result<(), String> {
        // (a state saved before the greatest int was kept has its cursor)
        let greatest = self
            .greatest_int
            .or_else(|| self.cursor.as_ref().and_then(Value::as_i64));
        // a string id of an int's digits is that int written again ("1"
        // after 1 is user 1 twice)
        let as_int = raw
            .as_i64()
            .or_else(|| raw.as_str().and_then(|s| s.parse::<i64>().ok()));
        if let (Some(greatest), Some(now)) = (greatest, as_int) {
            if now <= greatest {
                return Err(format!(
                    "list_users went back or stood still: user_id {id} after {greatest}; it must page on `after`"
                ));
            }
        }
        match (&self.cursor, raw) {
            (Some(before), now) if before == now => {
                return Err(format!(
                    "list_users returned user_id {id}, the `after` it was given; it must page on `after`"
                ));
            }
            _ => {}
        }
        if let Some(now) = raw.as_i64() {
            self.greatest_int = Some(now);
        }
        self.cursor = Some(raw.clone());
        Ok(())
    }
}

pub struct Output {
    pub state: State,
    out: PathBuf,
    state_path: PathBuf,
    target: Target,
    /// The part open for writing.
    current: Option<BufWriter<File>>,
    report: BufWriter<File>,
}

/// Replaces the state file atomically: written beside it, then renamed.
fn save_state(path: &Path, state: &State) -> std::io::Result<()> {
    let tmp = with_suffix(path, ".tmp");
    let mut f = create(&tmp)?;
    f.write_all(serde_json::to_string(state).unwrap_or_default().as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Records go to the files through a buffer: a page is written in a few
/// system calls, and flushed and synced once.
fn buffered(file: File) -> BufWriter<File> {
    BufWriter::with_capacity(256 * 1024, file)
}

fn create(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// Part `n` of an export to `out`: `STEM-NNNN.EXT`.
fn part_name(out: &Path, n: u64) -> PathBuf {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match out.extension() {
        Some(ext) => format!("{stem}-{n:04}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n:04}"),
    };
    out.with_file_name(name)
}

/// The parts an earlier export to `out` left, whether or not this one
/// splits (an earlier one may have): part 1, 2, … for as long as one of
/// them (done or `.partial`) is there. Parts are written in order, so a
/// file of the same pattern past a gap (`users-2024.json`) is not one.
fn part_files(out: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for n in 1.. {
        let done = part_name(out, n);
        let partial = with_suffix(&done, ".partial");
        let before = found.len();
        found.extend([done, partial].into_iter().filter(|p| p.exists()));
        if found.len() == before {
            break;
        }
    }
    found
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The final name of part `n` of the export to `out` (`out` itself when
/// its state sets no file limits).
fn final_name(out: &Path, state: &State, n: u64) -> PathBuf {
    if state.max_file_bytes == 0 && state.max_file_users == 0 {
        return out.to_path_buf();
    }
    part_name(out, n)
}

/// `--resume` cuts a file back to the length the state records; a file
/// already shorter is not the one the state was saved with (cut, or
/// replaced), and growing it would pad it with NUL bytes.
fn not_shorter(file: &File, path: &Path, recorded: u64) -> Result<(), String> {
    let len = file
        .metadata()
        .map_err(|e| format!("--resume: {}: {e}", path.display()))?
        .len();
    if len < recorded {
        return Err(format!(
            "--resume: {} holds {len} bytes, fewer than the {recorded} its state records: \
             it is not that export's file; start again with --overwrite",
            path.display()
        ));
    }
    Ok(())
}

impl Output {
    /// The files of a new export, or of the one `--resume` continues.
    pub fn open(options: &Options) -> Result<Output, String> {
        let (max_bytes, max_users) = options.file_limits();
        let out = options.out.clone();
        let report_path = options
            .report
            .clone()
            .unwrap_or_else(|| with_suffix(&out, ".report.jsonl"));
        let state_path = with_suffix(&out, ".state");
        let fresh = State {
            connection: options.connection.clone(),
            format: options.target,
            max_file_bytes: max_bytes,
            max_file_users: max_users,
            record_options: Some(options.record_options()),
            cursor: None,
            greatest_int: None,
            listed: 0,
            written: 0,
            reported: 0,
            files: 0,
            part: 0,
            part_bytes: 0,
            part_users: 0,
            report_bytes: 0,
            report: std::path::absolute(&report_path).ok(),
        };
        if options.resume {
            let text = std::fs::read_to_string(&state_path)
                .map_err(|_| format!("--resume: no state file {}", state_path.display()))?;
            let state: State = serde_json::from_str(&text).map_err(|_| {
                format!(
                    "--resume: {} is not an export's state",
                    state_path.display()
                )
            })?;
            for (what, same) in [
                ("connection", state.connection == fresh.connection),
                ("format", state.format == fresh.format),
                (
                    "file limits",
                    (state.max_file_bytes, state.max_file_users) == (max_bytes, max_users),
                ),
                (
                    "set of record options (--kratos-schema-id, --kratos-migration-hook)",
                    state.record_options.is_none() || state.record_options == fresh.record_options,
                ),
            ] {
                if !same {
                    return Err(format!(
                        "--resume: {} was written for another {what}",
                        state_path.display()
                    ));
                }
            }
            let same_file = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => std::path::absolute(a).ok() == std::path::absolute(b).ok(),
            };
            let report_path = match (&options.report, &state.report) {
                (Some(given), Some(recorded)) if !same_file(given, recorded) => {
                    return Err(format!(
                        "--resume: {} was written for the report {}, not {}",
                        state_path.display(),
                        recorded.display(),
                        report_path.display()
                    ))
                }
                (None, Some(recorded)) => recorded.clone(),
                _ => report_path,
            };
            // A stop between the first state and the report's creation
            // leaves no report: an empty one is what the state records.
            let mut report = if state.report_bytes == 0 && !report_path.exists() {
                create(&report_path)
            } else {
                OpenOptions::new().write(true).open(&report_path)
            }
            .map_err(|e| format!("--resume: {}: {e}", report_path.display()))?;
            not_shorter(&report, &report_path, state.report_bytes)?;
            let mut part = None;
            if state.part > 0 {
                let done = final_name(&out, &state, state.part);
                let partial = with_suffix(&done, ".partial");
                // Killed between a part's rename and the page's state: the
                // part goes back to being written, cut to the saved length.
                if !partial.exists() && done.exists() {
                    std::fs::rename(&done, &partial).map_err(|e| format!("--resume: {e}"))?;
                }
                let file = OpenOptions::new()
                    .write(true)
                    .open(&partial)
                    .map_err(|e| format!("--resume: {}: {e}", partial.display()))?;
                not_shorter(&file, &partial, state.part_bytes)?;
                part = Some(file);
            }
            // Every file checked: only now is any cut back.
            report
                .set_len(state.report_bytes)
                .map_err(|e| e.to_string())?;
            report.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
            let mut state = state;
            // (a state saved before the report's path was kept records it now)
            state.report = state
                .report
                .or_else(|| std::path::absolute(&report_path).ok());
            let mut output = Output {
                state: state.clone(),
                out,
                state_path,
                target: options.target,
                current: None,
                report: buffered(report),
            };
            if let Some(mut file) = part {
                file.set_len(state.part_bytes).map_err(|e| e.to_string())?;
                file.seek(SeekFrom::End(0)).map_err(|e| e.to_string())?;
                output.current = Some(buffered(file));
            }
            return Ok(output);
        }
        let mut existing = vec![
            out.clone(),
            report_path.clone(),
            state_path.clone(),
            with_suffix(&out, ".partial"),
        ];
        existing.extend(part_files(&out));
        if options.overwrite {
            for f in &existing {
                let _ = std::fs::remove_file(f);
            }
        } else if let Some(f) = existing.iter().find(|f| f.exists()) {
            return Err(format!(
                "{} exists: use --resume to continue that export, or --overwrite to start again",
                f.display()
            ));
        }
        // The state first: a stop at any moment after it leaves an export
        // that `--resume` continues (before it, nothing is left to refuse a
        // new run).
        save_state(&state_path, &fresh).map_err(|e| format!("{}: {e}", state_path.display()))?;
        let report = create(&report_path).map_err(|e| format!("{}: {e}", report_path.display()))?;
        Ok(Output {
            state: fresh,
            out,
            state_path,
            target: options.target,
            current: None,
            report: buffered(report),
        })
    }

    fn final_name(&self, n: u64) -> PathBuf {
        final_name(&self.out, &self.state, n)
    }

    fn partial(&self, n: u64) -> PathBuf {
        with_suffix(&self.final_name(n), ".partial")
    }

    fn save_state(&self) -> std::io::Result<()> {
        save_state(&self.state_path, &self.state)
    }

    /// Starts the next part.
    fn open_part(&mut self) -> std::io::Result<()> {
        let n = self.state.part + 1;
        let mut file = buffered(create(&self.partial(n))?);
        let (open, _, _) = records::framing(self.target);
        file.write_all(open.as_bytes())?;
        self.state.part = n;
        self.state.part_bytes = open.len() as u64;
        self.state.part_users = 0;
        self.current = Some(file);
        Ok(())
    }

    /// Closes the part being written and gives it its final name.
    fn close_part(&mut self) -> std::io::Result<()> {
        if let Some(mut file) = self.current.take() {
            let (_, _, close) = records::framing(self.target);
            file.write_all(close.as_bytes())?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(
                self.partial(self.state.part),
                self.final_name(self.state.part),
            )?;
            self.state.files += 1;
        }
        Ok(())
    }

    fn write_record(&mut self, text: &[u8]) -> std::io::Result<()> {
        let (_, sep, close) = records::framing(self.target);
        if self.current.is_some() && self.state.part_users > 0 {
            let bytes = self.state.part_bytes + (sep.len() + text.len() + close.len()) as u64;
            let too_big = self.state.max_file_bytes > 0 && bytes > self.state.max_file_bytes;
            let too_many =
                self.state.max_file_users > 0 && self.state.part_users >= self.state.max_file_users;
            if too_big || too_many {
                self.close_part()?;
            }
        }
        if self.current.is_none() {
            self.open_part()?;
        }
        let file = self
            .current
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no part"))?;
        if self.state.part_users > 0 {
            file.write_all(sep.as_bytes())?;
            self.state.part_bytes += sep.len() as u64;
        }
        file.write_all(text)?;
        self.state.part_bytes += text.len() as u64;
        self.state.part_users += 1;
        self.state.written += 1;
        Ok(())
    }

    fn write_report(
        &mut self,
        user_id: &str,
        email: Option<&str>,
        p: &Problem,
    ) -> std::io::Result<()> {
        let mut line = json!({ "user_id": user_id });
        if let Some(e) = email {
            line["email"] = e.into();
        }
        line["reason"] = p.reason.into();
        line["detail"] = p.detail.clone().into();
        line["exported"] = p.exported.into();
        let text = format!("{line}\n");
        self.report.write_all(text.as_bytes())?;
        self.state.report_bytes += text.len() as u64;
        Ok(())
    }

    /// Writes a checked page, flushes and syncs it, then saves the state
    /// with the counts and `cursor` (the last user_id of the page). On a
    /// failure the counts go back to the saved state's, which is where
    /// `--resume` continues (a part's bytes past it are cut then); the
    /// files are not, so nothing more may be written: the export stops.
    pub fn write_page(
        &mut self,
        options: &Options,
        page: Vec<Listed>,
        cursor: Option<Value>,
    ) -> Result<(), String> {
        let saved = self.state.clone();
        let written = self.write_listed(options, page, cursor);
        if written.is_err() {
            self.state = saved;
        }
        written.map_err(|e| format!("writing the export: {e}"))
    }

    fn write_listed(
        &mut self,
        options: &Options,
        page: Vec<Listed>,
        cursor: Option<Value>,
    ) -> std::io::Result<()> {
        for listed in page {
            self.state.listed += 1;
            match listed {
                Listed::User(user) => {
                    let (record, problems) = records::record(self.target, options, &user);
                    if let Some(r) = record {
                        self.write_record(&r)?;
                    }
                    // a blank email is none (it is what made the user
                    // `missing_field`)
                    let email = records::given(&user.profile, "email");
                    for p in &problems {
                        self.write_report(&user.user_id, email, p)?;
                    }
                    if !problems.is_empty() {
                        self.state.reported += 1;
                    }
                }
                Listed::Refused {
                    user_id,
                    email,
                    detail,
                } => {
                    let p = Problem {
                        reason: "invalid_profile",
                        detail,
                        exported: false,
                    };
                    self.write_report(&user_id, email.as_deref(), &p)?;
                    self.state.reported += 1;
                }
            }
        }
        if let Some(f) = self.current.as_mut() {
            f.flush()?;
            f.get_ref().sync_data()?;
        }
        self.report.flush()?;
        self.report.get_ref().sync_data()?;
        self.state.cursor = cursor;
        self.save_state()
    }

    /// Closes the last part (an empty export is one empty file) and removes
    /// the state.
    pub fn complete(&mut self) -> Result<(), String> {
        let io = |e: std::io::Error| format!("writing the export: {e}");
        if self.current.is_none() && self.state.files == 0 {
            self.open_part().map_err(io)?;
        }
        self.close_part().map_err(io)?;
        self.report.flush().map_err(io)?;
        self.report.get_ref().sync_data().map_err(io)?;
        std::fs::remove_file(&self.state_path).map_err(io)
    }
}

/// Progress on standard error: a bar on a terminal, drawn at most ten
/// times a second, else a line a second.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    /// What the bar's `{reported}` shows: read when it draws, so that a
    /// change of it draws nothing by itself.
    reported: std::sync::Arc<std::sync::atomic::AtomicU64>,
    last: Instant,
    drawn: Option<Instant>,
    started: Instant,
    at_start: u64,
}

/// The least time between two draws of the bar.
const DRAW_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

impl Progress {
    pub fn new(total: Option<u64>, already: u64) -> Progress {
        let reported = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::no_length(),
            };
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(10));
            let shown = reported.clone();
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "export {bar:30} {pos}/{len} users, {reported} reported ({per_sec})",
            ) {
                bar.set_style(style.with_key(
                    "reported",
                    move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", shown.load(std::sync::atomic::Ordering::Relaxed));
                    },
                ));
            }
            bar.set_position(already);
            bar
        });
        Progress {
            bar,
            reported,
            last: Instant::now(),
            drawn: None,
            started: Instant::now(),
            at_start: already,
        }
    }

    pub fn show(&mut self, listed: u64, reported: u64) {
        if let Some(bar) = &self.bar {
            self.reported
                .store(reported, std::sync::atomic::Ordering::Relaxed);
            // indicatif's own limit lets a burst through: the bar is drawn
            // only when its position is set, and that only every 100 ms.
            if self.drawn.is_none_or(|at| at.elapsed() >= DRAW_EVERY) {
                self.drawn = Some(Instant::now());
                bar.set_position(listed);
            }
            return;
        }
        if self.last.elapsed().as_secs() >= 1 {
            self.last = Instant::now();
            let rate =
                (listed - self.at_start) as f64 / self.started.elapsed().as_secs_f64().max(0.001);
            eprintln!("export: {listed} users so far ({reported} reported), {rate:.0} users/s");
        }
    }

    pub fn done(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
