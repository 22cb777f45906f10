//! Block-style YAML for the status files, from any `Serialize` value, and the scalars
//! `recert decide` writes into decisions files (plain where that reads back, else quoted).
//!
//! The status is rewritten for every review a pass touches; serde-saphyr's serializer, which
//! weighs every string against many styles, took about as long per status as everything else
//! the pass writes for that review. This one knows two styles: plain, when the string cannot
//! be read as anything else in YAML 1.1 or 1.2 and needs no escape, and double-quoted (JSON's
//! escapes, which YAML shares, plus `\uXXXX` for what YAML will not take raw) otherwise.
//!
//! The layout is the one people see in Kubernetes objects: two spaces per level, sequences
//! under a key at the key's own indentation, `{}` and `[]` for empty collections.

use std::fmt::Write as _;

use serde::Serialize;
use serde::ser::{self, Impossible};

#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// The YAML text of `value`.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    let mut out = String::with_capacity(16 * 1024);
    value.serialize(Node {
        out: &mut out,
        at: At::Top,
    })?;
    Ok(out)
}

/// Where a node goes, which decides what is written before and after it.
#[derive(Debug, Clone, Copy)]
enum At {
    /// The document itself.
    Top,
    /// After `key:` on a line indented by the value.
    Value(usize),
    /// After `- ` on a line indented by the value.
    Item(usize),
}

impl At {
    /// The indentation of a mapping's keys written here.
    fn keys(self) -> usize {
        match self {
            At::Top => 0,
            At::Value(indent) | At::Item(indent) => indent + 2,
        }
    }

    /// The indentation of a sequence's dashes written here: under a key, the key's own.
    fn dashes(self) -> usize {
        match self {
            At::Top => 0,
            At::Value(indent) => indent,
            At::Item(indent) => indent + 2,
        }
    }

    /// What separates the start of a collection from its first entry.
    fn open(self, out: &mut String, indent: usize) {
        match self {
            // The entry is already at a line start, or right after `- `.
            At::Top | At::Item(_) => {}
            At::Value(_) => {
                out.push('\n');
                pad(out, indent);
            }
        }
    }

    /// An empty collection, in flow style.
    fn empty(self, out: &mut String, text: &str) {
        if matches!(self, At::Value(_)) {
            out.push(' ');
        }
        out.push_str(text);
        out.push('\n');
    }
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

struct Node<'o> {
    out: &'o mut String,
    at: At,
}

impl Node<'_> {
    fn scalar(self, text: &str) -> Result<(), Error> {
        if matches!(self.at, At::Value(_)) {
            self.out.push(' ');
        }
        self.out.push_str(text);
        self.out.push('\n');
        Ok(())
    }

    fn string(self, text: &str) -> Result<(), Error> {
        if matches!(self.at, At::Value(_)) {
            self.out.push(' ');
        }
        push_str_scalar(self.out, text);
        self.out.push('\n');
        Ok(())
    }
}

/// Writes `text` as a plain scalar when that reads back as the same string, else quoted.
fn push_str_scalar(out: &mut String, text: &str) {
    if is_plain_safe(text) {
        out.push_str(text);
    } else {
        push_double_quoted(out, text);
    }
}

/// Writes `text` as a YAML double-quoted scalar; every escape used is one YAML 1.1 and 1.2
/// both know (JSON's, and `\uXXXX`).
pub fn push_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Characters YAML does not take raw in a quoted scalar (C0 and C1 controls, DEL, the
/// Unicode line and paragraph separators, the byte-order mark, the two non-characters).
pub fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1F}'
            | '\u{7F}'..='\u{9F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{FEFF}'
            | '\u{FFFE}'
            | '\u{FFFF}'
    )
}

