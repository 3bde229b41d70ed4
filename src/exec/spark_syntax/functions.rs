//! Spark's function calls that DataFusion knows under another name or form, rewritten into
//! calls it plans with Spark's results:
//!
//! - date parts: `year(d)`, `month`, `day` / `dayofmonth`, `hour`, `minute`, `second`,
//!   `quarter`, `dayofyear`, `weekofyear` (ISO weeks), `dayofweek` (1 = Sunday) are
//!   `date_part` as an int;
//! - casts written as calls: `int(x)`, `bigint`, `smallint`, `tinyint`, `double`, `float`,
//!   `decimal`, `string`, `boolean`, `date`, `timestamp`, `binary`;
//! - `isnull(x)` / `isnotnull(x)`, `count_if(c)`, `any` / `some` / `every`, `max_by` /
//!   `min_by`, `percentile` (exact, interpolated), `try_divide`, `locate(s, str [, pos])`,
//!   `decode(x, v1, r1, …, default)` (PostgreSQL's two-argument `decode` is left alone),
//!   `sort_array(a [, asc])`, `grouping_id(…)`, `x RLIKE p` / `x REGEXP p`;
//! - `a DIV b` is `spark_div(a, b)`: the quotient truncated toward zero, as a bigint;
//! - higher-order functions: `exists(a, x -> …)` is DataFusion's `array_any_match`,
//!   `forall(a, x -> p)` is `NOT array_any_match(a, x -> NOT p)`; the others (`transform`,
//!   `filter`, `aggregate`, …) are lakeport's own (`spark_functions::higher_order`), whose
//!   lambdas stay as they are;
//! - `count(DISTINCT a, b)` (rows where none is NULL), `INTERVAL 30 DAYS` (a number),
//!   `lcase`, `ucase`, `startswith`, `endswith`, `array_size`, `unix_seconds`,
//!   `timestamp_seconds`;
//! - `trunc(d, 'MM')` (a format as text) is Spark's `trunc`, planned as `spark_trunc`;
//!   `struct(a, b)` names its fields after the columns (`named_struct('a', a, 'b', b)`,
//!   `colN` for other expressions); `approx_count_distinct` is `approx_distinct` as a bigint;
//!   `size` is `cardinality` as an int; `first(x, true)` / `last(x, true)` ignore NULLs;
//! - units as bare words: `timestampadd(HOUR, n, ts)` (or `dateadd`, `date_add`) and
//!   `timestampdiff(MONTH, a, b)` (or `datediff`, `date_diff`) call `timestampadd` /
//!   `timestampdiff` with the unit as text; `zeroifnull(x)` is `coalesce(x, 0)`,
//!   `nullifzero(x)` `nullif(x, 0)`, `map_contains_key(m, k)` `array_has(map_keys(m), k)`,
//!   `getbit` `bit_get`;
//! - `unix_timestamp()` is the statement's time, `e()` `exp(1.0)`, `current_timezone()` the
//!   session's `TimeZone`, `dayname(d)` `date_format(d, 'EEE')`, `date_from_unix_date(n)`
//!   `date_add(DATE '1970-01-01', n)`, `between(x, a, b)` `x BETWEEN a AND b`, `randn()` a
//!   Box–Muller draw from `random()`, `monotonically_increasing_id()` `row_number() OVER ()
//!   - 1`; `timestamp_millis`, `timestamp_micros` and `to_unix_timestamp` are DataFusion's
//!   `to_timestamp_millis`, `to_timestamp_micros` and lakeport's `unix_timestamp`;
//!   `arrays_zip(a, b)` names its fields as Spark does (`a`, `b` after the columns, `0`, `1`, …
//!   for other arguments; NULL when an array is); `equal_null(a, b)` is `a IS NOT DISTINCT FROM b`, `positive(x)` `x`, `negative(x)` `-x`,
//!   `make_interval(years, months, weeks, days, hours, mins, secs)` (also PostgreSQL's, with
//!   its named arguments: `make_interval(days => 10)`) the interval of that text;
//! - named arguments of `mask(str, upperChar => …)` are put in their places (the others
//!   given their defaults); `from_json(j, schema_of_json('…'))` gets the schema's text, as
//!   `from_json` needs its schema while the query is planned.

