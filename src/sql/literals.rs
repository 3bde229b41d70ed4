//! Integer literals typed as PostgreSQL types them, where it is safe.
//!
//! PostgreSQL gives an integer literal that fits 32 bits the type int4; DataFusion plans every
//! integer literal as Int64. Clients notice in results: `SELECT 1` is a number in
//! node-postgres for int4 and a string for int8. Retyping every literal would be wrong here,
//! because DataFusion's int32 arithmetic wraps on overflow where PostgreSQL raises an error;
//! so only literals that are a whole output column of the top-level SELECT (`SELECT 1`,
//! `SELECT 1 AS one`) become int4, as they take part in no arithmetic.

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, Query, SelectItem, SetExpr, Value,
};

/// Rewrites top-level projected integer literals that fit 32 bits to `CAST(n AS INT)`.
pub fn int4_output_literals(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    for item in &mut select.projection {
        let expr = match item {
            SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr,
            _ => continue,
        };
        let fits = match expr {
            Expr::Value(v) => {
                matches!(&v.value, Value::Number(n, false) if n.parse::<i32>().is_ok())
            }
            _ => false,
        };
        if fits {
            let literal = std::mem::replace(expr, Expr::value(Value::Null));
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(literal),
                data_type: DataType::Int(None),
                array: false,
                format: None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewrite(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        let Statement::Query(query) = &mut statement else {
            panic!()
        };
        int4_output_literals(query);
        statement.to_string()
    }

    #[test]
    fn only_whole_output_literals() {
        assert_eq!(
            rewrite("SELECT 1 AS one, 2, 3000000000, 1 + 1"),
            "SELECT CAST(1 AS INT) AS one, CAST(2 AS INT), 3000000000, 1 + 1"
        );
        assert_eq!(
            rewrite("SELECT 1 UNION SELECT 2"),
            "SELECT 1 UNION SELECT 2"
        );
        assert_eq!(rewrite("SELECT 1.5"), "SELECT 1.5");
    }
}
