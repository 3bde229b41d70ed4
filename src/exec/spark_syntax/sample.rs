//! `TABLESAMPLE`: a filter on `random()`, or a `LIMIT` for `(n ROWS)`.

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, SelectItem, SetExpr, TableFactor, TableSample, TableSampleKind,
    TableSampleUnit, WildcardAdditionalOptions,
};

use super::build::{call, derived, parse_expr, placeholder_factor, plain_alias, select_query};
use crate::error::{Error, Result};

/// `TABLESAMPLE` as a filter on `random()` or a `LIMIT`.
pub(super) fn sample(factor: &mut TableFactor) -> Result<TableFactor> {
    let (sample, alias) = match factor {
        TableFactor::Table { sample, alias, .. } | TableFactor::Derived { sample, alias, .. } => {
            (sample.take(), alias.take())
        }
        _ => return Err(Error::internal("sample called on another table factor")),
    };
    let (TableSampleKind::BeforeTableAlias(sample) | TableSampleKind::AfterTableAlias(sample)) =
        sample.ok_or_else(|| Error::internal("sample without TABLESAMPLE"))?;
    let TableSample {
        quantity,
        seed,
        bucket,
        offset,
        ..
    } = *sample;
    if seed.is_some() || offset.is_some() {
        return Err(Error::unsupported(
            "TABLESAMPLE with REPEATABLE, SEED or OFFSET is not supported",
        ));
    }
    let alias = alias.or_else(|| match factor {
        TableFactor::Table { name, .. } => name
            .0
            .last()
            .and_then(|part| part.as_ident())
            .map(|ident| plain_alias(&ident.value)),
        _ => None,
    });
    let input = std::mem::replace(factor, placeholder_factor());
    let mut query = select_query(
        vec![SelectItem::Wildcard(WildcardAdditionalOptions::default())],
        input,
    );
    let fraction = match (quantity, bucket) {
        (_, Some(bucket)) => {
            if bucket.on.is_some() {
                return Err(Error::unsupported(
                    "TABLESAMPLE (BUCKET … ON …) is not supported",
                ));
            }
            sample_fraction(&format!("{} / {}.0", bucket.bucket, bucket.total))?
        }
        (Some(quantity), None) if quantity.unit == Some(TableSampleUnit::Rows) => {
            query.limit_clause = Some(datafusion::sql::sqlparser::ast::LimitClause::LimitOffset {
                limit: Some(quantity.value),
                offset: None,
                limit_by: Vec::new(),
            });
            return Ok(derived(query, alias));
        }
        (Some(quantity), None) => sample_fraction(&format!("({}) / 100.0", quantity.value))?,
        (None, None) => return Err(Error::syntax("TABLESAMPLE needs a sample size")),
    };
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.selection = Some(Expr::BinaryOp {
            left: Box::new(call("random", [])),
            op: BinaryOperator::Lt,
            right: Box::new(fraction),
        });
    }
    Ok(derived(query, alias))
}

fn sample_fraction(sql: &str) -> Result<Expr> {
    parse_expr(sql).map_err(|e| Error::syntax(format!("invalid TABLESAMPLE size: {e}")))
}
