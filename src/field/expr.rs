//! Derived outputs: arithmetic expressions over history variables, as in the config's
//! `[sensitivity.outputs]` — `"QVEGT / QFLX_EVAP_TOT"`, `"TOTSOILLIQ + TOTSOILICE"`,
//! `"sum(SOILLIQ + SOILICE, levsoi)"` — evaluated on monthly fields. Division by zero or a
//! missing operand gives a missing value.

use super::Field;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A history variable.
    Var(String),
    /// A number.
    Num(f64),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `a OP b` with OP one of `+ - * /`.
    Bin(Box<Expr>, char, Box<Expr>),
    /// `sum(e, dim)`: sum over a dimension such as `levsoi`.
    Sum(Box<Expr>, String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Op(char),
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let st = i;
            while i < b.len() && ((b[i] as char).is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(s[st..i].to_string()), st));
        } else if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < b.len()
                && ((b[i] as char).is_ascii_digit()
                    || b[i] == b'.'
                    || b[i] == b'e'
                    || b[i] == b'E'
                    || ((b[i] == b'-' || b[i] == b'+')
                        && i > st
                        && (b[i - 1] == b'e' || b[i - 1] == b'E')))
            {
                i += 1;
            }
            let n: f64 = s[st..i].parse().with_context(|| {
                format!(
                    "expression '{s}': bad number '{}' at column {}",
                    &s[st..i],
                    st + 1,
                    s = crate::format::printable(s)
                )
            })?;
            out.push((Tok::Num(n), st));
        } else if "+-*/(),".contains(c) {
            out.push((Tok::Op(c), i));
            i += 1;
        } else {
            bail!(
                "expression '{s}': unexpected '{c}' at column {}",
                i + 1,
                c = crate::format::printable(&c.to_string()),
                s = crate::format::printable(s)
            );
        }
    }
    Ok(out)
}

