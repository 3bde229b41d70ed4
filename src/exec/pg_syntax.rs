//! PostgreSQL syntax that clients send and DataFusion does not plan, rewritten on the AST
//! into what it does: casts to `regclass`/`regtype`/`regnamespace`/`regproc` become calls
//! of the catalog functions of the same name, casts to `oid`, `name` and
//! `pg_catalog.`-qualified types become ordinary casts, `'{a,b}'::text[]` casts the array
//! `ARRAY['a','b']` (not the whole text as one element), `COLLATE` is dropped (text compares
//! by code point), `OPERATOR(pg_catalog.~)` becomes `~`, `LIKE … ESCAPE 'x'` is rewritten
//! to the backslash escapes DataFusion supports, `generate_subscripts(a, 1)` becomes
//! `unnest(generate_series(1, array_length(a, 1)))`, and a scalar subquery returning one
//! plain column is wrapped in `single_value` (DataFusion plans correlated scalar subqueries
//! as joins only when they aggregate; `single_value` checks, as PostgreSQL does at run time,
//! that there was at most one row). `row_number()`, `rank()`, `dense_rank()` and `ntile(n)`
//! (and the aggregate `regr_count`) are cast to bigint, `array_position`, `array_positions`, `cardinality`, `array_length`
//! and `array_ndims` to integer: their types in PostgreSQL, where DataFusion's are unsigned.
//! `array_remove(a, x)` removes every `x`, as in PostgreSQL and Spark (DataFusion's removes
//! the first).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, Array, ArrayElemTypeDef, BinaryOperator, CastKind, DataType, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArgumentClause, FunctionArgumentList, FunctionArguments,
    GroupByExpr, Ident, ObjectName, ObjectNamePart, OrderBy, OrderByKind, Query, SelectItem,
    SetExpr, Statement, TableAlias, TableAliasColumnDef, TableFactor, Value, ValueWithSpan,
    VisitMut, VisitorMut, visit_expressions, visit_expressions_mut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrites `statement` in place.
pub fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        rewrite_expr(expr);
        ControlFlow::<()>::Continue(())
    });
    let _ = statement.visit(&mut ScalarFunctionsInFrom);
}

/// DataFusion's table functions; any other function in FROM is a scalar function, which
/// PostgreSQL treats as a one-row table with one column named after its alias.
const TABLE_FUNCTIONS: &[&str] = &["generate_series", "range"];

/// `FROM string_to_array(x, ',') s` → `FROM (SELECT string_to_array(x, ',') AS s) AS s`;
/// `FROM pg_catalog.unnest(a) x` and `FROM unnest(a) x` → `FROM UNNEST(a) AS x(x)`;
/// `FROM generate_series(0, t.n) s` (arguments that read columns, as in a correlated
/// subquery) → `FROM UNNEST(generate_series(0, t.n)) AS s(s)`.
struct ScalarFunctionsInFrom;

