//! `customdb export`: the whole legacy table, walked page by page through
//! the connection's `list_users` script, written as another platform's
//! bulk-import file with each password hash in that platform's own hash
//! description where it has one ([`hash`], [`records`]). Streaming: the
//! script lists a page while a writer thread normalizes and writes the one
//! before, so at most three pages are in memory; the state saved after every
//! page written so that a kill loses nothing `--resume` cannot redo
//! ([`output`]). Every user listed is in the output, in the report, or both.

mod hash;
mod output;
mod records;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Map as RhaiMap};
use serde_json::Value;

use crate::connection::{Admission, Connection, Masking};
use crate::profile::{self, Profile};
use crate::settings::Settings;
use output::Output;

/// The platforms an export writes for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Auth0,
    Okta,
    Kratos,
    #[value(name = "fusionauth")]
    FusionAuth,
    Keycloak,
}

/// The command line's options (`customdb export ...`).
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The connection whose list_users script walks the table.
    pub connection: String,
    /// The platform the file is for.
    #[arg(long = "format", value_enum, value_name = "FORMAT")]
    pub target: Target,
    /// The output file (numbered parts when a file limit is in force).
    #[arg(long)]
    pub out: PathBuf,
    /// The `limit` given to list_users, 1 to 10000.
    #[arg(long, default_value_t = 1000)]
    pub page_size: usize,
    /// Where problems are reported (default: OUT.report.jsonl).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Continue an interrupted export from OUT.state.
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Delete an earlier export's files first.
    #[arg(long)]
    pub overwrite: bool,
    /// Close a file before it would pass N bytes (0: no limit).
    #[arg(long)]
    pub max_file_bytes: Option<u64>,
    /// At most N users per file (0: no limit).
    #[arg(long)]
    pub max_file_users: Option<u64>,
    /// Kratos: the schema_id of every identity.
    #[arg(long, default_value = "preset://email")]
    pub kratos_schema_id: String,
    /// Kratos: users whose hash is not carried use the password migration hook.
    #[arg(long)]
    pub kratos_migration_hook: bool,
}

impl Options {
    /// The options besides the format that change what a record holds.
    fn record_options(&self) -> String {
        match self.target {
            Target::Kratos => format!(
                "schema_id={} migration_hook={}",
                self.kratos_schema_id, self.kratos_migration_hook
            ),
            _ => String::new(),
        }
    }

    fn file_limits(&self) -> (u64, u64) {
        let bytes = self.max_file_bytes.unwrap_or(match self.target {
            Target::Auth0 => 500_000,
            _ => 0,
        });
        let users = self.max_file_users.unwrap_or(match self.target {
            Target::Kratos => 1000,
            Target::FusionAuth => 100_000,
            _ => 0,
        });
        (bytes, users)
    }
}

/// One listed user, normalized.
pub struct User {
    pub user_id: String,
    pub profile: Profile,
    pub blocked: bool,
    pub hash: Result<hash::Stored, hash::NotCarried>,
}

/// How an export ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Ended {
    /// Complete, nothing reported (0).
    Clean,
    /// Complete, with report entries (3).
    Reported,
    /// Stopped; `--resume` continues (1).
    Stopped(String),
    /// Bad usage or settings (2).
    Usage(String),
}

impl Ended {
    pub fn code(&self) -> u8 {
        match self {
            Ended::Clean => 0,
            Ended::Reported => 3,
            Ended::Stopped(_) => 1,
            Ended::Usage(_) => 2,
        }
    }
}

/// Set by SIGINT or SIGTERM: the page being written is finished, then the
/// export stops.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Runs the export. Must run on a local runtime.
pub async fn run(settings: Settings, options: Options) -> Ended {
    let started = Instant::now();
    let ended = export(settings, options).await;
    if let Ended::Usage(why) = &ended {
        // the summary is the last line of every run, one refused too
        eprintln!("export: {why}");
        summary(None, started, Duration::ZERO);
    }
    ended
}

