//! Strict JSON for request bodies: what serde_json alone lets through but
//! other JSON parsers read differently, or not at all, is refused here, so a
//! body means one thing to rampart and to whoever reads it back.
//!
//! [`from_slice`] reads one value with nothing but white space after it
//! (`{"payload":1}xyz` is refused), and wraps serde_json's deserializer in
//! [`Strict`], which checks two things serde's derives and serde_json leave
//! open:
//!
//! - an object where the shape is an object: a derived struct also accepts
//!   its fields as a positional array (`["name","admin"]`), which no client
//!   means;
//! - raw values (payloads and results, carried through unparsed) nested at
//!   most [`MAX_DEPTH`] deep, the limit serde_json puts on typed fields but
//!   not on raw ones, and with no number beyond the range of an f64
//!   (`1e999`), which strict parsers refuse: a lease answer carrying one
//!   would fail a worker's parser on the whole batch.
//!
//! Errors raised here are serde errors, so `serde_path_to_error` names the
//! field they happened in.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess};
use serde::de::{VariantAccess, Visitor};

/// How deeply arrays and objects may nest in a payload or result.
pub const MAX_DEPTH: usize = 128;

/// The name serde_json gives a `RawValue` while reading one (its
/// `serde_json::raw::TOKEN`): the only way to tell a raw value apart.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Digits an integer or fraction may have before it could exceed an f64:
/// anything with an exponent, or longer, is checked by parsing it.
const PLAIN_NUMBER_CHARS: usize = 300;

/// Why a body could not be read, and where.
#[derive(Debug)]
pub struct JsonError {
    /// The path of the field concerned (`jobs[1].payload`), `.` for the whole body.
    pub path: String,
    /// What was wrong.
    pub error: serde_json::Error,
}

/// Reads one JSON value of type `T` strictly.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(Strict(&mut de))
        .map_err(|e| JsonError { path: e.path().to_string(), error: e.into_inner() })?;
    de.end().map_err(|error| JsonError { path: ".".to_string(), error })?;
    Ok(value)
}

/// Checks raw JSON text that serde_json has already found valid: at most
/// [`MAX_DEPTH`] levels of arrays and objects, and every number within the
/// range of an f64.
pub fn check_raw(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'"' => {
                i += 1;
                // To the closing quote, stepping over escapes (`\"`, `\\`).
                while let Some(off) = bytes[i..].iter().position(|&c| c == b'"' || c == b'\\') {
                    i += off;
                    if bytes[i] == b'"' {
                        break;
                    }
                    i += 2;
                }
                i += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!(
                        "arrays and objects are nested deeper than {MAX_DEPTH} levels; \
                         rampart keeps JSON at most {MAX_DEPTH} levels deep so every parser can read it back"
                    ));
                }
                i += 1;
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes.get(i).is_some_and(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
                    i += 1;
                }
                let number = &text[start..i];
                let checked = number.len() > PLAIN_NUMBER_CHARS || number.contains(['e', 'E']);
                if checked && !number.parse::<f64>().is_ok_and(f64::is_finite) {
                    let shown: String = number.chars().take(40).collect();
                    return Err(format!(
                        "the number {shown}{} is beyond the range of a 64-bit float, which strict JSON parsers refuse",
                        if number.len() > 40 { "…" } else { "" }
                    ));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// A deserializer that refuses arrays for structs and checks raw values
/// (see the module doc), passing everything else to the one it wraps.
pub struct Strict<D>(pub D);

macro_rules! forward_deserialize {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap::<V, false>(visitor))
        }
    )*};
}

/// Integers: as [`forward_deserialize`], but a number written with a zero
/// fraction (`3.0`), which JSON and JSON Schema count as the integer 3,
/// reads as that integer.
macro_rules! forward_deserialize_integer {
    ($($method:ident),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap::<V, false, true>(visitor))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward_deserialize_integer!(
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
    );

    forward_deserialize!(
        deserialize_any,
        deserialize_bool,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap::<V, false>(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        if name == RAW_VALUE_TOKEN {
            self.0.deserialize_newtype_struct(name, Raw(visitor))
        } else {
            self.0.deserialize_newtype_struct(name, Wrap::<V, false>(visitor))
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap::<V, false>(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap::<V, false>(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Wrap::<V, true>(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap::<V, false>(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor whose nested values are read through [`Strict`] too; with
/// `OBJECT` it is a struct's, and refuses an array; with `INTEGER` it is an
/// integer's, and reads a float with a zero fraction as the integer.
struct Wrap<V, const OBJECT: bool, const INTEGER: bool = false>(V);

/// The largest integer every f64 below it represents exactly (2^53).
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

macro_rules! forward_visit {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.0.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>, const OBJECT: bool, const INTEGER: bool> Visitor<'de> for Wrap<V, OBJECT, INTEGER> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit!(
        visit_bool: bool,
        visit_i8: i8,
        visit_i16: i16,
        visit_i32: i32,
        visit_i64: i64,
        visit_i128: i128,
        visit_u8: u8,
        visit_u16: u16,
        visit_u32: u32,
        visit_u64: u64,
        visit_u128: u128,
        visit_f32: f32,
        visit_char: char,
        visit_str: &str,
        visit_borrowed_str: &'de str,
        visit_string: String,
        visit_bytes: &[u8],
        visit_borrowed_bytes: &'de [u8],
        visit_byte_buf: Vec<u8>,
    );

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if INTEGER && v.fract() == 0.0 && v.abs() <= EXACT_F64 {
            // Exact: |v| ≤ 2^53 and whole, so the casts lose nothing.
            #[allow(clippy::cast_possible_truncation)]
            return if v < 0.0 { self.0.visit_i64(v as i64) } else { self.0.visit_u64(v as u64) };
        }
        self.0.visit_f64(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_some(Strict(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.visit_newtype_struct(Strict(d))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if OBJECT {
            return Err(de::Error::custom(
                "expected a JSON object of named fields ({\"field\": value, …}), found an array",
            ));
        }
        self.0.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.0.visit_map(Map(map))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.0.visit_enum(Enum(data))
    }
}

/// A seed whose value is read through [`Strict`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Strict(d))
    }
}

/// An array's elements, each read through [`Strict`].
struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An object's keys and values, each read through [`Strict`].
struct Map<A>(A);

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An enum's variant, its content read through [`Strict`].
struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Variant(variant)))
    }
}

/// See [`Enum`].
struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap::<V, false>(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap::<V, true>(visitor))
    }
}

/// The visitor of a raw value. serde_json hands it a one-entry map whose
/// value is the raw text; that text is checked with [`check_raw`] on its
/// way, and a problem is raised once the map is read, outside it, so the
/// error's path is the field's and not the map's private key.
struct Raw<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Raw<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let problem = Cell::new(None);
        let value = self.0.visit_map(RawMap { map, problem: &problem })?;
        match problem.take() {
            Some(problem) => Err(de::Error::custom(problem)),
            None => Ok(value),
        }
    }
}

