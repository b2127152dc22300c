//! Registries of kinds (backends, emulators): the kinds clmtune has, then those a program
//! built on clmtune (or a test) adds at run time, looked up by name. Each registry is one
//! `static` [`Kinds`] beside the trait its kinds implement.

use anyhow::{bail, Result};
use std::sync::RwLock;

/// A kind in a registry: it has a name, unique in its registry.
pub trait Named: Copy + 'static {
    /// The name a config or a script gives.
    fn name(&self) -> &'static str;
}

/// The kinds of one registry: built-in ones, then registered ones, in that order.
pub struct Kinds<K: 'static> {
    /// What one kind is called in messages, with its article (`a backend kind`).
    what: &'static str,
    built_in: &'static [K],
    added: RwLock<Vec<K>>,
}

impl<K: Named> Kinds<K> {
    /// A registry of `built_in` kinds; `what` names one in messages (`an emulator kind`).
    pub const fn new(what: &'static str, built_in: &'static [K]) -> Kinds<K> {
        Kinds {
            what,
            built_in,
            added: RwLock::new(Vec::new()),
        }
    }

    /// Every kind: the built-in ones, then those added by [`Kinds::register`].
    pub fn all(&self) -> Vec<K> {
        let added = self.added.read().unwrap_or_else(|e| e.into_inner());
        self.built_in.iter().chain(added.iter()).copied().collect()
    }

    /// Adds a kind; an error if its name is taken.
    pub fn register(&self, kind: K) -> Result<()> {
        let mut added = self.added.write().unwrap_or_else(|e| e.into_inner());
        if self
            .built_in
            .iter()
            .chain(added.iter())
            .any(|k| k.name() == kind.name())
        {
            bail!("{} '{}' is registered already", self.what, kind.name());
        }
        added.push(kind);
        Ok(())
    }

    /// The kind named `name`, if there is one.
    pub fn get(&self, name: &str) -> Option<K> {
        self.all().into_iter().find(|k| k.name() == name)
    }

    /// The names, in order.
    pub fn names(&self) -> Vec<String> {
        self.all().iter().map(|k| k.name().to_string()).collect()
    }

    /// The names as a choice: `local, cime or none`.
    pub fn choices(&self) -> String {
        let names = self.names();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => names.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Colour(&'static str);

    impl Named for Colour {
        fn name(&self) -> &'static str {
            self.0
        }
    }

    static COLOURS: Kinds<Colour> = Kinds::new("a colour", &[Colour("red"), Colour("blue")]);

    #[test]
    fn built_in_then_registered_and_names_are_unique() {
        assert_eq!(COLOURS.choices(), "red or blue");
        COLOURS.register(Colour("green")).unwrap();
        assert_eq!(COLOURS.names(), ["red", "blue", "green"]);
        assert_eq!(COLOURS.choices(), "red, blue or green");
        assert_eq!(COLOURS.get("green"), Some(Colour("green")));
        assert_eq!(COLOURS.get("pink"), None);
        let e = COLOURS.register(Colour("red")).unwrap_err().to_string();
        assert_eq!(e, "a colour 'red' is registered already");
        let one: Kinds<Colour> = Kinds::new("a colour", &[Colour("red")]);
        assert_eq!(one.choices(), "red");
    }
}
