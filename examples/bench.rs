//! The benchmark harness that `tools/bench` runs: it starts customdb and the
//! hand-written baseline (examples/baseline.rs) on the same store, drives
//! both with the same load at fixed concurrency, alternating between them,
//! and prints a table of figures.
//!
//! `bench CUSTOMDB_BIN BASELINE_BIN CONFIG DATABASE_URL TOKEN SECONDS`

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

const USERS: u32 = 100_000;
/// The seeded users' passwords: odd ids have A, even ids B (tools/bench).
const PASSWORD_A: &str = "bench-password-a";
const PASSWORD_B: &str = "bench-password-b";
const POOL_MAX: &str = "20";

struct Server {
    name: &'static str,
    child: Child,
    base: String,
    startup: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(name: &'static str, cmd: &mut Command) -> Server {
    let log = std::env::temp_dir().join(format!("bench-{name}-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).expect("a log file");
    let started = Instant::now();
    // Killed on drop, whatever happens next.
    let mut server = Server {
        name,
        child: cmd
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start the server"),
        base: String::new(),
        startup: Duration::ZERO,
    };
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(rest) = text.split("listening on ").nth(1) {
            let addr = rest.split_whitespace().next().unwrap_or_default();
            server.base = format!("http://{addr}");
            server.startup = started.elapsed();
            return server;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} did not start: {text}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Peak resident memory of a process, in KiB (VmHWM).
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    GetUser,
    /// The second read shape: two queries and the JSON columns.
    Shape,
    Login,
    /// A script that loops until its time limit (customdb only).
    Spin,
}

/// The path (connection and action) and body of a random request.
fn body(kind: Kind) -> (&'static str, serde_json::Value) {
    let n = rand::random::<u32>() % USERS + 1;
    match kind {
        Kind::GetUser => (
            "demo/get_user",
            json!({ "email": format!("user{n}@example.com") }),
        ),
        Kind::Shape => (
            "shape/get_user",
            json!({ "email": format!("user{n}@example.com") }),
        ),
        Kind::Spin => (
            "spin/login",
            json!({ "username_or_email": "x", "password": "x" }),
        ),
        Kind::Login => {
            let password = if n % 2 == 1 { PASSWORD_A } else { PASSWORD_B };
            (
                "demo/login",
                json!({ "username_or_email": format!("user{n}"), "password": password }),
            )
        }
    }
}

/// A process's CPU time (all threads, user and system) and context
/// switches (summed over its threads now alive), from /proc.
fn usage(pid: u32) -> (Duration, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // USER_HZ is 100 on Linux.
    let cpu = Duration::from_millis(ticks * 10);
    let mut switches = 0;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            switches += status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1))
                .filter_map(|v| v.parse::<u64>().ok())
                .sum::<u64>();
        }
    }
    (cpu, switches)
}

#[derive(Default)]
struct Run {
    done: u64,
    failed: u64,
    latencies_us: Vec<u64>,
    seconds: f64,
    /// The server's CPU time and context switches during the run.
    cpu: Duration,
    switches: u64,
}