async fn export(settings: Settings, options: Options) -> Ended {
    let Some(mut conn_settings) = settings.connections.get(&options.connection).cloned() else {
        return Ended::Usage(format!("no connection `{}`", options.connection));
    };
    if !(1..=10_000).contains(&options.page_size) {
        return Ended::Usage("--page-size: 1 to 10000".into());
    }
    per_user_limits(&mut conn_settings.tunables, options.page_size);
    let conn = match Connection::open(conn_settings, Admission::new(1), 1) {
        Ok(c) => Arc::new(c),
        Err(problems) => {
            let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
            return Ended::Usage(format!("the scripts do not load:\n{}", text.join("\n")));
        }
    };
    let scripts = conn.scripts();
    if !scripts.has("list_users") {
        return Ended::Usage(format!(
            "connection `{}` has no list_users.rhai: export needs fn list_users(after, limit)",
            options.connection
        ));
    }
    let has_count = scripts.has_fn("list_users", "count_users", 0);
    let output = match Output::open(&options) {
        Ok(o) => o,
        Err(e) => return Ended::Usage(e),
    };
    listen_for_signals();

    let total = if has_count {
        match conn
            .call_function("list_users", "count_users", vec![], Masking::Export)
            .await
            .0
        {
            Ok(n) => n.as_int().ok().and_then(|n| u64::try_from(n).ok()),
            // only the progress bar's total: the export goes on without it
            Err(e) => {
                eprintln!("export: count_users failed, no total shown: {e}");
                None
            }
        }
    } else {
        None
    };
    let started = Instant::now();
    let mut store_time = Duration::ZERO;
    let mut cursor = output.state.clone();
    let mut ends = SeenIds::default();
    // The pages are normalized and written on a thread of their own while
    // the script lists the next: one page waits between the two at most.
    let (pages, to_write) = tokio::sync::mpsc::channel(1);
    let (hand_back, written) = tokio::sync::oneshot::channel();
    let spawned = {
        let options = options.clone();
        let max_profile = conn.settings.tunables.max_profile_bytes;
        let listed = output.state.listed;
        std::thread::Builder::new()
            .name("export-writer".into())
            // The values it normalizes (and drops) were built, and measured
            // recursively, on a script's stack: give it as deep a one.
            .stack_size(crate::script::fiber::STACK_BYTES)
            .spawn(move || {
                let mut output = output;
                let mut progress = output::Progress::new(total, listed);
                let mut left_out = LeftOut::default();
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let pages = to_write;
                    write_pages(
                        &mut output,
                        &mut progress,
                        &mut left_out,
                        &options,
                        max_profile,
                        pages,
                    )
                }))
                .unwrap_or_else(|_| Err("the export's writer failed".into()));
                let _ = hand_back.send(Written {
                    output,
                    progress,
                    left_out,
                    result,
                });
            })
    };
    let writer = match spawned {
        Ok(w) => w,
        Err(e) => {
            let why = format!("could not start the export's writer: {e}");
            eprintln!("export stopped: {why}");
            summary(Some(&cursor), started, store_time);
            return Ended::Stopped(why);
        }
    };

    let stopped = loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            break Some("interrupted".to_string());
        }
        if pages.is_closed() {
            // the writer stopped, and says why
            break None;
        }
        let (page, waited) = conn
            .call_function(
                "list_users",
                "list_users",
                vec![
                    cursor.cursor_dynamic(),
                    Dynamic::from_int(options.page_size as i64),
                ],
                Masking::Export,
            )
            .await;
        store_time += waited;
        let page = match page.map(|p| check_page(p, options.page_size, &mut cursor, &mut ends)) {
            Ok(Ok(Some(page))) => page,
            Ok(Ok(None)) => break None,
            Ok(Err(why)) => break Some(why),
            Err(e) => break Some(format!("list_users failed ({}): {e}", e.code())),
        };
        if pages.send(page).await.is_err() {
            break None;
        }
    };
    drop(pages);
    // Awaited, not joined: the runtime's other tasks go on meanwhile.
    let written = written.await;
    let _ = writer.join();
    let Ok(Written {
        mut output,
        mut progress,
        left_out,
        result,
    }) = written
    else {
        let why = "the export's writer failed".to_string();
        eprintln!("export stopped: {why}");
        summary(Some(&cursor), started, store_time);
        return Ended::Stopped(why);
    };
    // The writer ends early only with an error; when both sides stopped,
    // both reasons are told.
    let stopped = match (result, stopped) {
        (Err(w), Some(m)) if w != m => Some(format!("{w}; also {m}")),
        (Err(w), _) => Some(w),
        (Ok(()), m) => m,
    };
    if let Some(names) = left_out.names() {
        progress.done();
        eprintln!(
            "export: fields not exported (put what matters in user_metadata or app_metadata): {names}"
        );
    }
    finish(&mut output, &mut progress, started, store_time, stopped)
}