use datafusion::sql::sqlparser::ast::DataType as SqlType;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArguments, GroupByExpr, Ident, LambdaFunction, NullTreatment,
    ObjectName, OneOrManyWithParens, Query, SetExpr, UnaryOperator, Value, visit_expressions_mut,
};
use std::ops::ControlFlow;

use super::build::{call, cast, parse_expr, plain_arguments};
use crate::error::{Error, Result};
use crate::exec::pg_syntax::function_call;
use crate::exec::spark_functions::{
    HIGHER_ORDER_FUNCTIONS, MASK_PARAMETERS, SPARK_DIV, SPARK_TRUNC, schema_of_json,
};

/// The arguments of `make_interval(years, months, weeks, days, hours, mins, secs)`, as an
/// interval's text names them (each defaults to 0).
const INTERVAL_PARTS: &[&str] = &["years", "months", "weeks", "days", "hours", "mins", "secs"];

/// Spark's date-part functions: the `date_part` field each reads, and what Spark adds to it.
const DATE_PARTS: &[(&str, &str, i64)] = &[
    ("year", "year", 0),
    ("quarter", "quarter", 0),
    ("month", "month", 0),
    ("day", "day", 0),
    ("dayofmonth", "day", 0),
    ("dayofyear", "doy", 0),
    ("weekofyear", "week", 0),
    ("dayofweek", "dow", 1),
    ("hour", "hour", 0),
    ("minute", "minute", 0),
    ("second", "second", 0),
];

/// Spark's `exists`, which DataFusion has under another name.
const EXISTS: (&str, &str) = ("exists", "array_any_match");

/// DataFusion's own higher-order functions, callable under their names.
const DATAFUSION_HIGHER_ORDER: &[&str] = &[
    "array_transform",
    "list_transform",
    "array_filter",
    "list_filter",
    "array_any_match",
    "list_any_match",
];

/// Whether a call takes lambdas (by Spark's name or DataFusion's), so that its lambda
/// arguments stay lambdas.
pub(super) fn is_higher_order(function: &Function) -> bool {
    let name = function.name.to_string().to_ascii_lowercase();
    let name = name.as_str();
    name == "forall"
        || name == EXISTS.0
        || HIGHER_ORDER_FUNCTIONS.contains(&name)
        || DATAFUSION_HIGHER_ORDER.contains(&name)
}

/// Refuses an element index parameter of `exists` and `forall`, which take the element
/// only, as in Spark.
fn supported_lambdas(name: &str, args: &[Expr]) -> Result<()> {
    let lambdas = args.iter().filter_map(|arg| match arg {
        Expr::Lambda(lambda) => Some(lambda),
        _ => None,
    });
    for lambda in lambdas {
        let is_predicate = name == "forall" || name == EXISTS.0;
        if is_predicate
            && matches!(lambda.params, OneOrManyWithParens::Many(ref params) if params.len() > 1)
        {
            return Err(Error::syntax(format!(
                "the lambda of {name} takes one parameter, the element"
            )));
        }
    }
    Ok(())
}

/// A lambda outside a higher-order call: PostgreSQL's JSON operator `a -> b`.
pub(super) fn stray_lambda(lambda: &mut LambdaFunction) -> Result<Expr> {
    match &lambda.params {
        OneOrManyWithParens::One(param) if param.data_type.is_none() => Ok(Expr::BinaryOp {
            left: Box::new(Expr::Identifier(param.name.clone())),
            op: BinaryOperator::Arrow,
            right: Box::new(take(&mut lambda.body)),
        }),
        _ => Err(
            Error::syntax(format!("lambda {lambda} outside a higher-order function"))
                .with_hint("lambdas are arguments of higher-order functions such as transform"),
        ),
    }
}

/// `acc.s` in a lambda whose parameter `acc` is a struct: the field `s` of `acc` (DataFusion
/// resolves a lambda parameter only as a plain name, and reads `acc.s` as a column unless
/// `acc` is parenthesised).
pub(super) fn lambda_field_access(names: &[Ident], params: &[Ident]) -> Option<Expr> {
    let (root, fields) = names.split_first()?;
    let is_param = params
        .iter()
        .any(|param| param.value.eq_ignore_ascii_case(&root.value));
    (is_param && !fields.is_empty()).then(|| Expr::CompoundFieldAccess {
        root: Box::new(Expr::Nested(Box::new(Expr::Identifier(root.clone())))),
        access_chain: fields
            .iter()
            .map(|field| AccessExpr::Dot(Expr::Identifier(field.clone())))
            .collect(),
    })
}