/// Most tokens an expression may have: real outputs have a few dozen; the cap bounds the
/// depth of the tree (and of its evaluation) that a chain `A + A + ...` builds.
const MAX_TOKENS: usize = 1000;
/// Deepest nesting of parentheses, `sum(...)` and unary minus, so that no expression can
/// exhaust the stack while parsed.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    /// Runs `f` one nesting level deeper (just after the opening token), refusing nesting
    /// beyond [`MAX_DEPTH`]; the error names the column of the opening token.
    fn nested(&mut self, f: impl FnOnce(&mut Self) -> Result<Expr>) -> Result<Expr> {
        if self.depth >= MAX_DEPTH {
            let col = self.toks[self.pos.saturating_sub(1)].1 + 1;
            bail!(
                "expression '{}': nested more than {MAX_DEPTH} levels deep at column {col}",
                short(self.src),
            );
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }
    fn col(&self) -> usize {
        self.toks
            .get(self.pos)
            .map(|t| t.1 + 1)
            .unwrap_or(self.src.len() + 1)
    }
    fn expect(&mut self, c: char) -> Result<()> {
        if self.peek() == Some(&Tok::Op(c)) {
            self.pos += 1;
            Ok(())
        } else {
            bail!(
                "expression '{}': expected '{c}' at column {}",
                self.src,
                self.col(),
                c = crate::format::printable(&c.to_string())
            )
        }
    }
    fn expr(&mut self) -> Result<Expr> {
        let mut e = self.term()?;
        while let Some(Tok::Op(op @ ('+' | '-'))) = self.peek().cloned() {
            self.pos += 1;
            e = Expr::Bin(Box::new(e), op, Box::new(self.term()?));
        }
        Ok(e)
    }
    fn term(&mut self) -> Result<Expr> {
        let mut e = self.unary()?;
        while let Some(Tok::Op(op @ ('*' | '/'))) = self.peek().cloned() {
            self.pos += 1;
            e = Expr::Bin(Box::new(e), op, Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> Result<Expr> {
        if self.peek() == Some(&Tok::Op('-')) {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.nested(|p| p.unary())?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<Expr> {
        let col = self.col();
        match self.peek().cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Ident(name)) => {
                self.pos += 1;
                if self.peek() != Some(&Tok::Op('(')) {
                    return Ok(Expr::Var(name));
                }
                if name != "sum" {
                    bail!("expression '{}': unknown function {name} at column {col} (there is sum(EXPR, DIM))", self.src);
                }
                self.pos += 1;
                let inner = self.nested(|p| p.expr())?;
                self.expect(',')?;
                let dim = match self.peek().cloned() {
                    Some(Tok::Ident(d)) => d,
                    _ => bail!(
                        "expression '{}': sum needs a dimension name at column {}",
                        self.src,
                        self.col()
                    ),
                };
                self.pos += 1;
                self.expect(')')?;
                Ok(Expr::Sum(Box::new(inner), dim))
            }
            Some(Tok::Op('(')) => {
                self.pos += 1;
                let e = self.nested(|p| p.expr())?;
                self.expect(')')?;
                Ok(e)
            }
            _ => bail!(
                "expression '{}': expected a variable, number or '(' at column {col}",
                self.src
            ),
        }
    }
}

/// Parses an expression; errors name the expression and the column.
pub fn parse(src: &str) -> Result<Expr> {
    let toks = tokenize(src)?;
    if toks.len() > MAX_TOKENS {
        bail!(
            "expression '{}' has {} tokens, more than the {MAX_TOKENS} allowed",
            short(src),
            toks.len()
        );
    }
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
    };
    if p.toks.is_empty() {
        bail!("expression is empty");
    }
    let e = p.expr()?;
    if p.pos < p.toks.len() {
        bail!(
            "expression '{src}': unexpected text at column {}",
            p.col(),
            src = crate::format::printable(src)
        );
    }
    Ok(e)
}

/// An expression as quoted in a message: at most 60 characters.
fn short(src: &str) -> String {
    if src.chars().count() <= 60 {
        src.to_string()
    } else {
        format!("{}...", src.chars().take(57).collect::<String>())
    }
}

enum Val {
    F(Box<Field>),
    N(f64),
}

impl Expr {
    /// The history variables the expression reads, in order of first use.
    pub fn variables(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Var(v) if !out.contains(v) => out.push(v.clone()),
                Expr::Var(_) | Expr::Num(_) => {}
                Expr::Neg(a) | Expr::Sum(a, _) => walk(a, out),
                Expr::Bin(a, _, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        walk(self, &mut out);
        out
    }

    fn value(&self, vars: &HashMap<String, Field>) -> Result<Val> {
        Ok(match self {
            Expr::Num(n) => Val::N(*n),
            Expr::Var(v) => Val::F(Box::new(
                vars.get(v)
                    .with_context(|| format!("variable {v} was not read"))?
                    .clone(),
            )),
            Expr::Neg(a) => match a.value(vars)? {
                Val::N(n) => Val::N(-n),
                Val::F(f) => Val::F(Box::new(f.combine_scalar(-1.0, '*', false)?)),
            },
            Expr::Sum(a, dim) => match a.value(vars)? {
                Val::F(f) => Val::F(Box::new(f.sum_over(dim)?)),
                Val::N(_) => bail!("sum(..., {dim}) of a number"),
            },
            Expr::Bin(a, op, b) => match (a.value(vars)?, b.value(vars)?) {
                (Val::N(x), Val::N(y)) => Val::N(super::apply(x, y, *op)),
                (Val::F(f), Val::N(y)) => Val::F(Box::new(f.combine_scalar(y, *op, false)?)),
                (Val::N(x), Val::F(g)) => Val::F(Box::new(g.combine_scalar(x, *op, true)?)),
                (Val::F(f), Val::F(g)) => Val::F(Box::new(f.combine(&g, *op)?)),
            },
        })
    }

    /// Evaluates on fields named by their variables; the result is named `name`.
    pub fn eval(&self, vars: &HashMap<String, Field>, name: &str) -> Result<Field> {
        match self.value(vars)? {
            Val::F(f) => {
                let mut f = *f;
                f.name = name.to_string();
                if self.variables().len() != 1 || !matches!(self, Expr::Var(_)) {
                    f.long_name = name.to_string();
                }
                Ok(f)
            }
            Val::N(_) => bail!(
                "expression '{name}' uses no history variable",
                name = crate::format::printable(name)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_functions() {
        let e = parse("TOTSOILLIQ + TOTSOILICE * 2").unwrap();
        assert_eq!(
            e,
            Expr::Bin(
                Box::new(Expr::Var("TOTSOILLIQ".into())),
                '+',
                Box::new(Expr::Bin(
                    Box::new(Expr::Var("TOTSOILICE".into())),
                    '*',
                    Box::new(Expr::Num(2.0))
                ))
            )
        );
        let s = parse("sum(SOILLIQ + SOILICE, levsoi) / 1e3").unwrap();
        assert_eq!(s.variables(), vec!["SOILLIQ", "SOILICE"]);
        assert_eq!(parse("-(A - B)").unwrap().variables(), vec!["A", "B"]);
    }

    #[test]
    fn errors_name_the_column() {
        assert!(parse("QVEGT / ")
            .unwrap_err()
            .to_string()
            .contains("column 9"));
        assert!(parse("QVEGT $ 2")
            .unwrap_err()
            .to_string()
            .contains("unexpected '$' at column 7"));
        assert!(parse("mean(GPP, time)")
            .unwrap_err()
            .to_string()
            .contains("unknown function mean"));
        assert!(parse("(GPP")
            .unwrap_err()
            .to_string()
            .contains("expected ')'"));
        assert!(parse("GPP FSH")
            .unwrap_err()
            .to_string()
            .contains("unexpected text at column 5"));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        // issue 18: 20,000 parentheses or 10,000 leading minus signs overflowed the stack
        let parens = format!("{}GPP{}", "(".repeat(20_000), ")".repeat(20_000));
        let e = parse(&parens).unwrap_err().to_string();
        assert!(e.contains("more than the 1000 allowed"), "{e}");
        let minus = format!("{}GPP", "-".repeat(10_000));
        assert!(parse(&minus).is_err());
        // within the token cap, nesting stops at 64 levels: 65 parentheses name column 65
        let e = parse(&format!("{}GPP{}", "(".repeat(65), ")".repeat(65)))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("nested more than 64 levels deep at column 65"),
            "{e}"
        );
        let e = parse(&format!("{}GPP", "-".repeat(65)))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nested more than 64 levels"), "{e}");
        // 64 levels still parse, and evaluate to the same variable list
        let ok = format!("{}GPP{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(parse(&ok).unwrap(), Expr::Var("GPP".into()));
        // a long flat chain within the cap is fine: 499 '+' make a 499-deep tree
        let chain = vec!["GPP"; 500].join(" + ");
        assert_eq!(parse(&chain).unwrap().variables(), vec!["GPP"]);
    }
}
