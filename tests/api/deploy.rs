//! Running as replicas: the drain on SIGTERM and SIGINT over real sockets,
//! `/readyz?exclude=store`, a rolling restart of three replicas behind a
//! real HAProxy under load, and the files the repository ships.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{builder, eventually, mariadb, raw_post, raw_request, repo, Process, TOKEN};

fn signal(process: &Process, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &process.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn refused(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err()
}

const SLOW_LOGIN: &str =
    "fn login(u, p) { if u == \"slow\" { db::query(\"SELECT SLEEP(2)\"); } #{ id: 1, email: \"a@b.c\" } }";

#[test]
fn sigterm_drains_readiness_first_then_the_listener_then_in_flight_requests() {
    let prepared = builder()
        .bare()
        .script("login", SLOW_LOGIN)
        .http("drain_delay_ms = 3000\ndrain_timeout_ms = 20000")
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    let addr = server.addr;
    let login = |who: &str| {
        raw_post(
            addr,
            "/v1/connections/main/login",
            TOKEN,
            &format!(r#"{{"username_or_email":"{who}","password":"x"}}"#),
        )
    };
    assert!(raw_request(addr, "GET", "/readyz", &[], "").starts_with("HTTP/1.1 200"));
    let in_flight = std::thread::spawn(move || {
        raw_post(
            addr,
            "/v1/connections/main/login",
            TOKEN,
            r#"{"username_or_email":"slow","password":"x"}"#,
        )
    });
    // the slow login holds its connection: it is in flight
    server.log_with("method=POST");
    signal(&server, "TERM");
    // at once: not ready, while everything else is served, with Connection: close
    let ready = eventually("/readyz draining", || {
        let a = raw_request(addr, "GET", "/readyz", &[], "");
        a.starts_with("HTTP/1.1 503").then_some(a)
    });
    assert!(ready.contains(r#"{"status":"draining"}"#), "{ready}");
    let health = raw_request(addr, "GET", "/healthz", &[], "");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.to_lowercase().contains("connection: close"),
        "{health}"
    );
    let a = login("quick");
    assert!(
        a.starts_with("HTTP/1.1 200"),
        "served during the delay: {a}"
    );
    // after the delay: new connections are refused
    eventually("the listener closed", || refused(addr).then_some(()));
    // the request in flight was answered, and the exit is clean
    let answer = in_flight.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(server.wait(), Some(0), "{}", server.log());
    let log = server.log();
    assert!(log.contains("draining"), "{log}");
    assert!(log.contains("every request was answered"), "{log}");
}

#[test]
fn a_second_signal_ends_the_delay_and_sigint_drains_too() {
    let prepared = builder()
        .bare()
        .script("login", SLOW_LOGIN)
        .http("drain_delay_ms = 600000")
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    let addr = server.addr;
    signal(&server, "INT");
    eventually("/readyz draining", || {
        raw_request(addr, "GET", "/readyz", &[], "")
            .starts_with("HTTP/1.1 503")
            .then_some(())
    });
    // still served: the ten-minute delay is running
    assert!(raw_request(addr, "GET", "/healthz", &[], "").starts_with("HTTP/1.1 200"));
    signal(&server, "INT");
    eventually("the listener closed", || refused(addr).then_some(()));
    assert_eq!(server.wait(), Some(0), "{}", server.log());
}

#[test]
fn connections_waiting_in_the_backlog_when_the_listener_closes_are_answered() {
    // The kernel completes a connection's handshake before the server
    // accepts it: closing a listener resets those still waiting, whose
    // clients had sent their requests. Here the process is stopped
    // (SIGSTOP) while five clients connect and send, so all five wait in
    // the backlog; the second signal, which ends the drain's delay, and
    // their readiness then come together.
    let prepared = builder()
        .bare()
        .script("login", SLOW_LOGIN)
        .http("threads = 1\ndrain_delay_ms = 600000")
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    let addr = server.addr;
    signal(&server, "TERM");
    server.log_with("draining");
    signal(&server, "STOP");
    let waiting: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: customdb\r\n\r\n")
                .unwrap();
            s
        })
        .collect();
    signal(&server, "TERM");
    signal(&server, "CONT");
    for mut s in waiting {
        let mut answer = String::new();
        let read = s.read_to_string(&mut answer);
        assert!(
            read.is_ok() && answer.starts_with("HTTP/1.1 200"),
            "{read:?}: {answer:?}\n{}",
            server.log()
        );
    }
    eventually("the listener closed", || refused(addr).then_some(()));
    assert_eq!(server.wait(), Some(0), "{}", server.log());
}

#[test]
fn requests_still_running_at_the_drain_timeout_are_cut_and_the_exit_says_so() {
    let prepared = builder()
        .bare()
        .script(
            "login",
            // busy on the server's CPU, which a client that goes away does
            // not stop (a SLEEP would end at the disconnect)
            "fn login(u, p) { db::query(\"SELECT BENCHMARK(2000000000, MD5('x'))\"); #{ id: 1 } }",
        )
        .connection("script_timeout_ms = 150000\nquery_timeout_ms = 150000")
        .http("drain_delay_ms = 0\ndrain_timeout_ms = 500")
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    let addr = server.addr;
    let client = std::thread::spawn(move || {
        raw_post(
            addr,
            "/v1/connections/main/login",
            TOKEN,
            r#"{"username_or_email":"a","password":"b"}"#,
        )
    });
    eventually("the query running", || {
        (mariadb().sql(
            None,
            &format!(
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{}' AND info LIKE 'SELECT BENCHMARK%'",
                prepared.database
            ),
        ) == "1")
            .then_some(())
    });
    signal(&server, "TERM");
    // at the timeout, not when the minutes-long query ends (`wait` gives up
    // after 30 s): the request is dropped with the process
    assert_eq!(server.wait(), Some(1), "{}", server.log());
    let answer = client.join().unwrap();
    assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    // and its statement does not run on in the store after the process
    let running = format!(
        "FROM information_schema.processlist WHERE db = '{}' AND info LIKE 'SELECT BENCHMARK%'",
        prepared.database
    );
    let gone = std::panic::catch_unwind(|| {
        eventually("the statement killed on the store", || {
            (mariadb().sql(None, &format!("SELECT COUNT(*) {running}")) == "0").then_some(())
        })
    });
    if gone.is_err() {
        // not left burning the shared server's CPU for minutes
        let ids = mariadb().sql(None, &format!("SELECT id {running}"));
        for id in ids.lines() {
            mariadb().sql(None, &format!("KILL {id}"));
        }
        panic!("the statement was left running on the store");
    }
    let log = server.log();
    assert!(log.contains("dropping the requests still running"), "{log}");
    // the warning at start: a drain timeout below a script's time limit
    assert!(log.contains("drain_timeout_ms (500) is below"), "{log}");
}

#[test]
fn an_idle_server_past_a_zero_drain_timeout_exits_0() {
    let prepared = builder()
        .bare()
        .script("login", "fn login(u, p) { #{ id: 1 } }")
        .http("drain_delay_ms = 0\ndrain_timeout_ms = 0")
        .prepare();
    let mut server = Process::serve(&prepared.config, &[]);
    assert!(raw_request(server.addr, "GET", "/healthz", &[], "").starts_with("HTTP/1.1 200"));
    signal(&server, "TERM");
    assert_eq!(server.wait(), Some(0), "{}", server.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_excluding_the_store_stays_ready_through_a_store_outage() {
    let prepared = builder()
        .bare()
        .script("login", "fn login(u, p) { #{ id: 1 } }")
        .prepare();
    let private = prepared.on_private_server("");
    let app = prepared.spawn().await;
    assert_eq!(
        app.send(app.client.get(app.url("/readyz"))).await.status,
        200
    );
    private.stop();
    let plain = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(plain.status, 503);
    assert_eq!(plain.body["connections"]["main"], "store_unreachable");
    let excluded = app
        .send(app.client.get(app.url("/readyz?exclude=store")))
        .await;
    assert_eq!(excluded.status, 200, "{}", excluded.body);
    assert_eq!(excluded.body["status"], "ready");
}

/// An address nobody listens on yet.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request on a fresh connection; the status, or 0 when the
/// connection failed.
fn status_of(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &str) -> u16 {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let method = if body.is_empty() { "GET" } else { "POST" };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    if stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .is_err()
    {
        return 0;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_rolling_restart_behind_haproxy_loses_no_request() {
    let Ok(haproxy) = which("haproxy") else {
        panic!("haproxy is not installed: tools/test installs Debian's package");
    };
    let prepared = builder()
        .connection("[connections.main.pool]\nmax = 4")
        .http("drain_delay_ms = 2500\ndrain_timeout_ms = 20000")
        .prepare();
    let config = std::fs::read_to_string(&prepared.config).unwrap();
    // three replicas, each on a port of its own that it keeps across restarts
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let configs: Vec<std::path::PathBuf> = ports
        .iter()
        .map(|port| {
            let path = prepared.scripts.path().join(format!("replica-{port}.toml"));
            std::fs::write(
                &path,
                config.replace(
                    "listen = \"127.0.0.1:0\"",
                    &format!("listen = \"127.0.0.1:{port}\""),
                ),
            )
            .unwrap();
            path
        })
        .collect();
    let replicas: Vec<Mutex<Process>> = configs
        .iter()
        .map(|c| Mutex::new(Process::serve(c, &[])))
        .collect();

    // HAProxy, as deploy/haproxy/haproxy.cfg sets it up, with faster checks
    let front = free_port();
    let stats = free_port();
    let servers: String = ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            format!("    server r{i} 127.0.0.1:{p} check inter 300 fastinter 200 fall 2 rise 2\n")
        })
        .collect();
    let cfg = format!(
        "global\n    maxconn 256\ndefaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n    retries 3\n    option redispatch\n\
         frontend api\n    bind 127.0.0.1:{front}\n    default_backend customdb\n\
         backend customdb\n    balance leastconn\n    option httpchk GET /readyz?exclude=store\n    http-check expect status 200\n{servers}\
         frontend stats\n    bind 127.0.0.1:{stats}\n    stats enable\n    stats uri /stats\n"
    );
    let cfg_path = prepared.scripts.path().join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut proxy = std::process::Command::new(haproxy)
        .args(["-db", "-f"])
        .arg(&cfg_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stats_addr: SocketAddr = format!("127.0.0.1:{stats}").parse().unwrap();
    let up = || -> usize {
        let Ok(mut stream) = TcpStream::connect_timeout(&stats_addr, Duration::from_secs(1)) else {
            return 0;
        };
        let _ =
            stream.write_all(b"GET /stats;csv HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let mut csv = String::new();
        let _ = stream.read_to_string(&mut csv);
        csv.lines()
            .filter(|l| l.starts_with("customdb,r"))
            .filter(|l| l.split(',').nth(17) == Some("UP"))
            .count()
    };
    eventually("every replica in rotation", || (up() == 3).then_some(()));

    // a steady, bounded load through HAProxy
    let front_addr: SocketAddr = format!("127.0.0.1:{front}").parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                let auth = format!("Bearer {TOKEN}");
                while !stop.load(Ordering::SeqCst) {
                    let status = status_of(
                        front_addr,
                        "/v1/connections/main/get_user",
                        &[("Authorization", &auth)],
                        r#"{"email":"jane.doe@example.com"}"#,
                    );
                    if status == 200 {
                        ok.fetch_add(1, Ordering::SeqCst);
                    } else {
                        failed.lock().unwrap().push(status);
                    }
                }
            })
        })
        .collect();
    // the store's connections from these replicas, sampled all along
    let most = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let (stop, most, db) = (stop.clone(), most.clone(), prepared.database.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let n: usize = mariadb()
                    .sql(
                        None,
                        &format!(
                            "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '{db}'"
                        ),
                    )
                    .parse()
                    .unwrap_or(0);
                most.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    eventually("the load flows", || {
        (ok.load(Ordering::SeqCst) > 20).then_some(())
    });

    for (i, replica) in replicas.iter().enumerate() {
        let mut process = replica.lock().unwrap();
        signal(&process, "TERM");
        assert_eq!(process.wait(), Some(0), "replica {i}: {}", process.log());
        *process = Process::serve(&configs[i], &[]);
        eventually("the replica back in rotation", || (up() == 3).then_some(()));
    }
    let before = ok.load(Ordering::SeqCst);
    eventually("the load flows on", || {
        (ok.load(Ordering::SeqCst) > before + 20).then_some(())
    });
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    sampler.join().unwrap();
    let _ = proxy.kill();
    let _ = proxy.wait();
    let failed = failed.lock().unwrap().clone();
    let served = ok.load(Ordering::SeqCst);
    eprintln!(
        "rolling restart: {served} requests served, {} failed; at most {} store connections",
        failed.len(),
        most.load(Ordering::SeqCst)
    );
    assert!(
        failed.is_empty(),
        "{} of {} failed: {failed:?}",
        failed.len(),
        served + failed.len()
    );
    // the capacity rule: (3 replicas + 1 starting or draining) x (pool.max 4 + 1)
    assert!(
        most.load(Ordering::SeqCst) <= 4 * 5,
        "{}",
        most.load(Ordering::SeqCst)
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ] {
        let p = std::path::Path::new(dir).join(program);
        if p.exists() {
            return Ok(p);
        }
    }
    Err(())
}

#[test]
fn the_shipped_haproxy_example_passes_haproxys_own_check() {
    let haproxy = which("haproxy").expect("tools/test installs haproxy");
    succeeds(
        std::process::Command::new(haproxy)
            .args(["-c", "-f"])
            .arg(repo().join("deploy/haproxy/haproxy.cfg")),
    );
    let cfg = std::fs::read_to_string(repo().join("deploy/haproxy/haproxy.cfg")).unwrap();
    assert!(cfg.contains("/readyz?exclude=store"));
    assert!(cfg.contains("option redispatch"));
    // no request is retried once it reached a replica
    let directives: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(directives
        .iter()
        .filter(|l| l.starts_with("retry-on"))
        .all(|l| l.split_whitespace().skip(1).all(|w| w == "conn-failure")));
    assert!(directives
        .iter()
        .any(|l| l.starts_with("option httpchk") || l.starts_with("http-check send")));
}

#[test]
fn the_kubernetes_manifests_parse_and_hold_the_probes_grace_period_and_budget() {
    succeeds(
        std::process::Command::new("/usr/bin/python3")
            .arg(repo().join("deploy/kubernetes/check.py"))
            .arg(repo().join("deploy/kubernetes")),
    );
}

/// Runs a checker; its output is the failure message.
fn succeeds(command: &mut std::process::Command) {
    let out = command.output().expect("the checker runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_second_server_on_a_port_in_use_is_refused_not_given_half_the_traffic() {
    let prepared = builder()
        .bare()
        .script("login", "fn login(u, p) { #{ id: 1 } }")
        .prepare();
    let first = Process::serve(&prepared.config, &[]);
    let config = std::fs::read_to_string(&prepared.config).unwrap();
    assert!(config.contains("listen = \"127.0.0.1:0\""), "{config}");
    let dir = tempfile::tempdir().unwrap();
    let second_config = dir.path().join("second.toml");
    std::fs::write(
        &second_config,
        config.replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{}\"", first.addr),
        ),
    )
    .unwrap();
    let mut second = Process::start(&second_config, &["serve"], &[]);
    assert_eq!(second.wait(), Some(2), "{}", second.log());
    assert!(
        second
            .log()
            .contains(&format!("cannot listen on {}", first.addr)),
        "{}",
        second.log()
    );
    // the first one goes on serving alone
    assert!(raw_request(first.addr, "GET", "/healthz", &[], "").starts_with("HTTP/1.1 200"));
}

#[test]
fn the_binary_links_only_what_the_runtime_image_has() {
    // gcr.io/distroless/cc-debian12 holds glibc and libgcc, not zlib or
    // OpenSSL: the binary must need nothing else
    let readelf = which("readelf").expect("binutils, which the Rust toolchain links with");
    let out = std::process::Command::new(readelf)
        .arg("-d")
        .arg(env!("CARGO_BIN_EXE_customdb"))
        .output()
        .expect("readelf runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(needed.contains(&"libc.so.6"), "{text}");
    let glibc_or_libgcc = |lib: &&str| {
        [
            "libc.so",
            "libm.so",
            "libgcc_s.so",
            "ld-linux",
            "libdl.so",
            "libpthread.so",
            "librt.so",
        ]
        .iter()
        .any(|known| lib.starts_with(known))
    };
    assert!(needed.iter().all(glibc_or_libgcc), "{needed:?}");
}

#[test]
fn a_signal_while_the_scripts_load_ends_the_start_before_anything_is_served() {
    // 12,000 functions take Rhai about a second to compile (its parser's
    // time grows with the square of their number): the signal, sent once
    // the start says it is loading, comes while it loads
    let mut big: String = (0..12_000)
        .map(|i| format!("fn helper_{i}(x) {{ x + {i} }}\n"))
        .collect();
    big.push_str("fn login(u, p) { throw WrongUsernameOrPasswordError(u); }\n");
    let prepared = builder().bare().script("login", &big).prepare();
    let mut server = Process::start(&prepared.config, &["serve"], &[]);
    server.log_with("loading the scripts");
    signal(&server, "TERM");
    assert_eq!(server.wait(), Some(0), "{}", server.log());
    let log = server.log();
    assert!(
        log.contains("a signal came while the scripts loaded: not serving"),
        "{log}"
    );
    assert!(!log.contains("listening on"), "{log}");
}

#[test]
fn the_kubernetes_configmap_holds_the_demo_scripts_as_they_are() {
    // configmap.yaml carries a copy of scripts/demo: a change to one must
    // reach the other
    let configmap =
        std::fs::read_to_string(repo().join("deploy/kubernetes/configmap.yaml")).unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("scripts/demo")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rhai") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let block: String = text
            .lines()
            .map(|l| {
                if l.is_empty() {
                    "\n".to_string()
                } else {
                    format!("    {l}\n")
                }
            })
            .collect();
        assert!(
            configmap.contains(&format!("  {name}: |\n{block}")),
            "deploy/kubernetes/configmap.yaml's {name} is not scripts/demo/{name}"
        );
        seen += 1;
    }
    assert!(seen >= 8, "{seen}");
}
