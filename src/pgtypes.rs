//! Arrow types ⇄ PostgreSQL types: OIDs, type modifiers and sizes for RowDescription and
//! ParameterDescription, and the Arrow type a client-declared parameter OID stands for.
//!
//! `uint32` is PostgreSQL's `oid` (the catalog's object identifiers, `::oid` casts). Other
//! Arrow types without a PostgreSQL twin map to the nearest type that holds every value:
//! `uint64` → numeric(20,0), structs and maps → json.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

pub mod oid {
    pub const BOOL: u32 = 16;
    pub const BYTEA: u32 = 17;
    pub const CHAR: u32 = 18;
    pub const NAME: u32 = 19;
    pub const INT8: u32 = 20;
    pub const INT2: u32 = 21;
    pub const INT4: u32 = 23;
    pub const TEXT: u32 = 25;
    pub const OID: u32 = 26;
    pub const JSON: u32 = 114;
    pub const FLOAT4: u32 = 700;
    pub const FLOAT8: u32 = 701;
    pub const UNKNOWN: u32 = 705;
    pub const BPCHAR: u32 = 1042;
    pub const VARCHAR: u32 = 1043;
    pub const DATE: u32 = 1082;
    pub const TIME: u32 = 1083;
    pub const TIMESTAMP: u32 = 1114;
    pub const TIMESTAMPTZ: u32 = 1184;
    pub const INTERVAL: u32 = 1186;
    pub const NUMERIC: u32 = 1700;
    pub const UUID: u32 = 2950;
    pub const JSONB: u32 = 3802;

    /// The array type whose elements are `element`, if PostgreSQL has one.
    pub fn array_of(element: u32) -> Option<u32> {
        Some(match element {
            BOOL => 1000,
            BYTEA => 1001,
            CHAR => 1002,
            NAME => 1003,
            INT2 => 1005,
            INT4 => 1007,
            TEXT => 1009,
            BPCHAR => 1014,
            VARCHAR => 1015,
            INT8 => 1016,
            FLOAT4 => 1021,
            FLOAT8 => 1022,
            OID => 1028,
            TIMESTAMP => 1115,
            DATE => 1182,
            TIME => 1183,
            TIMESTAMPTZ => 1185,
            INTERVAL => 1187,
            NUMERIC => 1231,
            JSON => 199,
            UUID => 2951,
            JSONB => 3807,
            _ => return None,
        })
    }
}

/// How a column looks to a PostgreSQL client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgType {
    pub oid: u32,
    /// `atttypmod`: -1 for none; numeric(p,s) is `(p << 16 | s) + 4`.
    pub typmod: i32,
    /// `typlen`: the fixed width in bytes, or -1 for variable width.
    pub len: i16,
}

impl PgType {
    const fn new(oid: u32, len: i16) -> Self {
        Self {
            oid,
            typmod: -1,
            len,
        }
    }

    fn numeric(precision: u8, scale: i8) -> Self {
        let typmod = if scale >= 0 {
            ((i32::from(precision) << 16) | i32::from(scale)) + 4
        } else {
            -1
        };
        Self {
            oid: oid::NUMERIC,
            typmod,
            len: -1,
        }
    }
}

/// The PostgreSQL type a column of `data_type` is sent as.
pub fn pg_type(data_type: &DataType) -> PgType {
    match data_type {
        DataType::Boolean => PgType::new(oid::BOOL, 1),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => PgType::new(oid::INT2, 2),
        DataType::Int32 | DataType::UInt16 => PgType::new(oid::INT4, 4),
        DataType::Int64 => PgType::new(oid::INT8, 8),
        DataType::UInt32 => PgType::new(oid::OID, 4),
        DataType::UInt64 => PgType::numeric(20, 0),
        DataType::Float16 | DataType::Float32 => PgType::new(oid::FLOAT4, 4),
        DataType::Float64 => PgType::new(oid::FLOAT8, 8),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => PgType::numeric(*p, *s),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            PgType::new(oid::TEXT, -1)
        }
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => {
            PgType::new(oid::BYTEA, -1)
        }
        DataType::FixedSizeBinary(16) => PgType::new(oid::UUID, 16),
        DataType::FixedSizeBinary(_) => PgType::new(oid::BYTEA, -1),
        DataType::Date32 | DataType::Date64 => PgType::new(oid::DATE, 4),
        DataType::Time32(_) | DataType::Time64(_) => PgType::new(oid::TIME, 8),
        DataType::Timestamp(_, None) => PgType::new(oid::TIMESTAMP, 8),
        DataType::Timestamp(_, Some(_)) => PgType::new(oid::TIMESTAMPTZ, 8),
        DataType::Interval(_) | DataType::Duration(_) => PgType::new(oid::INTERVAL, 16),
        DataType::Dictionary(_, value) => pg_type(value),
        DataType::RunEndEncoded(_, value) => pg_type(value.data_type()),
        DataType::List(field)
        | DataType::LargeList(field)
        | DataType::ListView(field)
        | DataType::LargeListView(field)
        | DataType::FixedSizeList(field, _) => {
            let element = pg_type(field.data_type());
            match oid::array_of(element.oid) {
                Some(array) if !is_list(field.data_type()) => PgType::new(array, -1),
                _ => PgType::new(oid::JSON, -1),
            }
        }
        DataType::Struct(_) | DataType::Map(_, _) | DataType::Union(_, _) => {
            PgType::new(oid::JSON, -1)
        }
    }
}

