//! The script engine: one sandboxed Rhai engine per connection with every
//! sandbox limit set from the settings, the connection's scripts compiled
//! once at load (problems reported as `path:line:col: message`), imports
//! confined to `scripts_dir`, and the mapping of a script's failure to the
//! host's errors.

pub mod api;
pub mod call;
pub mod convert;
mod crypto;
mod errors;
pub mod fiber;
pub mod scan;

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use rhai::module_resolvers::ModuleResolver;
use rhai::{
    CallFnOptions, Dynamic, Engine, EvalAltResult, FuncArgs, Module, Position, Scope, Shared, AST,
};

use crate::error::Error;
use crate::settings::ConnectionSettings;
use call::InCall;

/// The scripts a connection may have, each with its parameter count.
pub const SCRIPTS: &[(&str, usize)] = &[
    ("login", 2),
    ("create", 1),
    ("get_user", 1),
    ("verify", 1),
    ("change_password", 2),
    ("change_email", 3),
    ("delete", 1),
    ("update_metadata", 2),
];

/// How often (in operations) the deadline and the turn are looked at.
const DEADLINE_CHECK_EVERY: u64 = 64;

/// A problem with a script, at a place in a file; `line` 0 is a problem
/// with no place in a file (such as a missing folder), shown as its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return f.write_str(&self.message);
        }
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}

fn problem(path: &Path, pos: Position, message: impl Into<String>) -> Problem {
    Problem {
        path: path.to_path_buf(),
        line: pos.line().unwrap_or(1),
        col: pos.position().unwrap_or(1),
        message: message.into(),
    }
}

/// A connection's compiled scripts and the engine that runs them.
pub struct ScriptSet {
    engine: Engine,
    scripts: HashMap<&'static str, AST>,
    dir: PathBuf,
}

impl fmt::Debug for ScriptSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptSet")
            .field("dir", &self.dir)
            .field("scripts", &self.names())
            .finish()
    }
}

impl ScriptSet {
    /// Builds the engine and compiles every script of `settings.scripts_dir`.
    /// Every problem found is returned, not only the first.
    pub fn load(settings: &ConnectionSettings) -> Result<Self, Vec<Problem>> {
        let dir = settings.scripts_dir.clone();
        let root = dir.canonicalize().map_err(|_| {
            vec![Problem {
                path: dir.clone(),
                line: 0,
                col: 0,
                message: format!(
                    "connections.{}.scripts_dir: no such folder: {}",
                    settings.name,
                    dir.display()
                ),
            }]
        })?;
        let resolver = Arc::new(ScriptsResolver {
            root,
            shown_dir: dir.clone(),
            cache: RwLock::default(),
        });
        let engine = build_engine(settings, resolver.clone());

        let mut problems = Vec::new();
        let mut scripts = HashMap::new();
        for &(name, arity) in SCRIPTS {
            let path = dir.join(format!("{name}.rhai"));
            if !path.exists() {
                if name == "login" {
                    problems.push(problem(
                        &path,
                        Position::NONE,
                        "missing: every connection needs a login script",
                    ));
                }
                continue;
            }
            match load_script(&engine, &resolver, &path, name, arity) {
                Ok(ast) => {
                    scripts.insert(name, ast);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if problems.is_empty() {
            Ok(ScriptSet {
                engine,
                scripts,
                dir,
            })
        } else {
            Err(problems)
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.scripts.contains_key(name)
    }

    /// The scripts this set has, in the order of [`SCRIPTS`].
    pub fn names(&self) -> Vec<&'static str> {
        SCRIPTS
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| self.has(n))
            .collect()
    }

    /// The file a script comes from, for log lines.
    pub fn file_of(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.rhai"))
    }

    /// Calls the function `name` of the script `name`, with a fresh scope.
    /// Runs inside a call (the [`InCall`] proves it), whose fiber it may
    /// suspend.
    pub fn call(&self, _: &InCall, name: &str, args: impl FuncArgs) -> Result<Dynamic, Error> {
        let ast = self.scripts.get(name).ok_or(Error::ActionNotConfigured)?;
        let mut scope = Scope::new();
        // The top level holds only imports (checked at load); running it on
        // each call puts them in reach of the functions, from the cache.
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, ast, name, args)
            .map_err(|e| classify(*e, &self.file_of(name)))
    }
}

fn load_script(
    engine: &Engine,
    resolver: &ScriptsResolver,
    path: &Path,
    name: &str,
    arity: usize,
) -> Result<AST, Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![problem(
            path,
            Position::NONE,
            format!("cannot be read: {e}"),
        )]
    })?;
    let mut ast = engine
        .compile(&text)
        .map_err(|e| vec![problem(path, e.1, e.0.to_string())])?;
    ast.set_source(path.to_string_lossy().as_ref());

    let found = scan::scan(&text);
    let mut problems: Vec<Problem> = found
        .stray
        .iter()
        .map(|f| Problem {
            path: path.to_path_buf(),
            line: f.line,
            col: f.col,
            message: f.text.clone(),
        })
        .collect();
    for import in &found.imports {
        if let Err(message) = resolver.preload(engine, &import.text) {
            problems.push(Problem {
                path: path.to_path_buf(),
                line: import.line,
                col: import.col,
                message,
            });
        }
    }
    let has_fn = ast
        .iter_functions()
        .any(|f| f.name == name && f.params.len() == arity);
    if !has_fn {
        let other = ast.iter_functions().find(|f| f.name == name);
        let message = match other {
            Some(f) => format!(
                "fn {name} takes {arity} parameter{}, not {}",
                if arity == 1 { "" } else { "s" },
                f.params.len()
            ),
            None => format!("no fn {name} with {arity} parameter(s) in this file"),
        };
        problems.push(problem(path, Position::NONE, message));
    }
    if problems.is_empty() {
        Ok(ast)
    } else {
        Err(problems)
    }
}

