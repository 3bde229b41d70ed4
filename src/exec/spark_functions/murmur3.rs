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

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int32Array, OffsetSizeTrait, new_empty_array,
};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
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
        let columns = ColumnarValue::values_to_arrays(&args.args)?;
        let mut hashes = vec![SEED; args.number_rows];
        for column in &columns {
            let hash = row_hasher(column.as_ref())?;
            for (row, seed) in hashes.iter_mut().enumerate() {
                *seed = hash(row, *seed);
            }
        }
        let hashes: ArrayRef = Arc::new(Int32Array::from_iter_values(
            hashes.into_iter().map(|h| h as i32),
        ));
        Ok(ColumnarValue::Array(hashes))
    }
}

/// Refuses, when the call is planned, a type `hash` cannot hash.
fn check_hashable(data_type: &DataType) -> DfResult<()> {
    row_hasher(new_empty_array(data_type).as_ref()).map(|_| ())
}

/// Hashes one row of a column into a seed.
type RowHasher<'a> = Box<dyn Fn(usize, u32) -> u32 + 'a>;

/// The hasher of `array`'s rows (each NULL leaving the seed as it is), its type looked at
/// once rather than per row.
fn row_hasher(array: &dyn Array) -> DfResult<RowHasher<'_>> {
    fn ints<'a, T>(array: &'a dyn Array, bits: impl Fn(T::Native) -> u32 + 'a) -> RowHasher<'a>
    where
        T: ArrowPrimitiveType,
    {
        let values = array.as_primitive::<T>();
        Box::new(move |row, seed| hash_int(bits(values.value(row)), seed))
    }
    fn longs<'a, T>(array: &'a dyn Array, bits: impl Fn(T::Native) -> u64 + 'a) -> RowHasher<'a>
    where
        T: ArrowPrimitiveType,
    {
        let values = array.as_primitive::<T>();
        Box::new(move |row, seed| hash_long(bits(values.value(row)), seed))
    }
    let hash: RowHasher = match array.data_type() {
        DataType::Null => Box::new(|_, seed| seed),
        DataType::Boolean => {
            let values = array.as_boolean();
            Box::new(move |row, seed| hash_int(values.value(row) as u32, seed))
        }
        DataType::Int8 => ints::<Int8Type>(array, |v| v as u32),
        DataType::Int16 => ints::<Int16Type>(array, |v| v as u32),
        DataType::Int32 => ints::<Int32Type>(array, |v| v as u32),
        DataType::UInt8 => ints::<UInt8Type>(array, |v| v as u32),
        DataType::UInt16 => ints::<UInt16Type>(array, |v| v as u32),
        DataType::Date32 => ints::<Date32Type>(array, |v| v as u32),
        DataType::Float32 => ints::<Float32Type>(array, float_bits),
        DataType::Int64 => longs::<Int64Type>(array, |v| v as u64),
        DataType::UInt32 => longs::<UInt32Type>(array, |v| v as u64),
        DataType::Float64 => longs::<Float64Type>(array, double_bits),
        DataType::Timestamp(TimeUnit::Second, _) => {
            longs::<TimestampSecondType>(array, |v| v.saturating_mul(1_000_000) as u64)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            longs::<TimestampMillisecondType>(array, |v| v.saturating_mul(1_000) as u64)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            longs::<TimestampMicrosecondType>(array, |v| v as u64)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            longs::<TimestampNanosecondType>(array, |v| v.div_euclid(1_000) as u64)
        }
        DataType::Decimal128(precision, _) if *precision <= 18 => {
            longs::<Decimal128Type>(array, |v| v as u64)
        }
        DataType::Decimal128(..) => {
            let values = array.as_primitive::<Decimal128Type>();
            Box::new(move |row, seed| hash_bytes(&big_integer_bytes(values.value(row)), seed))
        }
        DataType::Utf8 => {
            let values = array.as_string::<i32>();
            Box::new(move |row, seed| hash_bytes(values.value(row).as_bytes(), seed))
        }
        DataType::LargeUtf8 => {
            let values = array.as_string::<i64>();
            Box::new(move |row, seed| hash_bytes(values.value(row).as_bytes(), seed))
        }
        DataType::Utf8View => {
            let values = array.as_string_view();
            Box::new(move |row, seed| hash_bytes(values.value(row).as_bytes(), seed))
        }
        DataType::Binary => {
            let values = array.as_binary::<i32>();
            Box::new(move |row, seed| hash_bytes(values.value(row), seed))
        }
        DataType::LargeBinary => {
            let values = array.as_binary::<i64>();
            Box::new(move |row, seed| hash_bytes(values.value(row), seed))
        }
        DataType::BinaryView => {
            let values = array.as_binary_view();
            Box::new(move |row, seed| hash_bytes(values.value(row), seed))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            elements(list.values().as_ref(), list.value_offsets())?
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            elements(list.values().as_ref(), list.value_offsets())?
        }
        DataType::FixedSizeList(_, size) => {
            let list = array.as_fixed_size_list();
            let element = row_hasher(list.values().as_ref())?;
            let size = *size as usize;
            Box::new(move |row, seed| {
                (row * size..(row + 1) * size).fold(seed, |hash, i| element(i, hash))
            })
        }
        DataType::Struct(_) => {
            let fields = array
                .as_struct()
                .columns()
                .iter()
                .map(|field| row_hasher(field.as_ref()))
                .collect::<DfResult<Vec<_>>>()?;
            Box::new(move |row, seed| fields.iter().fold(seed, |hash, field| field(row, hash)))
        }
        DataType::Map(..) => {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                "hash cannot hash a map: equal maps may order their entries differently",
            )
            .into());
        }
        other => {
            return Err(Error::new(
                ErrorKind::DatatypeMismatch,
                format!("hash cannot hash a value of type {other}"),
            )
            .into());
        }
    };
    Ok(Box::new(move |row, seed| match array.is_null(row) {
        true => seed,
        false => hash(row, seed),
    }))
}

/// A list's elements in order, each hash the seed of the next.
fn elements<'a, O: OffsetSizeTrait>(
    values: &'a dyn Array,
    offsets: &'a [O],
) -> DfResult<RowHasher<'a>> {
    let element = row_hasher(values)?;
    Ok(Box::new(move |row, seed| {
        (offsets[row].as_usize()..offsets[row + 1].as_usize())
            .fold(seed, |hash, i| element(i, hash))
    }))
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