impl VisitorMut for ScalarFunctionsInFrom {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::UNNEST {
            alias: Some(alias),
            array_exprs,
            ..
        } = factor
            && alias.columns.is_empty()
            && array_exprs.len() == 1
        {
            alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
            return ControlFlow::Continue(());
        }
        let TableFactor::Table {
            name,
            alias,
            args: Some(args),
            ..
        } = factor
        else {
            return ControlFlow::Continue(());
        };
        let function_name = name
            .0
            .last()
            .and_then(|p| p.as_ident())
            .map(|i| i.value.to_ascii_lowercase())
            .unwrap_or_default();
        let array_exprs = match function_name.as_str() {
            "unnest" => Some(unnamed_args(&args.args)),
            // DataFusion's table function takes constants only; the array function of the
            // same name takes any expression.
            "generate_series" if args.args.iter().any(reads_columns) => {
                Some(vec![call_with("generate_series", unnamed_args(&args.args))])
            }
            _ => None,
        };
        if let Some(array_exprs) = array_exprs {
            let alias = alias.clone().or_else(|| {
                Some(TableAlias {
                    explicit: true,
                    name: Ident::new(&function_name),
                    columns: Vec::new(),
                    at: None,
                })
            });
            *factor = TableFactor::UNNEST {
                alias,
                array_exprs,
                with_offset: false,
                with_offset_alias: None,
                with_ordinality: false,
            };
            return self.post_visit_table_factor(factor);
        }
        if TABLE_FUNCTIONS.contains(&function_name.as_str()) {
            if name.0.len() > 1 {
                *name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(&function_name))]);
            }
            // `generate_series(1, 3) AS i`: the alias names the column too.
            if let Some(alias) = alias
                && alias.columns.is_empty()
            {
                alias.columns = vec![TableAliasColumnDef::from_name(alias.name.value.clone())];
            }
            return ControlFlow::Continue(());
        }
        let column = alias
            .as_ref()
            .map(|a| a.name.value.clone())
            .unwrap_or_else(|| function_name.clone());
        let call = Expr::Function(Function {
            name: name.clone(),
            uses_odbc_syntax: false,
            parameters: FunctionArguments::None,
            args: FunctionArguments::List(FunctionArgumentList {
                duplicate_treatment: None,
                args: args.args.clone(),
                clauses: Vec::new(),
            }),
            filter: None,
            null_treatment: None,
            over: None,
            within_group: Vec::new(),
        });
        if let Some(derived) = one_row_table(call, &column) {
            *factor = derived;
        }
        ControlFlow::Continue(())
    }
}

/// `(SELECT value AS column) AS column`, built from a parsed template.
fn one_row_table(value: Expr, column: &str) -> Option<TableFactor> {
    let name = Ident::with_quote('"', column);
    let template = format!("SELECT * FROM (SELECT NULL AS {name}) AS {name}");
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, &template).ok()?;
    let Statement::Query(mut query) = statements.pop()? else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let mut factor = select.from.pop()?.relation;
    if let TableFactor::Derived { subquery, .. } = &mut factor
        && let SetExpr::Select(inner) = subquery.body.as_mut()
        && let Some(SelectItem::ExprWithAlias { expr, .. }) = inner.projection.first_mut()
    {
        *expr = value;
        return Some(factor);
    }
    None
}

