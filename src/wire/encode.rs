//! Record batches → DataRow messages, each column in text or binary as the client asked.
//!
//! Per batch, every column gets a writer chosen once from its Arrow type and format; rows are
//! then written column by column into one buffer that is split into DataRow messages, so a
//! batch costs a handful of allocations, not one per value.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, OffsetSizeTrait, RecordBatch, StringArray,
    StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use pgwire::messages::data::DataRow;

use crate::error::{Error, Result};
use crate::pgtypes::pg_type;
use crate::wire::text::{self, PG_EPOCH_OFFSET_DAYS, PG_EPOCH_OFFSET_MICROS, Zone};

/// Session settings that change how values are written.
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    pub zone: Zone,
    pub extra_float_digits: i32,
}

/// Writes one non-null value of a column into the buffer.
pub(super) type ValueWriter<'a> = Box<dyn Fn(usize, &mut BytesMut) + Send + Sync + 'a>;

/// Encodes a batch into DataRows; `binary[i]` picks the format of column `i`.
pub fn encode_batch(
    batch: &RecordBatch,
    binary: &[bool],
    options: &EncodeOptions,
    rows: &mut Vec<DataRow>,
) -> Result<()> {
    let columns = plain_columns(batch)?;
    let writers = column_writers(&columns, binary, options)?;
    let field_count = i16::try_from(columns.len())
        .map_err(|_| Error::unsupported("results are limited to 32767 columns"))?;
    let mut buffer = BytesMut::with_capacity(batch.num_rows() * columns.len() * 12);
    rows.reserve(batch.num_rows());
    for row in 0..batch.num_rows() {
        for (column, writer) in columns.iter().zip(&writers) {
            if column.is_null(row) {
                buffer.put_i32(-1);
                continue;
            }
            let at = buffer.len();
            buffer.put_i32(0);
            writer(row, &mut buffer);
            let len = (buffer.len() - at - 4) as i32;
            buffer[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
        rows.push(DataRow::new(buffer.split(), field_count));
    }
    Ok(())
}

/// The batch's columns with dictionary, run-end and view-list encodings decoded.
pub(super) fn plain_columns(batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    batch.columns().iter().map(plain_array).collect()
}

/// One value writer per column, in text or binary as `binary[i]` says.
pub(super) fn column_writers<'a>(
    columns: &'a [ArrayRef],
    binary: &[bool],
    options: &'a EncodeOptions,
) -> Result<Vec<ValueWriter<'a>>> {
    columns
        .iter()
        .enumerate()
        .map(|(i, column)| {
            if binary.get(i).copied().unwrap_or(false) {
                binary_writer(column, options)
            } else {
                text_writer(column, options)
            }
        })
        .collect()
}

/// Dictionary and run-end encoded columns are decoded to their value type first.
fn plain_array(array: &ArrayRef) -> Result<ArrayRef> {
    match array.data_type() {
        DataType::Dictionary(_, value) => Ok(cast(array, value)?),
        DataType::RunEndEncoded(_, value) => Ok(cast(array, value.data_type())?),
        DataType::FixedSizeList(_, _) | DataType::ListView(_) | DataType::LargeListView(_) => {
            Ok(cast(array, &as_plain_list(array.data_type()))?)
        }
        _ => Ok(array.clone()),
    }
}

/// A writer that formats text into a reusable string, then copies it into the buffer.
fn via_string<'a>(format: impl Fn(usize, &mut String) + Send + Sync + 'a) -> ValueWriter<'a> {
    Box::new(move |row, out| {
        let mut text = String::new();
        format(row, &mut text);
        out.put_slice(text.as_bytes());
    })
}

