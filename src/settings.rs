//! Settings: the layered configuration of docs/configuration.md (defaults file, `--config`
//! file, `CUSTOMDB__A__B` environment variables), checked and typed once at start.
//! Every connection inherits `[defaults]` and may override any of its keys.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{Config, Environment, File, FileFormat, Value, ValueKind};
use serde::Deserialize;

/// The settings file every start reads first; it defines no connection.
pub const DEFAULT_SETTINGS: &str = include_str!("../config/default.toml");

/// A value that must never reach a log line or an error text.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub http: HttpSettings,
    pub connections: BTreeMap<String, ConnectionSettings>,
    /// The `--config` file these came from, read again on reload.
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: String,
    pub api_tokens: Vec<Secret>,
    pub allow_no_token: bool,
    pub max_body_bytes: usize,
    /// Scripts waiting for a slot, over all connections; past this: 429.
    pub max_waiting_scripts: usize,
    pub metrics: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Runtime threads, each serving requests and running their scripts;
    /// unset means one per core.
    #[serde(default)]
    pub threads: Option<usize>,
    /// After SIGTERM or SIGINT: how long `/readyz` answers 503 while
    /// everything else is still served, before the listener closes.
    pub drain_delay_ms: u64,
    /// After the listener closes: how long requests in flight may still run.
    pub drain_timeout_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum PasswordAlgorithm {
    Bcrypt,
    Argon2id,
}

/// By name, with a refusal that says what is taken (serde's own names the
/// Rust type).
impl TryFrom<String> for PasswordAlgorithm {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        match name.as_str() {
            "bcrypt" => Ok(PasswordAlgorithm::Bcrypt),
            "argon2id" => Ok(PasswordAlgorithm::Argon2id),
            _ => Err("expected bcrypt or argon2id".into()),
        }
    }
}

/// What `[defaults]` sets and each connection may override.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tunables {
    pub script_timeout_ms: u64,
    pub query_timeout_ms: u64,
    pub max_operations: u64,
    pub max_call_depth: usize,
    pub max_string_bytes: usize,
    pub max_array_items: usize,
    pub max_map_entries: usize,
    pub max_modules: usize,
    /// Scripts running at once on the connection; unset means `pool.max`.
    pub max_concurrent_scripts: Option<usize>,
    pub max_profile_bytes: usize,
    pub password_hash: PasswordAlgorithm,
    pub bcrypt_cost: u32,
    pub signup: bool,
    pub watch: bool,
    pub pool: PoolSettings,
}

impl Tunables {
    pub fn concurrent_scripts(&self) -> usize {
        self.max_concurrent_scripts.unwrap_or(self.pool.max)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    pub min: usize,
    pub max: usize,
    pub acquire_timeout_ms: u64,
}

/// The keys that belong to a connection alone, never to `[defaults]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionOwn {
    database_url: Secret,
    scripts_dir: PathBuf,
    #[serde(default)]
    tls_ca: Option<PathBuf>,
    #[serde(default)]
    configuration: BTreeMap<String, Secret>,
    #[serde(default)]
    public_configuration: Vec<String>,
    #[serde(default)]
    adapters: Adapters,
}

/// The other identity servers' protocols a connection answers, each
/// enabled by its table (`[connections.NAME.adapters.okta]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adapters {
    pub fusionauth: Option<AdapterSettings>,
    pub okta: Option<AdapterSettings>,
    pub kratos: Option<AdapterSettings>,
    pub keycloak: Option<AdapterSettings>,
}

impl Adapters {
    /// The adapter of a name, when its table is there.
    pub fn get(&self, name: &str) -> Option<&AdapterSettings> {
        match name {
            "fusionauth" => self.fusionauth.as_ref(),
            "okta" => self.okta.as_ref(),
            "kratos" => self.kratos.as_ref(),
            "keycloak" => self.keycloak.as_ref(),
            _ => None,
        }
    }

    fn all(&self) -> [(&'static str, Option<&AdapterSettings>); 4] {
        [
            ("fusionauth", self.fusionauth.as_ref()),
            ("okta", self.okta.as_ref()),
            ("kratos", self.kratos.as_ref()),
            ("keycloak", self.keycloak.as_ref()),
        ]
    }

    /// Every adapter secret, for masking.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        self.all().into_iter().flat_map(|(_, a)| {
            a.into_iter()
                .flat_map(|a| a.basic_password.iter().chain(a.header_value.iter()))
        })
    }
}

/// One adapter: its credentials and time limit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterSettings {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub basic_user: Option<String>,
    pub basic_password: Option<Secret>,
    pub header_name: Option<String>,
    pub header_value: Option<Secret>,
    pub timeout_ms: Option<u64>,
}

fn enabled_by_default() -> bool {
    true
}

/// The shortest adapter secret.
const MIN_ADAPTER_SECRET_CHARS: usize = 16;

impl AdapterSettings {
    /// The header that carries the header credential.
    pub fn header_name(&self) -> &str {
        self.header_name.as_deref().unwrap_or("authorization")
    }