/// Spark's names of functions DataFusion has under another name, same arguments.
const RENAMES: &[(&str, &str)] = &[
    ("lcase", "lower"),
    ("ucase", "upper"),
    ("startswith", "starts_with"),
    ("endswith", "ends_with"),
    ("timestamp_seconds", "to_timestamp_seconds"),
    ("timestamp_millis", "to_timestamp_millis"),
    ("timestamp_micros", "to_timestamp_micros"),
    ("to_unix_timestamp", "unix_timestamp"),
    ("getbit", "bit_get"),
    ("sign", "signum"),
    ("to_varchar", "date_format"),
];

/// Spark's cast functions and the type each casts to.
const CASTS: &[(&str, &str)] = &[
    ("int", "INT"),
    ("integer", "INT"),
    ("bigint", "BIGINT"),
    ("smallint", "SMALLINT"),
    ("tinyint", "TINYINT"),
    ("double", "DOUBLE"),
    ("float", "REAL"),
    ("decimal", "DECIMAL(10, 0)"),
    ("string", "VARCHAR"),
    ("boolean", "BOOLEAN"),
    ("date", "DATE"),
    ("timestamp", "TIMESTAMP"),
    ("binary", "BYTEA"),
];

/// `expr` in Spark's meaning, when it is a call or operator written the Spark way.
pub(super) fn rewrite_expr(expr: &mut Expr) -> Result<()> {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::MyIntegerDivide,
            right,
        } => {
            *expr = call(SPARK_DIV, [take(left), take(right)]);
        }
        Expr::RLike {
            negated,
            expr: value,
            pattern,
            ..
        } => {
            let op = match negated {
                true => BinaryOperator::PGRegexNotMatch,
                false => BinaryOperator::PGRegexMatch,
            };
            *expr = Expr::BinaryOp {
                left: Box::new(take(value)),
                op,
                right: Box::new(take(pattern)),
            };
        }
        Expr::Interval(interval) if interval.leading_field.is_some() => {
            if let Expr::Value(value) = interval.value.as_mut()
                && let Value::Number(number, _) = &value.value
            {
                value.value = Value::SingleQuotedString(number.clone());
            }
        }
        Expr::Function(function) => {
            if let Some(new) = replacement(function)? {
                *expr = new;
            } else {
                rename_in_place(function);
            }
        }
        _ => {}
    }
    Ok(())
}

/// The arguments of a call that names some (`f(a, name => b)`), in the order of
/// `parameters` (each with its default, NULL when it has none; the first is required);
/// None when all are positional.
fn named_arguments(
    function: &Function,
    parameters: &[(&str, Option<&str>)],
) -> Result<Option<Vec<Expr>>> {
    let FunctionArguments::List(list) = &function.args else {
        return Ok(None);
    };
    if list
        .args
        .iter()
        .all(|a| matches!(a, FunctionArg::Unnamed(_)))
    {
        return Ok(None);
    }
    let mut values: Vec<Option<Expr>> = vec![None; parameters.len()];
    for (position, arg) in list.args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(value)) => (Some(position), value),
            FunctionArg::Named {
                name,
                arg: FunctionArgExpr::Expr(value),
                ..
            }
            | FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg: FunctionArgExpr::Expr(value),
                ..
            } => (
                parameters
                    .iter()
                    .position(|(p, _)| p.eq_ignore_ascii_case(&name.value)),
                value,
            ),
            other => {
                return Err(Error::syntax(format!(
                    "unexpected argument {other} to {}",
                    function.name
                )));
            }
        };
        let Some(slot) = slot.filter(|s| *s < parameters.len()) else {
            let names: Vec<&str> = parameters.iter().map(|(p, _)| *p).collect();
            return Err(Error::new(
                crate::error::ErrorKind::UndefinedFunction,
                format!(
                    "{} has no parameter {arg}; its parameters are {}",
                    function.name,
                    names.join(", ")
                ),
            ));
        };
        if values[slot].replace(value.clone()).is_some() {
            return Err(Error::syntax(format!(
                "{} is given twice to {}",
                parameters[slot].0, function.name
            )));
        }
    }
    parameters
        .iter()
        .zip(values)
        .enumerate()
        .map(
            |(position, ((name, default), value))| match (value, default) {
                (Some(value), _) => Ok(value),
                (None, Some(default)) => Ok(Expr::value(Value::SingleQuotedString(
                    (*default).to_string(),
                ))),
                (None, None) if position == 0 => {
                    Err(Error::syntax(format!("{} needs its {name}", function.name)))
                }
                (None, None) => Ok(Expr::value(Value::Null)),
            },
        )
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The name Spark gives the field of `arrays_zip`'s result that holds `array`'s elements:
/// the column's name, or the argument's position from 0.
fn zipped_field_name(array: &Expr, position: usize) -> String {
    match array {
        Expr::Identifier(column) => column.value.clone(),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(|| position.to_string(), |column| column.value.clone()),
        _ => position.to_string(),
    }
}

