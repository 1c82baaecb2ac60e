//! A small JSON module: a [`Value`], a strict RFC 8259 parser, compact and pretty writers, and a
//! `serde::Serializer` for the crate's report types.
//!
//! It replaces `serde_json` in the page (which cost about 14 KB gzipped there, mostly in code for
//! types the page never reads). What it keeps from `serde_json`'s behaviour, on purpose:
//!
//! - The writers produce the same bytes as `serde_json::to_string` / `to_string_pretty` for the same
//!   members in the same order (same escapes, two-space indent, `"key": value`).
//! - [`Value::get`] returns the *last* member of a name, as `serde_json::Value` kept the last one.
//! - Nesting deeper than [`MAX_DEPTH`] arrays and objects is refused (`serde_json`'s limit too).
//!
//! Numbers keep their text, so integers of any size round-trip exactly and nothing here parses or
//! formats a float. Objects keep their members in order, duplicates included.

use serde::ser::{self, Serialize};
use std::fmt;
use thiserror::Error;

/// The deepest nesting of arrays and objects [`parse`] accepts (as deep as `serde_json` goes).
pub const MAX_DEPTH: usize = 127;

/// A JSON value. Objects are ordered lists of members; see [`Value::get`] for duplicate names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// A JSON number, kept as its text (`-12`, `3.5e-7`, `123456789012345678901234567890`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    /// The number's JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as a `u64`, if it is written as a non-negative integer that fits.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// The number as an `i64`, if it is written as an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }
}

macro_rules! number_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Value::Number(Number(n.to_string()))
            }
        }
    )*};
}
number_from!(u8, u16, u32, u64, usize, i8, i16, i32, i64);

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// An object with these members, in this order: `Value::object([("ok", true.into())])`.
    pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// The member `key` of an object: the last one when the name repeats, as `serde_json` kept.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// Orders every object's members by name, at every depth (stable, so repeated names keep their
    /// order): the order `serde_json::Value` wrote them in.
    pub fn sort_keys(&mut self) {
        match self {
            Value::Array(items) => items.iter_mut().for_each(Value::sort_keys),
            Value::Object(members) => {
                // Insertion sort: objects are small, and it is far less code than `sort_by`.
                for i in 1..members.len() {
                    let mut j = i;
                    while j > 0 && members[j - 1].0 > members[j].0 {
                        members.swap(j - 1, j);
                        j -= 1;
                    }
                }
                members.iter_mut().for_each(|(_, v)| v.sort_keys());
            }
            _ => {}
        }
    }

    /// Compact JSON, as `serde_json::to_string` writes it.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    /// Indented JSON, as `serde_json::to_string_pretty` writes it (two spaces, no final newline).
    pub fn to_json_pretty(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// Appends this value; `indent` is `None` for compact output, else the current depth.
    fn write(&self, out: &mut String, indent: Option<usize>) {
        let inner = indent.map(|d| d + 1);
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&n.0),
            Value::String(s) => write_string(out, s),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    separate(out, i, inner);
                    item.write(out, inner);
                }
                close(out, !items.is_empty(), indent, ']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    separate(out, i, inner);
                    write_string(out, key);
                    out.push_str(if indent.is_some() { ": " } else { ":" });
                    value.write(out, inner);
                }
                close(out, !members.is_empty(), indent, '}');
            }
        }
    }
}

/// Before the `i`th element: a comma after the first, and in pretty output a new indented line.
fn separate(out: &mut String, i: usize, indent: Option<usize>) {
    if i > 0 {
        out.push(',');
    }
    newline(out, indent);
}

fn close(out: &mut String, had_elements: bool, indent: Option<usize>, bracket: char) {
    if had_elements {
        newline(out, indent);
    }
    out.push(bracket);
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(depth) = indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
}

/// A JSON string with `serde_json`'s escapes: `\"`, `\\`, the five short control escapes, and
/// `\u00xx` (lowercase) for the other control characters; everything else as is.
fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `b` is ASCII, so `i` is a character boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

// ----- Parsing -----------------------------------------------------------------------------------

