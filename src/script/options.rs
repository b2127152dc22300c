//! Options maps (`#{n: 1000, seed: 1}`) read into plain Rust structs with serde: the keys
//! are checked against the struct's own field names (an unknown one gets a did-you-mean),
//! and a value of the wrong type gets a message naming the option.
//!
//! A settings struct derives `Deserialize` with `#[serde(default, deny_unknown_fields)]`;
//! values that are not plain data (an Array, a closure, a script type) are held as
//! [`rhai::Dynamic`] and read after. A Rhai int is taken where a float is (`f64` fields);
//! a float is never taken where an int is.

use super::convert::{type_name, RResult};
use rhai::serde::DynamicDeserializer;
use rhai::{Dynamic, Map};
use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, Visitor};
use std::fmt;

/// Reads an options map into `T`; `what` names the taker in messages (`"optimize"` gives
/// `unknown option 'sed' (did you mean 'seed'?): optimize takes methods and seed`).
pub fn read<T: DeserializeOwned>(options: &Map, what: &str) -> RResult<T> {
    read_with(options, what, &[])
}

/// [`read`] with `others`: keys the caller reads itself, accepted (and named in the list
/// of an unknown option's message) but not given to `T`.
pub fn read_with<T: DeserializeOwned>(options: &Map, what: &str, others: &[&str]) -> RResult<T> {
    let mut known: Vec<&str> = field_names::<T>().to_vec();
    known.extend(others);
    check_keys(options, what, &known)?;
    let mut own = options.clone();
    own.retain(|k, _| !others.contains(&k.as_str()));
    T::deserialize(Options(&own)).map_err(|e| super::convert::script_err(e.0))
}

/// Refuses a key of `options` that is not in `known`, with a did-you-mean and the list:
/// `unknown option 'sed' (did you mean 'seed'?): WHAT takes n and seed`.
pub fn check_keys(options: &Map, what: &str, known: &[&str]) -> RResult<()> {
    let known: Vec<String> = known.iter().map(|k| k.to_string()).collect();
    for k in options.keys() {
        if !known.iter().any(|n| n == k.as_str()) {
            let hint = match crate::format::closest_names(k, &known).first() {
                Some(c) => format!(" (did you mean '{}'?)", crate::format::printable(c)),
                None => String::new(),
            };
            return Err(super::convert::script_err(format!(
                "unknown option '{k}'{hint}: {what} takes {}",
                and_list(&known),
                k = crate::format::printable(k)
            )));
        }
    }
    Ok(())
}

/// The options map as a serde deserializer (the value conversions of [`read`], no key
/// check): for settings whose type the caller does not know, e.g. a registered emulator's.
pub fn deserializer(options: &Map) -> Options<'_> {
    Options(options)
}

/// The field names serde knows `T` by, in declaration order.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    crate::settings::field_names::<T>()
}

/// `a, b and c`.
fn and_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A message of a failed read.
#[derive(Debug)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// The options map as a serde map.
pub struct Options<'a>(&'a Map);

impl<'de> Deserializer<'de> for Options<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_map(Entries {
            iter: self.0.iter(),
            value: None,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct Entries<'a> {
    iter: std::collections::btree_map::Iter<'a, rhai::Identifier, Dynamic>,
    value: Option<(&'a str, &'a Dynamic)>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some((k.as_str(), v));
                seed.deserialize(k.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: de::DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let (key, value) = self
            .value
            .take()
            .ok_or_else(|| Error("an option's value without its key".into()))?;
        seed.deserialize(Value { key, value })
    }
}

/// One option's value: rhai's own deserializer, with ints taken as floats and its type
/// errors turned into `option n is a whole number, not "abc"`.
struct Value<'a> {
    key: &'a str,
    value: &'a Dynamic,
}

impl<'a> Value<'a> {
    fn wrong(&self, expected: &str) -> Error {
        let v = self.value;
        let shown = if let Ok(s) = v.clone().into_string() {
            format!("\"{}\"", crate::format::printable(&s))
        } else if v.is_int() || v.is_float() || v.is_bool() {
            v.to_string()
        } else {
            let t = type_name(v);
            let article = if t.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']) {
                "an"
            } else {
                "a"
            };
            format!("{article} {t}")
        };
        Error(format!("option {} is {expected}, not {shown}", self.key))
    }

    fn rhai(&self) -> DynamicDeserializer<'a> {
        DynamicDeserializer::new(self.value)
    }
}

/// A message a settings type gave (`unknown kernel 'x': use ...`) as it gave it: rhai's
/// deserializer wraps such a message as a syntax error.
fn own_words(e: rhai::EvalAltResult) -> String {
    use rhai::{EvalAltResult, LexError, ParseErrorType};
    match e {
        EvalAltResult::ErrorParsing(
            ParseErrorType::BadInput(LexError::ImproperSymbol(_, m)),
            _,
        ) => m,
        e => e.to_string(),
    }
}

/// Methods handed to rhai's deserializer, with what the option must be when it fails.
macro_rules! leaves {
    ($($method:ident => $expected:expr),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.rhai().$method(visitor).map_err(|_| self.wrong($expected))
            }
        )*
    };
}

const WHOLE: &str = "a whole number";
const COUNT: &str = "a whole number >= 0";

