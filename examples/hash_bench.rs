//! Times customdb's verify of hashes at each format's default cost, next to
//! the time of the software that wrote them (measured by
//! benches/hashes.py, which writes the TSV this reads). tools/bench-hashes
//! runs both; BENCHMARKS.md keeps a run.
//!     hash_bench FILE.tsv

use std::time::Instant;

use customdb::password;

const RUNS: usize = 5;

fn verdict(how: &str, plain: &str, stored: &str, extra: &str) -> Result<bool, password::HashError> {
    match how {
        "verify" => password::verify(plain, stored),
        "keycloak" => {
            let secret = serde_json::from_str(stored).unwrap_or_default();
            let credential = serde_json::from_str(extra).unwrap_or_default();
            password::verify_keycloak(plain, &secret, &credential)
        }
        other => password::verify_as(other.trim_start_matches("verify_as:"), plain, stored),
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: hash_bench FILE.tsv");
    let text = std::fs::read_to_string(&path).expect("the TSV of benches/hashes.py");
    println!("| format (default cost) | customdb ms | reference | reference ms | ratio |");
    println!("|---|---|---|---|---|");
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [label, how, plain, stored, extra, reference, reference_ms] = f[..] else {
            panic!("a line of 7 fields: {line}");
        };
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let started = Instant::now();
            let ok = verdict(how, plain, stored, extra);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(ok, Ok(true), "{label}");
        }
        times.sort_by(f64::total_cmp);
        let ours = times[RUNS / 2];
        let theirs: f64 = reference_ms.parse().expect("a time");
        let ratio = if theirs > 0.05 {
            format!("{:.2}", ours / theirs)
        } else {
            "—".to_string()
        };
        println!("| {label} | {ours:.2} | {reference} | {theirs:.2} | {ratio} |");
    }
}