    fn check(&self, place: &str) -> Result<(), SettingsError> {
        if self.basic_user.is_some() != self.basic_password.is_some() {
            return Err(err(format!(
                "{place}: basic_user and basic_password go together; set both or neither"
            )));
        }
        if self.header_name.is_some() && self.header_value.is_none() {
            return Err(err(format!(
                "{place}.header_value: missing beside header_name"
            )));
        }
        for (key, value) in [
            ("basic_password", &self.basic_password),
            ("header_value", &self.header_value),
        ] {
            if value
                .as_ref()
                .is_some_and(|v| v.expose().chars().count() < MIN_ADAPTER_SECRET_CHARS)
            {
                return Err(err(format!(
                    "{place}.{key}: must be at least {MIN_ADAPTER_SECRET_CHARS} characters"
                )));
            }
        }
        if self.basic_user.as_deref() == Some("") {
            return Err(err(format!("{place}.basic_user: must not be empty")));
        }
        if self.basic_user.as_deref().is_some_and(|u| u.contains(':')) {
            return Err(err(format!(
                "{place}.basic_user: must not contain `:`, which ends the user in a Basic credential"
            )));
        }
        // What a client can send and a server reads back unchanged: HTTP
        // trims white space at either end of a header value and has no
        // line breaks or other control characters in one. (Basic's pair
        // travels in base64, so it may hold either.)
        if let Some(value) = self.header_value.as_ref().map(Secret::expose) {
            if value.trim_matches([' ', '\t']) != value {
                return Err(err(format!(
                    "{place}.header_value: must not begin or end with white space, which HTTP drops from a header"
                )));
            }
            if value.chars().any(char::is_control) {
                return Err(err(format!(
                    "{place}.header_value: must not contain a control character (a line break, say): no header can carry it"
                )));
            }
        }
        if self.header_name.as_deref().is_some_and(|n| {
            n.is_empty() || axum::http::HeaderName::from_bytes(n.as_bytes()).is_err()
        }) {
            return Err(err(format!("{place}.header_name: not a valid header name")));
        }
        if self.timeout_ms == Some(0) {
            return Err(err(format!("{place}.timeout_ms: must be at least 1")));
        }
        if self.enabled && self.basic_user.is_none() && self.header_value.is_none() {
            return Err(err(format!(
                "{place}: an enabled adapter needs a credential: basic_user and basic_password, or header_value"
            )));
        }
        if self.basic_user.is_some()
            && self.header_value.is_some()
            && self.header_name().eq_ignore_ascii_case("authorization")
        {
            return Err(err(format!(
                "{place}.header_name: the header credential cannot use Authorization beside basic_user, which needs that header; name another header"
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    pub name: String,
    pub database_url: Secret,
    pub scripts_dir: PathBuf,
    /// A CA certificate (PEM) for TLS to the store: TLS is then required
    /// and the server's certificate and name are verified against it.
    pub tls_ca: Option<PathBuf>,
    /// Reaches scripts as `configuration::KEY`; a secret unless its key is
    /// in `public_configuration`.
    pub configuration: BTreeMap<String, Secret>,
    /// The `configuration` keys whose values are not secrets (ids, table
    /// prefixes, flags): never masked.
    pub public_configuration: Vec<String>,
    /// The other identity servers' protocols it answers.
    pub adapters: Adapters,
    pub tunables: Tunables,
}

impl ConnectionSettings {
    /// How the connection makes new hashes.
    pub fn hash_policy(&self) -> crate::password::HashPolicy {
        crate::password::HashPolicy {
            algorithm: self.tunables.password_hash,
            bcrypt_cost: self.tunables.bcrypt_cost,
        }
    }

    /// The secret `configuration` values, with their keys.
    pub fn secret_configuration(&self) -> impl Iterator<Item = (&str, &Secret)> {
        self.configuration
            .iter()
            .filter(|(k, _)| !self.public_configuration.contains(k))
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// A setting that is missing, unknown or malformed. The text names the key and
/// what was expected, never a secret's value.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct SettingsError(String);

fn err(message: impl Into<String>) -> SettingsError {
    SettingsError(message.into())
}

const OWN_KEYS: [&str; 6] = [
    "adapters",
    "database_url",
    "scripts_dir",
    "tls_ca",
    "configuration",
    "public_configuration",
];

impl Settings {
    /// Loads the defaults, then `file` when given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut builder =
            Config::builder().add_source(File::from_str(DEFAULT_SETTINGS, FileFormat::Toml));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(err(format!("no settings file at {}", path.display())));
            }
            // config's own error would not name the file ("Permission denied")
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(format!("cannot read {}: {e}", path.display())))?;
            // Read first by the toml crate, which places a mistake by line
            // and column; then each value's type held to the defaults' (the
            // config crate would turn 4.5 into 4 and "yes" into true).
            let file: toml::Table =
                toml::from_str(&text).map_err(|e| err(scrub(toml_error(path, &text, &e))))?;
            check_types(&file, path)?;
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        // Environment values stay strings: no guessing of numbers, so that a
        // configuration value such as "007" arrives as written.
        builder = builder.add_source(
            Environment::with_prefix("CUSTOMDB")
                .prefix_separator("__")
                .separator("__"),
        );
        let root = builder
            .build()
            .map_err(|e| err(scrub(without_source(&e.to_string()))))?
            .cache;
        let base = file.map(|f| f.parent().unwrap_or(Path::new("")).to_path_buf());
        let mut settings = Self::from_value(root, base.as_deref())?;
        settings.source = file.map(Path::to_path_buf);
        Ok(settings)
    }

    /// `base`: the folder of the settings file, from which the relative
    /// paths it sets are resolved.
    fn from_value(root: Value, base: Option<&Path>) -> Result<Self, SettingsError> {
        let mut root = table(root, "the settings")?;
        if let Some(key) = root
            .keys()
            .find(|k| !["http", "defaults", "connections"].contains(&k.as_str()))
        {
            return Err(err(format!("unknown key `{key}`")));
        }
        let mut http = table(root.remove("http").unwrap_or_default(), "http")?;
        split_list(&mut http, "api_tokens");
        for key in ["tls_cert", "tls_key"] {
            resolve_path(&mut http, key, base);
        }
        let http: HttpSettings = deserialize(Value::from(http), "http")?;
        http.check()?;

        let defaults = table(root.remove("defaults").unwrap_or_default(), "defaults")?;
        // Read on their own too, so that an unknown key or a malformed value
        // is named where it is written, with no connection as well. Their
        // bounds across keys (pool.min under pool.max) hold once merged with
        // a connection's own; alone they are checked with no connection.
        let alone: Tunables = deserialize(Value::from(defaults.clone()), "defaults")?;
        let connections_given = root
            .get("connections")
            .and_then(|c| c.clone().into_table().ok())
            .is_some_and(|c| !c.is_empty());
        check_tunables(&alone, "defaults", !connections_given)?;
        let connections = table(
            root.remove("connections").unwrap_or_default(),
            "connections",
        )?;
        let mut out = BTreeMap::new();
        for (name, value) in connections {
            let conn = connection(&name, value, &defaults, base)?;
            out.insert(name, conn);
        }
        Ok(Settings {
            http,
            connections: out,
            source: None,
        })
    }
}

impl HttpSettings {
    fn check(&self) -> Result<(), SettingsError> {
        self.listen_addr()?;
        for (i, token) in self.api_tokens.iter().enumerate() {
            if token.expose().chars().count() < 16 {
                return Err(err(format!(
                    "http.api_tokens[{i}]: a token must be at least 16 characters"
                )));
            }
        }
        if self.threads == Some(0) {
            return Err(err(
                "http.threads: must be above 0 (leave it out for one per core)",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(err("http.max_body_bytes: must be above 0"));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(err(
                "http.tls_cert / http.tls_key: set both for HTTPS on the listener, or neither",
            ));
        }
        must_be_file("http.tls_cert", self.tls_cert.as_deref())?;
        must_be_file("http.tls_key", self.tls_key.as_deref())
    }

    /// The server's rule, not the other commands' (they answer no HTTP):
    /// at least one token, unless it listens on a loopback address with
    /// `allow_no_token`.
    pub fn require_token(&self) -> Result<(), SettingsError> {
        if self.api_tokens.is_empty() && !(self.allow_no_token && self.is_loopback()) {
            return Err(err(
                "http.api_tokens: no token configured; set one (at least 16 characters), \
                 or listen on a loopback address with http.allow_no_token = true",
            ));
        }
        Ok(())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.listen
            .parse()
            .map_err(|_| err("http.listen: expected an address and port such as 127.0.0.1:8080"))
    }

    /// The runtime threads to start: `threads`, or one per core.
    pub fn runtime_threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    pub fn is_loopback(&self) -> bool {
        self.listen_addr().is_ok_and(|a| a.ip().is_loopback())
    }
}

/// A list from the environment arrives as one string: `first,second`.
fn split_list(table: &mut config::Map<String, Value>, key: &str) {
    if let Some(list) = table.get_mut(key) {
        if let ValueKind::String(s) = &list.kind {
            let items = s
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| Value::from(t.to_string()))
                .collect::<Vec<_>>();
            list.kind = ValueKind::Array(items);
        }
    }
}

/// Where `config` says a value from the environment came from.
const FROM_ENVIRONMENT: &str = "the environment";

/// Makes the path at `key` absolute: a relative path from a settings file
/// is relative to that file's folder (`base`), one from the environment to
/// the working directory, so that a configuration works from any folder.
fn resolve_path(table: &mut config::Map<String, Value>, key: &str, base: Option<&Path>) {
    let Some(value) = table.get_mut(key) else {
        return;
    };
    let ValueKind::String(text) = &value.kind else {
        return;
    };
    let path = Path::new(text);
    let from_file = value.origin().is_some_and(|o| o != FROM_ENVIRONMENT);
    let joined = match base {
        Some(base) if from_file && path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    };
    let absolute = lexically_normal(&std::path::absolute(&joined).unwrap_or(joined));
    *value = Value::new(
        value.origin().map(str::to_string).as_ref(),
        ValueKind::String(absolute.to_string_lossy().into_owned()),
    );
}

/// `path` without `.` and with each `..` taking off the folder before it,
/// without looking at the file system (so that messages show
/// `/srv/app/scripts`, not `/srv/app/config/../scripts`).
pub(crate) fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                // `/..` is `/`
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    out
}

fn must_be_file(key: &str, path: Option<&Path>) -> Result<(), SettingsError> {
    match path {
        Some(p) if !p.is_file() => Err(err(format!("{key}: no such file: {}", p.display()))),
        _ => Ok(()),
    }
}

fn connection(
    name: &str,
    value: Value,
    defaults: &config::Map<String, Value>,
    base: Option<&Path>,
) -> Result<ConnectionSettings, SettingsError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(err(format!(
            "connections.{name}: a connection name is lowercase letters, digits, `_` and `-`"
        )));
    }
    let place = format!("connections.{name}");
    let mut rest = table(value, &place)?;
    let mut own = config::Map::new();
    for key in OWN_KEYS {
        if let Some(v) = rest.remove(key) {
            own.insert(key.to_string(), v);
        }
    }
    for key in ["database_url", "scripts_dir"] {
        if !own.contains_key(key) {
            return Err(err(format!("{place}.{key}: missing")));
        }
    }
    split_list(&mut own, "public_configuration");
    for key in ["scripts_dir", "tls_ca"] {
        resolve_path(&mut own, key, base);
    }
    let own: ConnectionOwn = deserialize(Value::from(own), &place)?;
    if !own.scripts_dir.is_dir() {
        return Err(err(format!(
            "{place}.scripts_dir: no such folder: {}",
            own.scripts_dir.display()
        )));
    }
    must_be_file(&format!("{place}.tls_ca"), own.tls_ca.as_deref())?;
    for (adapter, settings) in own.adapters.all() {
        if let Some(settings) = settings {
            settings.check(&format!("{place}.adapters.{adapter}"))?;
        }
    }
    let configuration = fold_configuration_case(own.configuration);
    // Matched without regard to case, as configuration keys from the
    // environment are (they arrive lowercased).
    let public_configuration = own
        .public_configuration
        .iter()
        .map(|listed| {
            configuration
                .keys()
                .find(|k| k.to_lowercase() == listed.to_lowercase())
                .cloned()
                .ok_or_else(|| {
                    err(format!(
                        "{place}.public_configuration: `{listed}` is not a key of {place}.configuration"
                    ))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;

    // The connection's own keys over the defaults; `pool` is merged key by key.
    let mut merged = defaults.clone();
    for (key, v) in rest {
        match (key.as_str(), merged.get_mut("pool")) {
            ("pool", Some(base)) => {
                let mut base_table = table(base.clone(), &format!("{place}.pool"))?;
                base_table.extend(table(v, &format!("{place}.pool"))?);
                *base = Value::from(base_table);
            }
            _ => {
                merged.insert(key, v);
            }
        }
    }
    // An unknown key is told with every key a connection takes, not only
    // the [defaults] ones the tunables list (a typo of `scripts_dir`).
    let tunables: Tunables = deserialize(Value::from(merged), &place).map_err(|e| {
        let own: Vec<String> = OWN_KEYS.iter().map(|k| format!("`{k}`")).collect();
        let told =
            e.0.split_once(", expected one of ")
                // the connection's own table: its list starts with the
                // tunables (not a `pool` typo, whose list is the pool's keys)
                .filter(|(head, keys)| {
                    head.contains("unknown field") && keys.starts_with("`script_timeout_ms`")
                })
                .map(|(head, tunables)| {
                    format!("{head}, expected one of {}, {tunables}", own.join(", "))
                });
        told.map_or(e, err)
    })?;
    check_tunables(&tunables, &place, true)?;
    if mysql_async::Opts::from_url(own.database_url.expose()).is_err() {
        return Err(err(format!(
            "{place}.database_url: expected a URL such as mysql://user:password@host:3306/database"
        )));
    }
    Ok(ConnectionSettings {
        name: name.to_string(),
        database_url: own.database_url,
        scripts_dir: own.scripts_dir,
        tls_ca: own.tls_ca,
        configuration,
        public_configuration,
        adapters: own.adapters,
        tunables,
    })
}

/// The most store connections a connection's pool may hold (MySQL's own
/// `max_connections` stops at 100,000).
const MAX_POOL: usize = 100_000;
/// The most scripts a connection may run at once.
const MAX_CONCURRENT: usize = 1_000_000;

/// `across`: also the bounds between keys (`pool.min` under `pool.max`),
/// which the defaults need to meet only once merged with a connection's own.
fn check_tunables(t: &Tunables, place: &str, across: bool) -> Result<(), SettingsError> {
    let positive = [
        ("script_timeout_ms", t.script_timeout_ms as usize),
        ("query_timeout_ms", t.query_timeout_ms as usize),
        ("max_operations", t.max_operations as usize),
        ("max_call_depth", t.max_call_depth),
        ("max_string_bytes", t.max_string_bytes),
        ("max_array_items", t.max_array_items),
        ("max_map_entries", t.max_map_entries),
        ("max_profile_bytes", t.max_profile_bytes),
        ("pool.max", t.pool.max),
        (
            "pool.acquire_timeout_ms",
            t.pool.acquire_timeout_ms as usize,
        ),
        ("max_concurrent_scripts", t.concurrent_scripts()),
    ];
    if let Some((key, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(err(format!("{place}.{key}: must be above 0")));
    }
    // Above these, a semaphore of that many permits cannot be made (the
    // process stopped with a panic); no store takes that many connections.
    for (key, value, most) in [
        ("pool.max", t.pool.max, MAX_POOL),
        (
            "max_concurrent_scripts",
            t.concurrent_scripts(),
            MAX_CONCURRENT,
        ),
    ] {
        if value > most {
            return Err(err(format!("{place}.{key}: at most {most}")));
        }
    }
    if across && t.pool.min > t.pool.max {
        return Err(err(format!("{place}.pool.min: must not exceed pool.max")));
    }
    let deepest = crate::script::fiber::MAX_CALL_DEPTH;
    if t.max_call_depth > deepest {
        return Err(err(format!(
            "{place}.max_call_depth: at most {deepest} (a script's stack has room for that many levels)"
        )));
    }
    // Above the cap, customdb would write hashes it refuses to verify.
    let max = crate::password::MAX_BCRYPT_COST;
    if !(4..=max).contains(&t.bcrypt_cost) {
        return Err(err(format!("{place}.bcrypt_cost: must be from 4 to {max}")));
    }
    Ok(())
}

/// Environment keys arrive lowercased: a lowercase key that matches a file key
/// without regard to case replaces that key's value.
fn fold_configuration_case(mut map: BTreeMap<String, Secret>) -> BTreeMap<String, Secret> {
    let lowered: Vec<String> = map
        .keys()
        .filter(|k| k.chars().all(|c| !c.is_uppercase()))
        .cloned()
        .collect();
    for low in lowered {
        let target = map
            .keys()
            .find(|k| **k != low && k.to_lowercase() == low)
            .cloned();
        if let Some(target) = target {
            if let Some(value) = map.remove(&low) {
                map.insert(target, value);
            }
        }
    }
    map
}

fn table(value: Value, place: &str) -> Result<config::Map<String, Value>, SettingsError> {
    match value.kind {
        ValueKind::Table(t) => Ok(t),
        ValueKind::Nil => Ok(config::Map::new()),
        _ => Err(err(format!("{place}: expected a table"))),
    }
}

fn deserialize<T: serde::de::DeserializeOwned>(
    value: Value,
    place: &str,
) -> Result<T, SettingsError> {
    value
        .try_deserialize()
        .map_err(|e| err(format!("{place}: {}", scrub(e.to_string()))))
}

/// A TOML syntax error shows the line it is on, and that line may hold a
/// secret not in double quotes (`database_url = mysql://u:pw@h/db`,
/// `'literal'`): the quoted source lines (`4 | ...`, `  |   ^^^`) are left
/// out, the line and column numbers kept.
fn without_source(message: &str) -> String {
    message
        .lines()
        .filter(|line| {
            let rest = line
                .trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit());
            !rest.trim_start().starts_with('|')
        })
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// `path:line:col: message` for a TOML file `text` could not be read as:
/// the place of the mistake, without the source line (which may hold a
/// secret).
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let (line, col) = e.span().map_or((1, 1), |span| {
        let mut start = span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let before = &text[..start];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    });
    format!(
        "{}:{line}:{col}: {}",
        path.display(),
        e.message().trim_end()
    )
}

/// Holds each value of a settings file to the type its key has in the
/// defaults (a connection's keys to those of `[defaults]`): an integer
/// where one is expected, not 4.5; `true` or `false`, not "yes" or 1; a
/// string for each token and `configuration` value.
fn check_types(file: &toml::Table, path: &Path) -> Result<(), SettingsError> {
    use toml::Value as V;
    let mut defaults: toml::Table = toml::from_str(DEFAULT_SETTINGS).unwrap_or_default();
    // the keys with no default value, by the type they take
    for (section, key, like) in [
        ("http", "tls_cert", V::from("")),
        ("http", "tls_key", V::from("")),
        ("http", "threads", V::from(0)),
        ("defaults", "max_concurrent_scripts", V::from(0)),
    ] {
        if let Some(V::Table(t)) = defaults.get_mut(section) {
            t.insert(key.into(), like);
        }
    }
    let defaults = defaults;
    let kind = |v: &V| match v {
        V::String(_) => "a string",
        V::Integer(_) => "an integer",
        V::Float(_) => "a number with a fraction",
        V::Boolean(_) => "true or false",
        V::Datetime(_) => "a date",
        V::Array(_) => "a list",
        V::Table(_) => "a table",
    };
    let wrong = |key: &str, want: &str, got: &V| {
        err(format!(
            "{}: {key}: must be {want}, not {}",
            path.display(),
            kind(got)
        ))
    };
    // each item a string; a table's items named by their keys
    let strings = |key: &str, v: &V| -> Result<(), SettingsError> {
        match v {
            V::Array(items) => match items.iter().find(|i| !i.is_str()) {
                Some(item) => Err(wrong(key, "strings only", item)),
                None => Ok(()),
            },
            V::Table(t) => match t.iter().find(|(_, i)| !i.is_str()) {
                Some((name, item)) => Err(wrong(&format!("{key}.{name}"), "a string", item)),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    };
    // `given` against the defaults' table `like`, keys it does not have
    // left to the settings' own checks
    let against =
        |place: &str, given: &toml::Table, like: Option<&V>| -> Result<(), SettingsError> {
            let Some(V::Table(like)) = like else {
                return Ok(());
            };
            for (key, value) in given {
                let Some(default) = like.get(key) else {
                    continue;
                };
                let name = format!("{place}.{key}");
                match (default, value) {
                    (V::Table(_), V::Table(_)) => {}
                    // tokens: a list of strings, or one string of them
                    (V::Array(_), V::String(_)) => {}
                    (V::Array(_), V::Array(_)) => strings(&name, value)?,
                    (d, v) if std::mem::discriminant(d) == std::mem::discriminant(v) => {}
                    (d, v) => return Err(wrong(&name, kind(d), v)),
                }
            }
            Ok(())
        };
    let pool_defaults = table_at(&defaults, "defaults").and_then(|d| d.get("pool"));
    if let Some(http) = table_at(file, "http") {
        against("http", http, defaults.get("http"))?;
    }
    if let Some(d) = table_at(file, "defaults") {
        against("defaults", d, defaults.get("defaults"))?;
        if let Some(pool) = table_at(d, "pool") {
            against("defaults.pool", pool, pool_defaults)?;
        }
    }
    for (name, conn) in table_at(file, "connections").into_iter().flatten() {
        let V::Table(conn) = conn else { continue };
        let place = format!("connections.{name}");
        against(&place, conn, defaults.get("defaults"))?;
        if let Some(pool) = table_at(conn, "pool") {
            against(&format!("{place}.pool"), pool, pool_defaults)?;
        }
        for (key, want) in [
            ("database_url", "a string"),
            ("scripts_dir", "a string"),
            ("tls_ca", "a string"),
            ("configuration", "a table"),
            ("public_configuration", "a list"),
            ("adapters", "a table"),
        ] {
            let Some(value) = conn.get(key) else { continue };
            let name = format!("{place}.{key}");
            // a list may also be one string of comma-separated items
            let list_as_text = want == "a list" && value.is_str();
            if kind(value) != want && !list_as_text {
                return Err(wrong(&name, want, value));
            }
            if matches!(key, "configuration" | "public_configuration") {
                strings(&name, value)?;
            }
        }
        // each platform's adapter: its keys' types
        let adapter_keys = [
            ("enabled", "true or false"),
            ("basic_user", "a string"),
            ("basic_password", "a string"),
            ("header_name", "a string"),
            ("header_value", "a string"),
            ("timeout_ms", "an integer"),
        ];
        for (platform, adapter) in table_at(conn, "adapters").into_iter().flatten() {
            let V::Table(adapter) = adapter else { continue };
            for (key, want) in adapter_keys {
                match adapter.get(key) {
                    Some(value) if kind(value) != want => {
                        return Err(wrong(
                            &format!("{place}.adapters.{platform}.{key}"),
                            want,
                            value,
                        ))
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The table under `key` in `t`, if that is one.
fn table_at<'a>(t: &'a toml::Table, key: &str) -> Option<&'a toml::Table> {
    match t.get(key) {
        Some(toml::Value::Table(t)) => Some(t),
        _ => None,
    }
}

/// config's messages may quote a value ("invalid type: string \"...\"",
/// "integer `12345`"); a value may be a secret, so what a value's quotes
/// hold is cut out. Other backticks name a key or a token (`api_tokens`,
/// expected `"`) and are kept; a quote left open cuts the rest.
fn scrub(message: String) -> String {
    const VALUE_KINDS: [&str; 4] = ["integer ", "floating point ", "boolean ", "character "];
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find(['"', '`']) {
        out.push_str(&rest[..at]);
        let quote = &rest[at..at + 1];
        let after = &rest[at + 1..];
        let Some(end) = after.find(quote) else {
            out.push_str(quote);
            out.push('…');
            return out;
        };
        let value = quote == "\"" || VALUE_KINDS.iter().any(|k| out.ends_with(k));
        out.push_str(quote);
        out.push_str(if value { "…" } else { &after[..end] });
        out.push_str(quote);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml: &str) -> Result<Settings, SettingsError> {
        let root = Config::builder()
            .add_source(File::from_str(DEFAULT_SETTINGS, FileFormat::Toml))
            .add_source(File::from_str(toml, FileFormat::Toml))
            .build()
            .unwrap()
            .cache;
        Settings::from_value(root, None)
    }

    const BASE: &str = r#"
        [http]
        api_tokens = ["0123456789abcdef"]
        [connections.legacy]
        database_url = "mysql://app:hunter2@127.0.0.1:3306/legacy"
        scripts_dir = "scripts/demo"
    "#;

    #[test]
    fn connection_inherits_defaults_and_overrides_pool_key_by_key() {
        let s = load(&format!(
            "{BASE}\nmax_operations = 5\n[connections.legacy.pool]\nmax = 3\n"
        ))
        .unwrap();
        let t = &s.connections["legacy"].tunables;
        assert_eq!(t.max_operations, 5);
        assert_eq!(t.pool.max, 3);
        assert_eq!(t.pool.acquire_timeout_ms, 5000);
        assert_eq!(t.concurrent_scripts(), 3);
        assert_eq!(t.script_timeout_ms, 20000);
    }

    #[test]
    fn defaults_bounds_across_keys_hold_once_merged() {
        // pool.min 25 is over the built-in max of 20, but not over the
        // connection's own max of 50
        let ok =
            format!("{BASE}\n[defaults.pool]\nmin = 25\n[connections.legacy.pool]\nmax = 50\n");
        assert_eq!(
            load(&ok).unwrap().connections["legacy"].tunables.pool.min,
            25
        );
        let bad = format!("{BASE}\n[defaults.pool]\nmin = 25\n");
        assert!(load(&bad).unwrap_err().to_string().contains("pool.min"));
    }

    /// Past these a semaphore of that many permits cannot be made: the
    /// process stopped with a panic instead of naming the key.
    #[test]
    fn pool_and_concurrency_have_ceilings() {
        for (extra, key) in [
            (
                "[connections.legacy.pool]\nmax = 9223372036854775807",
                "pool.max: at most 100000",
            ),
            (
                "[defaults]\nmax_concurrent_scripts = 2305843009213693952",
                "max_concurrent_scripts: at most 1000000",
            ),
        ] {
            let e = load(&format!("{BASE}\n{extra}\n")).unwrap_err().to_string();
            assert!(e.contains(key), "{e}");
        }
        let ok = format!("{BASE}\n[connections.legacy.pool]\nmax = 100000\n");
        assert_eq!(
            load(&ok).unwrap().connections["legacy"].tunables.pool.max,
            100_000
        );
    }

    #[test]
    fn unknown_keys_are_named() {
        let in_connection = BASE.replace(
            "scripts_dir = \"scripts/demo\"",
            "scripts_dir = \"scripts/demo\"\nbogus = 1",
        );
        for (text, key) in [
            (BASE.replace("[http]", "[http]\nlisten2 = 1"), "listen2"),
            (in_connection, "bogus"),
            (format!("{BASE}\n[defaults]\nnope = 1"), "nope"),
            // with no connection, the defaults are still checked
            (
                "[http]\napi_tokens = [\"0123456789abcdef\"]\n[defaults]\nnope = 1".to_string(),
                "defaults: unknown field `nope`",
            ),
            (
                "[http]\napi_tokens = [\"0123456789abcdef\"]\n[defaults.pool]\nmax = 0".to_string(),
                "defaults.pool.max",
            ),
            // a bad default is named where it is written, with connections too
            (
                format!("{BASE}\n[defaults]\nquery_timeout_ms = 0"),
                "defaults.query_timeout_ms",
            ),
            (format!("{BASE}\n[elsewhere]\nx = 1"), "elsewhere"),
            // a typo in a connection is told with the connection's own keys
            (
                BASE.replace("scripts_dir =", "scripts_dirr = \"x\"\nscripts_dir ="),
                "expected one of `adapters`, `database_url`, `scripts_dir`",
            ),
            // an algorithm is told with the names taken, not a Rust type
            (
                format!("{BASE}\n[defaults]\npassword_hash = \"md5\""),
                "expected bcrypt or argon2id for key `password_hash`",
            ),
        ] {
            let e = load(&text).expect_err(key).to_string();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn a_syntax_error_does_not_show_its_line() {
        let dir = std::env::temp_dir().join(format!("customdb-syntax-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text, line) in [
            ("bare.toml", "[http]\napi_tokens = [\"0123456789abcdef\"]\n[connections.a]\ndatabase_url = mysql://app:hunter2@h/db\n", 4),
            ("literal.toml", "[http]\napi_tokens = ['hunter2-0123456789' x]\n", 2),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let e = Settings::load(Some(&path)).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.contains(&format!("{name}:{line}:")), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn secrets_never_in_errors_or_debug() {
        let bad = BASE.replace("mysql://app:hunter2@", "postgres://app:hunter2@");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("database_url") && !e.contains("hunter2"), "{e}");
        let s = load(BASE).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn short_token_and_missing_token_refused() {
        let e = load(&BASE.replace("0123456789abcdef", "short")).unwrap_err();
        assert!(e.to_string().contains("api_tokens[0]"));
        // the other commands answer no HTTP: they load without a token
        let none = load(&BASE.replace("[\"0123456789abcdef\"]", "[]")).unwrap();
        let e = none.http.require_token().unwrap_err();
        assert!(e.to_string().contains("no token"));
        let ok = BASE.replace("[\"0123456789abcdef\"]", "[]\nallow_no_token = true");
        assert!(load(&ok).unwrap().http.require_token().is_ok());
        let public = ok.replace("[http]", "[http]\nlisten = \"0.0.0.0:8080\"");
        assert!(load(&public).unwrap().http.require_token().is_err());
    }

    #[test]
    fn configuration_case_folds_environment_keys() {
        let mut m = BTreeMap::new();
        m.insert("PEPPER".to_string(), Secret::new("file"));
        m.insert("pepper".to_string(), Secret::new("env"));
        m.insert("other".to_string(), Secret::new("x"));
        let m = fold_configuration_case(m);
        assert_eq!(m["PEPPER"].expose(), "env");
        assert!(!m.contains_key("pepper"));
        assert_eq!(m["other"].expose(), "x");
    }

    #[test]
    fn paths_are_shown_without_dot_segments() {
        for (given, shown) in [
            ("/srv/app/config/../scripts", "/srv/app/scripts"),
            ("/srv/./app/scripts/", "/srv/app/scripts"),
            ("/../x", "/x"),
        ] {
            assert_eq!(
                lexically_normal(Path::new(given)),
                Path::new(shown),
                "{given}"
            );
        }
    }

    #[test]
    fn adapter_tables_are_checked_naming_the_key_never_the_value() {
        let with = |table: &str| load(&format!("{BASE}\n{table}"));
        let secret = "s3cret-value-0123456789";
        let ok = with(&format!(
            "[connections.legacy.adapters.okta]\nheader_value = \"{secret}\"\n\
             [connections.legacy.adapters.fusionauth]\nbasic_user = \"fa\"\nbasic_password = \"{secret}\"\n\
             header_name = \"X-Connector-Secret\"\nheader_value = \"{secret}\"\ntimeout_ms = 900"
        ))
        .unwrap();
        let adapters = &ok.connections["legacy"].adapters;
        assert_eq!(adapters.get("okta").unwrap().header_name(), "authorization");
        assert_eq!(adapters.get("fusionauth").unwrap().timeout_ms, Some(900));
        assert!(adapters.get("kratos").is_none());
        assert_eq!(adapters.secrets().count(), 3);
        for (table, names) in [
            ("[connections.legacy.adapters.auth0]\nheader_value = \"X\"", "auth0"),
            ("[connections.legacy.adapters.okta]\nbasic_user = \"u\"", "basic_password"),
            (
                &format!("[connections.legacy.adapters.okta]\nbasic_password = \"{secret}\""),
                "basic_user",
            ),
            ("[connections.legacy.adapters.okta]\nheader_name = \"X-A\"", "header_value"),
            ("[connections.legacy.adapters.okta]\nheader_value = \"short\"", "header_value"),
            (
                "[connections.legacy.adapters.okta]\nbasic_user = \"u\"\nbasic_password = \"short-one\"",
                "basic_password",
            ),
            ("[connections.legacy.adapters.kratos]\ntimeout_ms = 5", "credential"),
            (
                &format!("[connections.legacy.adapters.kratos]\nheader_value = \"{secret}\"\ntimeout_ms = 0"),
                "timeout_ms",
            ),
            (
                &format!("[connections.legacy.adapters.keycloak]\nbasic_user = \"u\"\nbasic_password = \"{secret}\"\nheader_value = \"{secret}\""),
                "header_name",
            ),
            (
                &format!("[connections.legacy.adapters.keycloak]\nheader_value = \"{secret}\"\nbogus = 1"),
                "bogus",
            ),
            // values no header carries as written: HTTP trims the ends
            // and has no line breaks
            (
                &format!("[connections.legacy.adapters.okta]\nheader_value = \"  {secret}  \""),
                "header_value: must not begin or end with white space",
            ),
            (
                &format!("[connections.legacy.adapters.okta]\nheader_value = \"{secret}\\nX\""),
                "header_value: must not contain a control character",
            ),
            (
                &format!("[connections.legacy.adapters.okta]\nbasic_user = \"a:b\"\nbasic_password = \"{secret}\""),
                "basic_user: must not contain `:`",
            ),
        ] {
            let e = with(table).unwrap_err().to_string();
            assert!(e.contains(names), "{table}: {e}");
            assert!(!e.contains(secret) && !e.contains("short"), "{table}: {e}");
        }
        // a disabled adapter needs no credential
        assert!(with("[connections.legacy.adapters.okta]\nenabled = false").is_ok());
        // Basic's pair travels in base64: spaces at its ends are the secret's
        assert!(with(&format!(
            "[connections.legacy.adapters.okta]\nbasic_user = \" u\"\nbasic_password = \" {secret} \""
        ))
        .is_ok());
    }

    #[test]
    fn a_settings_file_is_read_strictly_and_its_mistakes_placed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.toml");
        let refused = |text: &str| {
            std::fs::write(&path, text).unwrap();
            match Settings::load(Some(&path)) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => e.to_string(),
            }
        };
        for (text, says) in [
            (
                "[defaults]\nbcrypt_cost = 4.5\n",
                "t.toml: defaults.bcrypt_cost: must be an integer, not a number with a fraction",
            ),
            (
                "[http]\nallow_no_token = \"yes\"\n",
                "http.allow_no_token: must be true or false, not a string",
            ),
            (
                "[http]\napi_tokens = [1234567890123456789]\n",
                "http.api_tokens: must be strings only, not an integer",
            ),
            (
                "[connections.x.configuration]\nPEPPER = 1234567890123456789\n",
                "connections.x.configuration.PEPPER: must be a string, not an integer",
            ),
            (
                "[connections.x.adapters.fusionauth]\nenabled = true\nbasic_password = 1234567890123456789\n",
                "connections.x.adapters.fusionauth.basic_password: must be a string, not an integer",
            ),
            (
                "[connections.x]\nconfiguration = 1234567890123456789\n",
                "connections.x.configuration: must be a table, not an integer",
            ),
            (
                "[connections.x.pool]\nmax = \"20\"\n",
                "connections.x.pool.max: must be an integer, not a string",
            ),
            (
                "[http]\nmax_body_bytes = 99999999999999999999\n",
                "t.toml:2:",
            ),
            (
                "[connections.x]\ndatabase_url = \"mysql://u:s3cret@h/db\n",
                "t.toml:2:",
            ),
        ] {
            let message = refused(text);
            assert!(message.contains(says), "{text}: {message}");
            for secret in ["s3cret", "1234567890123456789"] {
                assert!(!message.contains(secret), "{text}: {message}");
            }
        }
    }

    #[test]
    fn scrub_cuts_quoted_values() {
        assert_eq!(
            scrub("invalid type: string \"hunter2\", expected u64".into()),
            "invalid type: string \"…\", expected u64",
        );
        assert_eq!(
            scrub("invalid type: integer `12345678901234567`, expected a sequence for key `api_tokens`".into()),
            "invalid type: integer `…`, expected a sequence for key `api_tokens`"
        );
        assert_eq!(
            scrub("line 4, column 49; invalid basic string, expected `\"` in conf/t.toml".into()),
            "line 4, column 49; invalid basic string, expected `\"` in conf/t.toml"
        );
    }
}
