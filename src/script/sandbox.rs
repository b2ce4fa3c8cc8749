//! The sandbox: one Rhai engine per connection, every limit Rhai has set
//! from the settings (operations, call depth, string, array and map sizes,
//! modules), `eval` disabled, the deadline and the thread's turn checked as
//! the script runs, `print` and `debug` into the log, masked, and the host
//! functions registered.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, Module, NativeCallContext, Position};

use super::resolver::{ScriptsResolver, SharedResolver};
use super::{api, call, fiber};
use crate::settings::ConnectionSettings;

/// How often (in operations) the deadline and the turn are looked at.
const DEADLINE_CHECK_EVERY: u64 = 64;

thread_local! {
    /// Reads of variables holding a map or an array, on this thread: every
    /// 256th counts all the entries inside (see `build_engine`).
    static MAP_READS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The entries of every map in `value`, down to 64 levels, counted until
/// they pass `limit` (no copy is made: each level borrows its map).
fn map_entries(value: &Dynamic, limit: usize) -> usize {
    fn count(value: &Dynamic, limit: usize, depth: usize, total: &mut usize) {
        if depth > 64 || *total > limit {
            return;
        }
        if let Some(map) = value.read_lock::<rhai::Map>() {
            *total += map.len();
            for v in map.values().filter(|v| v.is_map() || v.is_array()) {
                count(v, limit, depth + 1, total);
            }
        } else if let Some(items) = value.read_lock::<Array>() {
            for v in items.iter().filter(|v| v.is_map() || v.is_array()) {
                count(v, limit, depth + 1, total);
            }
        }
    }
    let mut total = 0;
    count(value, limit, 0, &mut total);
    total
}

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
    // Rhai checks a map's size when it is passed or returned, but not when
    // `m[key] = value` adds a key: a loop of those grows a map past the
    // limit unchecked. Each read of a variable holding a map checks it, so
    // such a loop fails at its next turn (one entry over at most).
    let max_map = t.max_map_entries;
    // `on_var` is marked deprecated as "volatile": its signature may change.
    #[allow(deprecated)]
    engine.on_var(move |name, index, context| {
        let scope = context.scope();
        let value = if index > 0 {
            scope
                .iter_raw()
                .nth(scope.len() - index)
                .map(|(_, _, value)| value)
        } else {
            scope.get(name)
        };
        let Some(value) = value.filter(|v| v.is_map() || v.is_array()) else {
            return Ok(None);
        };
        let direct = value.read_lock::<rhai::Map>().map_or(0, |m| m.len());
        // A map inside another (`o.inner[key] = value`) grows too: every
        // 256th read of a map or array, all it holds is counted, as Rhai
        // counts a value it is handed (so such a loop is stopped at most
        // 256 entries past the limit).
        let deep = || {
            MAP_READS.with(|n| {
                n.set(n.get().wrapping_add(1));
                n.get() % 256 == 0
            }) && map_entries(value, max_map) > max_map
        };
        if direct > max_map || deep() {
            return Err(EvalAltResult::ErrorDataTooLarge(
                "Size of object map".into(),
                Position::NONE,
            )
            .into());
        }
        Ok(None)
    });
    // 0 forbids `import`; otherwise the resolver counts distinct modules
    // (Rhai's own count is of import statements run).
    engine.set_max_modules(if t.max_modules == 0 { 0 } else { usize::MAX });
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
    engine.register_fn("map", map_array);
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
        tracing::info!(target: "customdb::script", "{}", crate::telemetry::OneLine(call::script_output(text)));
    });
    engine.on_debug(|text, source, pos| {
        let place = format!(
            "{}:{}",
            source.unwrap_or("?"),
            pos.line().map_or_else(|| "?".into(), |l| l.to_string())
        );
        tracing::info!(target: "customdb::script", at = %place, "{}", crate::telemetry::OneLine(call::script_output(text)));
    });
    api::register(&mut engine, settings.hash_policy(), &settings.configuration);
    engine
}

/// `array.map(f)`, as Rhai's own: `f` called with each element, as its
/// argument, as `this`, or with its index too. Rhai tries `this` first, so
/// a closure of one parameter, the common case (`rows.map(|row| ...)`),
/// first fails with an error made and thrown away for every element, about
/// 5,000 instructions each. An anonymous function has a single arity, so
/// for one the element is tried as the argument first, which gives the same
/// result; named functions, which may have several, keep Rhai's order. (A
/// closure of no parameters, using `this`, now pays the failed try instead.)
fn map_array(
    ctx: NativeCallContext,
    array: &mut Array,
    f: FnPtr,
) -> Result<Array, Box<EvalAltResult>> {
    #[cfg(test)]
    MAPPED.with(|m| m.set(m.get() + 1));
    let mut mapped = Array::with_capacity(array.len());
    for (i, item) in array.iter_mut().enumerate() {
        let value = call_with_element(&ctx, &f, item, i).map_err(|e| {
            Box::new(EvalAltResult::ErrorInFunctionCall(
                "map".into(),
                ctx.call_source().unwrap_or("").into(),
                e,
                Position::NONE,
            ))
        })?;
        mapped.push(value);
    }
    Ok(mapped)
}

