//! PostgreSQL syntax that clients send and DataFusion does not plan, rewritten on the AST
//! into what it does: casts to `regclass`/`regtype`/`regnamespace`/`regproc` become calls
//! of the catalog functions of the same name, casts to `oid`, `name` and
//! `pg_catalog.`-qualified types become ordinary casts, `COLLATE` is dropped (text compares
//! by code point), `OPERATOR(pg_catalog.~)` becomes `~`, and `LIKE … ESCAPE 'x'` with a
//! literal pattern is rewritten to the backslash escapes DataFusion supports.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement, Value,
    ValueWithSpan, visit_expressions_mut,
};

/// Rewrites `statement` in place.
pub fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        rewrite_expr(expr);
        ControlFlow::<()>::Continue(())
    });
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
            } else if let Some(plain) = plain_type(data_type) {
                *data_type = plain;
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
            if let (
                Some(escape),
                Expr::Value(ValueWithSpan {
                    value: Value::SingleQuotedString(text),
                    ..
                }),
            ) = (escape, pattern.as_mut())
                && escape.chars().count() == 1
                && escape != "\\"
            {
                let escape = escape.chars().next().unwrap_or('\\');
                *text = backslash_escapes(text, escape);
                *escape_char = None;
            }
        }
        _ => {}
    }
}

fn call(name: &str, argument: Expr) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(argument))],
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
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

/// PostgreSQL types DataFusion's planner does not know by these names.
fn plain_type(data_type: &DataType) -> Option<DataType> {
    Some(match custom_name(data_type)?.as_str() {
        "oid" | "xid" | "cid" | "int8" => DataType::BigInt(None),
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
        "timestamptz" => {
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
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

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
            "SELECT regclass('pg_class'), regclass(c.oid), x::BIGINT, y::TEXT"
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
    }
}