/// `schema_of_json('…')` of a constant, as the text it gives: `from_json` needs its schema
/// while the query is planned.
fn inferred_schema(schema: &Expr) -> Result<Option<Expr>> {
    let Expr::Function(function) = schema else {
        return Ok(None);
    };
    if !function
        .name
        .to_string()
        .eq_ignore_ascii_case("schema_of_json")
    {
        return Ok(None);
    }
    let Ok(args) = plain_arguments(function) else {
        return Ok(None);
    };
    let [Expr::Value(value)] = args.as_slice() else {
        return Ok(None);
    };
    let Value::SingleQuotedString(json) = &value.value else {
        return Ok(None);
    };
    Ok(Some(Expr::value(Value::SingleQuotedString(
        schema_of_json(json)?,
    ))))
}

/// A call Spark spells differently, as the expression DataFusion plans.
fn replacement(function: &Function) -> Result<Option<Expr>> {
    if function.over.is_some() && !is_aggregate_rewrite(function) {
        return Ok(None);
    }
    let name = function.name.to_string().to_ascii_lowercase();
    if name == "mask"
        && let Some(args) = named_arguments(function, MASK_PARAMETERS)?
    {
        return Ok(Some(Expr::Function(function_call("mask", args))));
    }
    if name == "make_interval" {
        let parameters: Vec<(&str, Option<&str>)> = INTERVAL_PARTS
            .iter()
            .map(|unit| (*unit, Some("0")))
            .collect();
        if let Some(args) = named_arguments(function, &parameters)? {
            return replacement(&renamed(function, "make_interval", args));
        }
    }
    let Ok(args) = plain_arguments(function) else {
        return Ok(None);
    };
    let args: Vec<Expr> = args.into_iter().cloned().collect();
    supported_lambdas(&name, &args)?;
    if let [value] = args.as_slice() {
        if let Some((field, offset)) = date_part(&name) {
            return Ok(Some(date_part_call(field, offset, value)));
        }
        if let Some(target) = cast_type(&name) {
            return template(&format!("CAST($1 AS {target})"), &[value]).map(Some);
        }
    }
    let new = match (name.as_str(), args.as_slice()) {
        ("approx_count_distinct", [value, ..]) => cast(
            Expr::Function(renamed(function, "approx_distinct", vec![value.clone()])),
            SqlType::BigInt(None),
        ),
        ("from_json", [json, schema]) => match inferred_schema(schema)? {
            Some(schema) => {
                Expr::Function(renamed(function, "from_json", vec![json.clone(), schema]))
            }
            None => return Ok(None),
        },
        ("size" | "array_size", [_]) => cast(
            Expr::Function(renamed(function, "cardinality", args.clone())),
            SqlType::Int(None),
        ),
        ("max_by" | "min_by", [value, ordering]) => {
            let order = if name == "max_by" { "DESC" } else { "ASC" };
            template(
                &format!("first_value($1 ORDER BY $2 {order}) FILTER (WHERE $2 IS NOT NULL)"),
                &[value, ordering],
            )?
        }
        ("mod", [dividend, divisor]) => Expr::Nested(Box::new(Expr::BinaryOp {
            left: Box::new(dividend.clone()),
            op: BinaryOperator::Modulo,
            right: Box::new(divisor.clone()),
        })),
        ("listagg" | "string_agg", [value]) => string_aggregation(function, value, None),
        ("listagg", [value, separator]) => string_aggregation(function, value, Some(separator)),
        ("string_agg", [value, separator]) if !function.within_group.is_empty() => {
            string_aggregation(function, value, Some(separator))
        }
        ("any" | "some", [condition]) => {
            Expr::Function(renamed(function, "bool_or", vec![condition.clone()]))
        }
        ("every", [condition]) => {
            Expr::Function(renamed(function, "bool_and", vec![condition.clone()]))
        }
        ("percentile", [value, fraction]) => template(
            "percentile_cont($2) WITHIN GROUP (ORDER BY $1)",
            &[value, fraction],
        )?,
        ("try_divide", [dividend, divisor]) => template(
            "CAST($1 AS DOUBLE) / CAST(NULLIF($2, 0) AS DOUBLE)",
            &[dividend, divisor],
        )?,
        ("forall", [array, Expr::Lambda(predicate)]) => {
            let mut negated = predicate.clone();
            negated.body = Box::new(Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: Box::new(Expr::Nested(negated.body)),
            });
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr: Box::new(call(
                    "array_any_match",
                    [array.clone(), Expr::Lambda(negated)],
                )),
            }
        }
        ("count", [_, _, ..]) if is_distinct(function) => {
            let any_null: Vec<String> = (1..=args.len()).map(|i| format!("${i} IS NULL")).collect();
            let fields: Vec<String> = (1..=args.len()).map(|i| format!("'c{i}', ${i}")).collect();
            let tuple = template(
                &format!(
                    "CASE WHEN {} THEN NULL ELSE named_struct({}) END",
                    any_null.join(" OR "),
                    fields.join(", ")
                ),
                &args.iter().collect::<Vec<_>>(),
            )?;
            Expr::Function(renamed(function, "count", vec![tuple]))
        }
        ("unix_seconds", [value]) => cast(date_part_of("epoch", value), SqlType::BigInt(None)),
        ("count_if", [condition]) => {
            let when = template("CASE WHEN $1 THEN 1 END", &[condition])?;
            Expr::Function(renamed(function, "count", vec![when]))
        }
        ("isnull", [value]) => Expr::IsNull(Box::new(value.clone())),
        ("isnotnull", [value]) => Expr::IsNotNull(Box::new(value.clone())),
        ("locate", [needle, haystack]) => call("strpos", [haystack.clone(), needle.clone()]),
        ("locate", [needle, haystack, start]) => template(
            "CASE WHEN $3 < 1 THEN 0 \
             WHEN strpos(substr($2, $3), $1) = 0 THEN 0 \
             ELSE strpos(substr($2, $3), $1) + $3 - 1 END",
            &[needle, haystack, start],
        )?,
        ("decode", [value, rest @ ..]) if rest.len() >= 2 => decode(value, rest)?,
        ("sort_array", [array]) => sorted(array, true),
        ("sort_array", [array, Expr::Value(ascending)]) => match ascending.value {
            Value::Boolean(ascending) => sorted(array, ascending),
            _ => return Ok(None),
        },
        ("timestampadd" | "dateadd" | "date_add", [Expr::Identifier(unit), amount, time]) => {
            with_unit("timestampadd", unit, amount, time)
        }
        ("timestampdiff" | "datediff" | "date_diff", [Expr::Identifier(unit), start, end]) => {
            with_unit("timestampdiff", unit, start, end)
        }
        ("zeroifnull", [value]) => template("coalesce($1, 0)", &[value])?,
        ("e", []) => template("exp(1.0)", &[])?,
        ("unix_timestamp", []) => template("CAST(date_part('epoch', now()) AS BIGINT)", &[])?,
        ("between", [value, low, high]) => template("$1 BETWEEN $2 AND $3", &[value, low, high])?,
        ("arrays_zip", arrays) if !arrays.is_empty() => {
            let fields: Vec<String> = arrays
                .iter()
                .enumerate()
                .map(|(i, array)| {
                    let name = zipped_field_name(array, i).replace('\'', "''");
                    format!("'{name}', lakeport_zipped['{}']", i + 1)
                })
                .collect();
            let any_null: Vec<String> = (2..arrays.len() + 2)
                .map(|i| format!("${i} IS NULL"))
                .collect();
            let zipped = Expr::Function(renamed(function, "arrays_zip", args.clone()));
            let mut operands = vec![&zipped];
            operands.extend(arrays.iter());
            template(
                &format!(
                    "CASE WHEN {} THEN NULL ELSE transform($1, lakeport_zipped -> \
                     named_struct({})) END",
                    any_null.join(" OR "),
                    fields.join(", ")
                ),
                &operands,
            )?
        }
        ("equal_null", [a, b]) => template("$1 IS NOT DISTINCT FROM $2", &[a, b])?,
        ("positive", [value]) => template("$1", &[value])?,
        ("negative", [value]) => template("(- $1)", &[value])?,
        ("make_interval", parts) if parts.len() <= INTERVAL_PARTS.len() => {
            let text: Vec<String> = INTERVAL_PARTS
                .iter()
                .zip(1..=parts.len())
                .map(|(unit, i)| format!("${i} || ' {unit}'"))
                .collect();
            let text = match text.is_empty() {
                true => "'0 secs'".to_string(),
                false => text.join(" || ' ' || "),
            };
            let parts: Vec<&Expr> = parts.iter().collect();
            template(&format!("CAST({text} AS INTERVAL)"), &parts)?
        }
        ("randn", []) => template(
            "sqrt(-2.0 * ln(1.0 - random())) * cos(2.0 * pi() * random())",
            &[],
        )?,
        ("monotonically_increasing_id", []) => template("(row_number() OVER () - 1)", &[])?,
        ("current_timezone", []) => template("current_setting('TimeZone')", &[])?,
        ("dayname", [date]) => template("date_format($1, 'EEE')", &[date])?,
        ("date_from_unix_date", [days]) => template("date_add(DATE '1970-01-01', $1)", &[days])?,
        ("nullifzero", [value]) => template("nullif($1, 0)", &[value])?,
        ("map_contains_key", [map, key]) => template("array_has(map_keys($1), $2)", &[map, key])?,
        ("grouping_id", columns) if !columns.is_empty() => grouping_id(columns.to_vec()),
        ("struct", fields) if !fields.is_empty() => named_struct(fields),
        ("first" | "last", [value, Expr::Value(flag)])
            if matches!(flag.value, Value::Boolean(true)) =>
        {
            let mut ignoring = function_call(&format!("{name}_value"), vec![value.clone()]);
            ignoring.null_treatment = Some(NullTreatment::IgnoreNulls);
            ignoring.over = function.over.clone();
            Expr::Function(ignoring)
        }
        _ => return Ok(None),
    };
    Ok(Some(new))
}