/// A checked page: each listed user's id and map, and the cursor past it.
struct Page {
    users: Vec<(String, RhaiMap)>,
    cursor: Option<Value>,
}

/// Checks a page that list_users returned against the rules of the walk,
/// as a whole, before anything of it is written, and moves `walk`'s cursor
/// past it. `None` for the empty page that ends the walk; `Err` for a page
/// that breaks a rule, which stops the export.
fn check_page(
    page: Dynamic,
    limit: usize,
    walk: &mut output::State,
    ends: &mut SeenIds,
) -> Result<Option<Page>, String> {
    let Some(items) = page.try_cast::<rhai::Array>() else {
        return Err("list_users must return an array of user maps".to_string());
    };
    if items.is_empty() {
        return Ok(None);
    }
    if items.len() > limit {
        return Err(format!(
            "list_users returned {} users for a limit of {limit}",
            items.len(),
        ));
    }
    let mut users = Vec::with_capacity(items.len());
    let mut ids = std::collections::HashSet::new();
    let mut state = walk.clone();
    let page_after = state.cursor.clone();
    for item in items {
        let Some(map) = item.try_cast::<RhaiMap>() else {
            return Err("list_users must return maps".to_string());
        };
        let Some((raw_id, id)) = user_id_of(&map) else {
            return Err(
                "a user map without a usable user_id (a non-empty string or an int)".to_string(),
            );
        };
        if !ids.insert(id.clone()) {
            return Err(format!(
                "list_users returned user_id {id} twice in one page"
            ));
        }
        if page_after.as_ref() == Some(&raw_id) {
            return Err(format!(
                "list_users returned user_id {id}, the `after` it was given; it must page on `after`"
            ));
        }
        state.advance(&raw_id, &id)?;
        ends.first_time(&raw_id, &id)?;
        users.push((id, map));
    }
    *walk = state;
    Ok(Some(Page {
        users,
        cursor: walk.cursor.clone(),
    }))
}

/// The user_ids this run listed, when a string id is among them. String
/// ids have no order customdb can check (the table's collation decides
/// it), so a user listed again (`a`, `b`, then `a`; `"1"` then `1`) is
/// caught by remembering each id: a 64-bit hash of its text, about 16
/// bytes a user, kept only once a string id has come (int ids alone are
/// held to their order by the state's check).
#[derive(Default)]
struct SeenIds {
    seen: std::collections::HashSet<u64>,
}

impl SeenIds {
    fn first_time(&mut self, raw: &Value, id: &str) -> Result<(), String> {
        use std::hash::{Hash, Hasher};
        if raw.is_i64() && self.seen.is_empty() {
            return Ok(());
        }
        let mut h = std::hash::DefaultHasher::new();
        id.hash(&mut h);
        if !self.seen.insert(h.finish()) {
            return Err(format!(
                "list_users returned user_id {id} again; it must page on `after`"
            ));
        }
        Ok(())
    }
}

/// What the writer hands back when it ends.
struct Written {
    output: Output,
    progress: output::Progress,
    left_out: LeftOut,
    result: Result<(), String>,
}

/// The fields of listed maps that were not exported, told in one line at
/// the end: the first [`LeftOut::NAMED`] names, so that keys that come from
/// the data cannot grow it with the table.
#[derive(Default)]
struct LeftOut {
    names: BTreeSet<String>,
    more: bool,
}

impl LeftOut {
    const NAMED: usize = 100;

