//! Hive's GROUP BY modifiers, which Spark keeps: `GROUP BY a, b WITH ROLLUP` is
//! `GROUP BY ROLLUP(a, b)`, `WITH CUBE` is `CUBE(a, b)`, and `GROUP BY a, b GROUPING SETS
//! ((a), (b))` groups by those sets alone (the list before them only names the columns).
//! DataFusion plans none of the modifiers, so none may reach it.

use datafusion::sql::sqlparser::ast::{Expr, GroupByExpr, GroupByWithModifier, Select};

use crate::error::{Error, Result};

/// Rewrites `select`'s GROUP BY modifier into the grouping it stands for.
pub fn group_by_modifiers(select: &mut Select) -> Result<()> {
    let (exprs, modifiers) = match &mut select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => (exprs, modifiers),
        GroupByExpr::All(modifiers) if modifiers.is_empty() => return Ok(()),
        GroupByExpr::All(_) => {
            return Err(Error::unsupported(
                "GROUP BY ALL cannot be combined with WITH ROLLUP, WITH CUBE or GROUPING SETS",
            )
            .with_hint("list the columns: GROUP BY ROLLUP(a, b)"));
        }
    };
    let modifier = match modifiers.as_slice() {
        [] => return Ok(()),
        [modifier] => modifier.clone(),
        _ => {
            return Err(Error::syntax(
                "GROUP BY takes one of WITH ROLLUP, WITH CUBE and GROUPING SETS",
            ));
        }
    };
    let single_sets = || exprs.iter().map(|e| vec![e.clone()]).collect();
    let grouping = match modifier {
        GroupByWithModifier::Rollup => Expr::Rollup(single_sets()),
        GroupByWithModifier::Cube => Expr::Cube(single_sets()),
        GroupByWithModifier::GroupingSets(sets) => sets,
        GroupByWithModifier::Totals => {
            return Err(
                Error::unsupported("GROUP BY … WITH TOTALS is not supported")
                    .with_hint("add the totals with GROUP BY ROLLUP(…)"),
            );
        }
    };
    *exprs = vec![grouping];
    modifiers.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::ast::{SetExpr, Statement};
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;
    use crate::exec::dialect::LakeportDialect;

    fn rewritten(sql: &str) -> Result<String> {
        let mut statements =
            Parser::parse_sql(&LakeportDialect::default(), sql).expect("test SQL parses");
        let Statement::Query(query) = &mut statements[0] else {
            panic!("not a query: {sql}");
        };
        let SetExpr::Select(select) = query.body.as_mut() else {
            panic!("not a select: {sql}");
        };
        group_by_modifiers(select)?;
        Ok(statements[0].to_string())
    }

    #[test]
    fn modifiers_become_groupings() {
        assert_eq!(
            rewritten("SELECT a, b FROM t GROUP BY a, b WITH ROLLUP").unwrap(),
            "SELECT a, b FROM t GROUP BY ROLLUP (a, b)"
        );
        assert_eq!(
            rewritten("SELECT a, b FROM t GROUP BY a, b WITH CUBE").unwrap(),
            "SELECT a, b FROM t GROUP BY CUBE (a, b)"
        );
        assert_eq!(
            rewritten("SELECT a, b FROM t GROUP BY a, b GROUPING SETS ((a), (a, b), ())").unwrap(),
            "SELECT a, b FROM t GROUP BY GROUPING SETS ((a), (a, b), ())"
        );
        assert_eq!(
            rewritten("SELECT a FROM t GROUP BY a").unwrap(),
            "SELECT a FROM t GROUP BY a"
        );
    }

    #[test]
    fn modifiers_lakeport_cannot_honour_are_refused() {
        for sql in [
            "SELECT a FROM t GROUP BY a WITH TOTALS",
            "SELECT a FROM t GROUP BY ALL WITH ROLLUP",
            "SELECT a FROM t GROUP BY a WITH ROLLUP WITH CUBE",
        ] {
            assert!(rewritten(sql).is_err(), "{sql}");
        }
    }
}