pub fn is_list(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::ListView(_)
            | DataType::LargeListView(_)
            | DataType::FixedSizeList(_, _)
    )
}

/// The Arrow type of a parameter the client declared with `oid`; `None` for 0 (infer it).
pub fn arrow_type_for_oid(type_oid: u32) -> Result<Option<DataType>, u32> {
    Ok(Some(match type_oid {
        0 => return Ok(None),
        oid::BOOL => DataType::Boolean,
        oid::INT2 => DataType::Int16,
        oid::INT4 => DataType::Int32,
        oid::INT8 => DataType::Int64,
        oid::OID => DataType::UInt32,
        oid::FLOAT4 => DataType::Float32,
        oid::FLOAT8 => DataType::Float64,
        oid::NUMERIC => DataType::Decimal128(38, 10),
        oid::TEXT | oid::VARCHAR | oid::BPCHAR | oid::NAME | oid::CHAR | oid::JSON | oid::JSONB => {
            DataType::Utf8
        }
        oid::UNKNOWN => return Ok(None),
        oid::BYTEA => DataType::Binary,
        oid::DATE => DataType::Date32,
        oid::TIME => DataType::Time64(TimeUnit::Microsecond),
        oid::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        oid::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        oid::INTERVAL => DataType::Interval(IntervalUnit::MonthDayNano),
        oid::UUID => DataType::FixedSizeBinary(16),
        other => return Err(other),
    }))
}

/// Writes `text` as a JSON string.
pub fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The elements of a one-dimensional array in PostgreSQL's text form (`{1,2}`,
/// `{"a b",NULL}`); `None` for an unquoted NULL. `None` overall for text that is not such an
/// array (nested arrays included).
pub fn array_elements(text: &str) -> Option<Vec<Option<String>>> {
    let body = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut elements = Vec::new();
    if body.trim().is_empty() {
        return Some(elements);
    }
    let mut chars = body.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut text = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => text.push(chars.next()?),
                    c => text.push(c),
                }
            }
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                if c == '{' || c == '"' {
                    return None;
                }
                text.push(c);
                chars.next();
            }
            text = text.trim().to_string();
        }
        let element = if !quoted && text.eq_ignore_ascii_case("null") {
            None
        } else {
            Some(text)
        };
        elements.push(element);
        match chars.next() {
            None => return Some(elements),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use std::sync::Arc;

    #[test]
    fn scalar_types() {
        assert_eq!(pg_type(&DataType::Int64).oid, oid::INT8);
        assert_eq!(pg_type(&DataType::UInt32).oid, oid::OID);
        assert_eq!(
            pg_type(&DataType::UInt64),
            PgType {
                oid: oid::NUMERIC,
                typmod: (20 << 16) + 4,
                len: -1
            }
        );
        assert_eq!(
            pg_type(&DataType::Decimal128(10, 2)).typmod,
            (10 << 16 | 2) + 4
        );
        assert_eq!(
            pg_type(&DataType::Timestamp(TimeUnit::Microsecond, None)).oid,
            oid::TIMESTAMP
        );
        assert_eq!(
            pg_type(&DataType::Timestamp(
                TimeUnit::Nanosecond,
                Some("UTC".into())
            ))
            .oid,
            oid::TIMESTAMPTZ
        );
        assert_eq!(pg_type(&DataType::Utf8View).oid, oid::TEXT);
    }

    #[test]
    fn list_types() {
        let ints = DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true)));
        assert_eq!(pg_type(&ints).oid, 1007);
        let nested = DataType::List(Arc::new(Field::new_list_field(ints, true)));
        assert_eq!(pg_type(&nested).oid, oid::JSON);
    }

    #[test]
    fn declared_parameter_types() {
        assert_eq!(arrow_type_for_oid(0), Ok(None));
        assert_eq!(arrow_type_for_oid(oid::INT4), Ok(Some(DataType::Int32)));
        assert_eq!(arrow_type_for_oid(424242), Err(424242));
    }
}
