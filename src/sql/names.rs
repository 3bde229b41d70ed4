//! Output column names as PostgreSQL gives them: `count(*)` is `count`, `'1'::int` is `int4`,
//! `a + 1` is `?column?`. Clients read rows by these names (`row["count"]`), so the names the
//! engine invents (`count(*)`) are replaced in the result description, never in the plan.

use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::sql::sqlparser::ast::{
    AccessExpr, DataType, Expr, Function, Ident, ObjectName, Query, SelectItem, SetExpr,
};

use crate::exec::spark_syntax::is_generator;

const UNNAMED: &str = "?column?";

/// A projection item's name, or a wildcard (or a Spark generator such as `explode`) that
/// expands to the engine's column names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ItemName {
    Name(String),
    Wildcard,
}

/// Renames `schema`'s fields to PostgreSQL's names for `query`'s output, when the projection
/// can be matched to the output columns; otherwise returns the schema unchanged.
pub fn postgres_names(query: &Query, schema: SchemaRef) -> SchemaRef {
    let Some(items) = query_items(query) else {
        return schema;
    };
    let wildcards = items.iter().filter(|i| **i == ItemName::Wildcard).count();
    let named = items.len() - wildcards;
    let total = schema.fields().len();
    let expansion = match wildcards {
        0 if named == total => 0,
        1 if total >= named => total - named,
        _ => return schema,
    };
    let mut names: Vec<Option<String>> = Vec::with_capacity(total);
    for item in items {
        match item {
            ItemName::Name(name) => names.push(Some(name)),
            ItemName::Wildcard => names.extend(std::iter::repeat_n(None, expansion)),
        }
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(names)
        .map(|(field, name)| match name {
            Some(name) => field.as_ref().clone().with_name(name),
            None => field.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

fn query_items(query: &Query) -> Option<Vec<ItemName>> {
    set_expr_items(&query.body)
}

fn set_expr_items(body: &SetExpr) -> Option<Vec<ItemName>> {
    match body {
        SetExpr::Select(select) => Some(
            select
                .projection
                .iter()
                .map(|item| match item {
                    SelectItem::UnnamedExpr(Expr::Function(f))
                    | SelectItem::ExprWithAliases {
                        expr: Expr::Function(f),
                        ..
                    } if is_generator(&function_name(f)) => ItemName::Wildcard,
                    SelectItem::UnnamedExpr(expr) => ItemName::Name(figure(expr)),
                    SelectItem::ExprWithAlias { alias, .. } => ItemName::Name(ident(alias)),
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(_, _) => {
                        ItemName::Wildcard
                    }
                    other => ItemName::Name(other.to_string()),
                })
                .collect(),
        ),
        SetExpr::Query(query) => query_items(query),
        SetExpr::SetOperation { left, .. } => set_expr_items(left),
        _ => None,
    }
}

fn ident(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_ascii_lowercase(),
    }
}

fn last_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(ident)
        .unwrap_or_else(|| UNNAMED.to_string())
}

/// PostgreSQL's FigureColname for an expression.
fn figure(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(i) => ident(i),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(ident).unwrap_or_else(|| UNNAMED.into())
        }
        Expr::Function(function) => function_name(function),
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last() {
            Some(AccessExpr::Dot(Expr::Identifier(field))) => ident(field),
            Some(AccessExpr::Subscript(_)) => figure(root),
            _ => UNNAMED.into(),
        },
        Expr::Cast {
            expr, data_type, ..
        } => match figure(expr) {
            name if name == UNNAMED => type_name(data_type),
            name => name,
        },
        Expr::Nested(inner) | Expr::Collate { expr: inner, .. } => figure(inner),
        Expr::Case { .. } => "case".into(),
        Expr::Exists { .. } => "exists".into(),
        Expr::Subquery(query) => {
            match query_items(query).and_then(|items| items.into_iter().next()) {
                Some(ItemName::Name(name)) => name,
                _ => UNNAMED.into(),
            }
        }
        Expr::Array(_) => "array".into(),
        Expr::Tuple(_) => "row".into(),
        Expr::TypedString(typed) => type_name(&typed.data_type),
        Expr::Interval(_) => "interval".into(),
        Expr::AtTimeZone { .. } => "timezone".into(),
        Expr::Extract { .. } => "extract".into(),
        Expr::Substring { .. } => "substring".into(),
        Expr::Trim { .. } => "btrim".into(),
        Expr::Position { .. } => "position".into(),
        Expr::Overlay { .. } => "overlay".into(),
        Expr::Ceil { .. } => "ceil".into(),
        Expr::Floor { .. } => "floor".into(),
        _ => UNNAMED.into(),
    }
}

