//! The sandbox: one Rhai engine per connection, every limit Rhai has set
//! from the settings (operations, call depth, string, array and map sizes,
//! modules), `eval` disabled, the deadline and the thread's turn checked as
//! the script runs, `print` and `debug` into the log, masked, and the host
//! functions registered.

use std::sync::Arc;

use rhai::{Dynamic, Engine, Module};

use super::resolver::{ScriptsResolver, SharedResolver};
use super::{api, call, fiber};
use crate::settings::ConnectionSettings;

/// How often (in operations) the deadline and the turn are looked at.
const DEADLINE_CHECK_EVERY: u64 = 64;

pub(super) fn build_engine(
    settings: &ConnectionSettings,
    resolver: Arc<ScriptsResolver>,
) -> Engine {
    let t = &settings.tunables;
    let mut engine = Engine::new();
    // Rhai's defaults are unlimited (or low in debug builds): set each one.
    engine.set_max_operations(t.max_operations);
    engine.set_max_call_levels(t.max_call_depth);
    engine.set_max_expr_depths(64, 64);
    engine.set_max_string_size(t.max_string_bytes);
    engine.set_max_array_size(t.max_array_items);
    engine.set_max_map_size(t.max_map_entries);
    engine.set_max_modules(t.max_modules);
    engine.disable_symbol("eval");
    // A blob's bytes iterate as integers, which arithmetic takes (Rhai's own
    // iterator yields a byte type that `+` refuses); indexing already does.
    let mut blobs = Module::new();
    blobs.set_iter(std::any::TypeId::of::<rhai::Blob>(), |blob| {
        Box::new(
            blob.cast::<rhai::Blob>()
                .into_iter()
                .map(|b| Dynamic::from_int(b.into())),
        )
    });
    engine.register_global_module(blobs.into());
    engine.set_module_resolver(SharedResolver(resolver));
    engine.on_progress(|ops| {
        if ops % DEADLINE_CHECK_EVERY != 0 {
            return None;
        }
        if call::past_deadline() {
            return Some("deadline".into());
        }
        // A script busy on the CPU shares its thread: after a turn, the
        // thread's other requests (and `/healthz`) get theirs.
        if fiber::should_yield() && fiber::yield_now().is_err() {
            return Some("cancelled".into());
        }
        None
    });
    engine.on_print(|text| {
        tracing::info!(target: "customdb::script", "{}", call::mask(text));
    });
    engine.on_debug(|text, source, pos| {
        let place = format!(
            "{}:{}",
            source.unwrap_or("?"),
            pos.line().map_or_else(|| "?".into(), |l| l.to_string())
        );
        tracing::info!(target: "customdb::script", at = %place, "{}", call::mask(text));
    });
    api::register(&mut engine, settings.hash_policy(), &settings.configuration);
    engine
}