#[cfg(test)]
thread_local! {
    /// Calls of [`map_array`] on this thread, for the test that the
    /// sandbox's engine picks it over Rhai's own.
    static MAPPED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn call_with_element(
    ctx: &NativeCallContext,
    f: &FnPtr,
    item: &mut Dynamic,
    index: usize,
) -> Result<Dynamic, Box<EvalAltResult>> {
    // Only "no such function" moves on to the next form, as in Rhai.
    let not_found = |e: &EvalAltResult| matches!(e, EvalAltResult::ErrorFunctionNotFound(sig, _) if sig.starts_with(f.fn_name()));
    if f.is_anonymous() {
        match f.call_raw(ctx, None, [item.clone()]) {
            Err(e) if not_found(&e) => {}
            done => return done,
        }
    }
    match f.call_raw(ctx, Some(item), []) {
        Err(e) if not_found(&e) => {}
        done => return done,
    }
    if !f.is_anonymous() {
        match f.call_raw(ctx, None, [item.clone()]) {
            Err(e) if not_found(&e) => {}
            done => return done,
        }
    }
    let index = Dynamic::from_int(index.try_into().unwrap_or(rhai::INT::MAX));
    f.call_raw(ctx, None, [item.clone(), index])
}

#[cfg(test)]
mod tests {
    use rhai::Engine;

    /// Ours (registered as `mpz`, beside Rhai's own `map`, so that both
    /// surely run; a name as long, so that positions match) gives the same
    /// values and errors as Rhai's `map`.
    #[test]
    fn map_is_rhais_map() {
        let mut engine = Engine::new();
        engine.set_max_array_size(5);
        engine.register_fn("mpz", super::map_array);
        for script in [
            "[1, 2, 3].map(|v| v * 2)",
            "[1, 2, 3].map(|v, i| v * i)",
            "[1, 2, 3].map(|| this * 10)",
            "let k = 5; [1, 2, 3].map(|v| v + k)",
            "let k = 5; [1, 2, 3].map(|v, i| v + k * i)",
            "let k = 5; [1, 2].map(|| this + k)",
            "fn double(x) { x * 2 } [1, 2, 3].map(Fn(\"double\"))",
            "fn pair(x, i) { [x, i] } [1, 2].map(Fn(\"pair\"))",
            "fn me() { this + 1 } [1, 2].map(Fn(\"me\"))",
            "fn both() { this } fn both(x) { -x } [1, 2].map(Fn(\"both\"))",
            "const A = [1, 2]; A.map(|v| v + 1)",
            "let a = [#{ n: 1 }, #{ n: 2 }]; let b = a.map(|m| { m.n += 1; m }); [a, b]",
            "[].map(|v| v)",
            "[1, 2].map(|v| nope(v))",
            "[1, 2].map(|v| { throw `bad ${v}` })",
            "[1].map(|| throw \"x\")",
            "[1, 2].map(|a, b, c| a)",
            "fn f(a, b, c) { a } [1].map(Fn(\"f\"))",
            "[1, 2].map(|v| [v, v, v])",
        ] {
            let theirs = run(&engine, script);
            let ours = run(&engine, &script.replace(".map(", ".mpz("));
            assert_eq!(ours, theirs, "{script}");
        }
    }

    /// A script's value or error as text, the script named `listed.rhai`
    /// so that errors carry a source.
    fn run(engine: &Engine, script: &str) -> String {
        let mut ast = engine.compile(script).expect(script);
        ast.set_source("listed.rhai");
        match engine.eval_ast::<rhai::Dynamic>(&ast) {
            Ok(v) => format!("ok {v}"),
            Err(e) => format!("err {}", e.to_string().replace("mpz", "map")),
        }
    }

    /// The sandbox's engine calls ours for `map`, not Rhai's.
    #[test]
    fn the_sandbox_maps_with_ours() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("customdb.toml");
        std::fs::write(
            &config,
            format!(
                "[http]\napi_tokens = [\"0123456789abcdef\"]\n[connections.legacy]\n\
                 database_url = \"mysql://app:pw@127.0.0.1:3306/legacy\"\nscripts_dir = {:?}\n",
                dir.path()
            ),
        )
        .unwrap();
        let settings = crate::settings::Settings::load(Some(&config)).unwrap();
        let resolver = std::sync::Arc::new(super::ScriptsResolver::new(
            dir.path().into(),
            dir.path().into(),
            16,
            std::time::Duration::from_secs(1),
        ));
        let engine = super::build_engine(&settings.connections["legacy"], resolver);
        let before = super::MAPPED.with(std::cell::Cell::get);
        let mapped: rhai::Array = engine.eval("[1, 2].map(|v| v + 1)").unwrap();
        assert_eq!(mapped.len(), 2);
        assert_eq!(super::MAPPED.with(std::cell::Cell::get), before + 1);
    }
}