/// `function('UNIT', a, b)`: a unit written as a bare word passed as text.
fn with_unit(function: &str, unit: &Ident, a: &Expr, b: &Expr) -> Expr {
    let unit = Expr::value(Value::SingleQuotedString(unit.value.to_ascii_uppercase()));
    call(function, [unit, a.clone(), b.clone()])
}

/// Aggregates whose rewrite keeps the call (and so its window).
fn is_aggregate_rewrite(function: &Function) -> bool {
    let name = function.name.to_string().to_ascii_lowercase();
    matches!(
        name.as_str(),
        "approx_count_distinct" | "count_if" | "first" | "last" | "any" | "some" | "every"
    )
}

/// Calls kept as they are but for their name.
fn rename_in_place(function: &mut Function) {
    let name = function.name.to_string().to_ascii_lowercase();
    let Ok(args) = plain_arguments(function) else {
        return;
    };
    let new_name = match (name.as_str(), args.as_slice()) {
        ("trunc", [_, Expr::Value(format)])
            if matches!(format.value, Value::SingleQuotedString(_)) =>
        {
            SPARK_TRUNC
        }
        (name, [_, Expr::Lambda(_)]) if name == EXISTS.0 => EXISTS.1,
        (name, _) => match RENAMES.iter().find(|(spark, _)| *spark == name) {
            Some((_, datafusion)) => datafusion,
            None => return,
        },
    };
    function.name = ObjectName::from(vec![Ident::new(new_name)]);
}

