//! Thrift's binary protocol (TBinaryProtocol, strict messages) as the Hive Metastore speaks
//! it on a plain socket: calls are written as one message, replies read as a tree of
//! [`Value`]s. No code generation: the metastore client picks the fields it needs by id.
//!
//! Everything read is bounded (string and container sizes, nesting depth), so a broken or
//! hostile peer gets an error, not an allocation of its choosing.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

/// Thrift's type ids on the wire.
pub mod ttype {
    pub const STOP: u8 = 0;
    pub const BOOL: u8 = 2;
    pub const BYTE: u8 = 3;
    pub const DOUBLE: u8 = 4;
    pub const I16: u8 = 6;
    pub const I32: u8 = 8;
    pub const I64: u8 = 10;
    pub const STRING: u8 = 11;
    pub const STRUCT: u8 = 12;
    pub const MAP: u8 = 13;
    pub const SET: u8 = 14;
    pub const LIST: u8 = 15;
}

/// Message types.
pub const CALL: u8 = 1;
pub const REPLY: u8 = 2;
pub const EXCEPTION: u8 = 3;

const VERSION_1: u32 = 0x8001_0000;
const VERSION_MASK: u32 = 0xffff_0000;
/// The longest string or binary accepted.
const MAX_STRING: usize = 256 << 20;
/// The most elements a container may declare.
const MAX_ELEMENTS: usize = 16 << 20;
const MAX_DEPTH: usize = 64;

/// A thrift value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Byte(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    Double(f64),
    /// Thrift strings and binaries.
    String(Vec<u8>),
    /// Fields by id, in wire order.
    Struct(Vec<(i16, Value)>),
    Map {
        key: u8,
        value: u8,
        entries: Vec<(Value, Value)>,
    },
    Set(u8, Vec<Value>),
    List(u8, Vec<Value>),
}

impl Value {
    pub fn string(text: &str) -> Self {
        Value::String(text.as_bytes().to_vec())
    }

    fn type_id(&self) -> u8 {
        match self {
            Value::Bool(_) => ttype::BOOL,
            Value::Byte(_) => ttype::BYTE,
            Value::I16(_) => ttype::I16,
            Value::I32(_) => ttype::I32,
            Value::I64(_) => ttype::I64,
            Value::Double(_) => ttype::DOUBLE,
            Value::String(_) => ttype::STRING,
            Value::Struct(_) => ttype::STRUCT,
            Value::Map { .. } => ttype::MAP,
            Value::Set(..) => ttype::SET,
            Value::List(..) => ttype::LIST,
        }
    }

