//! Prometheus metrics of one application: requests by connection, action and
//! status; script and query durations; and, read at each scrape, scripts
//! running and waiting and store connections in use. A registry per
//! application (not a process-wide recorder), so that each can be read alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::connection::{Connection, Timings};

/// Upper bounds of the duration buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if s <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += s;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Figures {
    requests: BTreeMap<(String, String, u16), u64>,
    scripts: BTreeMap<(String, String), Histogram>,
    queries: BTreeMap<String, Histogram>,
}

/// A gauge read from a connection at each scrape: name, help, value.
type Gauge = (&'static str, &'static str, fn(&Connection) -> usize);

#[derive(Debug, Default)]
pub struct Metrics {
    figures: Mutex<Figures>,
}

impl Metrics {
    /// Counts one answered action request, and how long its script and
    /// queries took (when a script ran).
    pub fn record(&self, connection: &str, action: &str, status: u16, timings: Option<&Timings>) {
        let mut f = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        *f.requests
            .entry((connection.into(), action.into(), status))
            .or_default() += 1;
        if let Some(t) = timings.filter(|t| !t.script.is_zero()) {
            f.scripts
                .entry((connection.into(), action.into()))
                .or_default()
                .observe(t.script);
            let queries = f.queries.entry(connection.into()).or_default();
            for took in &t.queries {
                queries.observe(*took);
            }
        }
    }

    /// The Prometheus text exposition.
    pub fn render<'a>(
        &self,
        connections: impl Iterator<Item = &'a std::sync::Arc<Connection>>,
    ) -> String {
        let f = self.figures.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP customdb_requests_total Action requests answered, by connection, action and status.\n");
        out.push_str("# TYPE customdb_requests_total counter\n");
        for ((c, a, s), n) in &f.requests {
            let _ = writeln!(
                out,
                "customdb_requests_total{{connection=\"{c}\",action=\"{a}\",status=\"{s}\"}} {n}"
            );
        }
        out.push_str("# HELP customdb_script_duration_seconds Time of one action's script call, queries included.\n");
        out.push_str("# TYPE customdb_script_duration_seconds histogram\n");
        for ((c, a), h) in &f.scripts {
            h.render(
                &mut out,
                "customdb_script_duration_seconds",
                &format!("connection=\"{c}\",action=\"{a}\""),
            );
        }
        out.push_str(
            "# HELP customdb_query_duration_seconds Time of the statements scripts ran.\n",
        );
        out.push_str("# TYPE customdb_query_duration_seconds histogram\n");
        for (c, h) in &f.queries {
            h.render(
                &mut out,
                "customdb_query_duration_seconds",
                &format!("connection=\"{c}\""),
            );
        }
        let gauges: [Gauge; 5] = [
            ("customdb_scripts_running", "Scripts running now.", |c| {
                c.running()
            }),
            (
                "customdb_scripts_waiting",
                "Scripts waiting for a slot.",
                |c| c.waiting(),
            ),
            (
                "customdb_scripts_slots",
                "Scripts that may run at once (max_concurrent_scripts).",
                |c| c.settings.tunables.concurrent_scripts(),
            ),
            (
                "customdb_pool_connections_in_use",
                "Store connections held by scripts.",
                |c| c.in_use(),
            ),
            (
                "customdb_pool_connections_max",
                "The most store connections the pools may hold (pool.max, or one per runtime thread when there are more threads).",
                |c| c.pool_max(),
            ),
        ];
        let connections: Vec<_> = connections.collect();
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
            for c in &connections {
                let _ = writeln!(out, "{name}{{connection=\"{}\"}} {}", c.name(), value(c));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_statement_is_observed_at_its_own_duration() {
        let metrics = Metrics::default();
        let timings = Timings {
            script: Duration::from_secs(4),
            queries: vec![Duration::from_micros(500), Duration::from_secs(3)],
        };
        metrics.record("main", "login", 200, Some(&timings));
        let f = metrics.figures.lock().unwrap();
        let h = &f.queries["main"];
        assert_eq!(h.count, 2);
        // one at or under 1 ms, the other only under 5 s
        assert_eq!(h.counts[0], 1, "le=0.001");
        assert_eq!(h.counts[BUCKETS.len() - 4], 1, "le=2.5");
        assert_eq!(h.counts[BUCKETS.len() - 3], 2, "le=5");
        assert!((h.sum - 3.0005).abs() < 1e-9, "{}", h.sum);
    }
}
