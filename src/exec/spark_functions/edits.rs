//! Spark's functions that build an array or a map from others: `array_insert(array, position,
//! value)` (from 1, negative from the end with -1 after the last element; NULLs pad a
//! position past either end) and `map_concat(map, …)` (a key found twice is an error, as in
//! Spark's default `mapKeyDedupPolicy`).

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::collections::check_length;
use super::higher_order::map_array;
use crate::error::{Error, ErrorKind};
use crate::exec::functions::invoke_by_row;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EditKind {
    ArrayInsert,
    MapConcat,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SparkEdit {
    kind: EditKind,
    signature: Signature,
}

impl SparkEdit {
    pub fn new(kind: EditKind) -> Self {
        Self {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn usage(&self) -> datafusion::error::DataFusionError {
        let text = match self.kind {
            EditKind::ArrayInsert => "array_insert expects (array, position, value)",
            EditKind::MapConcat => "map_concat expects maps of one type",
        };
        Error::new(ErrorKind::DatatypeMismatch, text).into()
    }
}

impl ScalarUDFImpl for SparkEdit {
    fn name(&self) -> &str {
        match self.kind {
            EditKind::ArrayInsert => "array_insert",
            EditKind::MapConcat => "map_concat",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        match (self.kind, arg_types) {
            (EditKind::ArrayInsert, [list @ DataType::List(field), _, _]) => Ok(vec![
                list.clone(),
                DataType::Int64,
                field.data_type().clone(),
            ]),
            (EditKind::MapConcat, [first @ DataType::Map(..), rest @ ..])
                if rest.iter().all(|t| t == first || t.is_null()) =>
            {
                Ok(vec![first.clone(); arg_types.len()])
            }
            _ => Err(self.usage()),
        }
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        arg_types.first().cloned().ok_or_else(|| self.usage())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let output = args.return_field.data_type().clone();
        invoke_by_row(&args, |values| match self.kind {
            EditKind::ArrayInsert => array_insert(values),
            EditKind::MapConcat => map_concat(values, &output),
        })
    }
}

fn array_insert(values: &[ScalarValue]) -> DfResult<ScalarValue> {
    let (ScalarValue::List(list), ScalarValue::Int64(Some(position)), value) =
        (&values[0], &values[1], &values[2])
    else {
        return Ok(ScalarValue::Null);
    };
    if list.is_null(0) {
        return Ok(ScalarValue::Null);
    }
    let items = list.value(0);
    let mut elements: Vec<ScalarValue> = (0..items.len())
        .map(|i| ScalarValue::try_from_array(&items, i))
        .collect::<DfResult<_>>()?;
    let length = elements.len() as i64;
    let null = ScalarValue::try_from(value.data_type())?;
    match *position {
        0 => {
            return Err(Error::new(
                ErrorKind::ArraySubscriptError,
                "array_insert position 0 is invalid: positions count from 1, or from -1 at the end",
            )
            .into());
        }
        p if p > 0 => {
            let at = usize::try_from(p - 1).unwrap_or(usize::MAX);
            check_length("array_insert", at)?;
            if at > elements.len() {
                elements.resize(at, null);
            }
            elements.insert(at, value.clone());
        }
        p => {
            let at = length + p + 1;
            if at >= 0 {
                elements.insert(at as usize, value.clone());
            } else {
                let padding = usize::try_from(-at).unwrap_or(usize::MAX);
                check_length("array_insert", padding)?;
                let mut front = vec![value.clone()];
                front.extend(std::iter::repeat_n(null, padding));
                front.append(&mut elements);
                elements = front;
            }
        }
    }
    Ok(ScalarValue::List(ScalarValue::new_list_nullable(
        &elements,
        &value.data_type(),
    )))
}

fn map_concat(values: &[ScalarValue], output: &DataType) -> DfResult<ScalarValue> {
    let mut keys: Vec<ArrayRef> = Vec::new();
    let mut items: Vec<ArrayRef> = Vec::new();
    let mut seen = HashSet::new();
    for value in values {
        let ScalarValue::Map(map) = value else {
            return Ok(ScalarValue::Null);
        };
        if map.is_null(0) {
            return Ok(ScalarValue::Null);
        }
        let entries = map.value(0);
        for i in 0..entries.len() {
            let key = ScalarValue::try_from_array(entries.column(0), i)?;
            if !seen.insert(key.clone()) {
                return Err(Error::new(
                    ErrorKind::UniqueViolation,
                    format!("map_concat found the map key {key} twice"),
                )
                .into());
            }
        }
        keys.push(Arc::clone(entries.column(0)));
        items.push(Arc::clone(entries.column(1)));
    }
    let concat = |parts: &[ArrayRef]| -> DfResult<ArrayRef> {
        let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
        Ok(datafusion::arrow::compute::concat(&parts)?)
    };
    let (keys, items) = (concat(&keys)?, concat(&items)?);
    let offsets = OffsetBuffer::from_lengths([keys.len()]);
    let map = map_array("map_concat", output, (keys, items), offsets, None)?;
    Ok(ScalarValue::Map(Arc::new(map)))
}