    /// Field `id` of a struct.
    pub fn field(&self, id: i16) -> Option<&Value> {
        match self {
            Value::Struct(fields) => fields.iter().find(|(f, _)| *f == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Field `id` of a struct, to change.
    pub fn field_mut(&mut self, id: i16) -> Option<&mut Value> {
        match self {
            Value::Struct(fields) => fields.iter_mut().find(|(f, _)| *f == id).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Sets field `id` of a struct (added in id order when it is not there).
    pub fn set_field(&mut self, id: i16, value: Value) {
        if let Some(old) = self.field_mut(id) {
            *old = value;
        } else if let Value::Struct(fields) = self {
            fields.push((id, value));
            fields.sort_by_key(|(f, _)| *f);
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(bytes) => std::str::from_utf8(bytes).ok(),
            _ => None,
        }
    }

    /// The elements of a list or set.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(_, items) | Value::Set(_, items) => items,
            _ => &[],
        }
    }

    pub fn as_i32(&self) -> Option<i32> {
        match self {
            Value::I32(n) => Some(*n),
            _ => None,
        }
    }

    /// A `list<string>`.
    pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>) -> Self {
        Value::List(
            ttype::STRING,
            items.into_iter().map(Value::string).collect(),
        )
    }

    /// A `list<struct>`.
    pub fn structs(items: Vec<Value>) -> Self {
        Value::List(ttype::STRUCT, items)
    }

    /// A `map<string,string>`.
    pub fn string_map(map: &BTreeMap<String, String>) -> Self {
        Value::Map {
            key: ttype::STRING,
            value: ttype::STRING,
            entries: map
                .iter()
                .map(|(k, v)| (Value::string(k), Value::string(v)))
                .collect(),
        }
    }

    /// The entries of a `map<string,string>` (others are skipped).
    pub fn as_string_map(&self) -> BTreeMap<String, String> {
        match self {
            Value::Map { entries, .. } => entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                .collect(),
            _ => BTreeMap::new(),
        }
    }
}

/// A message's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageHead {
    pub name: String,
    pub kind: u8,
    pub sequence: i32,
}

/// Writes a strict message: head, then `body` (the call's argument struct).
pub fn write_message(
    out: &mut impl Write,
    name: &str,
    kind: u8,
    sequence: i32,
    body: &Value,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(256);
    buffer.extend_from_slice(&(VERSION_1 | u32::from(kind)).to_be_bytes());
    put_string(&mut buffer, name.as_bytes());
    buffer.extend_from_slice(&sequence.to_be_bytes());
    put_value(&mut buffer, body);
    out.write_all(&buffer)?;
    out.flush()
}

/// Reads a strict message: its head and its body struct.
pub fn read_message(input: &mut impl Read) -> io::Result<(MessageHead, Value)> {
    let version = read_i32(input)? as u32;
    if version & VERSION_MASK != VERSION_1 {
        return Err(invalid(format!(
            "not a strict binary-protocol message (version word {version:#010x})"
        )));
    }
    let kind = (version & 0xff) as u8;
    let name = String::from_utf8(read_string(input)?)
        .map_err(|_| invalid("message name is not UTF-8".into()))?;
    let sequence = read_i32(input)?;
    let body = read_value(input, ttype::STRUCT, 0)?;
    Ok((
        MessageHead {
            name,
            kind,
            sequence,
        },
        body,
    ))
}

fn put_string(buffer: &mut Vec<u8>, bytes: &[u8]) {
    buffer.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
    buffer.extend_from_slice(bytes);
}

fn put_value(buffer: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Bool(v) => buffer.push(u8::from(*v)),
        Value::Byte(v) => buffer.push(*v as u8),
        Value::I16(v) => buffer.extend_from_slice(&v.to_be_bytes()),
        Value::I32(v) => buffer.extend_from_slice(&v.to_be_bytes()),
        Value::I64(v) => buffer.extend_from_slice(&v.to_be_bytes()),
        Value::Double(v) => buffer.extend_from_slice(&v.to_bits().to_be_bytes()),
        Value::String(bytes) => put_string(buffer, bytes),
        Value::Struct(fields) => {
            for (id, field) in fields {
                buffer.push(field.type_id());
                buffer.extend_from_slice(&id.to_be_bytes());
                put_value(buffer, field);
            }
            buffer.push(ttype::STOP);
        }
        Value::Map {
            key,
            value,
            entries,
        } => {
            buffer.extend_from_slice(&[*key, *value]);
            buffer.extend_from_slice(&(entries.len() as i32).to_be_bytes());
            for (k, v) in entries {
                put_value(buffer, k);
                put_value(buffer, v);
            }
        }
        Value::Set(element, items) | Value::List(element, items) => {
            buffer.push(*element);
            buffer.extend_from_slice(&(items.len() as i32).to_be_bytes());
            for item in items {
                put_value(buffer, item);
            }
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn read_bytes<const N: usize>(input: &mut impl Read) -> io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    input.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn read_i32(input: &mut impl Read) -> io::Result<i32> {
    Ok(i32::from_be_bytes(read_bytes(input)?))
}

fn read_size(input: &mut impl Read, limit: usize, what: &str) -> io::Result<usize> {
    let size = read_i32(input)?;
    usize::try_from(size)
        .ok()
        .filter(|size| *size <= limit)
        .ok_or_else(|| invalid(format!("{what} of size {size} is out of bounds")))
}

fn read_string(input: &mut impl Read) -> io::Result<Vec<u8>> {
    let length = read_size(input, MAX_STRING, "a string")?;
    let mut bytes = Vec::with_capacity(length.min(1 << 16));
    input.take(length as u64).read_to_end(&mut bytes)?;
    if bytes.len() != length {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(bytes)
}

fn read_elements(
    input: &mut impl Read,
    element: u8,
    count: usize,
    depth: usize,
) -> io::Result<Vec<Value>> {
    let mut items = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        items.push(read_value(input, element, depth + 1)?);
    }
    Ok(items)
}

fn read_value(input: &mut impl Read, kind: u8, depth: usize) -> io::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(invalid("values nested too deeply".into()));
    }
    Ok(match kind {
        ttype::BOOL => Value::Bool(read_bytes::<1>(input)?[0] != 0),
        ttype::BYTE => Value::Byte(read_bytes::<1>(input)?[0] as i8),
        ttype::I16 => Value::I16(i16::from_be_bytes(read_bytes(input)?)),
        ttype::I32 => Value::I32(read_i32(input)?),
        ttype::I64 => Value::I64(i64::from_be_bytes(read_bytes(input)?)),
        ttype::DOUBLE => Value::Double(f64::from_bits(u64::from_be_bytes(read_bytes(input)?))),
        ttype::STRING => Value::String(read_string(input)?),
        ttype::STRUCT => {
            let mut fields = Vec::new();
            loop {
                let [field_type] = read_bytes::<1>(input)?;
                if field_type == ttype::STOP {
                    break Value::Struct(fields);
                }
                let id = i16::from_be_bytes(read_bytes(input)?);
                fields.push((id, read_value(input, field_type, depth + 1)?));
            }
        }
        ttype::MAP => {
            let [key, value] = read_bytes::<2>(input)?;
            let count = read_size(input, MAX_ELEMENTS, "a map")?;
            let mut entries = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                let k = read_value(input, key, depth + 1)?;
                let v = read_value(input, value, depth + 1)?;
                entries.push((k, v));
            }
            Value::Map {
                key,
                value,
                entries,
            }
        }
        ttype::SET | ttype::LIST => {
            let [element] = read_bytes::<1>(input)?;
            let count = read_size(input, MAX_ELEMENTS, "a list")?;
            let items = read_elements(input, element, count, depth)?;
            match kind {
                ttype::SET => Value::Set(element, items),
                _ => Value::List(element, items),
            }
        }
        other => return Err(invalid(format!("unknown thrift type id {other}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_written_as_the_specification_lays_it_out() {
        let mut out = Vec::new();
        let args = Value::Struct(vec![(1, Value::string("db"))]);
        write_message(&mut out, "get_all_tables", CALL, 7, &args).unwrap();
        let mut expected = vec![0x80, 0x01, 0x00, 0x01, 0, 0, 0, 14];
        expected.extend_from_slice(b"get_all_tables");
        expected.extend_from_slice(&[0, 0, 0, 7]);
        expected.extend_from_slice(&[ttype::STRING, 0, 1, 0, 0, 0, 2, b'd', b'b', ttype::STOP]);
        assert_eq!(out, expected);
    }

    #[test]
    fn every_type_survives_a_round_trip() {
        let body = Value::Struct(vec![
            (
                0,
                Value::List(ttype::STRING, vec![Value::string("a"), Value::string("b")]),
            ),
            (1, Value::Bool(true)),
            (2, Value::Byte(-3)),
            (3, Value::I16(-300)),
            (4, Value::I64(1 << 40)),
            (5, Value::Double(2.5)),
            (
                6,
                Value::Map {
                    key: ttype::STRING,
                    value: ttype::I32,
                    entries: vec![(Value::string("k"), Value::I32(9))],
                },
            ),
            (7, Value::Set(ttype::I32, vec![Value::I32(1)])),
            (8, Value::Struct(vec![(1, Value::string("nested"))])),
        ]);
        let mut out = Vec::new();
        write_message(&mut out, "x", REPLY, -1, &body).unwrap();
        let (head, read) = read_message(&mut out.as_slice()).unwrap();
        assert_eq!(
            (head.name.as_str(), head.kind, head.sequence),
            ("x", REPLY, -1)
        );
        assert_eq!(read, body);
        assert_eq!(
            read.field(8)
                .and_then(|f| f.field(1))
                .and_then(Value::as_str),
            Some("nested")
        );
        assert_eq!(read.field(0).map(|l| l.elements().len()), Some(2));
    }

    #[test]
    fn broken_input_is_an_error_not_an_allocation() {
        let huge_string = [0x80, 0x01, 0x00, 0x02, 0x7f, 0xff, 0xff, 0xff];
        assert!(read_message(&mut huge_string.as_slice()).is_err());
        let not_strict = [0, 0, 0, 1, b'x'];
        assert!(read_message(&mut not_strict.as_slice()).is_err());
        let mut truncated = Vec::new();
        write_message(
            &mut truncated,
            "f",
            REPLY,
            1,
            &Value::Struct(vec![(0, Value::I64(1))]),
        )
        .unwrap();
        truncated.pop();
        assert!(read_message(&mut truncated.as_slice()).is_err());
        let mut deep = Vec::new();
        deep.extend_from_slice(&[0x80, 0x01, 0x00, 0x02, 0, 0, 0, 1, b'f', 0, 0, 0, 1]);
        for _ in 0..100 {
            deep.extend_from_slice(&[ttype::STRUCT, 0, 1]);
        }
        assert!(read_message(&mut deep.as_slice()).is_err());
    }
}