impl<'de> Deserializer<'de> for Value<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.rhai()
            .deserialize_any(visitor)
            .map_err(|e| Error(format!("option {}: {}", self.key, own_words(*e))))
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value.as_int() {
            Ok(i) => visitor.visit_f64(i as f64),
            Err(_) => self
                .rhai()
                .deserialize_f64(visitor)
                .map_err(|_| self.wrong("a number")),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.value.is_unit() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let names: Vec<String> = variants.iter().map(|v| format!("\"{v}\"")).collect();
        self.rhai()
            .deserialize_enum(name, variants, visitor)
            .map_err(|_| self.wrong(&format!("one of {}", and_list(&names))))
    }

    leaves! {
        deserialize_bool => "true or false",
        deserialize_i8 => WHOLE, deserialize_i16 => WHOLE, deserialize_i32 => WHOLE,
        deserialize_i64 => WHOLE, deserialize_i128 => WHOLE,
        deserialize_u8 => COUNT, deserialize_u16 => COUNT, deserialize_u32 => COUNT,
        deserialize_u64 => COUNT, deserialize_u128 => COUNT,
        deserialize_char => "a character",
        deserialize_str => "a string", deserialize_string => "a string",
        deserialize_identifier => "a string",
        deserialize_bytes => "a BLOB", deserialize_byte_buf => "a BLOB",
        deserialize_unit => "()",
        deserialize_seq => "a list",
        deserialize_map => "a map",
        deserialize_ignored_any => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        n: i64,
        seed: u64,
        tol: f64,
        names: Vec<String>,
        centre: bool,
        start: Dynamic,
    }

    impl Default for Sample {
        fn default() -> Self {
            Sample {
                n: 10,
                seed: 0,
                tol: 0.5,
                names: vec!["a".into()],
                centre: true,
                start: Dynamic::UNIT,
            }
        }
    }

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    fn message(m: &[(&str, Dynamic)]) -> String {
        match *read::<Sample>(&map(m), "sample").unwrap_err() {
            rhai::EvalAltResult::ErrorRuntime(d, _) => d.to_string(),
            e => panic!("not a runtime error: {e}"),
        }
    }

    #[test]
    fn field_names_come_from_the_type() {
        assert_eq!(
            field_names::<Sample>(),
            ["n", "seed", "tol", "names", "centre", "start"]
        );
    }

    #[test]
    fn unknown_option_with_did_you_mean() {
        assert_eq!(
            message(&[("sed", Dynamic::from_int(1))]),
            "unknown option 'sed' (did you mean 'seed'?): sample takes n, seed, tol, names, centre and start"
        );
        assert_eq!(
            message(&[("walkers", Dynamic::from_int(1))]),
            "unknown option 'walkers': sample takes n, seed, tol, names, centre and start"
        );
    }

    #[test]
    fn other_keys_are_accepted_and_listed() {
        let m = map(&[("method", "cost".into()), ("n", Dynamic::from_int(3))]);
        let s: Sample = read_with(&m, "sample", &["method"]).unwrap();
        assert_eq!(s.n, 3);
        let m = map(&[("metod", "cost".into())]);
        let e = read_with::<Sample>(&m, "sample", &["method"]).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown option 'metod' (did you mean 'method'?): sample takes n, seed, tol, names, centre, start and method"),
            "{e}"
        );
    }

    #[derive(Debug, serde::Deserialize, Default)]
    #[serde(default)]
    struct Kernels {
        #[serde(deserialize_with = "crate::settings::names")]
        kernels: Vec<crate::emulate::gp::Kernel>,
    }

    #[test]
    fn a_types_own_message_is_given_as_it_is() {
        let m = map(&[("kernels", "matern99".into())]);
        let e = read::<Kernels>(&m, "fit_gp").unwrap_err().to_string();
        assert!(
            e.contains("option kernels: unknown kernel 'matern99': use squared_exponential, matern32 or matern52"),
            "{e}"
        );
        assert!(!e.contains("Syntax error"), "{e}");
    }

    #[test]
    fn wrong_type_names_the_option() {
        assert_eq!(
            message(&[("n", "abc".into())]),
            "option n is a whole number, not \"abc\""
        );
        assert_eq!(
            message(&[("n", Dynamic::from_float(2.5))]),
            "option n is a whole number, not 2.5"
        );
        assert_eq!(
            message(&[("seed", Dynamic::from_int(-1))]),
            "option seed is a whole number >= 0, not -1"
        );
        assert_eq!(
            message(&[("tol", true.into())]),
            "option tol is a number, not true"
        );
        assert_eq!(
            message(&[("centre", Dynamic::from_int(1))]),
            "option centre is true or false, not 1"
        );
        assert_eq!(
            message(&[("names", Dynamic::from_map(Map::new()))]),
            "option names is a list, not a map"
        );
    }

    #[test]
    fn int_into_float() {
        let s: Sample = read(&map(&[("tol", Dynamic::from_int(2))]), "sample").unwrap();
        assert_eq!(s.tol, 2.0);
        let s: Sample = read(&map(&[("tol", Dynamic::from_float(0.25))]), "sample").unwrap();
        assert_eq!(s.tol, 0.25);
    }

    #[test]
    fn defaults_and_dynamic_values() {
        let s: Sample = read(&Map::new(), "sample").unwrap();
        assert_eq!((s.n, s.seed, s.tol, s.centre), (10, 0, 0.5, true));
        assert_eq!(s.names, ["a"]);
        assert!(s.start.is_unit());
        let a = Dynamic::from(crate::script::array::NdArray::new(
            ndarray::arr1(&[0.5, 0.25]).into_dyn(),
        ));
        let m = map(&[
            ("start", a),
            ("names", Dynamic::from_array(vec!["x".into(), "y".into()])),
        ]);
        let s: Sample = read(&m, "sample").unwrap();
        assert_eq!(s.names, ["x", "y"]);
        let got = s
            .start
            .read_lock::<crate::script::array::NdArray>()
            .unwrap();
        assert_eq!(got.data().iter().copied().collect::<Vec<_>>(), [0.5, 0.25]);
    }
}