/// `grouping_id()` without arguments names every grouping column, in GROUP BY's order (in
/// the select list, HAVING and the query's ORDER BY).
pub(super) fn complete_grouping_id(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let GroupByExpr::Expressions(groups, _) = &select.group_by else {
        return;
    };
    let mut columns: Vec<Expr> = Vec::new();
    for group in groups {
        let sets = match group {
            Expr::Rollup(sets) | Expr::Cube(sets) | Expr::GroupingSets(sets) => sets.clone(),
            other => vec![vec![other.clone()]],
        };
        for column in sets.into_iter().flatten() {
            if !columns.contains(&column) {
                columns.push(column);
            }
        }
    }
    if columns.is_empty() {
        return;
    }
    let mut complete = |expr: &mut Expr| {
        if let Expr::Function(function) = expr
            && function
                .name
                .to_string()
                .eq_ignore_ascii_case("grouping_id")
            && plain_arguments(function).is_ok_and(|args| args.is_empty())
        {
            *expr = grouping_id(columns.clone());
        }
        ControlFlow::<()>::Continue(())
    };
    let _ = visit_expressions_mut(&mut select.projection, &mut complete);
    let _ = visit_expressions_mut(&mut select.having, &mut complete);
    let _ = visit_expressions_mut(&mut query.order_by, &mut complete);
}

