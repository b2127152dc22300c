//! Settings structs read with serde (a script's options map, a saved stage's settings): the
//! names serde knows a struct's fields by, for messages that list them and for a
//! did-you-mean, without a hand-kept list.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use std::fmt;

/// The field names serde knows `T` by (aliases included), in declaration order: what its
/// `Deserialize` passes to `deserialize_struct`. Empty for a type that is not a struct.
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldNames(&mut fields));
    fields
}

/// Why [`FieldNames`] stopped (it always does, once it has the names).
#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("settings are read into a struct")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

/// A deserializer that only records the field names a struct asks for.
struct FieldNames<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for FieldNames<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        *self.0 = fields;
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Reads a list of numbers in which JSON's `null` stands for NaN (for a
/// `#[serde(deserialize_with)]` field): serde_json writes a NaN as `null`, so a metric that
/// is undefined (an r^2 on one member) reads back as the NaN it was.
pub fn floats_or_null<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    let v: Vec<Option<f64>> = serde::Deserialize::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
}

/// Reads one name or a list of names into values parsed by `FromStr` (for a
/// `#[serde(deserialize_with)]` field): `"matern52"` or `["matern32", "matern52"]`, with the
/// type's own message for a name it does not know.
pub fn names<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr,
    T::Err: fmt::Display,
{
    struct Names<T>(std::marker::PhantomData<T>);
    impl<'de, T: std::str::FromStr> Visitor<'de> for Names<T>
    where
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a name or a list of names")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<T>, E> {
            v.parse().map(|t| vec![t]).map_err(E::custom)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(name) = seq.next_element::<String>()? {
                out.push(name.parse().map_err(de::Error::custom)?);
            }
            Ok(out)
        }
    }
    d.deserialize_any(Names(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        alpha: f64,
        degree: usize,
    }

    #[derive(Debug, PartialEq)]
    enum Colour {
        Red,
        Blue,
    }

    impl std::str::FromStr for Colour {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            match s {
                "red" => Ok(Colour::Red),
                "blue" => Ok(Colour::Blue),
                _ => Err(format!("unknown colour '{s}': use red or blue")),
            }
        }
    }

    #[derive(serde::Deserialize)]
    struct Paint {
        #[serde(deserialize_with = "names")]
        colours: Vec<Colour>,
    }

    #[test]
    fn one_name_or_a_list_of_names_with_the_types_message() {
        let one: Paint = serde_json::from_str(r#"{"colours": "red"}"#).unwrap();
        assert_eq!(one.colours, [Colour::Red]);
        let two: Paint = serde_json::from_str(r#"{"colours": ["blue", "red"]}"#).unwrap();
        assert_eq!(two.colours, [Colour::Blue, Colour::Red]);
        let e = serde_json::from_str::<Paint>(r#"{"colours": ["blue", "green"]}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("unknown colour 'green': use red or blue"),
            "{e}"
        );
        assert!(serde_json::from_str::<Paint>(r#"{"colours": 3}"#).is_err());
    }

    #[test]
    fn field_names_in_declaration_order_and_none_for_a_non_struct() {
        assert_eq!(field_names::<Two>(), ["alpha", "degree"]);
        assert!(field_names::<Vec<f64>>().is_empty());
        assert!(field_names::<f64>().is_empty());
    }

    #[test]
    fn a_nan_written_as_null_reads_back_as_nan() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct S {
            #[serde(deserialize_with = "super::floats_or_null")]
            r2: Vec<f64>,
        }
        let text = serde_json::to_string(&S {
            r2: vec![0.5, f64::NAN],
        })
        .unwrap();
        assert_eq!(text, r#"{"r2":[0.5,null]}"#);
        let back: S = serde_json::from_str(&text).unwrap();
        assert_eq!(back.r2[0], 0.5);
        assert!(back.r2[1].is_nan());
    }
}
