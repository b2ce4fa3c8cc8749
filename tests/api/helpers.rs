//! Test helpers: a private MariaDB for the whole test process, a fresh
//! database per test, the real server on port 0, and typed request helpers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

pub const TOKEN: &str = "test-token-0123456789abcdef";
pub const SECOND_TOKEN: &str = "rotated-token-0123456789";
pub const DB_USER: &str = "customdb";
pub const DB_PASSWORD: &str = "customdb-test";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The private MariaDB server of this test process.
pub struct MariaDb {
    dir: tempfile::TempDir,
    pub port: u16,
    /// Extra server options (TLS).
    extra: Vec<String>,
    // Holding its stdin keeps the server alive; when the test process
    // exits, the pipe closes and the wrapper shell stops the server.
    _server: Mutex<Child>,
}

static MARIADB: OnceLock<MariaDb> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

pub fn mariadb() -> &'static MariaDb {
    MARIADB.get_or_init(MariaDb::start)
}

/// A scratch folder for a server's data (about 190 MB), under one parent
/// and named after this process. The shared server lives in a static,
/// which is never dropped, so its folder outlives the test process: each
/// start removes the folders of processes that are gone.
fn scratch_dir() -> tempfile::TempDir {
    let parent = std::env::temp_dir().join("customdb-test-mariadb");
    std::fs::create_dir_all(&parent).expect("a scratch folder");
    for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    tempfile::Builder::new()
        .prefix(&format!("{}-", std::process::id()))
        .tempdir_in(&parent)
        .expect("a scratch folder")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

fn path_with_sbin() -> String {
    format!(
        "{}:/usr/sbin:/usr/local/sbin",
        std::env::var("PATH").unwrap_or_default()
    )
}

impl MariaDb {
    /// A private server of its own, for a test that stops it.
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// A private server started with extra `mariadbd` options.
    pub fn start_with(extra: Vec<String>) -> Self {
        let dir = scratch_dir();
        let data = dir.path().join("data");
        // Its own temporary folder: servers bootstrapped at once in a shared
        // /tmp collide on their temporary tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).expect("a temporary folder");
        // mariadbd needs --user when run as root; it is ignored otherwise.
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let out = Command::new("mariadb-install-db")
            .env("PATH", path_with_sbin())
            .env("TMPDIR", &tmp)
            .args(["--no-defaults", &format!("--datadir={}", data.display())])
            .arg(format!("--tmpdir={}", tmp.display()))
            .arg(format!("--user={user}"))
            .arg("--auth-root-authentication-method=normal")
            .output()
            .expect("mariadb-install-db: install Debian's mariadb-server (tools/test does)");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = Self::spawn_server(dir.path(), port, &extra);
        let db = MariaDb {
            dir,
            port,
            extra,
            _server: Mutex::new(child),
        };
        db.wait_ready();
        for host in ["%", "localhost"] {
            db.sql(
                None,
                &format!(
                    "CREATE USER '{DB_USER}'@'{host}' IDENTIFIED BY '{DB_PASSWORD}'; \
                     GRANT ALL ON *.* TO '{DB_USER}'@'{host}';"
                ),
            );
        }
        db
    }

    fn spawn_server(dir: &Path, port: u16, extra: &[String]) -> Child {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let server = format!(
            "mariadbd --no-defaults --datadir={} --tmpdir={} --socket={} --port={port} --bind-address=127.0.0.1 \
             --user={user} --skip-log-bin --max-connections=500 {} >>{}/server.log 2>&1 & pid=$!; \
             cat >/dev/null; kill $pid; wait $pid",
            dir.join("data").display(),
            dir.join("tmp").display(),
            dir.join("sock").display(),
            extra.join(" "),
            dir.display()
        );
        Command::new("sh")
            .env("PATH", path_with_sbin())
            .args(["-c", &server])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start mariadbd")
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        while self.try_sql(None, "SELECT 1").is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "MariaDB did not start: {}",
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server and waits until it is gone.
    pub fn stop(&self) {
        let mut child = self._server.lock().expect("the server handle");
        drop(child.stdin.take());
        let _ = child.wait();
    }

    /// Starts the stopped server again, on the same port and data.
    pub fn restart(&self) {
        *self._server.lock().expect("the server handle") =
            Self::spawn_server(self.dir.path(), self.port, &self.extra);
        self.wait_ready();
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("sock")
    }

    fn try_sql(&self, database: Option<&str>, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new("mariadb");
        cmd.args([
            "--no-defaults",
            "--default-character-set=utf8mb4",
            "-uroot",
            "-N",
            "-B",
        ])
        .arg(format!("--socket={}", self.socket().display()))
        .args(["-e", sql]);
        if let Some(d) = database {
            cmd.arg(d);
        }
        let out = cmd.output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Runs SQL as root and answers the rows as tab-separated text.
    pub fn sql(&self, database: Option<&str>, sql: &str) -> String {
        self.try_sql(database, sql)
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"))
    }

    /// A new, empty database.
    pub fn create_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::SeqCst)
        );
        self.sql(
            None,
            &format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
        );
        name
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "mysql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{}/{database}",
            self.port
        )
    }
}

