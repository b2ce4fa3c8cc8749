//! A connection's scripts: compiled once at load on the connection's
//! sandboxed engine ([`sandbox`]), problems reported as
//! `path:line:col: message`, imports confined to `scripts_dir`
//! ([`resolver`]), each call run with a fresh scope, and a script's failure
//! mapped to the host's errors.

pub mod api;
pub mod call;
pub mod convert;
mod crypto;
pub mod errors;
pub mod fiber;
mod resolver;
mod sandbox;
pub mod scan;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rhai::{CallFnOptions, Dynamic, Engine, EvalAltResult, FuncArgs, Position, Scope, AST};

use crate::error::Error;
use crate::settings::ConnectionSettings;
use call::InCall;
use resolver::ScriptsResolver;

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
    // `customdb export`'s walk of the table (with an optional `count_users()`)
    ("list_users", 2),
];

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
        let resolver = Arc::new(ScriptsResolver::new(
            root,
            dir.clone(),
            settings.tunables.max_modules,
            Duration::from_millis(settings.tunables.script_timeout_ms),
        ));
        // A folder there but closed to this user would otherwise look empty
        // ("missing: every connection needs a login script").
        if let Err(e) = std::fs::read_dir(&dir) {
            return Err(vec![Problem {
                path: dir.clone(),
                line: 0,
                col: 0,
                message: format!(
                    "connections.{}.scripts_dir: cannot read the folder {}: {e}",
                    settings.name,
                    dir.display()
                ),
            }]);
        }
        let engine = sandbox::build_engine(settings, resolver.clone());

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
    pub fn call(&self, call: &InCall, name: &str, args: impl FuncArgs) -> Result<Dynamic, Error> {
        self.call_fn(call, name, name, args)
    }

    /// Whether the script `script` defines `function` with `arity` parameters.
    pub fn has_fn(&self, script: &str, function: &str, arity: usize) -> bool {
        self.scripts.get(script).is_some_and(|ast| {
            ast.iter_functions()
                .any(|f| f.name == function && f.params.len() == arity)
        })
    }

    /// Calls `function` of the script `script` (a helper beside the script's
    /// own function, such as `count_users` in `list_users.rhai`).
    pub fn call_fn(
        &self,
        _: &InCall,
        script: &str,
        function: &str,
        args: impl FuncArgs,
    ) -> Result<Dynamic, Error> {
        let name = script;
        let ast = self.scripts.get(name).ok_or(Error::ActionNotConfigured)?;
        let mut scope = Scope::new();
        // The top level holds only imports (checked at load); running it on
        // each call puts them in reach of the functions, from the cache.
        let options = CallFnOptions::new().eval_ast(true).rewind_scope(true);
        self.engine
            .call_fn_with_options::<Dynamic>(options, &mut scope, ast, function, args)
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
    // With max_modules at 0 every import fails when it runs: told now, as
    // `check` promises.
    if let (Some(first), 0) = (found.imports.first(), resolver.max_modules()) {
        problems.push(Problem {
            path: path.to_path_buf(),
            line: first.line,
            col: first.col,
            message: "imports a module, but max_modules is 0: no import is allowed".into(),
        });
    }
    // Above 0 the limit is per call and counts what the call's functions
    // import too, which only a call can tell; but the top level's imports,
    // which every call runs, are enough to tell that each call goes past
    // it. Placed at the first import past the limit.
    let every_call = found.top_level_imports.len();
    let max = resolver.max_modules();
    let past = found.top_level_imports.get(max).filter(|_| max > 0);
    if let Some(first) = past.and_then(|p| found.imports.iter().find(|i| &i.text == p)) {
        problems.push(Problem {
            path: path.to_path_buf(),
            line: first.line,
            col: first.col,
            message: format!(
                "imports {every_call} modules at the top level, which every call runs, but max_modules is {max}"
            ),
        });
    }
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
    // Where `fn NAME` stands, for a problem with that function.
    let defined_at = |fn_name: &str| {
        found
            .functions
            .iter()
            .find(|f| f.text == fn_name)
            .map_or(Position::NONE, |f| {
                let at = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
                Position::new(at(f.line), at(f.col))
            })
    };
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
        problems.push(problem(path, defined_at(name), message));
    }
    if name == "list_users" {
        if let Some(f) = ast
            .iter_functions()
            .find(|f| f.name == "count_users" && !f.params.is_empty())
        {
            problems.push(problem(
                path,
                defined_at("count_users"),
                format!("fn count_users takes no parameters, not {}", f.params.len()),
            ));
        }
    }
    if problems.is_empty() {
        Ok(ast)
    } else {
        Err(problems)
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
    // Rhai gives a limit hit (operations, sizes, depth) the place of the
    // call it passes through, which for the script's own function is none:
    // the file alone is then what is known.
    let pos = at.position();
    match (pos.line(), pos.position()) {
        (Some(line), Some(col)) => format!("{shown}:{line}:{col}"),
        (Some(line), None) => format!("{shown}:{line}"),
        _ => shown,
    }
}