fn text_writer<'a>(array: &'a ArrayRef, options: &'a EncodeOptions) -> Result<ValueWriter<'a>> {
    macro_rules! integer {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>();
            Box::new(move |row, out: &mut BytesMut| {
                let mut digits = itoa::Buffer::new();
                out.put_slice(digits.format(values.value(row)).as_bytes());
            })
        }};
    }
    let efd = options.extra_float_digits;
    Ok(match array.data_type() {
        DataType::Null => Box::new(|_, _| {}),
        DataType::Boolean => {
            let values = array.as_boolean();
            Box::new(move |row, out| out.put_u8(if values.value(row) { b't' } else { b'f' }))
        }
        DataType::Int8 => integer!(Int8Type),
        DataType::Int16 => integer!(Int16Type),
        DataType::Int32 => integer!(Int32Type),
        DataType::Int64 => integer!(Int64Type),
        DataType::UInt8 => integer!(UInt8Type),
        DataType::UInt16 => integer!(UInt16Type),
        DataType::UInt32 => integer!(UInt32Type),
        DataType::UInt64 => integer!(UInt64Type),
        DataType::Float16 => {
            let values = array.as_primitive::<Float16Type>();
            via_string(move |row, s| text::write_float(s, values.value(row).to_f64(), true, efd))
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>();
            via_string(move |row, s| text::write_float(s, f64::from(values.value(row)), true, efd))
        }
        DataType::Float64 => {
            let values = array.as_primitive::<Float64Type>();
            via_string(move |row, s| text::write_float(s, values.value(row), false, efd))
        }
        DataType::Decimal32(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal32Type>(), *scale);
            Box::new(move |row, out| {
                let mut digits = itoa::Buffer::new();
                text::write_decimal(out, digits.format(values.value(row)), scale)
            })
        }
        DataType::Decimal64(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal64Type>(), *scale);
            Box::new(move |row, out| {
                let mut digits = itoa::Buffer::new();
                text::write_decimal(out, digits.format(values.value(row)), scale)
            })
        }
        DataType::Decimal128(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal128Type>(), *scale);
            Box::new(move |row, out| {
                let mut digits = itoa::Buffer::new();
                text::write_decimal(out, digits.format(values.value(row)), scale)
            })
        }
        DataType::Decimal256(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal256Type>(), *scale);
            Box::new(move |row, out| {
                text::write_decimal(out, &values.value(row).to_string(), scale)
            })
        }
        DataType::Utf8 => {
            let values = array.as_string::<i32>();
            Box::new(move |row, out| out.put_slice(values.value(row).as_bytes()))
        }
        DataType::LargeUtf8 => {
            let values = array.as_string::<i64>();
            Box::new(move |row, out| out.put_slice(values.value(row).as_bytes()))
        }
        DataType::Utf8View => {
            let values = array.as_string_view();
            Box::new(move |row, out| out.put_slice(values.value(row).as_bytes()))
        }
        DataType::Binary => {
            let values = array.as_binary::<i32>();
            Box::new(move |row, out| write_hex_bytea(values.value(row), out))
        }
        DataType::LargeBinary => {
            let values = array.as_binary::<i64>();
            Box::new(move |row, out| write_hex_bytea(values.value(row), out))
        }
        DataType::BinaryView => {
            let values = array.as_binary_view();
            Box::new(move |row, out| write_hex_bytea(values.value(row), out))
        }
        DataType::FixedSizeBinary(16) => {
            let values = array.as_fixed_size_binary();
            via_string(move |row, s| write_uuid(s, values.value(row)))
        }
        DataType::FixedSizeBinary(_) => {
            let values = array.as_fixed_size_binary();
            Box::new(move |row, out| write_hex_bytea(values.value(row), out))
        }
        DataType::Date32 => {
            let values = array.as_primitive::<Date32Type>();
            Box::new(move |row, out| text::write_date(out, values.value(row)))
        }
        DataType::Date64 => {
            let values = array.as_primitive::<Date64Type>();
            Box::new(move |row, out| {
                text::write_date(out, values.value(row).div_euclid(86_400_000) as i32)
            })
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros = time_micros(array)?;
            Box::new(move |row, out| text::write_time_of_day(out, micros(row)))
        }
        DataType::Timestamp(unit, zone) => {
            let micros = timestamp_micros(array, *unit)?;
            match zone {
                None => Box::new(move |row, out| text::write_timestamp(out, micros(row))),
                Some(_) => {
                    let zone = &options.zone;
                    Box::new(move |row, out| text::write_timestamptz(out, micros(row), zone))
                }
            }
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            let parts = interval_parts(array)?;
            via_string(move |row, s| {
                let (months, days, micros) = parts(row);
                text::write_interval(s, months, days, micros)
            })
        }
        DataType::List(_) if is_pg_array(array.data_type()) => {
            text_list(array.as_list::<i32>(), options)?
        }
        DataType::LargeList(_) if is_pg_array(array.data_type()) => {
            text_list(array.as_list::<i64>(), options)?
        }
        _ => {
            let json = JsonWriter::try_new(array, options)?;
            via_string(move |row, s| json.write(row, s))
        }
    })
}