/// How a test app is made: the demo scripts and schema unless told
/// otherwise, with scripts added, replaced or removed.
pub struct Builder {
    scripts: Vec<(String, Option<String>)>,
    /// The folder under scripts/ whose `.rhai` files and `schema.sql` are used.
    base: Option<&'static str>,
    connection_toml: String,
    http_toml: String,
}

impl Builder {
    /// Adds or replaces `NAME.rhai`.
    pub fn script(mut self, name: &str, text: &str) -> Self {
        self.scripts.push((name.into(), Some(text.into())));
        self
    }
    /// Removes `NAME.rhai`.
    pub fn without(mut self, name: &str) -> Self {
        self.scripts.push((name.into(), None));
        self
    }
    /// Starts from an empty scripts folder and an empty database.
    pub fn bare(mut self) -> Self {
        self.base = None;
        self
    }
    /// [`Builder::bare`] with only the `login` every connection needs, one
    /// that answers nobody: for tests of the other scripts.
    pub fn bare_with_no_login(self) -> Self {
        self.bare().script("login", "fn login(u, p) { () }")
    }
    /// Starts from `scripts/examples/NAME` and its schema.
    pub fn example(mut self, name: &'static str) -> Self {
        self.base = Some(match name {
            "wordpress" => "scripts/examples/wordpress",
            "django" => "scripts/examples/django",
            "laravel" => "scripts/examples/laravel",
            "salted_sha1" => "scripts/examples/salted_sha1",
            "drupal7" => "scripts/examples/drupal7",
            "magento2" => "scripts/examples/magento2",
            "joomla3" => "scripts/examples/joomla3",
            "ldap" => "scripts/examples/ldap",
            other => panic!("no example {other}"),
        });
        self
    }
    /// Extra keys for the connection's table.
    pub fn connection(mut self, toml: &str) -> Self {
        self.connection_toml.push_str(toml);
        self.connection_toml.push('\n');
        self
    }
    pub fn http(mut self, toml: &str) -> Self {
        self.http_toml.push_str(toml);
        self.http_toml.push('\n');
        self
    }