fn grouping_id(columns: Vec<Expr>) -> Expr {
    cast(
        Expr::Function(function_call("grouping", columns)),
        SqlType::BigInt(None),
    )
}

fn date_part_of(field: &str, value: &Expr) -> Expr {
    call(
        "date_part",
        [
            Expr::value(Value::SingleQuotedString(field.into())),
            value.clone(),
        ],
    )
}

/// `CAST(date_part('field', value) AS INT) [+ offset]`.
fn date_part_call(field: &str, offset: i64, value: &Expr) -> Expr {
    let part = cast(date_part_of(field, value), SqlType::Int(None));
    match offset {
        0 => part,
        n => Expr::BinaryOp {
            left: Box::new(part),
            op: BinaryOperator::Plus,
            right: Box::new(Expr::value(Value::Number(n.to_string(), false))),
        },
    }
}

fn is_distinct(function: &Function) -> bool {
    matches!(&function.args, FunctionArguments::List(list)
        if list.duplicate_treatment == Some(DuplicateTreatment::Distinct))
}

fn date_part(name: &str) -> Option<(&'static str, i64)> {
    DATE_PARTS
        .iter()
        .find(|(spark, _, _)| *spark == name)
        .map(|(_, field, offset)| (*field, *offset))
}

fn cast_type(name: &str) -> Option<&'static str> {
    CASTS
        .iter()
        .find(|(spark, _)| *spark == name)
        .map(|(_, target)| *target)
}

/// `decode(x, v1, r1, v2, r2, …[, default])`: the result of the first value `x` equals,
/// NULL matching NULL as in Spark.
fn decode(value: &Expr, rest: &[Expr]) -> Result<Expr> {
    let mut sql = String::from("CASE");
    let mut args = vec![value];
    for pair in rest.chunks_exact(2) {
        args.extend([&pair[0], &pair[1]]);
        sql.push_str(&format!(
            " WHEN $1 IS NOT DISTINCT FROM ${} THEN ${}",
            args.len() - 1,
            args.len()
        ));
    }
    if let [.., default] = rest
        && rest.len() % 2 == 1
    {
        args.push(default);
        sql.push_str(&format!(" ELSE ${}", args.len()));
    }
    sql.push_str(" END");
    template(&sql, &args)
}

/// `sort_array(a, asc)`: NULLs first when ascending, last when descending, as Spark.
fn sorted(array: &Expr, ascending: bool) -> Expr {
    let (order, nulls) = match ascending {
        true => ("ASC", "NULLS FIRST"),
        false => ("DESC", "NULLS LAST"),
    };
    call(
        "array_sort",
        [
            array.clone(),
            Expr::value(Value::SingleQuotedString(order.into())),
            Expr::value(Value::SingleQuotedString(nulls.into())),
        ],
    )
}