fn rewrite_expr(expr: &mut Expr) {
    match expr {
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr: inner,
            data_type,
            ..
        } => {
            if let Some(function) = reg_function(data_type) {
                let argument = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
                *expr = call(function, argument);
                return;
            }
            if let Some(plain) = plain_type(data_type) {
                *data_type = plain;
            }
            if matches!(data_type, DataType::Array(_))
                && let Expr::Value(ValueWithSpan {
                    value: Value::SingleQuotedString(text),
                    ..
                }) = inner.as_ref()
                && let Some(elements) = crate::pgtypes::array_elements(text)
            {
                **inner = Expr::Array(Array {
                    elem: elements
                        .into_iter()
                        .map(|element| {
                            Expr::value(element.map_or(Value::Null, Value::SingleQuotedString))
                        })
                        .collect(),
                    named: true,
                });
            }
        }
        Expr::TypedString(typed) => {
            if let Some(plain) = plain_type(&typed.data_type) {
                typed.data_type = plain;
            }
        }
        Expr::Collate { expr: inner, .. } => {
            let inner = std::mem::replace(inner.as_mut(), Expr::value(Value::Null));
            *expr = inner;
            rewrite_expr(expr);
        }
        Expr::BinaryOp { op, .. } => {
            if let BinaryOperator::PGCustomBinaryOperator(parts) = op
                && let Some(standard) = parts.last().and_then(|o| standard_operator(o))
            {
                *op = standard;
            }
        }
        Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } => {
            let escape = match escape_char.as_ref().map(|e| &e.value) {
                Some(Value::SingleQuotedString(escape)) => Some(escape.clone()),
                _ => None,
            };
            let Some(escape) = escape.filter(|e| e.chars().count() == 1 && e != "\\") else {
                return;
            };
            if let Expr::Value(ValueWithSpan {
                value: Value::SingleQuotedString(text),
                ..
            }) = pattern.as_mut()
            {
                let escape = escape.chars().next().unwrap_or('\\');
                *text = backslash_escapes(text, escape);
            } else {
                let original = std::mem::replace(pattern.as_mut(), Expr::value(Value::Null));
                **pattern = call_with(
                    "like_escape",
                    vec![original, Expr::value(Value::SingleQuotedString(escape))],
                );
            }
            *escape_char = None;
        }
        Expr::Function(function) if is_named(function, "generate_subscripts") => {
            let args = function_args(function);
            if let [array, dimension] = args.as_slice() {
                let length = call_with("array_length", vec![array.clone(), dimension.clone()]);
                let one = Expr::value(Value::Number("1".into(), false));
                let series = call_with("generate_series", vec![one, length]);
                *expr = call("unnest", series);
            }
        }
        Expr::Subquery(query) => wrap_single_column(query),
        Expr::CompoundFieldAccess { root, access_chain }
            if !matches!(
                root.as_ref(),
                Expr::Identifier(_) | Expr::CompoundIdentifier(_)
            ) && access_chain
                .iter()
                .all(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_)))) =>
        {
            // `(f(x)).field` → `get_field(f(x), 'field')`.
            let mut value = std::mem::replace(root.as_mut(), Expr::value(Value::Null));
            for access in access_chain.iter() {
                if let AccessExpr::Dot(Expr::Identifier(field)) = access {
                    let name = Expr::value(Value::SingleQuotedString(field.value.clone()));
                    value = call_with("get_field", vec![value, name]);
                }
            }
            *expr = value;
        }
        Expr::Function(function) if is_named(function, "array_remove") => {
            function.name = ObjectName::from(vec![Ident::new("array_remove_all")]);
        }
        Expr::Function(function) if let Some(data_type) = counted_type(function) => {
            let counted = std::mem::replace(expr, Expr::value(Value::Null));
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(counted),
                data_type,
                array: false,
                format: None,
            };
        }
        Expr::Function(function) if is_named(function, "array") => {
            if let FunctionArguments::Subquery(query) = &function.args
                && let Some(aggregated) = aggregate_into_array(query)
            {
                *expr = Expr::Subquery(Box::new(aggregated));
            }
        }
        _ => {}
    }
}

/// Window functions that count rows: bigints in PostgreSQL.
const RANKING_FUNCTIONS: &[&str] = &["row_number", "rank", "dense_rank", "ntile"];

/// Array functions that count or find elements: integers in PostgreSQL.
const ARRAY_COUNTS: &[&str] = &[
    "array_position",
    "cardinality",
    "array_length",
    "array_ndims",
];

/// PostgreSQL's type for a call DataFusion answers with an unsigned integer (which a client
/// would see as numeric).
fn counted_type(function: &Function) -> Option<DataType> {
    let named = |names: &[&str]| names.iter().any(|name| is_named(function, name));
    if named(&["regr_count"]) {
        return Some(DataType::BigInt(None));
    }
    if function.over.is_some() {
        return named(RANKING_FUNCTIONS).then_some(DataType::BigInt(None));
    }
    if named(ARRAY_COUNTS) {
        return Some(DataType::Int(None));
    }
    named(&["array_positions"]).then(|| {
        DataType::Array(ArrayElemTypeDef::SquareBracket(
            Box::new(DataType::Int(None)),
            None,
        ))
    })
}

fn call(name: &str, argument: Expr) -> Expr {
    call_with(name, vec![argument])
}

