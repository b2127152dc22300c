//! The interactive REPL: variables, functions and imports persist between inputs; the
//! value of an expression is printed; input continues over several lines while the parser
//! says it is incomplete; history is kept between sessions; Tab completes functions,
//! variables and commands. Piped (non-terminal) input runs the same way without prompts.

use crate::script::{self, doc, error, resolver};
use rhai::{Dynamic, Engine, Scope, Stmt, AST};
use rustyline::completion::{Completer, Pair};
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper, Highlighter, Hinter};
use std::io::{BufRead, IsTerminal};
use std::sync::{Arc, Mutex};

/// A REPL command: name, argument synopsis, help line, and what it does.
pub struct Command {
    /// The command as typed, e.g. `:help`.
    pub name: &'static str,
    /// Its arguments, e.g. `[NAME]`.
    pub args: &'static str,
    /// One line of help.
    pub help: &'static str,
    run: fn(&mut Session, &str) -> Result<Flow, String>,
}

/// Whether the REPL goes on after a command.
#[derive(Debug, PartialEq)]
pub enum Flow {
    /// Read the next input.
    Continue,
    /// Leave the REPL.
    Quit,
}

/// The one table of REPL commands: it drives dispatch, `:help` and completion.
pub const COMMANDS: &[Command] = &[
    Command {
        name: ":help",
        args: "[NAME]",
        help: "list the commands, or show the docs of a function, type or module",
        run: cmd_help,
    },
    Command {
        name: ":load",
        args: "FILE",
        help: "run a script file into this session (its variables and functions stay)",
        run: cmd_load,
    },
    Command {
        name: ":vars",
        args: "",
        help: "list the variables in scope with their types",
        run: cmd_vars,
    },
    Command {
        name: ":quit",
        args: "",
        help: "leave the REPL (also Ctrl-D)",
        run: |_, _| Ok(Flow::Quit),
    },
];

fn cmd_help(s: &mut Session, arg: &str) -> Result<Flow, String> {
    if arg.is_empty() {
        let mut text = String::from(
            "Type Rhai statements or expressions; an expression's value is printed.\nCommands:\n",
        );
        for c in COMMANDS {
            text.push_str(&format!(
                "  {:<16} {}\n",
                format!("{} {}", c.name, c.args),
                c.help
            ));
        }
        text.push_str("Modules: ");
        text.push_str(
            &script::MODULES
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", "),
        );
        text.push_str("  (`:help array` lists one; Tab completes names)");
        s.out(&text);
        return Ok(Flow::Continue);
    }
    let name = arg.trim();
    match doc::render(&s.catalog, Some(name)) {
        Some(t) => {
            s.out(t.trim_end());
            Ok(Flow::Continue)
        }
        None => Err(format!(
            "no function, type or module named '{name}'",
            name = crate::format::printable(name)
        )),
    }
}

fn cmd_load(s: &mut Session, arg: &str) -> Result<Flow, String> {
    let path = std::path::Path::new(arg.trim());
    if arg.trim().is_empty() {
        return Err(":load needs a file name".into());
    }
    let ast = script::compile_file(&s.engine, &s.scope, path).map_err(|e| format!("{e:#}"))?;
    s.run(ast, None).map(|_| Flow::Continue)
}

fn cmd_vars(s: &mut Session, _: &str) -> Result<Flow, String> {
    let mut lines = Vec::new();
    let vars: Vec<_> = s.scope.iter_raw().collect();
    // the scope yields the newest first: list them in definition order
    for (name, constant, value) in vars.into_iter().rev() {
        let kind = script::convert::type_name(value);
        lines.push(format!(
            "  {name}: {kind}{}",
            if constant { " (constant)" } else { "" }
        ));
    }
    s.out(&lines.join("\n"));
    Ok(Flow::Continue)
}

/// Whether `input` is an unfinished statement: the parser ran out of input inside an open
/// bracket, block or expression.
pub fn is_incomplete(engine: &Engine, input: &str) -> bool {
    use rhai::ParseErrorType as P;
    let t = input.trim();
    if t.is_empty() || t.starts_with(':') {
        return false;
    }
    match engine.compile(input) {
        Ok(_) => false,
        Err(e) => match e.err_type() {
            P::UnexpectedEOF => true,
            P::MissingToken(..) | P::MissingSymbol(..) | P::BadInput(..) => {
                // only when the parser stopped at the very end of the input
                let pos = e.position();
                match (pos.line(), pos.position()) {
                    (None, _) => true,
                    (Some(l), col) => {
                        let lines: Vec<&str> = input.trim_end().lines().collect();
                        let last = lines.len();
                        l > last || (l == last && col.unwrap_or(usize::MAX) > lines[last - 1].len())
                    }
                }
            }
            _ => false,
        },
    }
}

