//! Spark SQL's functions, for the queries people bring from Spark. Only names PostgreSQL
//! does not define are added, so a PostgreSQL function keeps PostgreSQL's meaning; where
//! both define a name with different arguments (`trunc(date, 'MM')` against
//! `trunc(numeric)`), `spark_syntax` routes Spark's form to a function of its own name.
//!
//! Most come from DataFusion's `datafusion-spark` crate; the rest are lakeport's own (`text`,
//! `datetime`, `to_timestamp`, `collections`, `edits`, `json`, `json_schema`, `mask`, `conv`,
//! `session_window`, the aggregates `mode`, `percentile`, `moments`, `try_average`,
//! `histogram_numeric`, …), written to Spark's documented results.

mod arithmetic;
mod bround;
mod collections;
mod conv;
mod datetime;
mod edits;
mod higher_order;
mod histogram_numeric;
mod json;
mod json_schema;
mod mask;
mod mode;
mod moments;
mod murmur3;
mod numbers;
mod patterns;
mod percentile;
mod session_window;
mod text;
mod time_window;
mod to_timestamp;
mod try_average;
mod types;

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::Result as DfResult;
use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
use datafusion::logical_expr::{
    AggregateUDF, ColumnarValue, Expr, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion_spark::function as spark;

use crate::error::Result;
pub use arithmetic::SPARK_DIV;
use arithmetic::{SparkDiv, TryArithmetic};
use collections::{CollectionKind, SparkCollection};
use datetime::{DateTimeKind, SparkDateTime};
pub use higher_order::NAMES as HIGHER_ORDER_FUNCTIONS;
use json::{JsonKind, SparkJson};
pub use json_schema::schema_of_json;
pub use mask::MASK_PARAMETERS;
pub use session_window::SESSION_WINDOW;
use text::{SparkText, TextKind};
pub use time_window::TIME_WINDOWS;
use to_timestamp::{TimestampKind, ToTimestamp};

/// The type of a list of `data_type` values, each possibly NULL.
fn list_of(data_type: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(data_type, true)))
}

/// The name Spark's `trunc(date, format)` is planned under.
pub const SPARK_TRUNC: &str = "spark_trunc";