fn call_with(name: &str, arguments: Vec<Expr>) -> Expr {
    Expr::Function(function_call(name, arguments))
}

/// `name(arguments…)`, the arguments positional.
pub(crate) fn function_call(name: &str, arguments: Vec<Expr>) -> Function {
    Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: arguments
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    }
}

/// Whether a function argument reads a column (is not a constant).
fn reads_columns(arg: &FunctionArg) -> bool {
    let expr = match arg {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(expr))
        | FunctionArg::Named {
            arg: FunctionArgExpr::Expr(expr),
            ..
        } => expr,
        _ => return false,
    };
    visit_expressions(expr, |e| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

fn is_named(function: &Function, name: &str) -> bool {
    function
        .name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .is_some_and(|ident| ident.value.eq_ignore_ascii_case(name))
}

fn function_args(function: &Function) -> Vec<Expr> {
    match &function.args {
        FunctionArguments::List(list) => unnamed_args(&list.args),
        _ => Vec::new(),
    }
}

/// The positional arguments that are plain expressions.
fn unnamed_args(args: &[FunctionArg]) -> Vec<Expr> {
    args.iter()
        .filter_map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Some(expr.clone()),
            _ => None,
        })
        .collect()
}

const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "first_value",
    "last_value",
    "single_value",
    "json_agg",
    "jsonb_agg",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "median",
    "corr",
    "covar_pop",
    "covar_samp",
    "bit_and",
    "bit_or",
    "bit_xor",
    "percentile_cont",
    "approx_distinct",
    "approx_median",
    "approx_percentile_cont",
];