/// One REPL session: the engine, the variables, the functions and imports defined so far.
pub struct Session {
    engine: Engine,
    scope: Scope<'static>,
    functions: AST,
    imports: Vec<Stmt>,
    catalog: Vec<doc::ModuleDoc>,
    output: Vec<String>,
    echo: bool,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    /// A fresh session (no variables but the standard constants).
    pub fn new() -> Self {
        Session {
            engine: script::engine(),
            scope: script::base_scope("<repl>", &[]),
            functions: AST::empty(),
            imports: Vec::new(),
            catalog: doc::full_catalog(),
            output: Vec::new(),
            echo: true,
        }
    }

    fn out(&mut self, text: &str) {
        if self.echo {
            crate::output::println(text);
        } else {
            self.output.push(text.to_string());
        }
    }

    /// Names for completion: functions, variables in scope, commands.
    pub fn completions(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .catalog
            .iter()
            .flat_map(|m| m.functions.iter().map(|f| f.name.clone()))
            .collect();
        v.retain(|n| {
            n.chars()
                .next()
                .is_some_and(|c| c.is_alphabetic() || c == '_')
        });
        v.extend(self.scope.iter_raw().map(|(n, _, _)| n.to_string()));
        v.extend(self.functions.iter_functions().map(|f| f.name.to_string()));
        v.extend(COMMANDS.iter().map(|c| c.name.to_string()));
        v.sort();
        v.dedup();
        v
    }

    /// Runs an AST in the session: earlier imports first, functions kept afterwards.
    fn run(&mut self, ast: AST, input: Option<&str>) -> Result<Dynamic, String> {
        let new_imports: Vec<Stmt> = ast
            .statements()
            .iter()
            .filter(|s| matches!(s, Stmt::Import(..)))
            .cloned()
            .collect();
        let merged = self.functions.merge(&ast);
        let statements: Vec<Stmt> = self
            .imports
            .iter()
            .cloned()
            .chain(merged.statements().iter().cloned())
            .collect();
        let mut full = AST::new(statements, merged.shared_lib().clone());
        let source = ast.source().unwrap_or("<repl>").to_string();
        full.set_source(source.as_str());
        crate::interrupt::evaluating(true);
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut self.scope, &full);
        crate::interrupt::evaluating(false);
        self.functions = merged;
        self.functions.clear_statements();
        match result {
            Ok(v) => {
                self.imports.extend(new_imports);
                Ok(v)
            }
            Err(e) => {
                let text = |name: &str| {
                    if name == "<repl>" {
                        input.map(str::to_string)
                    } else {
                        resolver::source_text(name)
                    }
                };
                let own: Vec<String> = self
                    .functions
                    .iter_functions()
                    .map(|f| f.name.to_string())
                    .collect();
                Err(error::report_with(&e, &source, &text, &own)
                    .trim_end()
                    .to_string())
            }
        }
    }

    /// How the REPL shows a value: numpy's repr for arrays, Rhai's debug form otherwise.
    /// A type with a `to_string` but no `to_debug` of its own (Rhai's debug form of it is
    /// only its type name, e.g. `HistoryMatch`) is shown by its `to_string`.
    fn show(&self, v: Dynamic) -> String {
        let mut s = Scope::new();
        s.push("__value", v.clone());
        let debug = self
            .engine
            .eval_with_scope::<String>(&mut s, "to_debug(__value)")
            .unwrap_or_else(|_| format!("{v:?}"));
        if debug == self.engine.map_type_name(v.type_name()) {
            if let Ok(text) = self
                .engine
                .eval_with_scope::<String>(&mut s, "to_string(__value)")
            {
                return text;
            }
        }
        debug
    }

    /// Handles one complete input (a command or code); returns the lines printed.
    pub fn handle(&mut self, input: &str) -> Result<Flow, String> {
        let t = input.trim();
        if t.is_empty() {
            return Ok(Flow::Continue);
        }
        if t.starts_with(':') {
            let (name, arg) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
            let cmd = COMMANDS
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| format!("unknown command {name}: try :help"))?;
            return (cmd.run)(self, arg.trim());
        }
        let mut ast = self
            .engine
            .compile_with_scope(&self.scope, input)
            .map_err(|e| {
                error::report_parse(&e, "<repl>", input)
                    .trim_end()
                    .to_string()
            })?;
        ast.set_source("<repl>");
        let v = self.run(ast, Some(input))?;
        if !v.is_unit() {
            let shown = self.show(v);
            self.out(&shown);
        }
        Ok(Flow::Continue)
    }
}