/// See [`Raw`].
struct RawMap<'p, A> {
    map: A,
    problem: &'p Cell<Option<String>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for RawMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.map.next_key_seed(seed)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(RawSeed { seed, problem: self.problem })
    }
}

/// See [`Raw`].
struct RawSeed<'p, S> {
    seed: S,
    problem: &'p Cell<Option<String>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for RawSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(RawText { de: d, problem: self.problem })
    }
}

/// The deserializer of a raw value's text: every request goes to the one
/// it wraps as `deserialize_any`, which is all serde_json's raw text
/// deserializer answers.
struct RawText<'p, D> {
    de: D,
    problem: &'p Cell<Option<String>>,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for RawText<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(RawTextVisitor { visitor, problem: self.problem })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// Checks the raw text, keeping what is wrong for [`Raw`], and hands it on.
struct RawTextVisitor<'p, V> {
    visitor: V,
    problem: &'p Cell<Option<String>>,
}

/// Keeps what [`check_raw`] finds wrong with `text` in `problem`.
fn note(problem: &Cell<Option<String>>, text: &str) {
    if let Err(e) = check_raw(text) {
        problem.set(Some(e));
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for RawTextVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        note(self.problem, v);
        self.visitor.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        note(self.problem, v);
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        note(self.problem, &v);
        self.visitor.visit_string(v)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::value::RawValue;

    use super::*;

    fn check(text: &str, ok: bool) {
        assert!(serde_json::from_str::<&RawValue>(text).is_ok(), "valid JSON: {text}");
        assert_eq!(check_raw(text).is_ok(), ok, "{text}: {:?}", check_raw(text));
    }

    #[test]
    fn raw_text_is_checked_for_depth_and_number_range() {
        let nested = |n: usize| format!("{}0{}", "[".repeat(n), "]".repeat(n));
        check(&nested(128), true);
        check(&nested(129), false);
        check(&format!("[{},{}]", nested(127), nested(127)), true);
        check(r#"{"a":{"b":"[[[[{{{{\"\\"}}"#, true);
        check(&format!(r#"["{}"]"#, "[".repeat(1000)), true);
        check(&format!(r#"{{"k\"[":{}}}"#, nested(127)), true);
        check(&format!(r#"{{"k\"[":{}}}"#, nested(128)), false);
        for ok in ["0", "-0", "1.5e308", "-1.7976931348623157e308", "1e-400", "123456789012345678901234567890"] {
            check(ok, true);
        }
        for bad in ["1e309", "-1e999", "1E+999", "[0,{\"a\":[2e400]}]", &format!("1{}", "0".repeat(400))] {
            check(bad, false);
        }
        check(r#""1e999""#, true);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        data: Option<Box<RawValue>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Request {
        items: Vec<Item>,
        #[serde(default)]
        pair: Option<(u32, u32)>,
    }

    fn read(text: &str) -> Result<Request, String> {
        from_slice::<Request>(text.as_bytes()).map_err(|e| format!("{}: {}", e.path, e.error))
    }

    #[test]
    fn bodies_are_read_strictly_naming_the_path() {
        let ok = read(r#" {"items":[{"name":"a","data":{"x":[1,2]}}],"pair":[1,2]} "#).unwrap();
        assert_eq!(ok.items[0].name, "a");
        assert_eq!(ok.items[0].data.as_ref().map(|d| d.get()), Some(r#"{"x":[1,2]}"#));
        assert_eq!(ok.pair, Some((1, 2)));
        let failing = [
            (r#"{"items":[]}x"#, ".: trailing characters"),
            (r#"["items"]"#, ".: expected a JSON object"),
            (r#"{"items":[["a"]]}"#, "items[0]: expected a JSON object"),
            (r#"{"items":[{"name":"a","data":1e999}]}"#, "items[0].data: the number 1e999 is beyond"),
            (
                &format!(r#"{{"items":[{{"name":"a","data":{}1{}}}]}}"#, "[".repeat(200), "]".repeat(200)),
                "items[0].data: arrays and objects are nested deeper than 128",
            ),
        ];
        for (text, want) in failing {
            let got = read(text).unwrap_err();
            assert!(got.starts_with(want), "{text}: {got}");
        }
    }
}