/// Lists of a PostgreSQL element type become arrays; other lists become json.
fn is_pg_array(data_type: &DataType) -> bool {
    let pg = pg_type(data_type);
    pg.oid != crate::pgtypes::oid::JSON
}

fn as_plain_list(data_type: &DataType) -> DataType {
    match data_type {
        DataType::FixedSizeList(field, _)
        | DataType::ListView(field)
        | DataType::LargeListView(field) => DataType::List(field.clone()),
        other => other.clone(),
    }
}

fn text_list<'a, O: OffsetSizeTrait>(
    list: &'a GenericListArray<O>,
    options: &'a EncodeOptions,
) -> Result<ValueWriter<'a>> {
    let values = list.values();
    let element = text_writer(values, options)?;
    let is_text = matches!(
        values.data_type(),
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    ) || !matches!(values.data_type(), dt if dt.is_numeric() || *dt == DataType::Boolean);
    Ok(Box::new(move |row, out| {
        let offsets = list.value_offsets();
        let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
        let mut text = String::from("{");
        let mut scratch = BytesMut::new();
        for i in start..end {
            if i > start {
                text.push(',');
            }
            if values.is_null(i) {
                text.push_str("NULL");
                continue;
            }
            scratch.clear();
            element(i, &mut scratch);
            let value = String::from_utf8_lossy(&scratch);
            if is_text {
                text::write_array_element(&mut text, &value);
            } else {
                text.push_str(&value);
            }
        }
        text.push('}');
        out.put_slice(text.as_bytes());
    }))
}

fn write_hex_bytea(bytes: &[u8], out: &mut BytesMut) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 + bytes.len() * 2);
    out.put_slice(b"\\x");
    for b in bytes {
        out.put_u8(HEX[(b >> 4) as usize]);
        out.put_u8(HEX[(b & 0xf) as usize]);
    }
}

fn write_uuid(out: &mut String, bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{b:02x}");
    }
}

/// Microseconds since midnight, per row.
fn time_micros(array: &ArrayRef) -> Result<Box<dyn Fn(usize) -> i64 + Send + Sync + '_>> {
    Ok(match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            let v = array.as_primitive::<Time32SecondType>();
            Box::new(move |r| i64::from(v.value(r)) * 1_000_000)
        }
        DataType::Time32(_) => {
            let v = array.as_primitive::<Time32MillisecondType>();
            Box::new(move |r| i64::from(v.value(r)) * 1000)
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            let v = array.as_primitive::<Time64MicrosecondType>();
            Box::new(move |r| v.value(r))
        }
        DataType::Time64(_) => {
            let v = array.as_primitive::<Time64NanosecondType>();
            Box::new(move |r| v.value(r).div_euclid(1000))
        }
        other => return Err(Error::internal(format!("not a time type: {other}"))),
    })
}

/// Microseconds since 1970-01-01 UTC, per row.
fn timestamp_micros(
    array: &ArrayRef,
    unit: TimeUnit,
) -> Result<Box<dyn Fn(usize) -> i64 + Send + Sync + '_>> {
    use datafusion::arrow::datatypes::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    Ok(match unit {
        TimeUnit::Second => {
            let v = array.as_primitive::<TimestampSecondType>();
            Box::new(move |r| v.value(r).saturating_mul(1_000_000))
        }
        TimeUnit::Millisecond => {
            let v = array.as_primitive::<TimestampMillisecondType>();
            Box::new(move |r| v.value(r).saturating_mul(1000))
        }
        TimeUnit::Microsecond => {
            let v = array.as_primitive::<TimestampMicrosecondType>();
            Box::new(move |r| v.value(r))
        }
        TimeUnit::Nanosecond => {
            let v = array.as_primitive::<TimestampNanosecondType>();
            Box::new(move |r| v.value(r).div_euclid(1000))
        }
    })
}