/// Whether `expr` calls an aggregate anywhere in it (`0.2 * avg(x)` does).
fn calls_aggregate(expr: &Expr) -> bool {
    visit_expressions(expr, |e| match e {
        Expr::Function(function) if AGGREGATES.iter().any(|name| is_named(function, name)) => {
            ControlFlow::Break(())
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// `(SELECT x FROM ...)` → `(SELECT single_value(x) FROM ...)` when `x` is one plain
/// column or expression and the query neither groups, aggregates, orders nor limits.
fn wrap_single_column(query: &mut Query) {
    if query.order_by.is_some() || query.limit_clause.is_some() || query.with.is_some() {
        return;
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let no_grouping = matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    if select.projection.len() != 1
        || !no_grouping
        || select.distinct.is_some()
        || select.having.is_some()
    {
        return;
    }
    let (expr, alias) = match &mut select.projection[0] {
        SelectItem::UnnamedExpr(expr) => (expr, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias.clone())),
        _ => return,
    };
    if calls_aggregate(expr) {
        return;
    }
    let inner = std::mem::replace(expr, Expr::value(Value::Null));
    let wrapped = call(super::single_value::NAME, inner);
    select.projection[0] = match alias {
        Some(alias) => SelectItem::ExprWithAlias {
            expr: wrapped,
            alias,
        },
        None => SelectItem::UnnamedExpr(wrapped),
    };
}

/// `ARRAY(SELECT x FROM … ORDER BY o)` → `(SELECT array_agg(x ORDER BY o) FROM …)`: the
/// same array (NULL rather than `{}` when there are no rows), as a scalar subquery
/// DataFusion plans even when correlated.
fn aggregate_into_array(query: &Query) -> Option<Query> {
    let mut query = query.clone();
    if query.limit_clause.is_some() || query.with.is_some() {
        return None;
    }
    let order = match query.order_by.take() {
        Some(OrderBy {
            kind: OrderByKind::Expressions(expressions),
            ..
        }) => Some(expressions),
        Some(_) => return None,
        None => None,
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let [SelectItem::UnnamedExpr(item) | SelectItem::ExprWithAlias { expr: item, .. }] =
        select.projection.as_mut_slice()
    else {
        return None;
    };
    let element = std::mem::replace(item, Expr::value(Value::Null));
    let mut aggregate = call("array_agg", element);
    if let (Some(order), Expr::Function(function)) = (order, &mut aggregate)
        && let FunctionArguments::List(list) = &mut function.args
    {
        list.clauses.push(FunctionArgumentClause::OrderBy(order));
    }
    select.projection = vec![SelectItem::UnnamedExpr(aggregate)];
    Some(query)
}

/// Gives every unnamed output expression of the outermost SELECT a unique name, for
/// DataFusion, which refuses duplicate output names where PostgreSQL allows them
/// (`SELECT c.oid, c.*`). Clients still see PostgreSQL's names: they come from the
/// statement as written (`sql::names`).
pub fn alias_outputs(statement: &mut Statement) {
    if let Statement::Query(query) = statement {
        alias_set_outputs(query.body.as_mut());
    }
}

/// Every branch of a set operation names its outputs alike, as the first branch does.
fn alias_set_outputs(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for (index, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(expr) = item {
                    let expr = std::mem::replace(expr, Expr::value(Value::Null));
                    *item = SelectItem::ExprWithAlias {
                        expr,
                        alias: Ident::new(format!("__column_{index}")),
                    };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            alias_set_outputs(left);
            alias_set_outputs(right);
        }
        SetExpr::Query(query) => alias_set_outputs(query.body.as_mut()),
        _ => {}
    }
}

/// The last part of a custom type's name, lower case, without `pg_catalog.`.
fn custom_name(data_type: &DataType) -> Option<String> {
    match data_type {
        DataType::Regclass => Some("regclass".into()),
        DataType::Custom(name, modifiers) if modifiers.is_empty() => {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|part| part.as_ident().map(|i| i.value.to_ascii_lowercase()))
                .collect();
            match parts.as_slice() {
                [only] => Some(only.clone()),
                [schema, only] if schema == "pg_catalog" => Some(only.clone()),
                _ => None,
            }
        }
        _ => None,
    }
}

fn reg_function(data_type: &DataType) -> Option<&'static str> {
    match custom_name(data_type)?.as_str() {
        "regclass" => Some("regclass"),
        "regtype" => Some("regtype"),
        "regnamespace" => Some("regnamespace"),
        "regproc" | "regprocedure" => Some("regproc"),
        "regrole" => Some("regrole"),
        _ => None,
    }
}

/// PostgreSQL types DataFusion's planner does not know by these names, and Spark's `BINARY`,
/// `TIMESTAMP_NTZ` and `TIMESTAMP_LTZ`.
fn plain_type(data_type: &DataType) -> Option<DataType> {
    use datafusion::sql::sqlparser::ast::TimezoneInfo;
    match data_type {
        DataType::Binary(None) => return Some(DataType::Bytea),
        DataType::TimestampNtz(precision) => {
            return Some(DataType::Timestamp(*precision, TimezoneInfo::None));
        }
        _ => {}
    }
    if let DataType::Array(ArrayElemTypeDef::SquareBracket(element, size)) = data_type {
        return Some(DataType::Array(ArrayElemTypeDef::SquareBracket(
            Box::new(plain_type(element)?),
            *size,
        )));
    }
    Some(match custom_name(data_type)?.as_str() {
        "oid" => DataType::IntUnsigned(None),
        "xid" | "cid" | "int8" => DataType::BigInt(None),
        "name" | "text" | "bpchar" | "char" | "varchar" => DataType::Text,
        "int2" => DataType::SmallInt(None),
        "int4" => DataType::Integer(None),
        "float4" => DataType::Real,
        "float8" => DataType::DoublePrecision,
        "bool" => DataType::Boolean,
        "numeric" => DataType::Numeric(datafusion::sql::sqlparser::ast::ExactNumberInfo::None),
        "date" => DataType::Date,
        "timestamp" => {
            DataType::Timestamp(None, datafusion::sql::sqlparser::ast::TimezoneInfo::None)
        }
        "timestamptz" | "timestamp_ltz" => {
            DataType::Timestamp(None, datafusion::sql::sqlparser::ast::TimezoneInfo::Tz)
        }
        _ => return None,
    })
}

fn standard_operator(operator: &str) -> Option<BinaryOperator> {
    Some(match operator {
        "~" => BinaryOperator::PGRegexMatch,
        "~*" => BinaryOperator::PGRegexIMatch,
        "!~" => BinaryOperator::PGRegexNotMatch,
        "!~*" => BinaryOperator::PGRegexNotIMatch,
        "~~" => BinaryOperator::PGLikeMatch,
        "~~*" => BinaryOperator::PGILikeMatch,
        "!~~" => BinaryOperator::PGNotLikeMatch,
        "!~~*" => BinaryOperator::PGNotILikeMatch,
        "=" => BinaryOperator::Eq,
        "<>" | "!=" => BinaryOperator::NotEq,
        "<" => BinaryOperator::Lt,
        "<=" => BinaryOperator::LtEq,
        ">" => BinaryOperator::Gt,
        ">=" => BinaryOperator::GtEq,
        _ => return None,
    })
}

/// A LIKE pattern whose escape character is `escape`, written with backslash escapes.
fn backslash_escapes(pattern: &str, escape: char) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push(c),
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        rewrite(&mut statement);
        statement.to_string()
    }

    #[test]
    fn catalog_syntax_becomes_plannable() {
        assert_eq!(
            rewritten("SELECT 'pg_class'::regclass, c.oid::pg_catalog.regclass, x::oid, y::name"),
            "SELECT regclass('pg_class'), regclass(c.oid), x::INT UNSIGNED, y::TEXT"
        );
        assert_eq!(
            rewritten("SELECT 1 WHERE a OPERATOR(pg_catalog.~) '^x$' COLLATE pg_catalog.default"),
            "SELECT 1 WHERE a ~ '^x$'"
        );
        assert_eq!(
            rewritten("SELECT 1 WHERE n LIKE 'a/_b%' ESCAPE '/'"),
            "SELECT 1 WHERE n LIKE 'a\\_b%'"
        );
        assert_eq!(rewritten("SELECT x::pg_catalog.int4"), "SELECT x::INTEGER");
        assert_eq!(
            rewritten("SELECT (f(k)).n FROM t"),
            "SELECT get_field((f(k)), 'n') FROM t"
        );
        assert_eq!(
            rewritten("SELECT ARRAY(SELECT b.n FROM b WHERE b.m = r.oid ORDER BY 1) FROM r"),
            "SELECT (SELECT array_agg(b.n ORDER BY 1) FROM b WHERE b.m = r.oid) FROM r"
        );
        assert_eq!(
            rewritten("SELECT s[i] FROM generate_series(1, 2) AS i, string_to_array('a,b', ',') s"),
            "SELECT s[i] FROM generate_series(1, 2) AS i (i), (SELECT string_to_array('a,b', ',') AS \"s\") AS \"s\""
        );
        assert_eq!(
            rewritten("SELECT (SELECT d.adbin FROM d WHERE d.id = a.id) FROM a"),
            "SELECT (SELECT single_value(d.adbin) FROM d WHERE d.id = a.id) FROM a"
        );
        assert_eq!(
            rewritten("SELECT (SELECT count(*) FROM d) FROM a"),
            "SELECT (SELECT count(*) FROM d) FROM a"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM a WHERE x < (SELECT 0.2 * avg(y) FROM d WHERE d.k = a.k)"),
            "SELECT 1 FROM a WHERE x < (SELECT 0.2 * avg(y) FROM d WHERE d.k = a.k)"
        );
        assert_eq!(
            rewritten("SELECT 1 WHERE n NOT LIKE $1 ESCAPE '/'"),
            "SELECT 1 WHERE n NOT LIKE like_escape($1, '/')"
        );
    }
}
