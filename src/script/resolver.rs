//! Where `import "NAME" as n;` finds its module: next to the importing script first, then in
//! `$CLMTUNE_STDLIB` (a development copy of `stdlib/`), then in the stdlib embedded in the
//! binary at build time.

use rhai::module_resolvers::ModuleResolver;
use rhai::{Engine, EvalAltResult, Module, Position, Scope, Shared};

type SharedModule = Shared<Module>;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use crate::stdlib::STDLIB;

/// Environment variable naming a folder that replaces the embedded stdlib.
pub const STDLIB_ENV: &str = "CLMTUNE_STDLIB";

/// The source name given to an embedded stdlib module (shown in error messages).
pub fn embedded_name(module: &str) -> String {
    format!("<stdlib>/{module}.rhai")
}

/// The text of a source, by the name errors carry: an embedded module or a file.
pub fn source_text(name: &str) -> Option<String> {
    if let Some(stem) = name
        .strip_prefix("<stdlib>/")
        .and_then(|n| n.strip_suffix(".rhai"))
    {
        return STDLIB
            .iter()
            .find(|(n, _)| *n == stem)
            .map(|(_, s)| s.to_string());
    }
    std::fs::read_to_string(name).ok()
}

/// Resolves imports as described in the module docs, caching each module once loaded.
pub struct Resolver {
    cache: Mutex<HashMap<String, SharedModule>>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver {
            cache: Mutex::new(HashMap::new()),
        }
    }
}

fn with_ext(path: &str) -> String {
    if path.ends_with(".rhai") {
        path.to_string()
    } else {
        format!("{path}.rhai")
    }
}

impl Resolver {
    /// The source name and text of a module, found by the search order.
    fn find(&self, source: Option<&str>, path: &str) -> Option<(String, String)> {
        let file = with_ext(path);
        let mut candidates: Vec<PathBuf> = Vec::new();
        if Path::new(&file).is_absolute() {
            candidates.push(PathBuf::from(&file));
        } else {
            if let Some(dir) = source
                .filter(|s| !s.starts_with("<stdlib>"))
                .and_then(|s| Path::new(s).parent())
            {
                candidates.push(dir.join(&file));
            }
            if let Ok(dev) = std::env::var(STDLIB_ENV) {
                candidates.push(Path::new(&dev).join(&file));
            }
        }
        for c in candidates {
            if c.is_file() {
                if let Ok(text) = std::fs::read_to_string(&c) {
                    return Some((c.display().to_string(), text));
                }
            }
        }
        let stem = path.strip_suffix(".rhai").unwrap_or(path);
        STDLIB
            .iter()
            .find(|(n, _)| *n == stem)
            .map(|(n, s)| (embedded_name(n), s.to_string()))
    }
}

impl ModuleResolver for Resolver {
    fn resolve(
        &self,
        engine: &Engine,
        source: Option<&str>,
        path: &str,
        pos: Position,
    ) -> Result<SharedModule, Box<EvalAltResult>> {
        let (name, text) = self
            .find(source, path)
            .ok_or_else(|| Box::new(EvalAltResult::ErrorModuleNotFound(path.to_string(), pos)))?;
        crate::provenance::script_used(&name, &text);
        if let Some(m) = self.cache.lock().ok().and_then(|c| c.get(&name).cloned()) {
            return Ok(m);
        }
        let in_module =
            |e: Box<EvalAltResult>| Box::new(EvalAltResult::ErrorInModule(name.clone(), e, pos));
        let mut ast = engine.compile(&text).map_err(|e| in_module(e.into()))?;
        ast.set_source(name.as_str());
        let module: SharedModule = Module::eval_ast_as_new(Scope::new(), &ast, engine)
            .map_err(in_module)?
            .into();
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name, module.clone());
        }
        Ok(module)
    }
}