fn build_engine(settings: &ConnectionSettings, resolver: Arc<ScriptsResolver>) -> Engine {
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

/// Resolves `import "NAME"` to `NAME.rhai` inside `scripts_dir` and nowhere
/// else, compiling each module once.
struct ScriptsResolver {
    root: PathBuf,
    shown_dir: PathBuf,
    /// By import name: a name always resolves to the same file within one
    /// script set (a reload makes a new resolver), so a hit needs no
    /// file-system look-up.
    cache: RwLock<HashMap<String, Shared<Module>>>,
}

impl ScriptsResolver {
    /// A module's file as messages show it.
    fn shown(&self, name: &str) -> PathBuf {
        self.shown_dir.join(format!("{name}.rhai"))
    }

    fn locate(&self, name: &str) -> Result<PathBuf, String> {
        let rel = Path::new(name);
        let plain = !name.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !plain {
            return Err(format!(
                "import \"{name}\": a module is a name inside scripts_dir (no `..`, no absolute path)"
            ));
        }
        let file = self.root.join(format!("{name}.rhai"));
        let real = file
            .canonicalize()
            .map_err(|_| format!("import \"{name}\": no {name}.rhai in scripts_dir"))?;
        if !real.starts_with(&self.root) {
            return Err(format!("import \"{name}\": it leads out of scripts_dir"));
        }
        Ok(real)
    }

    fn compile(&self, engine: &Engine, name: &str) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let err = |m: String| -> Box<EvalAltResult> {
            EvalAltResult::ErrorModuleNotFound(m, Position::NONE).into()
        };
        if let Some(m) = self.cache.read().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(m);
        }
        let file = self.locate(name).map_err(err)?;
        let text = std::fs::read_to_string(&file).map_err(|e| err(format!("{name}: {e}")))?;
        let mut ast = engine.compile(&text).map_err(|e| {
            err(format!(
                "{}:{}:{}: {}",
                self.shown(name).display(),
                e.1.line().unwrap_or(1),
                e.1.position().unwrap_or(1),
                e.0
            ))
        })?;
        // Failures and `debug` lines inside the module name its own file.
        ast.set_source(self.shown(name).to_string_lossy().as_ref());
        let module: Shared<Module> = Module::eval_ast_as_new(Scope::new(), &ast, engine)?.into();
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(name.to_string(), module.clone());
        }
        Ok(module)
    }

    /// Checks and compiles a literal import at load time.
    fn preload(&self, engine: &Engine, name: &str) -> Result<(), String> {
        self.compile(engine, name)
            .map(|_| ())
            .map_err(|e| match *e {
                EvalAltResult::ErrorModuleNotFound(m, _) => m,
                other => format!("import \"{name}\": {other}"),
            })
    }
}

struct SharedResolver(Arc<ScriptsResolver>);

impl ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        self.0.compile(engine, path).map_err(|e| match *e {
            EvalAltResult::ErrorModuleNotFound(m, _) => {
                EvalAltResult::ErrorModuleNotFound(m, pos).into()
            }
            other => EvalAltResult::ErrorInModule(
                self.0.shown(path).to_string_lossy().into_owned(),
                other.into(),
                pos,
            )
            .into(),
        })
    }
}

/// Where a failure happened, as `file:line:col`: the innermost place of
/// the error's chain, in the file of the innermost function or module that
/// has one (an imported module's own file), else in the script's `file`.
fn place_of(err: &EvalAltResult, file: &Path) -> String {
    let mut shown = file.display().to_string();
    let mut at = err;
    while let EvalAltResult::ErrorInFunctionCall(_, source, inner, _)
    | EvalAltResult::ErrorInModule(source, inner, _) = at
    {
        if !source.is_empty() {
            shown.clone_from(source);
        }
        at = inner;
    }
    let pos = at.position();
    let number = |n: Option<usize>| n.map_or_else(|| "?".to_string(), |n| n.to_string());
    format!("{shown}:{}:{}", number(pos.line()), number(pos.position()))
}

/// Maps a script's failure to the host's error. Causes are masked and
/// start with the place where the script failed.
fn classify(err: EvalAltResult, file: &Path) -> Error {
    let place = place_of(&err, file);
    let cause = || format!("{place}: {}", call::mask(&err.to_string()));
    match err.unwrap_inner() {
        EvalAltResult::ErrorRuntime(value, _) if value.is_map() => {
            let map = value
                .read_lock::<rhai::Map>()
                .map(|m| m.clone())
                .unwrap_or_default();
            errors::meaning(&map, file, &place).unwrap_or_else(|| Error::Script(cause()))
        }
        EvalAltResult::ErrorTerminated(..) => Error::ScriptTimeout,
        EvalAltResult::ErrorTooManyOperations(_)
        | EvalAltResult::ErrorDataTooLarge(..)
        | EvalAltResult::ErrorStackOverflow(_)
        | EvalAltResult::ErrorTooManyModules(_)
        | EvalAltResult::ErrorTooManyVariables(_) => {
            Error::Script(format!("limit hit: {}", cause()))
        }
        _ => Error::Script(cause()),
    }
}