/// Adds Spark's functions to a session state.
pub fn register(state: &mut SessionState) -> Result<()> {
    // Spark's `array_contains` (NULL when the array holds a NULL and no match) replaces
    // DataFusion's; PostgreSQL has no such function.
    state.register_udf(spark::array::spark_array_contains())?;
    let crate_functions = [
        spark::array::array(),
        spark::conditional::r#if(),
        spark::datetime::date_diff(),
        spark::datetime::from_utc_timestamp(),
        spark::datetime::to_utc_timestamp(),
        spark::array::slice(),
        spark::hash::crc32(),
        spark::hash::sha1(),
        spark::hash::sha2(),
        spark::map::str_to_map(),
        spark::map::map_from_arrays(),
        spark::math::pmod(),
        spark::string::base64(),
        spark::string::unbase64(),
        spark::string::format_string(),
        spark::string::soundex(),
        spark::string::elt(),
        spark::string::char(),
        spark::string::luhn_check(),
        spark::hash::xxhash64(),
        spark::math::expm1(),
        spark::math::rint(),
        spark::math::hex(),
        spark::math::unhex(),
        spark::math::bin(),
        spark::datetime::weekday(),
        spark::datetime::monthname(),
        spark::datetime::unix_date(),
        spark::datetime::unix_micros(),
        spark::datetime::unix_millis(),
        spark::bitwise::shiftleft(),
        spark::bitwise::shiftright(),
        spark::bitwise::shiftrightunsigned(),
        spark::bitwise::bit_get(),
        spark::url::parse_url(),
        spark::url::try_parse_url(),
        spark::url::url_encode(),
        spark::url::url_decode(),
        spark::url::try_url_decode(),
        spark::array::shuffle(),
        spark::bitwise::bit_count(),
        spark::map::map_from_entries(),
        spark::math::width_bucket(),
    ];
    for function in crate_functions {
        if state.scalar_functions().contains_key(function.name()) {
            return Err(crate::error::Error::internal(format!(
                "Spark's {} would replace a function of the same name",
                function.name()
            )));
        }
        state.register_udf(function)?;
    }
    // Their counts are `int`; lakeport's integer literals are `bigint`. Their dates may be
    // given as text or timestamps.
    let adapted = [
        Adapted::new("add_months", spark::datetime::add_months())
            .narrowing_integers()
            .reading_dates(),
        Adapted::new("date_add", spark::datetime::date_add())
            .narrowing_integers()
            .reading_dates(),
        Adapted::new("date_sub", spark::datetime::date_sub())
            .narrowing_integers()
            .reading_dates(),
        Adapted::new("last_day", spark::datetime::last_day()).reading_dates(),
        Adapted::new("next_day", spark::datetime::next_day()).reading_dates(),
        Adapted::new("space", spark::string::space()).narrowing_integers(),
        Adapted::new(SPARK_TRUNC, spark::datetime::trunc()),
    ];
    for function in adapted {
        state.register_udf(Arc::new(ScalarUDF::new_from_impl(function)))?;
    }
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(ListAware {
        plain: datafusion::functions::string::concat_ws(),
        lists: spark::string::concat_ws(),
        signature: Signature::user_defined(Volatility::Immutable),
    })))?;
    let own: Vec<Arc<dyn ScalarUDFImpl>> = vec![
        Arc::new(SparkDiv::new()),
        Arc::new(TryArithmetic::new("try_add", Operator::Plus)),
        Arc::new(TryArithmetic::new("try_subtract", Operator::Minus)),
        Arc::new(TryArithmetic::new("try_multiply", Operator::Multiply)),
        Arc::new(SparkText::new(TextKind::Split)),
        Arc::new(SparkText::new(TextKind::RegexpExtract)),
        Arc::new(SparkText::new(TextKind::RegexpExtractAll)),
        Arc::new(SparkText::new(TextKind::RegexpSubstr)),
        Arc::new(SparkText::new(TextKind::GetJsonObject)),
        Arc::new(SparkText::new(TextKind::JsonArrayLength)),
        Arc::new(SparkText::new(TextKind::JsonObjectKeys)),
        Arc::new(SparkDateTime::new(DateTimeKind::DateFormat)),
        Arc::new(SparkDateTime::new(DateTimeKind::FromUnixtime)),
        Arc::new(SparkDateTime::new(DateTimeKind::UnixTimestamp)),
        Arc::new(SparkDateTime::new(DateTimeKind::ToDate)),
        Arc::new(SparkDateTime::new(DateTimeKind::MonthsBetween)),
        Arc::new(SparkDateTime::new(DateTimeKind::TimestampAdd)),
        Arc::new(SparkDateTime::new(DateTimeKind::TimestampDiff)),
        Arc::new(SparkDateTime::new(DateTimeKind::MakeTimestamp)),
        Arc::new(SparkDateTime::new(DateTimeKind::ConvertTimezone)),
        Arc::new(SparkCollection::new(CollectionKind::ElementAt)),
        Arc::new(SparkCollection::new(CollectionKind::TryElementAt)),
        Arc::new(SparkCollection::new(CollectionKind::Get)),
        Arc::new(edits::SparkEdit::new(edits::EditKind::ArrayInsert)),
        Arc::new(edits::SparkEdit::new(edits::EditKind::MapConcat)),
        Arc::new(SparkCollection::new(CollectionKind::Sequence)),
        Arc::new(SparkJson::new(JsonKind::ToJson)),
        Arc::new(SparkJson::new(JsonKind::FromJson)),
        Arc::new(types::TypeOf::new()),
        Arc::new(numbers::FormatNumber::new()),
        Arc::new(conv::Conv::new()),
        Arc::new(bround::Bround::new()),
        Arc::new(murmur3::Murmur3Hash::new()),
        Arc::new(time_window::TimeWindows::new()),
        Arc::new(session_window::SessionWindow::new()),
        Arc::new(mask::Mask::new()),
        Arc::new(json_schema::SchemaOfJson::new()),
    ];
    for function in own {
        state.register_udf(Arc::new(ScalarUDF::new_from_shared_impl(function)))?;
    }
    let epoch_seconds = state
        .scalar_functions()
        .get("to_timestamp")
        .cloned()
        .ok_or_else(|| crate::error::Error::internal("DataFusion's to_timestamp is missing"))?;
    for (name, kind) in [
        ("to_timestamp", TimestampKind::Instant),
        ("to_timestamp_ltz", TimestampKind::Instant),
        ("try_to_timestamp", TimestampKind::TryInstant),
        ("to_timestamp_ntz", TimestampKind::WallTime),
    ] {
        let function = ToTimestamp::new(name, kind, epoch_seconds.clone());
        state.register_udf(Arc::new(ScalarUDF::new_from_impl(function)))?;
    }
    for percentile in [
        percentile::PercentileApprox::new(),
        percentile::PercentileApprox::discrete(),
    ] {
        state.register_udaf(Arc::new(AggregateUDF::from(percentile)))?;
    }
    for moment in [moments::Moment::Skewness, moments::Moment::Kurtosis] {
        state.register_udaf(Arc::new(AggregateUDF::from(moments::CentralMoment::new(
            moment,
        ))))?;
    }
    for function in higher_order::functions() {
        state.register_higher_order_function(Arc::new(function))?;
    }
    state.register_udaf(spark::aggregate::collect_list())?;
    state.register_udaf(spark::aggregate::collect_set())?;
    state.register_udaf(spark::aggregate::try_sum())?;
    state.register_udaf(Arc::new(AggregateUDF::from(mode::Mode::new())))?;
    state.register_udaf(Arc::new(AggregateUDF::from(
        histogram_numeric::HistogramNumeric::new(),
    )))?;
    if let Some(average) = state.aggregate_functions().get("avg").cloned() {
        state.register_udaf(Arc::new(AggregateUDF::from(try_average::TryAverage::new(
            average,
        ))))?;
    }
    let aliases = [
        ("first_value", "first"),
        ("last_value", "last"),
        ("var_samp", "variance"),
        ("stddev_samp", "std"),
    ];
    for (existing, alias) in aliases {
        if let Some(function) = state.aggregate_functions().get(existing).cloned() {
            let aliased = AggregateUDF::clone(&function).with_aliases([alias]);
            state.register_udaf(Arc::new(aliased))?;
        }
    }
    Ok(())
}