#[derive(Helper, Highlighter, Hinter)]
struct ReplHelper {
    names: Arc<Mutex<Vec<String>>>,
    parser: Engine,
}

impl Completer for ReplHelper {
    type Candidate = Pair;
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let word = &line[start..pos];
        if word.is_empty() {
            return Ok((pos, Vec::new()));
        }
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        let pairs = names
            .into_iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.clone(),
                replacement: n,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if is_incomplete(&self.parser, ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

/// The line editor's settings: Tab completes the longest common prefix and then lists every
/// candidate at once (as bash does), instead of cycling through them one at a time.
pub fn editor_config() -> rustyline::Config {
    rustyline::Config::builder()
        .completion_type(rustyline::CompletionType::List)
        .build()
}

fn history_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("CLMTUNE_HISTORY") {
        return Some(p.into());
    }
    std::env::var("HOME")
        .ok()
        .map(|h| std::path::Path::new(&h).join(".clmtune_history"))
}

/// Runs the REPL on the terminal, or on piped standard input without prompts. With piped
/// input, errors are printed and the REPL goes on; the exit status is then an error if any
/// input failed.
pub fn run() -> anyhow::Result<()> {
    let mut session = Session::new();
    if !std::io::stdin().is_terminal() {
        return run_piped(&mut session);
    }
    let names = Arc::new(Mutex::new(session.completions()));
    let helper = ReplHelper {
        names: names.clone(),
        parser: Engine::new_raw(),
    };
    let mut rl = rustyline::Editor::<ReplHelper, rustyline::history::DefaultHistory>::with_config(
        editor_config(),
    )?;
    rl.set_helper(Some(helper));
    let hist = history_path();
    if let Some(h) = &hist {
        let _ = rl.load_history(h);
    }
    println!(
        "clmtune {} — Rhai REPL. :help for commands, :quit to leave.",
        env!("CARGO_PKG_VERSION")
    );
    loop {
        match rl.readline("clm> ") {
            Ok(line) => {
                let _ = rl.add_history_entry(line.as_str());
                if let Some(h) = &hist {
                    let _ = rl.save_history(h);
                }
                match session.handle(&line) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => crate::output::eprintln(&e.to_string()),
                }
                if let Ok(mut n) = names.lock() {
                    *n = session.completions();
                }
            }
            Err(rustyline::error::ReadlineError::Interrupted) => continue,
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Bracket depth of Rhai source read line by line, outside strings and comments: while a
/// bracket is open the input is surely incomplete and need not be parsed again, so an
/// unclosed `[` followed by thousands of lines costs one parse, not one per line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Brackets {
    depth: i64,
    /// Inside a `` ` `` string (which spans lines).
    backtick: bool,
    /// Depth of `/* */` comments (they nest in Rhai).
    comment: usize,
}

impl Brackets {
    /// Follows one more line.
    pub fn feed(&mut self, line: &str) {
        let b: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let next = b.get(i + 1).copied();
            if self.comment > 0 {
                match (c, next) {
                    ('*', Some('/')) => {
                        self.comment -= 1;
                        i += 1;
                    }
                    ('/', Some('*')) => {
                        self.comment += 1;
                        i += 1;
                    }
                    _ => {}
                }
            } else if self.backtick {
                if c == '`' {
                    self.backtick = false;
                }
            } else {
                match (c, next) {
                    ('/', Some('/')) => return,
                    ('/', Some('*')) => {
                        self.comment += 1;
                        i += 1;
                    }
                    ('`', _) => self.backtick = true,
                    ('"' | '\'', _) => {
                        // to the closing quote on this line, skipping escapes
                        i += 1;
                        while i < b.len() && b[i] != c {
                            if b[i] == '\\' {
                                i += 1;
                            }
                            i += 1;
                        }
                    }
                    ('(' | '[' | '{', _) => self.depth += 1,
                    (')' | ']' | '}', _) => self.depth -= 1,
                    _ => {}
                }
            }
            i += 1;
        }
    }

    /// Whether a bracket, a `` ` `` string or a comment is surely still open.
    pub fn open(&self) -> bool {
        self.depth > 0 || self.backtick || self.comment > 0
    }
}

fn run_piped(session: &mut Session) -> anyhow::Result<()> {
    let parser = Engine::new_raw();
    let mut buffer = String::new();
    let mut brackets = Brackets::default();
    let mut failed = 0;
    let mut stdin = std::io::stdin().lock();
    let mut line_no = 0usize;
    loop {
        let mut raw = Vec::new();
        if stdin.read_until(b'\n', &mut raw)? == 0 {
            break;
        }
        line_no += 1;
        if line_no == 1 && raw.starts_with(b"\xEF\xBB\xBF") {
            raw.drain(..3);
        }
        while raw.last().is_some_and(|&c| c == b'\n' || c == b'\r') {
            raw.pop();
        }
        let line = match String::from_utf8(raw) {
            Ok(l) => l,
            Err(e) => {
                // the line is skipped, the session goes on
                failed += 1;
                let col = String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()])
                    .chars()
                    .count()
                    + 1;
                crate::output::eprintln(&format!(
                    "error: <stdin>:{line_no}:{col}: invalid UTF-8; the line is skipped"
                ));
                continue;
            }
        };
        buffer.push_str(&line);
        buffer.push('\n');
        brackets.feed(&line);
        if brackets.open() || is_incomplete(&parser, &buffer) {
            continue;
        }
        brackets = Brackets::default();
        let input = std::mem::take(&mut buffer);
        match session.handle(&input) {
            Ok(Flow::Quit) => return finish(failed),
            Ok(Flow::Continue) => {}
            Err(e) => {
                failed += 1;
                crate::output::eprintln(&e.to_string());
            }
        }
    }
    if !buffer.trim().is_empty() {
        if let Err(e) = session.handle(&buffer) {
            failed += 1;
            crate::output::eprintln(&e.to_string());
        }
    }
    finish(failed)
}