/// Maps a script's failure to the host's error. Causes are masked and
/// start with the place where the script failed.
fn classify(err: EvalAltResult, file: &Path) -> Error {
    let place = place_of(&err, file);
    let cause = || format!("{place}: {}", call::mask(&err.to_string()));
    // Under export only what cannot hold the script's data is told: the
    // host's own errors, the store's (`kind: "store"`), limit hits, and
    // Rhai's errors that name only variables, properties and types (a
    // function or module name may be computed from data: `Fn(salt)`). A value the script
    // threw, or a Rhai error quoting a value (`parse_int` of a salt), is
    // left out whole (see call::Masker::exporting).
    if call::withholds() {
        let told = match err.unwrap_inner() {
            EvalAltResult::ErrorRuntime(value, _) => {
                if let Some(text) = value.read_lock::<rhai::ImmutableString>() {
                    call::raised_by_host(&text)
                } else if let Some(map) = value.read_lock::<rhai::Map>() {
                    errors::is_store_error(&map)
                } else {
                    false
                }
            }
            EvalAltResult::ErrorTerminated(..)
            | EvalAltResult::ErrorTooManyOperations(_)
            | EvalAltResult::ErrorDataTooLarge(..)
            | EvalAltResult::ErrorStackOverflow(_)
            | EvalAltResult::ErrorTooManyModules(_)
            | EvalAltResult::ErrorTooManyVariables(_)
            | EvalAltResult::ErrorVariableNotFound(..)
            | EvalAltResult::ErrorPropertyNotFound(..)
            | EvalAltResult::ErrorMismatchDataType(..)
            | EvalAltResult::ErrorMismatchOutputType(..)
            | EvalAltResult::ErrorArrayBounds(..)
            | EvalAltResult::ErrorStringBounds(..) => true,
            _ => false,
        };
        if !told {
            let what = match err.unwrap_inner() {
                EvalAltResult::ErrorRuntime(..) => "the script threw a value",
                _ => "the script failed with an error that quotes its values",
            };
            return Error::Script(format!("{place}: {what} ({})", call::WITHHELD));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_rhai_did_not_keep_is_the_file_alone() {
        let file = Path::new("/s/get_user.rhai");
        let none = EvalAltResult::ErrorTooManyOperations(Position::NONE);
        assert_eq!(place_of(&none, file), "/s/get_user.rhai");
        let at = EvalAltResult::ErrorTooManyOperations(Position::new(3, 9));
        assert_eq!(place_of(&at, file), "/s/get_user.rhai:3:9");
        let inner = EvalAltResult::ErrorInFunctionCall(
            "f".into(),
            "/s/members.rhai".into(),
            // a runtime error in a module keeps its place (a limit hit
            // never does: Rhai passes it up as it is)
            Box::new(EvalAltResult::ErrorRuntime(
                "x".into(),
                Position::new(1, 24),
            )),
            Position::new(5, 2),
        );
        assert_eq!(place_of(&inner, file), "/s/members.rhai:1:24");
    }
}