/// Why a text is not JSON, and the byte offset where that became clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("{kind} at byte {offset}")]
pub struct JsonError {
    pub kind: JsonErrorKind,
    pub offset: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JsonErrorKind {
    #[error("unexpected end of input")]
    UnexpectedEnd,
    #[error("expected a value")]
    ExpectedValue,
    #[error("expected a string key")]
    ExpectedKey,
    #[error("expected `:`")]
    ExpectedColon,
    #[error("expected `,` or a closing bracket")]
    ExpectedCommaOrClose,
    #[error("invalid number")]
    InvalidNumber,
    #[error("invalid escape")]
    InvalidEscape,
    #[error("unpaired surrogate in a \\u escape")]
    LoneSurrogate,
    #[error("control character in a string")]
    ControlCharacter,
    #[error("nested too deeply")]
    TooDeep,
    #[error("trailing characters")]
    TrailingCharacters,
}

/// Parses one JSON text (RFC 8259, strictly: no comments, no trailing commas, no single quotes, no
/// unpaired surrogates, nothing but whitespace after the value).
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let mut p = Parser { text, pos: 0 };
    let value = p.value(MAX_DEPTH)?;
    p.skip_whitespace();
    if p.pos < text.len() {
        return Err(p.error(JsonErrorKind::TrailingCharacters));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            kind,
            offset: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The next byte, consumed; the end of input is an error.
    fn next(&mut self) -> Result<u8, JsonError> {
        let b = self
            .peek()
            .ok_or_else(|| self.error(JsonErrorKind::UnexpectedEnd))?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self, depth_left: usize) -> Result<Value, JsonError> {
        self.skip_whitespace();
        let Some(b) = self.peek() else {
            return Err(self.error(JsonErrorKind::UnexpectedEnd));
        };
        match b {
            b'n' => self.literal("null", Value::Null),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'"' => self.string().map(Value::String),
            b'-' | b'0'..=b'9' => self.number(),
            b'[' | b'{' => {
                if depth_left == 0 {
                    return Err(self.error(JsonErrorKind::TooDeep));
                }
                self.pos += 1;
                if b == b'[' {
                    self.array(depth_left - 1)
                } else {
                    self.object(depth_left - 1)
                }
            }
            _ => Err(self.error(JsonErrorKind::ExpectedValue)),
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        for expected in word.bytes() {
            if self.next()? != expected {
                self.pos -= 1;
                return Err(self.error(JsonErrorKind::ExpectedValue));
            }
        }
        Ok(value)
    }

    /// After `[`.
    fn array(&mut self, depth_left: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value(depth_left)?);
            if self.after_element(b']')? {
                return Ok(Value::Array(items));
            }
        }
    }

    /// After `{`.
    fn object(&mut self, depth_left: usize) -> Result<Value, JsonError> {
        let mut members = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            match self.peek() {
                Some(b'"') => {}
                Some(_) => return Err(self.error(JsonErrorKind::ExpectedKey)),
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.next()? != b':' {
                self.pos -= 1;
                return Err(self.error(JsonErrorKind::ExpectedColon));
            }
            members.push((key, self.value(depth_left)?));
            if self.after_element(b'}')? {
                return Ok(Value::Object(members));
            }
        }
    }

    /// Reads `,` (more to come: `false`) or `close` (done: `true`).
    fn after_element(&mut self, close: u8) -> Result<bool, JsonError> {
        self.skip_whitespace();
        match self.next()? {
            b',' => Ok(false),
            b if b == close => Ok(true),
            _ => {
                self.pos -= 1;
                Err(self.error(JsonErrorKind::ExpectedCommaOrClose))
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, kept as text.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error(JsonErrorKind::InvalidNumber)),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        Ok(Value::Number(Number(self.text[start..self.pos].to_owned())))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error(JsonErrorKind::InvalidNumber));
        }
        self.digits();
        Ok(())
    }

    /// At `"`: the decoded string.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = String::new();
        let mut start = self.pos;
        loop {
            match self.next()? {
                b'"' => {
                    out.push_str(&self.text[start..self.pos - 1]);
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.text[start..self.pos - 1]);
                    out.push(self.escape()?);
                    start = self.pos;
                }
                0..=0x1f => {
                    self.pos -= 1;
                    return Err(self.error(JsonErrorKind::ControlCharacter));
                }
                _ => {}
            }
        }
    }

    /// After `\`: the escaped character (a surrogate pair is one character).
    fn escape(&mut self) -> Result<char, JsonError> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                // Reported at the backslash of the first `\u`.
                let lone = JsonError {
                    kind: JsonErrorKind::LoneSurrogate,
                    offset: self.pos - 2,
                };
                let unit = self.hex4()?;
                let code = match unit {
                    0xD800..=0xDBFF => {
                        if !self.text[self.pos..].starts_with("\\u") {
                            return Err(lone);
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(lone);
                        }
                        0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(lone),
                    _ => unit,
                };
                // Every value outside the surrogate range is a `char`.
                char::from_u32(code).ok_or(lone)?
            }
            _ => {
                self.pos -= 1;
                return Err(self.error(JsonErrorKind::InvalidEscape));
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let mut unit = 0;
        for _ in 0..4 {
            let Some(digit) = char::from(self.next()?).to_digit(16) else {
                self.pos -= 1;
                return Err(self.error(JsonErrorKind::InvalidEscape));
            };
            unit = unit * 16 + digit;
        }
        Ok(unit)
    }
}