    fn add(&mut self, name: String) {
        if self.names.len() < Self::NAMED {
            self.names.insert(name);
        } else if !self.names.contains(&name) {
            self.more = true;
        }
    }

    /// The names as the line gives them; `None` when there are none.
    fn names(&self) -> Option<String> {
        if self.names.is_empty() {
            return None;
        }
        let mut line = self
            .names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if self.more {
            line.push_str(", and more");
        }
        Some(line)
    }
}

/// The writer's thread: normalizes each checked page, writes it and saves
/// the state, in the order listed, until the pages stop, a write fails, or
/// a signal came (the page in hand is finished; pages listed after it are
/// left for `--resume` to list again).
fn write_pages(
    output: &mut Output,
    progress: &mut output::Progress,
    left_out: &mut LeftOut,
    options: &Options,
    max_profile: usize,
    mut pages: tokio::sync::mpsc::Receiver<Page>,
) -> Result<(), String> {
    let mut warned = BTreeSet::new();
    loop {
        if INTERRUPTED.load(Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        let Some(page) = pages.blocking_recv() else {
            return Ok(());
        };
        let mut records = Vec::with_capacity(page.users.len());
        for (id, map) in page.users {
            let n = normalize(id, map, max_profile);
            for name in n.extra {
                left_out.add(name);
            }
            for d in n.dropped {
                // as serve warns, once a field rather than once a user
                if warned.insert(d.field.clone()) {
                    tracing::warn!(script = "list_users", field = %d.field, reason = d.reason, "field left out of the profile (told once for the export)");
                }
            }
            records.push(n.listed);
        }
        output.write_page(options, records, page.cursor)?;
        progress.show(output.state.listed, output.state.reported);
    }
}

fn finish(
    output: &mut Output,
    progress: &mut output::Progress,
    started: Instant,
    store_time: Duration,
    stopped: Option<String>,
) -> Ended {
    let result = match &stopped {
        Some(_) => Ok(()),
        None => output.complete(),
    };
    progress.done();
    // the reason first: the summary is always the last line
    if let Some(why) = stopped.as_ref().or(result.as_ref().err()) {
        eprintln!("export stopped: {why}");
    }
    summary(Some(&output.state), started, store_time);
    let s = &output.state;
    match (stopped, result) {
        (Some(why), _) | (None, Err(why)) => Ended::Stopped(why),
        (None, Ok(())) if s.reported == 0 => Ended::Clean,
        (None, Ok(())) => Ended::Reported,
    }
}

/// The summary, always the last line on standard error.
fn summary(state: Option<&output::State>, started: Instant, store_time: Duration) {
    let (listed, written, reported, files) =
        state.map_or((0, 0, 0, 0), |s| (s.listed, s.written, s.reported, s.files));
    eprintln!(
        "export: {listed} users in {:.1} s (store {:.1} s): {written} written, {reported} reported, {files} files",
        started.elapsed().as_secs_f64(),
        store_time.as_secs_f64(),
    );
}

fn listen_for_signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        for kind in [SignalKind::interrupt(), SignalKind::terminate()] {
            if let Ok(mut s) = signal(kind) {
                tokio::task::spawn_local(async move {
                    if s.recv().await.is_some() {
                        INTERRUPTED.store(true, Ordering::SeqCst);
                    }
                });
            }
        }
    }
}

/// The map's `user_id` (or `id`), as the script returned it and as text.
fn user_id_of(map: &RhaiMap) -> Option<(Value, String)> {
    // `()` (a NULL column) is absent, as in a profile
    let given = |key: &str| map.get(key).filter(|v| !v.is_unit());
    let v = given("user_id").or_else(|| given("id"))?;
    if let Ok(i) = v.as_int() {
        return Some((Value::from(i), i.to_string()));
    }
    let s = v.clone().into_immutable_string().ok()?;
    (!s.is_empty()).then(|| (Value::String(s.to_string()), s.to_string()))
}

/// What a listed map becomes: a user to write, or a problem to report.
pub enum Listed {
    User(Box<User>),
    Refused {
        user_id: String,
        email: Option<String>,
        detail: String,
    },
}

