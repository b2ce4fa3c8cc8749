//! Imports: `import "NAME"` resolves to `NAME.rhai` inside `scripts_dir`
//! and nowhere else (no `..`, no absolute path, no link that leads out),
//! each module compiled once per load of the scripts.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, RwLock};

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

/// Resolves `import "NAME"` to `NAME.rhai` inside `scripts_dir` and nowhere
/// else, compiling each module once.
pub(super) struct ScriptsResolver {
    root: PathBuf,
    shown_dir: PathBuf,
    /// By import name: a name always resolves to the same file within one
    /// script set (a reload makes a new resolver), so a hit needs no
    /// file-system look-up.
    cache: RwLock<HashMap<String, Shared<Module>>>,
    /// The most distinct modules one call may import (`max_modules`).
    max_modules: usize,
    /// How long one module's top level may run when it loads.
    load_limit: std::time::Duration,
}

impl ScriptsResolver {
    /// The most distinct modules one call may import.
    pub(super) fn max_modules(&self) -> usize {
        self.max_modules
    }

    /// Resolves inside `root` (canonical), showing files under `shown_dir`,
    /// at most `max_modules` distinct modules a call.
    pub(super) fn new(
        root: PathBuf,
        shown_dir: PathBuf,
        max_modules: usize,
        load_limit: std::time::Duration,
    ) -> Self {
        ScriptsResolver {
            root,
            shown_dir,
            cache: RwLock::default(),
            max_modules,
            load_limit,
        }
    }

    /// A module's file as messages show it.
    pub(super) fn shown(&self, name: &str) -> PathBuf {
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

    pub(super) fn compile(
        &self,
        engine: &Engine,
        name: &str,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        let err = |m: String| -> Box<EvalAltResult> {
            EvalAltResult::ErrorModuleNotFound(m, Position::NONE).into()
        };
        if let Some(m) = self.cache.read().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(m);
        }
        let file = self.locate(name).map_err(err)?;
        // A module that imports, however indirectly, the one importing it
        // would be compiled without end (until the stack overflows).
        // (Not "not found", which Rhai replaces by the bare name.)
        let _compiling = Compiling::enter(name).map_err(super::api::runtime)?;
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
        let module: Shared<Module> = {
            let _limit = super::call::load_deadline(self.load_limit);
            Module::eval_ast_as_new(Scope::new(), &ast, engine)?.into()
        };
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(name.to_string(), module.clone());
        }
        Ok(module)
    }

    /// Checks and compiles a literal import at load time.
    pub(super) fn preload(&self, engine: &Engine, name: &str) -> Result<(), String> {
        self.compile(engine, name)
            .map(|_| ())
            .map_err(|e| match *e {
                EvalAltResult::ErrorModuleNotFound(m, _) => m,
                EvalAltResult::ErrorTerminated(..) => format!(
                    "import \"{name}\": the module's top level ran past script_timeout_ms while it loaded"
                ),
                other => format!("import \"{name}\": {other}"),
            })
    }
}

/// A module on the stack of modules being compiled
/// ([`super::call::with_compiling`]) while it compiles.
struct Compiling(String);

/// The deepest chain of modules importing modules: past it, a script's
/// stack (or a reload's thread) could overflow.
const MAX_IMPORT_DEPTH: usize = 32;

impl Compiling {
    /// Notes that `name` compiles now; a cycle if it already is.
    fn enter(name: &str) -> Result<Compiling, String> {
        super::call::with_compiling(|c| {
            if c.len() >= MAX_IMPORT_DEPTH {
                return Err(format!(
                    "import \"{name}\": modules import each other more than {MAX_IMPORT_DEPTH} deep"
                ));
            }
            if let Some(at) = c.iter().position(|m| m == name) {
                let chain: Vec<&str> = c[at..].iter().map(String::as_str).collect();
                return Err(format!(
                    "import \"{name}\": an import cycle ({} → {name})",
                    chain.join(" → ")
                ));
            }
            c.push(name.to_string());
            Ok(Compiling(name.to_string()))
        })
    }
}

impl Drop for Compiling {
    fn drop(&mut self) {
        super::call::with_compiling(|c| {
            if let Some(at) = c.iter().rposition(|m| *m == self.0) {
                c.remove(at);
            }
        });
    }
}

pub(super) struct SharedResolver(pub(super) Arc<ScriptsResolver>);

impl ModuleResolver for SharedResolver {
    fn resolve(
        &self,
        engine: &Engine,
        _source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<Shared<Module>, Box<EvalAltResult>> {
        // Distinct modules, not import statements run: Rhai counts every
        // run, so a helper that imports would fail on its 17th call.
        if !super::call::may_import(path, self.0.max_modules) {
            return Err(EvalAltResult::ErrorTooManyModules(pos).into());
        }
        let module = self
            .0
            .compile(engine, path)
            .map_err(|e| -> Box<EvalAltResult> {
                match *e {
                    EvalAltResult::ErrorModuleNotFound(m, _) => {
                        EvalAltResult::ErrorModuleNotFound(m, pos).into()
                    }
                    other => EvalAltResult::ErrorInModule(
                        self.0.shown(path).to_string_lossy().into_owned(),
                        other.into(),
                        pos,
                    )
                    .into(),
                }
            })?;
        super::call::note_import(path);
        Ok(module)
    }
}