// ----- Serializing Rust values -------------------------------------------------------------------

/// Why a value could not be turned into JSON.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct SerializeError(String);

impl ser::Error for SerializeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerializeError(msg.to_string())
    }
}

/// `value` as a [`Value`], with the shapes `serde_json` gives serde's data model (externally tagged
/// enum variants, `None` as `null`, bytes as an array of numbers). Floats are refused: no type this
/// crate serializes has one, and writing them as `serde_json` does would need its float printer.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, SerializeError> {
    value.serialize(ValueSerializer)
}

/// `value` as compact JSON, byte for byte what `serde_json::to_string` writes.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, SerializeError> {
    to_value(value).map(|v| v.to_json())
}

/// `value` as indented JSON, byte for byte what `serde_json::to_string_pretty` writes.
pub fn to_string_pretty<T: Serialize + ?Sized>(value: &T) -> Result<String, SerializeError> {
    to_value(value).map(|v| v.to_json_pretty())
}

struct ValueSerializer;

/// The elements of an array being built; with a name, the array is wrapped as `{name: [...]}`.
struct SeqBuilder {
    variant: Option<&'static str>,
    items: Vec<Value>,
}

/// The members of an object being built; with a name, the object is wrapped as `{name: {...}}`.
struct MapBuilder {
    variant: Option<&'static str>,
    members: Vec<(String, Value)>,
    key: Option<String>,
}

fn wrap(variant: Option<&'static str>, value: Value) -> Value {
    match variant {
        Some(name) => Value::Object(vec![(name.to_owned(), value)]),
        None => value,
    }
}