/// (months, days, microseconds) per row of an interval or duration column.
type IntervalParts<'a> = Box<dyn Fn(usize) -> (i32, i32, i64) + Send + Sync + 'a>;

fn interval_parts(array: &ArrayRef) -> Result<IntervalParts<'_>> {
    Ok(match array.data_type() {
        DataType::Interval(IntervalUnit::YearMonth) => {
            let v = array.as_primitive::<IntervalYearMonthType>();
            Box::new(move |r| (v.value(r), 0, 0))
        }
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = array.as_primitive::<IntervalDayTimeType>();
            Box::new(move |r| {
                let x = v.value(r);
                (0, x.days, i64::from(x.milliseconds) * 1000)
            })
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>();
            Box::new(move |r| {
                let x = v.value(r);
                (x.months, x.days, x.nanoseconds / 1000)
            })
        }
        DataType::Duration(TimeUnit::Second) => {
            let v = array.as_primitive::<DurationSecondType>();
            Box::new(move |r| (0, 0, v.value(r).saturating_mul(1_000_000)))
        }
        DataType::Duration(TimeUnit::Millisecond) => {
            let v = array.as_primitive::<DurationMillisecondType>();
            Box::new(move |r| (0, 0, v.value(r).saturating_mul(1000)))
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            let v = array.as_primitive::<DurationMicrosecondType>();
            Box::new(move |r| (0, 0, v.value(r)))
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            let v = array.as_primitive::<DurationNanosecondType>();
            Box::new(move |r| (0, 0, v.value(r) / 1000))
        }
        other => return Err(Error::internal(format!("not an interval type: {other}"))),
    })
}

/// Structs, maps, unions and nested lists as JSON text.
struct JsonWriter<'a> {
    array: &'a ArrayRef,
    options: &'a EncodeOptions,
}

impl<'a> JsonWriter<'a> {
    fn try_new(array: &'a ArrayRef, options: &'a EncodeOptions) -> Result<Self> {
        Ok(Self { array, options })
    }

    fn write(&self, row: usize, out: &mut String) {
        write_json(self.array, row, self.options, out);
    }
}

fn write_json(array: &ArrayRef, row: usize, options: &EncodeOptions, out: &mut String) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    match array.data_type() {
        DataType::Struct(fields) => {
            let s = array.as_struct();
            out.push('{');
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                crate::pgtypes::write_json_string(out, field.name());
                out.push(':');
                write_json(s.column(i), row, options, out);
            }
            out.push('}');
        }
        DataType::Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let (keys, values) = (map.keys(), map.values());
            out.push('{');
            for (n, i) in (offsets[row] as usize..offsets[row + 1] as usize).enumerate() {
                if n > 0 {
                    out.push(',');
                }
                let mut key = String::new();
                write_json(keys, i, options, &mut key);
                match key.strip_prefix('"').and_then(|k| k.strip_suffix('"')) {
                    Some(_) => out.push_str(&key),
                    None => crate::pgtypes::write_json_string(out, &key),
                }
                out.push(':');
                write_json(values, i, options, out);
            }
            out.push('}');
        }
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::FixedSizeList(_, _)
        | DataType::ListView(_)
        | DataType::LargeListView(_) => {
            let plain = match cast(
                &array.slice(row, 1),
                &DataType::List(match array.data_type() {
                    DataType::List(f)
                    | DataType::LargeList(f)
                    | DataType::FixedSizeList(f, _)
                    | DataType::ListView(f)
                    | DataType::LargeListView(f) => f.clone(),
                    _ => unreachable!("matched list types above"),
                }),
            ) {
                Ok(plain) => plain,
                Err(_) => {
                    out.push_str("null");
                    return;
                }
            };
            let list = plain.as_list::<i32>();
            let values = list.value(0);
            out.push('[');
            for i in 0..values.len() {
                if i > 0 {
                    out.push(',');
                }
                write_json(&values, i, options, out);
            }
            out.push(']');
        }
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        dt if dt.is_integer() => {
            let mut buffer = BytesMut::new();
            if let Ok(writer) = text_writer(array, options) {
                writer(row, &mut buffer);
            }
            out.push_str(&String::from_utf8_lossy(&buffer));
        }
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => {
            let mut buffer = BytesMut::new();
            if let Ok(writer) = text_writer(array, options) {
                writer(row, &mut buffer);
            }
            let number = String::from_utf8_lossy(&buffer);
            if number
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | '+'))
            {
                out.push_str(&number);
            } else {
                crate::pgtypes::write_json_string(out, &number);
            }
        }
        DataType::Union(_, _) => out.push_str("null"),
        _ => {
            let mut buffer = BytesMut::new();
            if let Ok(writer) = text_writer(array, options) {
                writer(row, &mut buffer);
            }
            crate::pgtypes::write_json_string(out, &String::from_utf8_lossy(&buffer));
        }
    }
}