/// `concat_ws`: PostgreSQL's (DataFusion's) for plain values, Spark's when an argument is
/// an array, whose elements Spark joins (`concat_ws(',', collect_set(x))`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ListAware {
    plain: Arc<ScalarUDF>,
    lists: Arc<ScalarUDF>,
    signature: Signature,
}

impl ListAware {
    fn pick(&self, types: &[DataType]) -> &ScalarUDF {
        let is_list = |t: &DataType| matches!(t, DataType::List(_) | DataType::LargeList(_));
        match types.iter().any(is_list) {
            true => &self.lists,
            false => &self.plain,
        }
    }
}

impl ScalarUDFImpl for ListAware {
    fn name(&self) -> &str {
        self.plain.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let fields: Vec<FieldRef> = arg_types
            .iter()
            .map(|t| Arc::new(Field::new("", t.clone(), true)))
            .collect();
        let coerced = fields_with_udf(&fields, self.pick(arg_types))?;
        Ok(coerced.iter().map(|f| f.data_type().clone()).collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.pick(arg_types).return_type(arg_types)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        use datafusion::logical_expr::ExprSchemable;
        let types: DfResult<Vec<DataType>> =
            args.iter().map(|a| a.get_type(info.schema())).collect();
        match types {
            Ok(types) => self.pick(&types).simplify(args, info),
            Err(_) => Ok(ExprSimplifyResult::Original(args)),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        self.pick(&types).invoke_with_args(args)
    }
}

/// A function of the `datafusion-spark` crate, planned under its own or another name (so
/// that two meanings of one name can coexist), optionally taking `bigint` arguments where it
/// wants `int` (checked: a value out of `int`'s range is an error, not wrapped) and, as
/// Spark does, text or a timestamp where its first argument is a date (text that is no date
/// is an error).
#[derive(Debug, PartialEq, Eq, Hash)]
struct Adapted {
    name: String,
    inner: Arc<ScalarUDF>,
    narrow_integers: bool,
    first_as_date: bool,
    signature: Signature,
}

impl Adapted {
    fn new(name: &str, inner: Arc<ScalarUDF>) -> Self {
        let signature = Signature::user_defined(inner.signature().volatility);
        Self {
            name: name.to_string(),
            inner,
            narrow_integers: false,
            first_as_date: false,
            signature,
        }
    }

    fn narrowing_integers(self) -> Self {
        Self {
            narrow_integers: true,
            ..self
        }
    }

    fn reading_dates(self) -> Self {
        Self {
            first_as_date: true,
            ..self
        }
    }
}

impl ScalarUDFImpl for Adapted {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> DfResult<Vec<DataType>> {
        let narrowed: Vec<FieldRef> = arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match t {
                DataType::Int64 | DataType::UInt32 | DataType::UInt64 if self.narrow_integers => {
                    DataType::Int32
                }
                DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Timestamp(..)
                    if self.first_as_date && i == 0 =>
                {
                    DataType::Date32
                }
                other => other.clone(),
            })
            .map(|t| Arc::new(Field::new("", t, true)))
            .collect();
        let coerced = fields_with_udf(&narrowed, self.inner.as_ref())?;
        Ok(coerced.iter().map(|f| f.data_type().clone()).collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> DfResult<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> DfResult<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        self.inner.invoke_with_args(args)
    }
}