type SerResult = Result<Value, SerializeError>;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerializeError;
    type SerializeSeq = SeqBuilder;
    type SerializeTuple = SeqBuilder;
    type SerializeTupleStruct = SeqBuilder;
    type SerializeTupleVariant = SeqBuilder;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> SerResult {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> SerResult {
        Ok(v.into())
    }
    fn serialize_i16(self, v: i16) -> SerResult {
        Ok(v.into())
    }
    fn serialize_i32(self, v: i32) -> SerResult {
        Ok(v.into())
    }
    fn serialize_i64(self, v: i64) -> SerResult {
        Ok(v.into())
    }
    fn serialize_u8(self, v: u8) -> SerResult {
        Ok(v.into())
    }
    fn serialize_u16(self, v: u16) -> SerResult {
        Ok(v.into())
    }
    fn serialize_u32(self, v: u32) -> SerResult {
        Ok(v.into())
    }
    fn serialize_u64(self, v: u64) -> SerResult {
        Ok(v.into())
    }
    fn serialize_f32(self, _: f32) -> SerResult {
        Err(SerializeError("floats are not supported".into()))
    }
    fn serialize_f64(self, _: f64) -> SerResult {
        Err(SerializeError("floats are not supported".into()))
    }
    fn serialize_char(self, v: char) -> SerResult {
        Ok(Value::String(v.into()))
    }
    fn serialize_str(self, v: &str) -> SerResult {
        Ok(v.into())
    }
    fn serialize_bytes(self, v: &[u8]) -> SerResult {
        Ok(Value::Array(v.iter().map(|&b| b.into()).collect()))
    }
    fn serialize_none(self) -> SerResult {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> SerResult {
        value.serialize(self)
    }
    fn serialize_unit(self) -> SerResult {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _: &'static str) -> SerResult {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> SerResult {
        Ok(variant.into())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> SerResult {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> SerResult {
        Ok(wrap(Some(variant), value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqBuilder, SerializeError> {
        Ok(SeqBuilder {
            variant: None,
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqBuilder, SerializeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, SerializeError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqBuilder, SerializeError> {
        Ok(SeqBuilder {
            variant: Some(variant),
            items: Vec::with_capacity(len),
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapBuilder, SerializeError> {
        Ok(MapBuilder {
            variant: None,
            members: Vec::new(),
            key: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapBuilder, SerializeError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<MapBuilder, SerializeError> {
        Ok(MapBuilder {
            variant: Some(variant),
            members: Vec::new(),
            key: None,
        })
    }
}

impl SeqBuilder {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        self.items.push(to_value(value)?);
        Ok(())
    }
    fn finish(self) -> SerResult {
        Ok(wrap(self.variant, Value::Array(self.items)))
    }
}

macro_rules! seq_impl {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for SeqBuilder {
            type Ok = Value;
            type Error = SerializeError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
                self.push(value)
            }
            fn end(self) -> SerResult {
                self.finish()
            }
        }
    )*};
}
seq_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl MapBuilder {
    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), SerializeError> {
        self.members.push((key.to_owned(), to_value(value)?));
        Ok(())
    }
    fn finish(self) -> SerResult {
        Ok(wrap(self.variant, Value::Object(self.members)))
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = SerializeError;
    /// Keys become strings as `serde_json` makes them: strings and unit variants as they are,
    /// integers and booleans as their text; anything else is refused.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), SerializeError> {
        self.key = Some(match to_value(key)? {
            Value::String(s) => s,
            Value::Number(n) => n.0,
            Value::Bool(b) => b.to_string(),
            _ => return Err(SerializeError("key must be a string".into())),
        });
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), SerializeError> {
        let key = self.key.take().unwrap_or_default();
        self.field(&key, value)
    }
    fn end(self) -> SerResult {
        self.finish()
    }
}

macro_rules! struct_impl {
    ($($trait:ident),*) => {$(
        impl ser::$trait for MapBuilder {
            type Ok = Value;
            type Error = SerializeError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), SerializeError> {
                self.field(key, value)
            }
            fn end(self) -> SerResult {
                self.finish()
            }
        }
    )*};
}
struct_impl!(SerializeStruct, SerializeStructVariant);

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;
    use std::collections::BTreeMap;

    fn num(text: &str) -> Value {
        Value::Number(Number(text.into()))
    }

    fn err(text: &str) -> (JsonErrorKind, usize) {
        let e = parse(text).unwrap_err();
        (e.kind, e.offset)
    }

    #[test]
    fn values_parse_with_their_members_in_order() {
        let v = parse(r#" {"b": [1, -2.5e+3, true, false, null], "a": {}, "c": [], "d": "x"} "#)
            .unwrap();
        assert_eq!(
            v,
            Value::object([
                (
                    "b",
                    Value::Array(vec![
                        num("1"),
                        num("-2.5e+3"),
                        true.into(),
                        false.into(),
                        Value::Null,
                    ])
                ),
                ("a", Value::Object(vec![])),
                ("c", Value::Array(vec![])),
                ("d", "x".into()),
            ])
        );
        assert_eq!(
            v.to_json(),
            r#"{"b":[1,-2.5e+3,true,false,null],"a":{},"c":[],"d":"x"}"#
        );
        assert_eq!(v.get("d").and_then(Value::as_str), Some("x"));
        assert_eq!(
            v.get("b").and_then(Value::as_array).map(<[_]>::len),
            Some(5)
        );
        assert!(v.get("a").and_then(Value::as_object).is_some());
        assert_eq!(v.get("zz"), None);
        assert_eq!(Value::Null.get("a"), None);
    }

    #[test]
    fn a_repeated_name_reads_as_its_last_member_like_serde_json() {
        let text = r#"{"a":1,"b":2,"a":3}"#;
        let v = parse(text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 3);
        assert_eq!(v.get("a").and_then(Value::as_u64), Some(3));
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(theirs["a"].as_u64(), Some(3));
    }

    #[test]
    fn escapes_decode_and_encode_like_serde_json() {
        let v = parse(r#""q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20AC \ud83d\ude00 é€😀""#).unwrap();
        assert_eq!(v.as_str(), Some("q\" b\\ s/ \u{8}\u{c}\n\r\t Aé€ 😀 é€😀"));
        // Every control character, DEL, quotes, backslash, slash and non-ASCII text.
        let all: String = (0u8..0x80).map(char::from).chain("é€😀".chars()).collect();
        let ours = Value::from(all.as_str()).to_json();
        assert_eq!(ours, serde_json::to_string(&all).unwrap());
        assert!(ours.contains("\\u001f") && ours.contains("\\b") && ours.contains('/'));
        assert_eq!(parse(&ours).unwrap().as_str(), Some(all.as_str()));
    }

    #[test]
    fn unpaired_surrogates_and_bad_escapes_are_refused() {
        use JsonErrorKind::*;
        assert_eq!(err(r#""\ud800""#), (LoneSurrogate, 1));
        assert_eq!(err(r#""ab\ud800\u0041""#), (LoneSurrogate, 3));
        assert_eq!(err(r#""\udc00\ud800""#), (LoneSurrogate, 1));
        assert_eq!(err(r#""\ud800x""#), (LoneSurrogate, 1));
        assert_eq!(err(r#""\x""#), (InvalidEscape, 2));
        assert_eq!(err(r#""\u12g4""#), (InvalidEscape, 5));
        assert_eq!(err(r#""\u12"#), (UnexpectedEnd, 5));
        assert_eq!(err("\"a\u{1}\""), (ControlCharacter, 2));
        assert_eq!(err("\"a\tb\""), (ControlCharacter, 2));
        // DEL is not a control character for JSON.
        assert_eq!(parse("\"\u{7f}\"").unwrap().as_str(), Some("\u{7f}"));
        for bad in [r#""\ud800""#, r#""\udc00""#, r#""\x""#, "\"a\u{1}\""] {
            assert!(
                serde_json::from_str::<serde_json::Value>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_keep_their_text() {
        let big = "123456789012345678901234567890";
        assert_eq!(parse(big).unwrap().to_json(), big);
        assert_eq!(parse(big).unwrap().as_u64(), None);
        assert_eq!(
            parse("18446744073709551615").unwrap().as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(parse("18446744073709551616").unwrap().as_u64(), None);
        assert_eq!(
            parse("-9223372036854775808").unwrap().as_i64(),
            Some(i64::MIN)
        );
        assert_eq!(parse("-1").unwrap().as_u64(), None);
        assert_eq!(parse("-1").unwrap().as_i64(), Some(-1));
        for not_integer in ["1.0", "1e3", "1E3", "-0.5", "-0"] {
            assert_eq!(parse(not_integer).unwrap().as_u64(), None, "{not_integer}");
            assert_eq!(
                parse(not_integer).unwrap().to_json(),
                not_integer,
                "{not_integer}"
            );
        }
        assert_eq!(parse("0").unwrap().as_u64(), Some(0));
        assert_eq!(Value::from(-7i64).to_json(), "-7");
        assert_eq!(Value::from(Some(5u16)), num("5"));
        assert_eq!(Value::from(None::<u16>), Value::Null);
        use JsonErrorKind::*;
        assert_eq!(err("01"), (TrailingCharacters, 1));
        assert_eq!(err("[01]"), (ExpectedCommaOrClose, 2));
        for (bad, at) in [
            ("-", 1),
            ("1.", 2),
            ("1.e3", 2),
            ("1e", 2),
            ("1e+", 3),
            ("-a", 1),
        ] {
            assert_eq!(err(bad), (InvalidNumber, at), "{bad}");
        }
        for bad in ["+1", ".5", "NaN", "Infinity"] {
            assert_eq!(err(bad), (ExpectedValue, 0), "{bad}");
        }
    }

    #[test]
    fn errors_say_what_and_where() {
        use JsonErrorKind::*;
        assert_eq!(err(""), (UnexpectedEnd, 0));
        assert_eq!(err("   "), (UnexpectedEnd, 3));
        assert_eq!(err("[1,]"), (ExpectedValue, 3));
        assert_eq!(err("[1 2]"), (ExpectedCommaOrClose, 3));
        assert_eq!(err("[1"), (UnexpectedEnd, 2));
        assert_eq!(err(r#"{"a" 1}"#), (ExpectedColon, 5));
        assert_eq!(err(r#"{"a":1,}"#), (ExpectedKey, 7));
        assert_eq!(err("{a:1}"), (ExpectedKey, 1));
        assert_eq!(err(r#"{"a":1"#), (UnexpectedEnd, 6));
        assert_eq!(err("nul"), (UnexpectedEnd, 3));
        assert_eq!(err("nulx"), (ExpectedValue, 3));
        assert_eq!(err("true false"), (TrailingCharacters, 5));
        assert_eq!(err("\u{feff}{}"), (ExpectedValue, 0));
        assert_eq!(err("'a'"), (ExpectedValue, 0));
        assert_eq!(err("{} // c"), (TrailingCharacters, 3));
        assert_eq!(
            parse("[1,]").unwrap_err().to_string(),
            "expected a value at byte 3"
        );
        assert_eq!(parse(" \t\r\n[ ] \n").unwrap(), Value::Array(vec![]));
    }

    #[test]
    fn nesting_is_limited_where_serde_json_limits_it() {
        let nested = |depth: usize| "[".repeat(depth) + &"]".repeat(depth);
        assert!(parse(&nested(MAX_DEPTH)).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            parse(&nested(MAX_DEPTH + 1)).unwrap_err(),
            JsonError {
                kind: JsonErrorKind::TooDeep,
                offset: MAX_DEPTH
            }
        );
        assert!(serde_json::from_str::<serde_json::Value>(&nested(MAX_DEPTH + 1)).is_err());
        let objects = r#"{"a":"#.repeat(MAX_DEPTH + 1) + "1" + &"}".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&objects).unwrap_err().kind, JsonErrorKind::TooDeep);
        // Far deeper input fails cleanly rather than overflowing the stack.
        assert!(parse(&"[".repeat(100_000)).is_err());
    }

    #[test]
    fn pretty_output_matches_serde_json() {
        let text = r#"{"a":[1,[],{},{"b":null,"c":[true,"x\n"]}],"d":{},"e":"é"}"#;
        let ours = parse(text).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            ours.to_json_pretty(),
            serde_json::to_string_pretty(&theirs).unwrap()
        );
        assert_eq!(
            ours.to_json_pretty(),
            "{\n  \"a\": [\n    1,\n    [],\n    {},\n    {\n      \"b\": null,\n      \"c\": [\n        \
             true,\n        \"x\\n\"\n      ]\n    }\n  ],\n  \"d\": {},\n  \"e\": \"é\"\n}"
        );
        assert_eq!(Value::Array(vec![]).to_json_pretty(), "[]");
        assert_eq!(Value::from("s").to_json_pretty(), "\"s\"");
    }

    #[test]
    fn sorted_keys_match_serde_json_values() {
        let text = r#"{"z":1,"a":{"y":[{"k":1,"b":2}],"b":3},"m":null,"A":0,"é":1}"#;
        let mut ours = parse(text).unwrap();
        ours.sort_keys();
        let theirs: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours.to_json(), theirs.to_string());
    }

    #[derive(Serialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    enum Tagged {
        Unit,
        Struct { a: u8, b: Option<String> },
        Newtype(Inner),
    }

    #[derive(Serialize)]
    enum External {
        Unit,
        Newtype(u32),
        Tuple(u8, bool),
        Struct { x: i64 },
    }

    #[derive(Serialize)]
    struct Inner {
        first: &'static str,
        #[serde(skip)]
        _hidden: u8,
        last: Vec<u16>,
    }

    #[derive(Serialize)]
    struct Unit;

    #[derive(Serialize)]
    struct Wrapper(u64);

    #[derive(Serialize)]
    struct Everything {
        tagged: Vec<Tagged>,
        external: Vec<External>,
        none: Option<u8>,
        some: Option<char>,
        tuple: (u8, &'static str),
        array: [i8; 3],
        unit: (),
        unit_struct: Unit,
        wrapper: Wrapper,
        empty: Vec<u8>,
        by_number: BTreeMap<u32, bool>,
        by_name: BTreeMap<String, Vec<()>>,
        extremes: (u64, i64, i64),
        text: String,
    }

    fn everything() -> Everything {
        Everything {
            tagged: vec![
                Tagged::Unit,
                Tagged::Struct { a: 7, b: None },
                Tagged::Struct {
                    a: 0,
                    b: Some("\"q\"".into()),
                },
                Tagged::Newtype(Inner {
                    first: "f",
                    _hidden: 1,
                    last: vec![1, 65535],
                }),
            ],
            external: vec![
                External::Unit,
                External::Newtype(3),
                External::Tuple(1, false),
                External::Struct { x: -5 },
            ],
            none: None,
            some: Some('é'),
            tuple: (1, "two"),
            array: [-128, 0, 127],
            unit: (),
            unit_struct: Unit,
            wrapper: Wrapper(42),
            empty: vec![],
            by_number: BTreeMap::from([(2, true), (10, false)]),
            by_name: BTreeMap::from([("b".into(), vec![()]), ("a".into(), vec![])]),
            extremes: (u64::MAX, i64::MIN, i64::MAX),
            text: "line\nbreak\u{0}".into(),
        }
    }

    #[test]
    fn serialized_values_match_serde_json_byte_for_byte() {
        let v = everything();
        assert_eq!(to_string(&v).unwrap(), serde_json::to_string(&v).unwrap());
        assert_eq!(
            to_string_pretty(&v).unwrap(),
            serde_json::to_string_pretty(&v).unwrap()
        );
        assert_eq!(
            to_string(&Tagged::Struct { a: 1, b: None }).unwrap(),
            r#"{"kind":"struct","a":1,"b":null}"#
        );
    }

    #[test]
    fn floats_and_odd_keys_are_refused() {
        assert!(to_value(&1.5f64).is_err());
        assert!(to_value(&BTreeMap::from([((1, 2), 3)])).is_err());
    }
}

/// Property tests (native only: proptest does not build for wasm32).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Numbers as JSON writes them: integers of any size, fractions, exponents.
    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,2})?"
                .prop_map(|t| Value::Number(Number(t))),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((any::<String>(), inner), 0..6).prop_map(Value::Object),
            ]
        })
    }

    /// Values `serde_json` represents exactly: integers only and no repeated names.
    fn plain_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::hash_map(any::<String>(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Text that is often almost JSON.
    fn jsonish() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("{".to_owned()),
                Just("}".to_owned()),
                Just("[".to_owned()),
                Just("]".to_owned()),
                Just(",".to_owned()),
                Just(":".to_owned()),
                Just("\"".to_owned()),
                Just("\\".to_owned()),
                Just("\\u".to_owned()),
                Just("d83d".to_owned()),
                Just("dc00".to_owned()),
                Just("null".to_owned()),
                Just("true".to_owned()),
                Just(" ".to_owned()),
                Just("\n".to_owned()),
                Just("-".to_owned()),
                Just(".".to_owned()),
                Just("e".to_owned()),
                Just("0".to_owned()),
                Just("7".to_owned()),
                Just("\u{1}".to_owned()),
                Just("é".to_owned()),
                "[a-z]".prop_map(|s| s),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn parse_never_panics(text in any::<String>()) {
            let _ = parse(&text);
        }

        #[test]
        fn parse_accepts_what_serde_json_accepts(text in jsonish()) {
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            // serde_json refuses numbers beyond f64's range; this module keeps their text.
            let out_of_range = theirs
                .as_ref()
                .is_err_and(|e| e.to_string().contains("number out of range"));
            if !out_of_range {
                prop_assert_eq!(parse(&text).is_ok(), theirs.is_ok(), "{:?}", text);
            }
        }

        #[test]
        fn written_values_parse_back(v in value()) {
            prop_assert_eq!(parse(&v.to_json()), Ok(v.clone()));
            prop_assert_eq!(parse(&v.to_json_pretty()), Ok(v));
        }

        #[test]
        fn writers_match_serde_json(v in plain_value()) {
            let theirs: serde_json::Value = serde_json::from_str(&v.to_json()).unwrap();
            let mut sorted = v.clone();
            sorted.sort_keys();
            prop_assert_eq!(sorted.to_json(), theirs.to_string());
            prop_assert_eq!(sorted.to_json_pretty(), serde_json::to_string_pretty(&theirs).unwrap());
            prop_assert_eq!(parse(&theirs.to_string()), Ok(sorted));
        }
    }
}

#[cfg(test)]
mod refused_fixture {
    /// The fixture the serde route's property tests read: every text in it is refused here.
    #[test]
    fn every_fixture_text_is_refused() {
        let fixture = include_str!("../tests/json_fixtures/refused.txt");
        let mut n = 0;
        for line in fixture.lines().filter(|l| !l.starts_with('#')) {
            let text: String = serde_json::from_str(line).unwrap();
            assert!(super::parse(&text).is_err(), "{text:?}");
            n += 1;
        }
        assert_eq!(n, 41);
    }
}