/// `struct(a, b)` → `named_struct('a', a, 'b', b)`; other expressions are `colN`.
fn named_struct(fields: &[Expr]) -> Expr {
    let named: Vec<Expr> = fields
        .iter()
        .enumerate()
        .flat_map(|(i, field)| {
            let name = struct_field_name(i, field);
            [Expr::value(Value::SingleQuotedString(name)), field.clone()]
        })
        .collect();
    Expr::Function(function_call("named_struct", named))
}

/// Spark's name for the unnamed field `i` of `struct(…)`: the column's, or `col1`, `col2`, ….
pub fn struct_field_name(i: usize, field: &Expr) -> String {
    match field {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|p| p.value.clone()).unwrap_or_default()
        }
        _ => format!("col{}", i + 1),
    }
}

/// `function` under another name with other arguments, keeping its window, filter and
/// DISTINCT.
fn renamed(function: &Function, name: &str, args: Vec<Expr>) -> Function {
    let mut new = function.clone();
    let call = function_call(name, args);
    new.name = call.name;
    if let (FunctionArguments::List(list), FunctionArguments::List(mut built)) =
        (&function.args, call.args)
    {
        built.duplicate_treatment = list.duplicate_treatment;
        new.args = FunctionArguments::List(built);
    }
    new
}

/// Spark's `listagg(x [, sep]) [WITHIN GROUP (ORDER BY …)]`, and `string_agg` in that form:
/// PostgreSQL's `string_agg(x, sep ORDER BY …)`, joining without a separator when none is
/// given.
fn string_aggregation(function: &Function, value: &Expr, separator: Option<&Expr>) -> Expr {
    let separator = separator
        .cloned()
        .unwrap_or_else(|| Expr::value(Value::SingleQuotedString(String::new())));
    let mut call = renamed(function, "string_agg", vec![value.clone(), separator]);
    if let FunctionArguments::List(list) = &mut call.args
        && !call.within_group.is_empty()
    {
        list.clauses
            .push(FunctionArgumentClause::OrderBy(std::mem::take(
                &mut call.within_group,
            )));
    }
    Expr::Function(call)
}

/// An expression from SQL text in which `$1`, `$2`, … stand for `args` (each written once
/// into the text, parenthesised).
fn template(sql: &str, args: &[&Expr]) -> Result<Expr> {
    let mut text = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            text.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        let arg = digits
            .parse::<usize>()
            .ok()
            .and_then(|n| args.get(n.checked_sub(1)?));
        match arg {
            Some(arg) => text.push_str(&format!("({arg})")),
            None => text.extend(['$'].into_iter().chain(digits.chars())),
        }
    }
    parse_expr(&text).map_err(|e| Error::internal(format!("rewritten call {text:?}: {e}")))
}

fn take(expr: &mut Box<Expr>) -> Expr {
    std::mem::replace(expr.as_mut(), Expr::value(Value::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut expr = parse_expr(sql).expect("parses");
        let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
            rewrite_expr(e).expect("rewrites");
            ControlFlow::<()>::Continue(())
        });
        expr.to_string()
    }

    #[test]
    fn templates_place_each_argument_once() {
        let dollar = parse_expr("'costs $2'").unwrap();
        let two = parse_expr("2").unwrap();
        assert_eq!(
            template("$1 || $2 || $3 || $0", &[&dollar, &two])
                .unwrap()
                .to_string(),
            "('costs $2') || (2) || $3 || $0"
        );
    }

    #[test]
    fn spark_spellings_become_datafusion_calls() {
        assert_eq!(
            rewritten("dayofweek(d)"),
            "CAST(date_part('dow', d) AS INT) + 1"
        );
        assert_eq!(rewritten("int(x)"), "CAST((x) AS INT)");
        assert_eq!(rewritten("x NOT RLIKE 'a'"), "x !~ 'a'");
        assert_eq!(
            rewritten("decode(x, 1, 'one', 'other')"),
            "CASE WHEN (x) IS NOT DISTINCT FROM (1) THEN ('one') ELSE ('other') END"
        );
        assert_eq!(
            rewritten("decode(b, 'hex')"),
            "decode(b, 'hex')",
            "PostgreSQL's decode"
        );
        assert_eq!(
            rewritten("count_if(x > 1) OVER (PARTITION BY y)"),
            "count(CASE WHEN (x > 1) THEN 1 END) OVER (PARTITION BY y)"
        );
    }
}