/// Whether `text` reads back as itself when written plain, in YAML 1.1 and in 1.2. One pass
/// over the bytes: most strings in a status are short, and `str::contains` per pattern cost
/// more than the writing.
pub fn is_plain_safe(text: &str) -> bool {
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    // Indicators, and what could start a signed number, `.inf`, or a YAML 1.1 merge key or
    // value key.
    if b" -?:,[]{}#&*!|>'\"%@`+.~<=".contains(&first) || matches!(last, b' ' | b':') {
        return false;
    }
    if first.is_ascii_digit() && could_be_number_or_date(text) {
        return false;
    }
    let mut prev = 0;
    for &b in bytes {
        // `: ` ends a key, ` #` starts a comment; controls (tab and line breaks among them)
        // need escapes.
        if (b == b' ' && prev == b':') || (b == b'#' && prev == b' ') || b < 0x20 || b == 0x7F {
            return false;
        }
        prev = b;
    }
    if !text.is_ascii()
        && (text.chars().next().is_some_and(char::is_whitespace) || text.chars().any(needs_escape))
    {
        return false;
    }
    // YAML 1.1 booleans and nulls, which 1.2 readers may still follow.
    const WORDS: [&str; 10] = [
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan",
    ];
    bytes.len() > 5 || !WORDS.iter().any(|w| text.eq_ignore_ascii_case(w))
}

/// `s` as a block-context YAML scalar: plain when that reads back as the same string in any
/// YAML parser (1.1 ones included, which take `yes` and `2026-01-01` for other types),
/// double-quoted otherwise.
pub fn yaml_scalar(s: &str) -> String {
    if plain_is_safe(s, false) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

/// Like [`yaml_scalar`], for inside `[...]` or `{...}`, where `,[]{}` end a plain scalar.
pub fn flow_scalar(s: &str) -> String {
    if plain_is_safe(s, true) {
        s.to_owned()
    } else {
        double_quoted(s)
    }
}

fn plain_is_safe(s: &str, flow: bool) -> bool {
    const FLOW: &[char] = &[',', '[', ']', '{', '}'];
    // Belt and braces: the rules above are meant to be enough, but reading the text back with
    // the parser Recert itself uses is what actually decides.
    is_plain_safe(s) && !(flow && s.contains(FLOW)) && reads_back_as(&format!("k: {s}\n"), s)
}

fn reads_back_as(text: &str, s: &str) -> bool {
    let parsed = super::parse(text);
    parsed.errors.is_empty()
        && parsed.documents.len() == 1
        && parsed.documents[0]
            .root
            .get("k")
            .and_then(super::Node::as_str)
            == Some(s)
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    push_double_quoted(&mut out, s);
    out
}

/// Whether `text`, which starts with a digit, could read as a number (any base, `_`
/// separators, exponents, YAML 1.1's base-60 `1:20`) or a timestamp. A superset: an id such
/// as `08e6a218…` or `12abc` has a letter no number has, and stays plain.
fn could_be_number_or_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let date = bytes.len() > 5 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-';
    let based = ["0x", "0X", "0o", "0O", "0b", "0B"]
        .iter()
        .any(|p| text.starts_with(p))
        && bytes[2..]
            .iter()
            .all(|b| b.is_ascii_hexdigit() || *b == b'_');
    let decimal = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || b"_.:eE+-".contains(b));
    date || based || decimal
}

impl<'o> ser::Serializer for Node<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Seq<'o>;
    type SerializeTupleStruct = Seq<'o>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Map<'o>;
    type SerializeStruct = Map<'o>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.scalar(if v { "true" } else { "false" })
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.scalar(&v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.scalar(&v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u64(v.into())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if v.is_nan() {
            self.scalar(".nan")
        } else if v.is_infinite() {
            self.scalar(if v > 0.0 { ".inf" } else { "-.inf" })
        } else {
            // `{:?}` keeps the `.0` that makes a whole number a float.
            self.scalar(&format!("{v:?}"))
        }
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(v.into())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.string(v)
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(Error("bytes have no YAML form here".to_owned()))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.scalar("null")
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.scalar("null")
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        let mut map = self.serialize_map(Some(1))?;
        ser::SerializeMap::serialize_entry(&mut map, variant, value)?;
        ser::SerializeMap::end(map)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Seq<'o>, Error> {
        Ok(Seq {
            indent: self.at.dashes(),
            out: self.out,
            at: self.at,
            first: true,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'o>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'o>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(Error(format!(
            "tuple variant `{variant}` has no YAML form here"
        )))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Map<'o>, Error> {
        Ok(Map {
            indent: self.at.keys(),
            out: self.out,
            at: self.at,
            first: true,
        })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map<'o>, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(Error(format!(
            "struct variant `{variant}` has no YAML form here"
        )))
    }
}