fn function_name(function: &Function) -> String {
    last_name(&function.name)
}

/// The internal name PostgreSQL shows for a type in a cast's column name.
fn type_name(data_type: &DataType) -> String {
    match data_type {
        DataType::Int(_) | DataType::Integer(_) | DataType::Int4(_) => "int4",
        DataType::BigInt(_) | DataType::Int8(_) => "int8",
        DataType::SmallInt(_) | DataType::Int2(_) => "int2",
        DataType::Real | DataType::Float4 => "float4",
        DataType::Double(_) | DataType::DoublePrecision | DataType::Float8 | DataType::Float(_) => {
            "float8"
        }
        DataType::Numeric(_) | DataType::Decimal(_) | DataType::Dec(_) => "numeric",
        DataType::Text | DataType::String(_) => "text",
        DataType::Varchar(_) | DataType::CharacterVarying(_) => "varchar",
        DataType::Char(_) | DataType::Character(_) => "bpchar",
        DataType::Boolean | DataType::Bool => "bool",
        DataType::Date => "date",
        DataType::Timestamp(_, tz) => match tz {
            datafusion::sql::sqlparser::ast::TimezoneInfo::WithTimeZone
            | datafusion::sql::sqlparser::ast::TimezoneInfo::Tz => "timestamptz",
            _ => "timestamp",
        },
        DataType::Time(_, _) => "time",
        DataType::Interval { .. } => "interval",
        DataType::Bytea => "bytea",
        DataType::JSON => "json",
        DataType::JSONB => "jsonb",
        DataType::Uuid => "uuid",
        DataType::Custom(name, _) => return last_name(name),
        _ => return UNNAMED.to_string(),
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::DataType as ArrowType;
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn names(sql: &str, columns: usize) -> Vec<String> {
        let statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let Statement::Query(query) = statement else {
            panic!("not a query")
        };
        let schema = Arc::new(Schema::new(
            (0..columns)
                .map(|i| Field::new(format!("engine_{i}"), ArrowType::Int32, true))
                .collect::<Vec<_>>(),
        ));
        postgres_names(&query, schema)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn postgres_column_names() {
        assert_eq!(
            names(
                "select count(*), sum(fare), 1, a + 1, '1'::int, b::text, current_user, \"Q\", t.c, x as \"Y\" from t",
                10
            ),
            vec![
                "count",
                "sum",
                "?column?",
                "?column?",
                "int4",
                "b",
                "current_user",
                "Q",
                "c",
                "Y"
            ]
        );
        assert_eq!(names("select pg_catalog.version()", 1), vec!["version"]);
        assert_eq!(
            names(
                "select case when true then 1 end, exists(select 1), (select max(x) from t)",
                3
            ),
            vec!["case", "exists", "max"]
        );
    }

    #[test]
    fn wildcards_keep_engine_names() {
        assert_eq!(
            names("select *, count(*) from t", 3),
            vec!["engine_0", "engine_1", "count"]
        );
        assert_eq!(
            names("select *, * from t", 4),
            vec!["engine_0", "engine_1", "engine_2", "engine_3"]
        );
        assert_eq!(names("select 1 union all select 2", 1), vec!["?column?"]);
    }

    #[test]
    fn generators_keep_engine_names() {
        assert_eq!(
            names("select id, explode(m) from t", 3),
            vec!["id", "engine_1", "engine_2"]
        );
        assert_eq!(names("select Inline_Outer(a) from t", 1), vec!["engine_0"]);
        assert_eq!(names("select explode(a) as x from t", 1), vec!["x"]);
    }

    #[test]
    fn field_access_is_named_after_the_field() {
        assert_eq!(
            names("select (s).start, f(x).end, arr[1] from t", 3),
            vec!["start", "end", "arr"]
        );
    }
}
