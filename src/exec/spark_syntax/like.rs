//! Spark's quantified LIKE: `x [NOT] LIKE ANY | SOME | ALL (p1, p2, …)` (also ILIKE, and
//! PostgreSQL's `LIKE ANY (ARRAY[…])` with the patterns written out) is one LIKE per
//! pattern, joined by OR (ANY, SOME) or AND (ALL), so NULL patterns give NULL as in Spark.
//! sqlparser reads ANY itself and SOME or ALL as a call in the pattern's place.

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Function, FunctionArguments};

use super::build::plain_arguments;

/// The LIKEs `expr` stands for, when it is a quantified LIKE.
pub(super) fn quantified_like(expr: &Expr) -> Option<Expr> {
    let (Expr::Like { any, pattern, .. } | Expr::ILike { any, pattern, .. }) = expr else {
        return None;
    };
    let (joiner, patterns) = match pattern.as_ref() {
        _ if *any => (BinaryOperator::Or, listed_patterns(pattern)),
        Expr::Function(function) => quantifier_call(function)?,
        _ => return None,
    };
    let like = |one: Expr| {
        let mut single = expr.clone();
        if let Expr::Like { any, pattern, .. } | Expr::ILike { any, pattern, .. } = &mut single {
            *any = false;
            **pattern = one;
        }
        single
    };
    let combined = patterns
        .into_iter()
        .map(like)
        .reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: joiner.clone(),
            right: Box::new(right),
        })?;
    Some(Expr::Nested(Box::new(combined)))
}

/// The patterns after ANY: `(p1, p2)`, `(p)`, or an array literal's elements.
fn listed_patterns(pattern: &Expr) -> Vec<Expr> {
    match pattern {
        Expr::Tuple(items) => items.clone(),
        Expr::Nested(inner) => listed_patterns(inner),
        Expr::Array(array) => array.elem.clone(),
        other => vec![other.clone()],
    }
}

/// `SOME (p1, …)` or `ALL (p1, …)` as sqlparser reads them: a call.
fn quantifier_call(function: &Function) -> Option<(BinaryOperator, Vec<Expr>)> {
    let joiner = match function.name.to_string().to_ascii_lowercase().as_str() {
        "some" => BinaryOperator::Or,
        "all" => BinaryOperator::And,
        _ => return None,
    };
    let plain = matches!(&function.args, FunctionArguments::List(list) if list.clauses.is_empty() && list.duplicate_treatment.is_none())
        && function.filter.is_none()
        && function.over.is_none()
        && function.within_group.is_empty();
    if !plain {
        return None;
    }
    let patterns = plain_arguments(function).ok()?;
    Some((joiner, patterns.into_iter().cloned().collect()))
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;
    use crate::exec::dialect::LakeportDialect;

    fn rewritten(sql: &str) -> Option<String> {
        let expr = Parser::new(&LakeportDialect::default())
            .try_with_sql(sql)
            .and_then(|mut parser| parser.parse_expr())
            .expect("test SQL parses");
        quantified_like(&expr).map(|e| e.to_string())
    }

    #[test]
    fn quantified_likes_become_one_like_per_pattern() {
        assert_eq!(
            rewritten("x LIKE ANY ('a%', '%b')").as_deref(),
            Some("(x LIKE 'a%' OR x LIKE '%b')")
        );
        assert_eq!(
            rewritten("x NOT ILIKE ALL ('a%', '%b')").as_deref(),
            Some("(x NOT ILIKE 'a%' AND x NOT ILIKE '%b')")
        );
        assert_eq!(
            rewritten("x LIKE SOME ('a%')").as_deref(),
            Some("(x LIKE 'a%')")
        );
        assert_eq!(
            rewritten("x LIKE ANY (ARRAY['a%', 'b%'])").as_deref(),
            Some("(x LIKE 'a%' OR x LIKE 'b%')")
        );
        assert_eq!(rewritten("x LIKE 'a%'"), None);
        assert_eq!(rewritten("x LIKE lower('A%')"), None);
    }
}