struct Seq<'o> {
    out: &'o mut String,
    at: At,
    indent: usize,
    first: bool,
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        if std::mem::take(&mut self.first) {
            self.at.open(self.out, self.indent);
        } else {
            pad(self.out, self.indent);
        }
        self.out.push_str("- ");
        value.serialize(Node {
            out: self.out,
            at: At::Item(self.indent),
        })
    }

    fn end(self) -> Result<(), Error> {
        if self.first {
            self.at.empty(self.out, "[]");
        }
        Ok(())
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

struct Map<'o> {
    out: &'o mut String,
    at: At,
    indent: usize,
    first: bool,
}

impl Map<'_> {
    fn key(&mut self, key: &str) {
        if std::mem::take(&mut self.first) {
            self.at.open(self.out, self.indent);
        } else {
            pad(self.out, self.indent);
        }
        push_str_scalar(self.out, key);
        self.out.push(':');
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let key = key.serialize(KeyText)?;
        self.key(&key);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(Node {
            out: self.out,
            at: At::Value(self.indent),
        })
    }

    fn end(self) -> Result<(), Error> {
        if self.first {
            self.at.empty(self.out, "{}");
        }
        Ok(())
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.key(key);
        ser::SerializeMap::serialize_value(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

/// A mapping key as text: strings, and what serde_json would also take as a key.
struct KeyText;

impl ser::Serializer for KeyText {
    type Ok = String;
    type Error = Error;
    type SerializeSeq = Impossible<String, Error>;
    type SerializeTuple = Impossible<String, Error>;
    type SerializeTupleStruct = Impossible<String, Error>;
    type SerializeTupleVariant = Impossible<String, Error>;
    type SerializeMap = Impossible<String, Error>;
    type SerializeStruct = Impossible<String, Error>;
    type SerializeStructVariant = Impossible<String, Error>;

    fn serialize_str(self, v: &str) -> Result<String, Error> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_bool(self, v: bool) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, Error> {
        Ok(v.to_string())
    }

    fn serialize_f64(self, _: f64) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_f32(self, _: f32) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_none(self) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<String, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<String, Error> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<String, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<String, Error> {
        Err(key_error())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Err(key_error())
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Err(key_error())
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        Err(key_error())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(key_error())
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Err(key_error())
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Err(key_error())
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(key_error())
    }
}

fn key_error() -> Error {
    Error("a mapping key must be a string or an integer".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// The YAML read back by Recert's own loader (YAML 1.2 core schema).
    fn read_back(text: &str) -> Value {
        let parsed = crate::yaml::parse_values(text);
        assert!(parsed.errors.is_empty(), "{:?} in:\n{text}", parsed.errors);
        assert_eq!(parsed.documents.len(), 1, "{text}");
        parsed.documents[0].root.clone()
    }

    #[test]
    fn plain_scalars_are_used_only_where_they_read_back_unchanged() {
        assert_eq!(yaml_scalar("dave@corp.example"), "dave@corp.example");
        assert_eq!(yaml_scalar("On call, for prod"), "On call, for prod");
        assert_eq!(flow_scalar("On call, for prod"), "\"On call, for prod\"");
        assert_eq!(
            yaml_scalar("Left: see ticket #42"),
            "\"Left: see ticket #42\""
        );
        assert_eq!(yaml_scalar("No"), "\"No\"");
        assert_eq!(yaml_scalar("12"), "\"12\"");
        assert_eq!(yaml_scalar("null"), "\"null\"");
        assert_eq!(yaml_scalar("a\u{7}b"), "\"a\\u0007b\"");
    }

    #[test]
    fn the_layout_is_two_spaces_per_level_with_sequences_at_their_keys_indentation() {
        let value = json!({
            "review": "prod-admins",
            "conditions": [
                {"type": "Ready", "status": "True", "message": ""},
                {"type": "Stalled", "status": "False", "message": "apply blocked: max 10%"},
            ],
            "counts": {"approve": 3, "items": 4},
            "empty": [],
            "none": {},
            "nested": [[1, 2], [], [{"a": null}]],
            "at": "2026-12-02T09:00:00Z",
        });
        let text = to_string(&value).expect("renders");
        // serde_json's map sorts its keys.
        let expected = r#"at: "2026-12-02T09:00:00Z"
conditions:
- message: ""
  status: "True"
  type: Ready
- message: "apply blocked: max 10%"
  status: "False"
  type: Stalled
counts:
  approve: 3
  items: 4
empty: []
nested:
- - 1
  - 2
- []
- - a: null
none: {}
review: prod-admins
"#;
        assert_eq!(text, expected);
        assert_eq!(read_back(&text), value);
    }

    #[test]
    fn strings_that_would_read_as_something_else_are_quoted() {
        for text in [
            "",
            "true",
            "No",
            "off",
            "Y",
            "null",
            "~",
            "12",
            "2026-12-01",
            "1:20",
            "0x1F",
            ".inf",
            "-x",
            "- x",
            "? x",
            "a: b",
            "a:",
            "a #b",
            " lead",
            "trail ",
            "#x",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "'q",
            "\"q",
            "%x",
            "@x",
            "`x",
            "[x",
            "{x",
            "=",
            "<<",
            "tab\there",
            "line\nbreak",
            "nel\u{85}",
            "bom\u{FEFF}",
            "del\u{7F}",
            "nul\u{0}",
        ] {
            let yaml = to_string(&json!({ "k": text })).expect("renders");
            assert!(yaml.starts_with("k: \""), "{text:?} is quoted: {yaml}");
            assert_eq!(read_back(&yaml), json!({ "k": text }), "{yaml}");
        }
        for text in [
            "prod-admins",
            "User 900",
            "/state/reviews/x.yaml",
            "a:b",
            "a#b",
            "Checked against the rota, again",
            "u-10517",
            "user13753@corp.example",
            "Zoë",
            "08e6a21875594a98bf86e2b97cac4c54",
            "12abc",
        ] {
            let yaml = to_string(&json!({ "k": text })).expect("renders");
            assert_eq!(yaml, format!("k: {text}\n"), "{text:?} stays plain");
        }
    }

    /// Text drawn from what breaks YAML: indicators, quotes, escapes, line breaks, controls,
    /// keywords and numbers, and ordinary words.
    fn tricky_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just(String::new()),
            "[a-zA-Z0-9 ]{1,6}",
            prop::sample::select(vec![
                ":",
                ": ",
                " #",
                "#",
                "-",
                "- ",
                "?",
                ",",
                "[",
                "]",
                "{",
                "}",
                "&",
                "*",
                "!",
                "|",
                ">",
                "'",
                "\"",
                "%",
                "@",
                "`",
                "\\",
                "\n",
                "\r",
                "\t",
                "\u{0}",
                "\u{7F}",
                "\u{85}",
                "\u{A0}",
                "\u{2028}",
                "\u{FEFF}",
                "\u{FFFF}",
                "é",
                "ß",
                "true",
                "no",
                "null",
                "~",
                "1",
                "0x1",
                "1e3",
                ".5",
                "2026-12-01",
                "---",
                "...",
            ])
            .prop_map(str::to_owned),
        ];
        prop::collection::vec(piece, 0..5).prop_map(|p| p.concat())
    }

    fn tree() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            tricky_text().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(tricky_text(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn whatever_is_written_reads_back_the_same(value in tree()) {
            let text = to_string(&value).expect("renders");
            prop_assert_eq!(read_back(&text), value, "{}", text);
        }
    }
}