    /// Writes the scripts and the settings file; the database is made here.
    pub fn prepare(self) -> Prepared {
        let db = mariadb();
        let database = db.create_database();
        let scripts = tempfile::tempdir().expect("a scripts folder");
        if let Some(base) = self.base {
            db.sql(
                Some(&database),
                &std::fs::read_to_string(repo().join(base).join("schema.sql")).expect("schema"),
            );
            for entry in std::fs::read_dir(repo().join(base)).expect("scripts") {
                let path = entry.expect("entry").path();
                if path.extension().is_some_and(|e| e == "rhai") {
                    std::fs::copy(&path, scripts.path().join(path.file_name().expect("name")))
                        .expect("copy");
                }
            }
        }
        for (name, text) in self.scripts {
            let path = scripts.path().join(format!("{name}.rhai"));
            match text {
                Some(t) => std::fs::write(&path, t).expect("write script"),
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        // Cheap hashes unless the test asks for a cost.
        let cost = if self.connection_toml.contains("bcrypt_cost") {
            ""
        } else {
            "bcrypt_cost = 4\n"
        };
        let settings = format!(
            "[http]\nlisten = \"127.0.0.1:0\"\napi_tokens = [\"{TOKEN}\", \"{SECOND_TOKEN}\"]\n{}\n\
             [connections.main]\ndatabase_url = \"{}\"\nscripts_dir = \"{}\"\n{cost}{}",
            self.http_toml,
            db.url(&database),
            scripts.path().display(),
            self.connection_toml
        );
        let config = scripts.path().join("settings.toml");
        std::fs::write(&config, settings).expect("write settings");
        Prepared {
            database,
            scripts,
            config,
        }
    }

    pub async fn spawn(self) -> TestApp {
        self.prepare().spawn().await
    }
}

pub struct Prepared {
    pub database: String,
    pub scripts: tempfile::TempDir,
    pub config: PathBuf,
}

impl Prepared {
    /// The connection's `database_url`.
    pub fn database_url(&self) -> String {
        let text = std::fs::read_to_string(&self.config).expect("settings");
        text.lines()
            .find_map(|l| l.strip_prefix("database_url = "))
            .map(|v| v.trim_matches('"').to_string())
            .expect("a database_url line")
    }

    /// Points the connection at another database URL.
    pub fn set_database_url(&self, url: &str) {
        let text = std::fs::read_to_string(&self.config).expect("settings");
        let changed: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("database_url = ") {
                    format!("database_url = \"{url}\"")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(&self.config, changed.join("\n") + "\n").expect("settings");
    }

    /// Serves the connection's scripts from `dir` instead.
    pub fn set_scripts_dir(&self, dir: &Path) {
        let text = std::fs::read_to_string(&self.config).expect("settings");
        let changed: Vec<String> = text
            .lines()
            .map(|l| {
                if l.starts_with("scripts_dir = ") {
                    format!("scripts_dir = \"{}\"", dir.display())
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(&self.config, changed.join("\n") + "\n").expect("settings");
    }

    /// Moves the connection to a private server of its own (for tests that
    /// stop the store): the same database name, made there with `schema`.
    pub fn on_private_server(&self, schema: &str) -> MariaDb {
        let private = MariaDb::start();
        private.sql(
            None,
            &format!("CREATE DATABASE {} CHARACTER SET utf8mb4", self.database),
        );
        if !schema.is_empty() {
            private.sql(Some(&self.database), schema);
        }
        self.set_database_port(private.port);
        private
    }

    /// The demo's schema, for [`Prepared::on_private_server`].
    pub fn demo_schema() -> String {
        std::fs::read_to_string(repo().join("scripts/demo/schema.sql")).expect("the demo schema")
    }

    /// Points the connection at the same database on another server.
    pub fn set_database_port(&self, port: u16) {
        let url = self.database_url();
        let shared = format!(":{}/", mariadb().port);
        assert!(url.contains(&shared), "{url}");
        self.set_database_url(&url.replace(&shared, &format!(":{port}/")));
    }

    pub async fn spawn(self) -> TestApp {
        let settings = customdb::Settings::load(Some(&self.config)).expect("test settings load");
        let app = customdb::Application::build(settings)
            .await
            .expect("the app builds");
        let addr = app.local_addr();
        tokio::spawn(app.run_until(tokio::sync::watch::channel(0u32).1));
        TestApp {
            addr,
            database: self.database,
            _scripts: self.scripts,
            client: reqwest::Client::new(),
        }
    }
}

/// A running server on its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub database: String,
    _scripts: tempfile::TempDir,
    pub client: reqwest::Client,
}

/// An answer: status, JSON body (Null when there is none) and headers.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Answer {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
    #[track_caller]
    pub fn expect(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status.as_u16(), self.error()),
            (status, error),
            "body: {}",
            self.body
        );
    }
}

pub fn builder() -> Builder {
    Builder {
        scripts: Vec::new(),
        base: Some("scripts/demo"),
        connection_toml: String::new(),
        http_toml: String::new(),
    }
}

impl TestApp {
    /// The demo connection, as tools/demo serves it.
    pub async fn demo() -> TestApp {
        builder().spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            body,
            headers,
        }
    }

    /// POSTs `body` to an action of the connection `main`.
    pub async fn action(&self, action: &str, body: Value) -> Answer {
        self.send(
            self.client
                .post(self.url(&format!("/v1/connections/main/{action}")))
                .bearer_auth(TOKEN)
                .json(&body),
        )
        .await
    }

    /// A login of the connection `main`.
    pub async fn login(&self, username_or_email: &str, password: &str) -> Answer {
        self.action(
            "login",
            serde_json::json!({"username_or_email": username_or_email, "password": password}),
        )
        .await
    }

    pub fn sql(&self, sql: &str) -> String {
        mariadb().sql(Some(&self.database), sql)
    }

    pub fn count(&self, table: &str) -> usize {
        self.sql(&format!("SELECT COUNT(*) FROM {table}"))
            .parse()
            .expect("a count")
    }
}

/// Runs the real binary and collects its standard error.
pub struct Process {
    child: Child,
    log: PathBuf,
    pub addr: SocketAddr,
}

/// Polls `found` every 50 ms until it gives a value, for at most 30 s (a
/// generous bound: a loaded CI machine is slow, and a passing test does not
/// wait for it).
pub fn eventually<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = found() {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// As [`eventually`], in async code.
pub async fn eventually_async<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut found: impl FnMut() -> F,
) -> T {
    let started = Instant::now();
    loop {
        if let Some(v) = found().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what}: not within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Process {
    /// The log, once it holds `needle` (30 s at most).
    pub fn log_with(&self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let last = self.log();
            if last.contains(needle) {
                return last;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the log never held {needle:?}: {last}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Process {
    /// Starts `customdb serve` with `config` and waits for `listening on`.
    pub fn serve(config: &Path, envs: &[(&str, &str)]) -> Process {
        let mut process = Process::start(config, &["serve"], envs);
        let started = Instant::now();
        loop {
            let text = process.log();
            if let Some(rest) = text.split("listening on ").nth(1) {
                let addr = strip_ansi(rest.split_whitespace().next().unwrap_or_default());
                process.addr = addr.parse().expect("an address after `listening on`");
                return process;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no `listening on`: {text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `customdb --config CONFIG ARGS...`; it is killed when dropped.
    pub fn start(config: &Path, args: &[&str], envs: &[(&str, &str)]) -> Process {
        let log = config.with_extension("log");
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_customdb"))
            .args(["--config", &config.display().to_string()])
            .args(args)
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start customdb");
        Process {
            child,
            log,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }

    /// Waits for the process to end by itself; its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if started.elapsed() > Duration::from_secs(30) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// One HTTP/1.1 request over a plain socket, for tests that run the binary
/// outside a Tokio runtime. Answers the whole response text.
pub fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to customdb");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    write!(stream, "{head}\r\n{body}").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    answer
}

/// A POST with the test token; the whole response text.
pub fn raw_post(addr: SocketAddr, path: &str, token: &str, body: &str) -> String {
    raw_request(
        addr,
        "POST",
        path,
        &[("Authorization", &format!("Bearer {token}"))],
        body,
    )
}

/// A test CA and a server certificate for `localhost` and 127.0.0.1 that it
/// signed, made with the openssl command (PEM files in `dir`).
pub struct Certs {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn make_certs(dir: &Path) -> Certs {
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian's openssl package)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    std::fs::write(
        dir.join("leaf.cnf"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .expect("write leaf.cnf");
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=customdb test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "leaf.cnf",
    ]);
    Certs {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    }
}
