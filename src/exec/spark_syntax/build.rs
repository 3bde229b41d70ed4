//! Small AST builders for the rewrites: calls, casts, `SELECT … FROM …`, derived tables.

use datafusion::sql::sqlparser::ast::DataType as SqlType;
use datafusion::sql::sqlparser::ast::{
    CastKind, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName,
    Query, SelectItem, SetExpr, TableAlias, TableFactor, TableWithJoins,
};
use datafusion::sql::sqlparser::parser::{Parser, ParserError};

use crate::error::{Error, Result};
use crate::exec::dialect::LakeportDialect;
use crate::exec::pg_syntax::function_call;

pub(super) fn cast(expr: Expr, data_type: SqlType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

pub(super) fn plain_arguments(function: &Function) -> Result<Vec<&Expr>> {
    let FunctionArguments::List(list) = &function.args else {
        return Ok(Vec::new());
    };
    plain_argument_list(&list.args, &function.name)
}

/// The expressions of `args`, all unnamed (`function`'s, for the error).
pub(super) fn plain_argument_list<'a>(
    args: &'a [FunctionArg],
    function: &ObjectName,
) -> Result<Vec<&'a Expr>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(expr),
            other => Err(Error::syntax(format!(
                "unexpected argument {other} to {function}"
            ))),
        })
        .collect()
}

pub(super) fn call<const N: usize>(name: &str, args: [Expr; N]) -> Expr {
    Expr::Function(function_call(name, args.into()))
}

/// `SELECT <projection> FROM <input>`.
pub(super) fn select_query(projection: Vec<SelectItem>, input: TableFactor) -> Query {
    select_query_from(
        projection,
        TableWithJoins {
            relation: input,
            joins: Vec::new(),
        },
    )
}

pub(super) fn select_query_from(projection: Vec<SelectItem>, from: TableWithJoins) -> Query {
    let mut query = parse_query("SELECT 1 FROM t");
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = projection;
        select.from = vec![from];
    }
    query
}

pub(super) fn derived(query: Query, alias: Option<TableAlias>) -> TableFactor {
    TableFactor::Derived {
        lateral: false,
        subquery: Box::new(query),
        alias,
        sample: None,
    }
}

pub(super) fn plain_alias(name: &str) -> TableAlias {
    TableAlias {
        explicit: true,
        name: Ident::new(name),
        columns: Vec::new(),
        at: None,
    }
}

/// Stands in for a factor while it is moved into its replacement.
pub(super) fn placeholder_factor() -> TableFactor {
    TableFactor::Table {
        name: ObjectName::from(vec![Ident::new("t")]),
        alias: None,
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    }
}

pub(super) fn parse_query(sql: &str) -> Query {
    let parsed = Parser::new(&LakeportDialect::default())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_query());
    match parsed {
        Ok(query) => *query,
        Err(error) => unreachable!("template query {sql:?} must parse: {error}"),
    }
}

pub(super) fn parse_expr(sql: &str) -> std::result::Result<Expr, ParserError> {
    Parser::new(&LakeportDialect::default())
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
}