fn binary_writer<'a>(array: &'a ArrayRef, options: &'a EncodeOptions) -> Result<ValueWriter<'a>> {
    macro_rules! fixed {
        ($t:ty, $put:ident, $conv:ty) => {{
            let values = array.as_primitive::<$t>();
            Box::new(move |row, out: &mut BytesMut| out.$put(<$conv>::from(values.value(row))))
        }};
    }
    Ok(match array.data_type() {
        DataType::Null => Box::new(|_, _| {}),
        DataType::Boolean => {
            let values = array.as_boolean();
            Box::new(move |row, out| out.put_u8(u8::from(values.value(row))))
        }
        DataType::Int8 => fixed!(Int8Type, put_i16, i16),
        DataType::Int16 => fixed!(Int16Type, put_i16, i16),
        DataType::UInt8 => fixed!(UInt8Type, put_i16, i16),
        DataType::Int32 => fixed!(Int32Type, put_i32, i32),
        DataType::UInt16 => fixed!(UInt16Type, put_i32, i32),
        DataType::Int64 => fixed!(Int64Type, put_i64, i64),
        DataType::UInt32 => fixed!(UInt32Type, put_u32, u32),
        DataType::UInt64 => {
            let values = array.as_primitive::<UInt64Type>();
            Box::new(move |row, out| write_numeric_binary(&values.value(row).to_string(), 0, out))
        }
        DataType::Float16 => {
            let values = array.as_primitive::<Float16Type>();
            Box::new(move |row, out| out.put_f32(values.value(row).to_f32()))
        }
        DataType::Float32 => fixed!(Float32Type, put_f32, f32),
        DataType::Float64 => fixed!(Float64Type, put_f64, f64),
        DataType::Decimal32(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal32Type>(), *scale);
            Box::new(move |row, out| {
                write_numeric_binary_i128(i128::from(values.value(row)), scale, out)
            })
        }
        DataType::Decimal64(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal64Type>(), *scale);
            Box::new(move |row, out| {
                write_numeric_binary_i128(i128::from(values.value(row)), scale, out)
            })
        }
        DataType::Decimal128(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal128Type>(), *scale);
            Box::new(move |row, out| write_numeric_binary_i128(values.value(row), scale, out))
        }
        DataType::Decimal256(_, scale) => {
            let (values, scale) = (array.as_primitive::<Decimal256Type>(), *scale);
            Box::new(move |row, out| {
                write_numeric_binary(&values.value(row).to_string(), scale, out)
            })
        }
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::FixedSizeBinary(_)
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => {
            // text, bytea and uuid send their bytes as they are; text's text form is its binary form
            match array.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    text_writer(array, options)?
                }
                DataType::Binary => {
                    let v = array.as_binary::<i32>();
                    Box::new(move |row, out| out.put_slice(v.value(row)))
                }
                DataType::LargeBinary => {
                    let v = array.as_binary::<i64>();
                    Box::new(move |row, out| out.put_slice(v.value(row)))
                }
                DataType::BinaryView => {
                    let v = array.as_binary_view();
                    Box::new(move |row, out| out.put_slice(v.value(row)))
                }
                _ => {
                    let v = array.as_fixed_size_binary();
                    Box::new(move |row, out| out.put_slice(v.value(row)))
                }
            }
        }
        DataType::Date32 => {
            let values = array.as_primitive::<Date32Type>();
            Box::new(move |row, out| {
                out.put_i32(values.value(row).saturating_sub(PG_EPOCH_OFFSET_DAYS))
            })
        }
        DataType::Date64 => {
            let values = array.as_primitive::<Date64Type>();
            Box::new(move |row, out| {
                let days = values.value(row).div_euclid(86_400_000) as i32;
                out.put_i32(days.saturating_sub(PG_EPOCH_OFFSET_DAYS))
            })
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros = time_micros(array)?;
            Box::new(move |row, out| out.put_i64(micros(row)))
        }
        DataType::Timestamp(unit, _) => {
            let micros = timestamp_micros(array, *unit)?;
            Box::new(move |row, out| {
                out.put_i64(micros(row).saturating_sub(PG_EPOCH_OFFSET_MICROS))
            })
        }
        DataType::Interval(_) | DataType::Duration(_) => {
            let parts = interval_parts(array)?;
            Box::new(move |row, out| {
                let (months, days, micros) = parts(row);
                out.put_i64(micros);
                out.put_i32(days);
                out.put_i32(months);
            })
        }
        DataType::List(_) if is_pg_array(array.data_type()) => {
            binary_list(array.as_list::<i32>(), options)?
        }
        DataType::LargeList(_) if is_pg_array(array.data_type()) => {
            binary_list(array.as_list::<i64>(), options)?
        }
        _ => text_writer(array, options)?,
    })
}