/// `concurrency` clients, each with its own keep-alive connection, sending
/// requests back to back for `seconds`.
async fn drive(base: &str, token: &str, kind: Kind, concurrency: usize, seconds: f64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (stop, base, token) = (stop.clone(), base.to_string(), token.to_string());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut run = Run::default();
            while !stop.load(Ordering::Relaxed) {
                let (path, body) = body(kind);
                let started = Instant::now();
                let answer = client
                    .post(format!("{base}/v1/connections/{path}"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await;
                let ok = match answer {
                    Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                run.latencies_us.push(started.elapsed().as_micros() as u64);
                if ok {
                    run.done += 1;
                } else {
                    run.failed += 1;
                }
            }
            run
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Run {
        seconds,
        ..Run::default()
    };
    for w in workers {
        let r = w.await.expect("a worker");
        all.done += r.done;
        all.failed += r.failed;
        all.latencies_us.extend(r.latencies_us);
    }
    all
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

struct Figure {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
    cpu_us: f64,
    switches: f64,
}

fn figure(runs: &[Run]) -> Figure {
    let mut lat: Vec<u64> = runs
        .iter()
        .flat_map(|r| r.latencies_us.iter().copied())
        .collect();
    lat.sort_unstable();
    let seconds: f64 = runs.iter().map(|r| r.seconds).sum();
    let requests = runs.iter().map(|r| r.done + r.failed).sum::<u64>().max(1) as f64;
    Figure {
        cpu_us: runs.iter().map(|r| r.cpu).sum::<Duration>().as_secs_f64() * 1e6 / requests,
        switches: runs.iter().map(|r| r.switches).sum::<u64>() as f64 / requests,
        rps: runs.iter().map(|r| r.done).sum::<u64>() as f64 / seconds,
        p50_ms: percentile(&lat, 0.5),
        p99_ms: percentile(&lat, 0.99),
        failed: runs.iter().map(|r| r.failed).sum(),
    }
}

/// The median times of `n` logins of each of `bodies`, taken in turns (so
/// that a machine slowing down weighs on each alike), each answered 401.
async fn medians_401_ms(
    base: &str,
    token: &str,
    bodies: &[serde_json::Value],
    n: usize,
) -> Vec<f64> {
    let client = reqwest::Client::new();
    let mut lat: Vec<Vec<u64>> = bodies.iter().map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        for (body, times) in bodies.iter().zip(&mut lat) {
            let started = Instant::now();
            let r = client
                .post(format!("{base}/v1/connections/demo/login"))
                .bearer_auth(token)
                .json(body)
                .send()
                .await
                .expect("an answer");
            assert_eq!(r.status(), 401, "a login meant to fail");
            let _ = r.bytes().await;
            times.push(started.elapsed().as_micros() as u64);
        }
    }
    lat.into_iter()
        .map(|mut times| {
            times.sort_unstable();
            percentile(&times, 0.5)
        })
        .collect()
}

/// `/healthz` latencies, one probe every 10 ms, while `load` runs.
async fn probe_healthz(base: &str, until: Arc<AtomicBool>) -> Vec<u64> {
    // A fresh connection each time, so that the probes reach every thread.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let mut out = Vec::new();
    while !until.load(Ordering::Relaxed) {
        let started = Instant::now();
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await {
            let _ = r.bytes().await;
            out.push(started.elapsed().as_micros() as u64);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.sort_unstable();
    out
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, customdb_bin, baseline_bin, config, url, token, seconds] = &args[..] else {
        eprintln!("usage: bench CUSTOMDB_BIN BASELINE_BIN CONFIG DATABASE_URL TOKEN SECONDS");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The machine's bound for logins: cores / one bcrypt cost-10 verify.
    let hash = bcrypt::hash(PASSWORD_A, 10).expect("a hash");
    let started = Instant::now();
    for _ in 0..10 {
        assert!(bcrypt::verify(PASSWORD_A, &hash).expect("verify"));
    }
    let verify = started.elapsed() / 10;
    let bound = cores as f64 / verify.as_secs_f64();

    // At its default log level, as operators run it: the access line of
    // each request is part of what customdb costs. BENCH_LOG sets another
    // filter, to see what the logging costs (keep `customdb::startup=info`:
    // the harness waits for its `listening on` line).
    let mut command = Command::new(customdb_bin);
    command.args(["--config", config, "serve"]);
    match std::env::var("BENCH_LOG") {
        Ok(filter) => command.env("RUST_LOG", filter),
        Err(_) => command.env_remove("RUST_LOG"),
    };
    let customdb = start("customdb", &mut command);
    let baseline = start(
        "baseline",
        Command::new(baseline_bin).args(["127.0.0.1:0", url, token, POOL_MAX]),
    );
    // BENCH_ONLY=customdb or =baseline drives one server (for profiling).
    let only = std::env::var("BENCH_ONLY").ok();
    let servers: Vec<&Server> = [&customdb, &baseline]
        .into_iter()
        .filter(|s| only.as_deref().is_none_or(|o| o == s.name))
        .collect();
    eprintln!(
        "customdb on {}, baseline on {}",
        customdb.base, baseline.base
    );

    println!("| figure | customdb | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    for (kind, label, target_rps, target_p99) in [
        (Kind::GetUser, "get_user", 0.9, 1.2),
        (Kind::Shape, "two queries + JSON", 0.9, 1.2),
        (Kind::Login, "login (bcrypt cost 10)", 0.97, f64::NAN),
    ] {
        for concurrency in [1, 16, 64] {
            let mut runs: Vec<Vec<Run>> = servers.iter().map(|_| Vec::new()).collect();
            for _round in 0..2 {
                for (i, s) in servers.iter().enumerate() {
                    drive(&s.base, token, kind, concurrency, 0.5).await; // warm-up
                    let before = usage(s.child.id());
                    let mut run = drive(&s.base, token, kind, concurrency, seconds).await;
                    let after = usage(s.child.id());
                    run.cpu = after.0.saturating_sub(before.0);
                    run.switches = after.1.saturating_sub(before.1);
                    runs[i].push(run);
                }
            }
            let (c, b) = (figure(&runs[0]), figure(runs.last().expect("a server")));
            let fail = if c.failed + b.failed > 0 {
                format!(" ({} / {} failed)", c.failed, b.failed)
            } else {
                String::new()
            };
            println!(
                "| {label}, c={concurrency}: requests/s{fail} | {:.0} | {:.0} | {:.2} | ≥ {target_rps:.2} |",
                c.rps,
                b.rps,
                c.rps / b.rps
            );
            println!(
                "| {label}, c={concurrency}: p50 / p99 ms | {:.2} / {:.2} | {:.2} / {:.2} | p99 {:.2} | {} |",
                c.p50_ms,
                c.p99_ms,
                b.p50_ms,
                b.p99_ms,
                c.p99_ms / b.p99_ms,
                if target_p99.is_nan() { "—".to_string() } else { format!("p99 ≤ {target_p99:.1}×") }
            );
            println!(
                "| {label}, c={concurrency}: server CPU µs / context switches per request | {:.0} / {:.1} | {:.0} / {:.1} | CPU {:.2} | {} |",
                c.cpu_us,
                c.switches,
                b.cpu_us,
                b.switches,
                c.cpu_us / b.cpu_us,
                if target_p99.is_nan() { "—" } else { "CPU ≤ 1.15×" }
            );
        }
    }
    println!(
        "| login bound: {cores} cores / {:.1} ms per bcrypt-10 verify | {bound:.0} requests/s | | | |",
        verify.as_secs_f64() * 1000.0
    );

    // An unknown user must cost what a wrong password costs (a dummy verify).
    let medians = medians_401_ms(
        &customdb.base,
        token,
        &[
            json!({ "username_or_email": "nobody@example.com", "password": PASSWORD_A }),
            json!({ "username_or_email": "user1", "password": "not-the-password" }),
        ],
        20,
    )
    .await;
    let (unknown, wrong) = (medians[0], medians[1]);
    println!(
        "| login 401 median, c=1, in turns: unknown user / wrong password (customdb) | {unknown:.1} / {wrong:.1} ms | | {:.2} | ≈ 1 |",
        unknown / wrong
    );

    for s in &servers {
        let stop = Arc::new(AtomicBool::new(false));
        let probe = {
            let (base, stop) = (s.base.clone(), stop.clone());
            tokio::spawn(async move { probe_healthz(&base, stop).await })
        };
        let load = drive(&s.base, token, Kind::Login, 64, seconds).await;
        stop.store(true, Ordering::SeqCst);
        let lat = probe.await.expect("the probe");
        println!(
            "| /healthz p99 while logins (c=64, {:.0}/s) saturate the CPU: {} | {:.2} ms | | | < 10 ms |",
            figure(&[load]).rps,
            s.name,
            percentile(&lat, 0.99)
        );
    }
    // customdb only: looping scripts hold every slot of the `spin`
    // connection (4), each until its 2 s limit, for the whole measurement.
    {
        let stop = Arc::new(AtomicBool::new(false));
        let probe = {
            let (base, stop) = (customdb.base.clone(), stop.clone());
            tokio::spawn(async move { probe_healthz(&base, stop).await })
        };
        drive(&customdb.base, token, Kind::Spin, 4, seconds.max(3.0)).await;
        stop.store(true, Ordering::SeqCst);
        let lat = probe.await.expect("the probe");
        println!(
            "| /healthz p99 while looping scripts hold every slot: customdb | {:.2} ms | | | < 10 ms |",
            percentile(&lat, 0.99)
        );
    }
    println!(
        "| peak resident memory (VmHWM) after all runs | {:.1} MiB | {:.1} MiB | {:.2} | < 64 MiB |",
        peak_kib(customdb.child.id()) as f64 / 1024.0,
        peak_kib(baseline.child.id()) as f64 / 1024.0,
        peak_kib(customdb.child.id()) as f64 / peak_kib(baseline.child.id()).max(1) as f64
    );
    println!(
        "| start-up to `listening on` | {:.0} ms | {:.0} ms | | |",
        customdb.startup.as_secs_f64() * 1000.0,
        baseline.startup.as_secs_f64() * 1000.0
    );
}