/// What a listed map may hold besides the PROFILE's own fields (the
/// legacy names the normalization takes, and what the export reads);
/// anything else is not exported.
const LISTED_EXTRA: &[&str] = &["id", "metadata", "password_hash", "blocked"];

/// A listed map normalized: the user or its refusal, the fields not
/// exported, and those dropped because they hold a password or a hash.
struct Normalized {
    listed: Listed,
    extra: Vec<String>,
    dropped: Vec<profile::Dropped>,
}

fn normalize(id: String, mut map: RhaiMap, max_profile: usize) -> Normalized {
    let hash = match map.remove("password_hash") {
        None => Err(hash::NotCarried::None),
        Some(v) if v.is_unit() => Err(hash::NotCarried::None),
        Some(v) if v.is_map() => match crate::script::convert::to_json(&v) {
            Ok(Value::Object(m)) => hash::descriptor(&m),
            _ => Err(hash::NotCarried::Unknown("descriptor: map".into())),
        },
        Some(v) => match v.into_immutable_string() {
            Ok(s) => hash::parse(&s),
            Err(t) => Err(hash::NotCarried::Unknown(format!("unrecognized, a {t}"))),
        },
    };
    // a bool, or 0/1 (a TINYINT column); `()` (NULL) is not blocked
    let blocked = match map.remove("blocked") {
        None => Some(false),
        Some(v) if v.is_unit() => Some(false),
        Some(v) => match (v.as_bool(), v.as_int()) {
            (Ok(b), _) => Some(b),
            (_, Ok(0)) => Some(false),
            (_, Ok(1)) => Some(true),
            _ => None,
        },
    };
    let extra: Vec<String> = map
        .keys()
        .filter(|k| {
            !profile::PROFILE_FIELDS.contains(&k.as_str()) && !LISTED_EXTRA.contains(&k.as_str())
        })
        .map(|k| k.to_string())
        .collect();
    for k in &extra {
        map.remove(k.as_str());
    }
    // for a refusal's report line: never a value with a hash's shape, which
    // must not leave the output files
    let email_of = |m: &RhaiMap| {
        m.get("email")
            .and_then(|e| e.clone().into_immutable_string().ok())
            .filter(|s| crate::password::detect(s).is_none())
            .map(|s| s.to_string())
    };
    let email = email_of(&map);
    let Some(blocked) = blocked else {
        let detail = "field `blocked`: must be a bool, or 0 or 1".to_string();
        let refused = Listed::Refused {
            user_id: id,
            email,
            detail,
        };
        return Normalized {
            listed: refused,
            extra,
            dropped: Vec::new(),
        };
    };
    let mut dropped = Vec::new();
    let listed = match profile::normalize(map, max_profile, &mut dropped) {
        Ok(profile) => Listed::User(Box::new(User {
            user_id: id,
            profile,
            blocked,
            hash,
        })),
        Err(e) => Listed::Refused {
            user_id: id,
            email,
            detail: format!("field `{}`: {}", e.field, e.rule),
        },
    };
    Normalized {
        listed,
        extra,
        dropped,
    }
}

/// The most bytes of text a page may hold, whatever the page size: Rhai
/// has one limit for a value's strings and for one string, so the page's
/// allowance also bounds a string a runaway `list_users` builds.
const MAX_PAGE_STRING_BYTES: usize = 256 << 20;

/// A `list_users` call's limits for a page of `page_size` users: Rhai
/// counts the entries of every map in a value together, and the bytes of
/// every string, so a page would share one user's allowance; here each is
/// per user (strings at most [`MAX_PAGE_STRING_BYTES`], or the setting when
/// it is higher). The export, `try` and `test` run a page under the same.
pub fn per_user_limits(t: &mut crate::settings::Tunables, page_size: usize) {
    t.max_map_entries = t.max_map_entries.saturating_mul(page_size);
    t.max_string_bytes = t
        .max_string_bytes
        .saturating_mul(page_size)
        .min(MAX_PAGE_STRING_BYTES.max(t.max_string_bytes));
}