fn binary_list<'a, O: OffsetSizeTrait>(
    list: &'a GenericListArray<O>,
    options: &'a EncodeOptions,
) -> Result<ValueWriter<'a>> {
    let values = list.values();
    let element = binary_writer(values, options)?;
    let element_oid = pg_type(values.data_type()).oid;
    Ok(Box::new(move |row, out| {
        let offsets = list.value_offsets();
        let (start, end) = (offsets[row].as_usize(), offsets[row + 1].as_usize());
        let has_nulls = (start..end).any(|i| values.is_null(i));
        out.put_i32(if start == end { 0 } else { 1 });
        out.put_i32(i32::from(has_nulls));
        out.put_u32(element_oid);
        if start == end {
            return;
        }
        out.put_i32((end - start) as i32);
        out.put_i32(1);
        for i in start..end {
            if values.is_null(i) {
                out.put_i32(-1);
                continue;
            }
            let at = out.len();
            out.put_i32(0);
            element(i, out);
            let len = (out.len() - at - 4) as i32;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }))
}

/// [`write_numeric_binary`] for an unscaled `i128`, by arithmetic rather than text: the hot
/// path of every Decimal128 column sent in binary.
pub fn write_numeric_binary_i128(unscaled: i128, scale: i8, out: &mut BytesMut) {
    let fraction_digits = i32::from(scale).max(0) as u32;
    let padding = (4 - fraction_digits % 4) % 4;
    let shift = if scale < 0 {
        10u128.checked_pow(u32::from(scale.unsigned_abs()))
    } else {
        10u128.checked_pow(padding)
    };
    let Some(aligned) = shift.and_then(|shift| unscaled.unsigned_abs().checked_mul(shift)) else {
        let mut digits = itoa::Buffer::new();
        return write_numeric_binary(digits.format(unscaled), scale, out);
    };
    let fraction_groups = ((fraction_digits + padding) / 4) as i16;
    let mut groups = [0i16; 12];
    let mut count = 0;
    let mut rest = aligned;
    while rest > 0 {
        groups[count] = (rest % 10_000) as i16;
        rest /= 10_000;
        count += 1;
    }
    let weight = count as i16 - 1 - fraction_groups;
    let trailing_zeros = groups[..count].iter().take_while(|g| **g == 0).count();
    let digits = &groups[trailing_zeros..count];
    out.put_i16(digits.len() as i16);
    out.put_i16(if digits.is_empty() { 0 } else { weight });
    out.put_u16(if unscaled < 0 { 0x4000 } else { 0 });
    out.put_u16(fraction_digits as u16);
    for group in digits.iter().rev() {
        out.put_i16(*group);
    }
}