fn finish(failed: usize) -> anyhow::Result<()> {
    if failed > 0 {
        anyhow::bail!("{failed} input(s) failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_decides_completeness() {
        let e = Engine::new_raw();
        for open in [
            "fn f(x) {",
            "let a = [1,",
            "let x = (1 +",
            "if true {\n  let y = 2;",
            "foo(1,",
            "let m = #{a: 1,",
        ] {
            assert!(is_incomplete(&e, open), "{open:?} should be incomplete");
        }
        for done in [
            "let x = 1;",
            "fn f(x) { x }",
            "let x = 1 2;",
            ":help",
            "",
            "x + 1",
        ] {
            assert!(!is_incomplete(&e, done), "{done:?} should be complete");
        }
    }

    #[test]
    fn a_value_without_a_debug_form_shows_its_text() {
        // a type with a to_string and no to_debug (as Optima and HistoryMatch were): the
        // REPL once showed only its type name
        #[derive(Clone)]
        struct Probe;
        let mut s = Session::new();
        s.echo = false;
        s.engine
            .register_type_with_name::<Probe>("Probe")
            .register_fn("to_string", |_: &mut Probe| "Probe(7 items)".to_string());
        s.scope.push("p", Probe);
        s.handle("p").unwrap();
        assert_eq!(s.output, vec!["Probe(7 items)"]);
        // a value with its own debug form keeps it
        s.handle("[1, \"a\"]").unwrap();
        assert_eq!(s.output[1], "[1, \"a\"]");
    }

    #[test]
    fn tab_lists_every_candidate() {
        assert_eq!(
            editor_config().completion_type(),
            rustyline::CompletionType::List
        );
    }

    #[test]
    fn state_persists_between_inputs() {
        let mut s = Session::new();
        s.echo = false;
        s.handle("let a = array([1, 2]);").unwrap();
        s.handle("fn double(x) { x * 2 }").unwrap();
        s.handle("double(a)").unwrap();
        assert_eq!(s.output, vec!["array([2., 4.])"]);
        assert!(s.completions().contains(&"double".to_string()));
        assert!(s.completions().contains(&"linspace".to_string()));
        assert!(s.completions().contains(&":help".to_string()));
        assert!(s.handle("nosuch(1)").is_err());
        s.handle("a.sum()").unwrap();
        assert_eq!(s.output.last().unwrap(), "3.0");
    }
}
