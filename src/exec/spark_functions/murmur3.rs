//! `hash(a, b, …)`: Spark's 32-bit Murmur3 hash of its arguments, seeded with 42, each
//! argument's hash the seed of the next and a NULL leaving the hash as it was.
//!
//! Values are hashed as Spark lays them out: `boolean`, `tinyint`, `smallint`, `int` and
//! `date` (days) as a 4-byte int; `bigint` and timestamps (microseconds) as an 8-byte long;
//! `float` and `double` by their IEEE bits (`-0.0` as `0`); decimals of up to 18 digits by
//! their unscaled long, wider ones by the unscaled value's big-endian two's-complement bytes;
//! text and binary by their bytes, with Spark's handling of the last 1–3 bytes one at a time;
//! arrays and structs element by element, each element's hash the seed of the next. Maps
//! are refused, as Spark refuses them. An integer literal is a `bigint` here (an `int` in Spark), so `hash(1)`
//! differs from Spark's; `hash(CAST(1 AS INT))` does not.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int32Array};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type,
};
use datafusion::common::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// Spark's seed for `hash`.
const SEED: u32 = 42;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Murmur3Hash {
    signature: Signature,
}

impl Murmur3Hash {
    pub fn new() -> Self {
        Self {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for Murmur3Hash {
    fn name(&self) -> &str {
        "hash"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        for data_type in arg_types {
            check_hashable(data_type)?;
        }
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let rows = args.number_rows;
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let mut hashes = vec![SEED; rows];
        for column in &columns {
            for (row, hash) in hashes.iter_mut().enumerate() {
                *hash = hash_value(column.as_ref(), row, *hash)?;
            }
        }
        let hashes: ArrayRef = Arc::new(Int32Array::from_iter_values(
            hashes.into_iter().map(|h| h as i32),
        ));
        Ok(ColumnarValue::Array(hashes))
    }
}

fn check_hashable(data_type: &DataType) -> DfResult<()> {
    match data_type {
        DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => {
            check_hashable(field.data_type())
        }
        DataType::Map(..) => Err(Error::new(
            ErrorKind::DatatypeMismatch,
            "hash cannot hash a map: equal maps may order their entries differently",
        )
        .into()),
        DataType::Struct(fields) => fields
            .iter()
            .try_for_each(|field| check_hashable(field.data_type())),
        DataType::Null
        | DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Timestamp(..)
        | DataType::Decimal128(..)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView => Ok(()),
        other => Err(Error::new(
            ErrorKind::DatatypeMismatch,
            format!("hash cannot hash a value of type {other}"),
        )
        .into()),
    }
}

/// The hash of `array[row]` seeded with `seed`; `seed` itself for a NULL.
fn hash_value(array: &dyn Array, row: usize, seed: u32) -> DfResult<u32> {
    if array.is_null(row) {
        return Ok(seed);
    }
    Ok(match array.data_type() {
        DataType::Null => seed,
        DataType::Boolean => hash_int(array.as_boolean().value(row) as u32, seed),
        DataType::Int8 => hash_int(array.as_primitive::<Int8Type>().value(row) as u32, seed),
        DataType::Int16 => hash_int(array.as_primitive::<Int16Type>().value(row) as u32, seed),
        DataType::Int32 => hash_int(array.as_primitive::<Int32Type>().value(row) as u32, seed),
        DataType::UInt8 => hash_int(array.as_primitive::<UInt8Type>().value(row) as u32, seed),
        DataType::UInt16 => hash_int(array.as_primitive::<UInt16Type>().value(row) as u32, seed),
        DataType::Date32 => hash_int(array.as_primitive::<Date32Type>().value(row) as u32, seed),
        DataType::Int64 => hash_long(array.as_primitive::<Int64Type>().value(row) as u64, seed),
        DataType::UInt32 => hash_long(array.as_primitive::<UInt32Type>().value(row) as u64, seed),
        DataType::Float32 => {
            let value = array.as_primitive::<Float32Type>().value(row);
            hash_int(float_bits(value), seed)
        }
        DataType::Float64 => {
            let value = array.as_primitive::<Float64Type>().value(row);
            hash_long(double_bits(value), seed)
        }
        DataType::Timestamp(unit, _) => hash_long(timestamp_micros(array, *unit, row) as u64, seed),
        DataType::Decimal128(precision, _) => {
            let unscaled = array.as_primitive::<Decimal128Type>().value(row);
            match *precision <= 18 {
                true => hash_long(unscaled as u64, seed),
                false => hash_bytes(&big_integer_bytes(unscaled), seed),
            }
        }
        DataType::Utf8 => hash_bytes(array.as_string::<i32>().value(row).as_bytes(), seed),
        DataType::LargeUtf8 => hash_bytes(array.as_string::<i64>().value(row).as_bytes(), seed),
        DataType::Utf8View => hash_bytes(array.as_string_view().value(row).as_bytes(), seed),
        DataType::Binary => hash_bytes(array.as_binary::<i32>().value(row), seed),
        DataType::LargeBinary => hash_bytes(array.as_binary::<i64>().value(row), seed),
        DataType::BinaryView => hash_bytes(array.as_binary_view().value(row), seed),
        DataType::List(_) => hash_all(array.as_list::<i32>().value(row).as_ref(), seed)?,
        DataType::LargeList(_) => hash_all(array.as_list::<i64>().value(row).as_ref(), seed)?,
        DataType::FixedSizeList(..) => {
            hash_all(array.as_fixed_size_list().value(row).as_ref(), seed)?
        }
        DataType::Struct(_) => {
            let mut hash = seed;
            for field in array.as_struct().columns() {
                hash = hash_value(field.as_ref(), row, hash)?;
            }
            hash
        }
        other => {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!("hash cannot hash a value of type {other}"),
            )
            .into());
        }
    })
}

/// The elements of an array, each hash the seed of the next.
fn hash_all(elements: &dyn Array, seed: u32) -> DfResult<u32> {
    (0..elements.len()).try_fold(seed, |hash, i| hash_value(elements, i, hash))
}

fn timestamp_micros(array: &dyn Array, unit: TimeUnit, row: usize) -> i64 {
    match unit {
        TimeUnit::Second => array
            .as_primitive::<TimestampSecondType>()
            .value(row)
            .saturating_mul(1_000_000),
        TimeUnit::Millisecond => array
            .as_primitive::<TimestampMillisecondType>()
            .value(row)
            .saturating_mul(1_000),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row),
        TimeUnit::Nanosecond => array
            .as_primitive::<TimestampNanosecondType>()
            .value(row)
            .div_euclid(1_000),
    }
}