/// PostgreSQL's binary numeric: base-10000 digits with weight, sign and display scale.
pub fn write_numeric_binary(unscaled: &str, scale: i8, out: &mut BytesMut) {
    let (negative, digits) = match unscaled.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, unscaled),
    };
    let (integer, fraction, dscale) = if scale <= 0 {
        let mut integer = digits.to_string();
        if digits != "0" {
            integer.extend(std::iter::repeat_n('0', (-scale) as usize));
        }
        (integer, String::new(), 0u16)
    } else {
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let split = padded.len() - scale;
        (
            padded[..split].to_string(),
            padded[split..].to_string(),
            scale as u16,
        )
    };
    let integer = integer.trim_start_matches('0');
    let mut groups: Vec<i16> = Vec::new();
    let lead = integer.len() % 4;
    let mut integer_groups = 0i16;
    if lead > 0 {
        groups.push(integer[..lead].parse().unwrap_or(0));
        integer_groups += 1;
    }
    for chunk in integer.as_bytes()[lead..].chunks(4) {
        groups.push(
            std::str::from_utf8(chunk)
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
        );
        integer_groups += 1;
    }
    for chunk in fraction.as_bytes().chunks(4) {
        let text = std::str::from_utf8(chunk).unwrap_or("0");
        let value: i16 = format!("{text:0<4}").parse().unwrap_or(0);
        groups.push(value);
    }
    let mut weight = integer_groups - 1;
    let leading_zeros = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading_zeros);
    weight -= leading_zeros as i16;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    out.put_i16(groups.len() as i16);
    out.put_i16(weight);
    out.put_u16(if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    });
    out.put_u16(dscale);
    for g in groups {
        out.put_i16(g);
    }
}

/// The text PostgreSQL writes for each value of `array` (NULL stays NULL): what a query's
/// CAST to text gives where Arrow's own text differs (timestamps, times, intervals).
pub fn text_column(array: &ArrayRef, options: &EncodeOptions) -> Result<StringArray> {
    let array = plain_array(array)?;
    let writer = text_writer(&array, options)?;
    let mut buffer = BytesMut::new();
    let mut texts = StringBuilder::with_capacity(array.len(), array.len() * 20);
    for row in 0..array.len() {
        if array.is_null(row) {
            texts.append_null();
            continue;
        }
        buffer.clear();
        writer(row, &mut buffer);
        texts.append_value(String::from_utf8_lossy(&buffer));
    }
    Ok(texts.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(unscaled: &str, scale: i8) -> Vec<i16> {
        let mut out = BytesMut::new();
        write_numeric_binary(unscaled, scale, &mut out);
        out.chunks(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
            .collect()
    }

    #[test]
    fn numeric_binary_by_arithmetic_matches_by_text() {
        let values = [
            0i128,
            1,
            -1,
            5,
            9_999,
            10_000,
            -10_000,
            12_345_678,
            100_000_000,
            1_050,
            -123_456_789_012,
            i64::MAX as i128,
            i128::MAX / 7,
            -(10i128.pow(37)),
            99_990_000,
        ];
        for value in values {
            for scale in [-3i8, -1, 0, 1, 2, 3, 4, 5, 8, 10] {
                let (mut by_text, mut by_arithmetic) = (BytesMut::new(), BytesMut::new());
                write_numeric_binary(&value.to_string(), scale, &mut by_text);
                write_numeric_binary_i128(value, scale, &mut by_arithmetic);
                assert_eq!(by_arithmetic, by_text, "{value} scale {scale}");
            }
        }
    }

    #[test]
    fn numeric_binary_layout() {
        // ndigits, weight, sign, dscale, digits...
        assert_eq!(numeric("1234567", 2), vec![3, 1, 0, 2, 1, 2345, 6700]);
        assert_eq!(numeric("-5", 2), vec![1, -1, 0x4000, 2, 500]);
        assert_eq!(numeric("0", 2), vec![0, 0, 0, 2]);
        assert_eq!(numeric("10000", 0), vec![1, 1, 0, 0, 1]);
        assert_eq!(numeric("9800000055", 2), vec![3, 1, 0, 2, 9800, 0, 5500]);
        assert_eq!(numeric("12", -2), vec![1, 0, 0, 0, 1200]);
    }
}