/// The page size a `try` or `test` request asks for (`limit`, 1,000 when
/// left out), or why it is no request of a page.
pub fn page_request(request: &Value) -> Result<(Dynamic, i64), String> {
    let Some(fields) = request.as_object() else {
        return if request.is_null() {
            Ok((Dynamic::UNIT, 1000))
        } else {
            Err("a list_users request is an object: {\"after\": ..., \"limit\": ...}".into())
        };
    };
    if let Some(other) = fields.keys().find(|k| *k != "after" && *k != "limit") {
        return Err(format!(
            "a list_users request has `after` and `limit`, not `{}`",
            crate::telemetry::OneLine(other)
        ));
    }
    let after = match fields.get("after") {
        None | Some(Value::Null) => Dynamic::UNIT,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(n) => Dynamic::from_int(n),
            None => return Err("`after` must be an integer, a string or null".into()),
        },
        Some(Value::String(s)) => s.clone().into(),
        Some(_) => return Err("`after` must be an integer, a string or null".into()),
    };
    let limit = match fields.get("limit") {
        None => 1000,
        Some(v) => v
            .as_i64()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or("`limit` must be an integer from 1 to 10000")?,
    };
    Ok((after, limit))
}

/// One page of `list_users`, as `customdb test` shows it (`action =
/// "list_users"`, `request = { after, limit }`): each user's profile as the
/// export reads it, with `blocked` and the stored hash's format name, never
/// the hash. The status and body the case checks.
/// Also the time the page waited on the store.
pub async fn preview(conn: &Arc<Connection>, request: &Value) -> (u16, Value, std::time::Duration) {
    let (after, limit) = match page_request(request) {
        Ok(asked) => asked,
        Err(why) => {
            return (
                400,
                serde_json::json!({ "error": "invalid_request", "message": why }),
                std::time::Duration::ZERO,
            )
        }
    };
    let (page, store) = conn
        .call_function(
            "list_users",
            "list_users",
            vec![after, Dynamic::from_int(limit)],
            Masking::Hashes,
        )
        .await;
    let page = match page {
        Ok(p) => p,
        Err(e) => {
            let (status, body) = crate::http::answer(Err(e), "");
            return (status.as_u16(), body, store);
        }
    };
    let Some(items) = page.try_cast::<rhai::Array>() else {
        return (
            500,
            serde_json::json!({ "error": "list_users must return an array" }),
            store,
        );
    };
    let max_profile = conn.settings.tunables.max_profile_bytes;
    let mut users = Vec::new();
    for item in items {
        let Some(map) = item.try_cast::<RhaiMap>() else {
            users.push(serde_json::json!({ "error": "not a map" }));
            continue;
        };
        let Some((_, id)) = user_id_of(&map) else {
            users.push(serde_json::json!({ "error": "no usable user_id" }));
            continue;
        };
        match normalize(id, map, max_profile).listed {
            Listed::User(user) => {
                let mut shown = user.profile.to_fields();
                shown.insert("blocked".into(), user.blocked.into());
                match &user.hash {
                    Ok(stored) => {
                        shown.insert("password_format".into(), stored.name().into());
                    }
                    Err(not) => {
                        shown.insert("password_problem".into(), not.reason().into());
                    }
                }
                users.push(Value::Object(shown));
            }
            Listed::Refused {
                user_id, detail, ..
            } => {
                users.push(serde_json::json!({ "user_id": user_id, "invalid_profile": detail }));
            }
        }
    }
    (200, serde_json::json!({ "users": users }), store)
}

#[cfg(test)]
mod tests {
    use super::LeftOut;

    #[test]
    fn the_fields_left_out_are_named_up_to_a_hundred() {
        let mut left_out = LeftOut::default();
        assert_eq!(left_out.names(), None);
        for _ in 0..3 {
            left_out.add("shoe_size".into());
            left_out.add("hat".into());
        }
        assert_eq!(left_out.names().as_deref(), Some("hat, shoe_size"));
        for i in 0..1000 {
            left_out.add(format!("k{i:04}"));
        }
        let names = left_out.names().unwrap();
        assert_eq!(names.split(", ").count(), LeftOut::NAMED + 1);
        assert!(names.ends_with(", and more"), "{names}");
        assert!(names.starts_with("hat, k0000, k0001"), "{names}");
    }
}