/// Java's `floatToIntBits`, with `-0.0` hashed as `0.0` (Spark normalises it).
fn float_bits(value: f32) -> u32 {
    if value == 0.0 {
        0
    } else if value.is_nan() {
        0x7fc0_0000
    } else {
        value.to_bits()
    }
}

/// Java's `doubleToLongBits`, with `-0.0` hashed as `0.0`.
fn double_bits(value: f64) -> u64 {
    if value == 0.0 {
        0
    } else if value.is_nan() {
        0x7ff8_0000_0000_0000
    } else {
        value.to_bits()
    }
}

/// Java's `BigInteger.toByteArray`: the shortest big-endian two's complement.
fn big_integer_bytes(value: i128) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let sign = if value < 0 { 0xff } else { 0x00 };
    let mut start = 0;
    while start < bytes.len() - 1
        && bytes[start] == sign
        && (bytes[start + 1] & 0x80) == (sign & 0x80)
    {
        start += 1;
    }
    bytes[start..].to_vec()
}

fn mix_k1(k1: u32) -> u32 {
    k1.wrapping_mul(0xcc9e_2d51)
        .rotate_left(15)
        .wrapping_mul(0x1b87_3593)
}

fn mix_h1(h1: u32, k1: u32) -> u32 {
    (h1 ^ k1)
        .rotate_left(13)
        .wrapping_mul(5)
        .wrapping_add(0xe654_6b64)
}

fn finish(h1: u32, length: u32) -> u32 {
    let mut h = h1 ^ length;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

fn hash_int(value: u32, seed: u32) -> u32 {
    finish(mix_h1(seed, mix_k1(value)), 4)
}

fn hash_long(value: u64, seed: u32) -> u32 {
    let low = mix_h1(seed, mix_k1(value as u32));
    finish(mix_h1(low, mix_k1((value >> 32) as u32)), 8)
}

/// Spark's `hashUnsafeBytes`: whole little-endian words, then each remaining byte as a
/// sign-extended int of its own.
fn hash_bytes(bytes: &[u8], seed: u32) -> u32 {
    let words = bytes.chunks_exact(4);
    let tail = words.remainder();
    let mut h1 = seed;
    for word in words {
        let word = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        h1 = mix_h1(h1, mix_k1(word));
    }
    for &byte in tail {
        h1 = mix_h1(h1, mix_k1(byte as i8 as i32 as u32));
    }
    finish(h1, bytes.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_big_integer_bytes() {
        assert_eq!(big_integer_bytes(0), vec![0x00]);
        assert_eq!(big_integer_bytes(127), vec![0x7f]);
        assert_eq!(big_integer_bytes(128), vec![0x00, 0x80]);
        assert_eq!(big_integer_bytes(-1), vec![0xff]);
        assert_eq!(big_integer_bytes(-128), vec![0x80]);
        assert_eq!(big_integer_bytes(-129), vec![0xff, 0x7f]);
    }

    #[test]
    fn spark_hashes_an_int_one_to_its_documented_value() {
        assert_eq!(hash_int(1, SEED) as i32, -559580957);
    }

    #[test]
    fn negative_zero_hashes_as_zero() {
        assert_eq!(
            hash_long(double_bits(-0.0), SEED),
            hash_long(double_bits(0.0), SEED)
        );
        assert_eq!(
            hash_int(float_bits(-0.0), SEED),
            hash_int(float_bits(0.0), SEED)
        );
    }
}
