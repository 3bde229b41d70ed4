//! `COPY (query) TO STDOUT` and `COPY table TO STDOUT`: the routing and options; the wire
//! layer writes the rows in the requested format.

use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, Ident, ObjectName,
    Query, Statement,
};

use crate::error::{Error, Result};

/// How COPY writes rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFormat {
    pub kind: CopyKind,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
    /// CSV columns quoted even when they need not be; `None` = all (`FORCE_QUOTE *`).
    pub force_quote: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyKind {
    Text,
    Csv,
    Binary,
}

/// Splits a COPY statement into the query to run and the output format.
pub fn route_copy(statement: Statement) -> Result<(Query, CopyFormat)> {
    let Statement::Copy {
        source,
        to,
        target,
        options,
        legacy_options,
        ..
    } = statement
    else {
        return Err(Error::internal(
            "route_copy called on a statement that is not COPY",
        ));
    };
    if !to {
        return Err(Error::unsupported("COPY FROM is not supported")
            .with_hint("lakeport does not write tables yet"));
    }
    if target != CopyTarget::Stdout {
        return Err(
            Error::unsupported("COPY TO a file or program is not supported")
                .with_hint("use COPY ... TO STDOUT (psql: \\copy)"),
        );
    }
    let query = match source {
        CopySource::Query(query) => *query,
        CopySource::Table {
            table_name,
            columns,
        } => select_from(table_name, columns)?,
    };
    Ok((query, copy_format(&options, &legacy_options)?))
}

fn select_from(table: ObjectName, columns: Vec<Ident>) -> Result<Query> {
    let projection = if columns.is_empty() {
        "*".to_string()
    } else {
        columns
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = format!("SELECT {projection} FROM {table}");
    let statement = crate::sql::parse::parse_statement(&crate::sql::split::StatementText {
        text: &sql,
        char_offset: 0,
    })?;
    match statement {
        crate::sql::parse::Parsed::Sql(statement) => match *statement {
            Statement::Query(query) => Ok(*query),
            _ => Err(Error::internal("COPY table did not become a query")),
        },
        _ => Err(Error::internal("COPY table did not become a query")),
    }
}

fn copy_format(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<CopyFormat> {
    let mut format = CopyFormat {
        kind: CopyKind::Text,
        delimiter: '\t',
        null: "\\N".into(),
        header: false,
        quote: '"',
        escape: '"',
        force_quote: Some(Vec::new()),
    };
    let mut delimiter = None;
    let mut null = None;
    let mut escape = None;
    for option in options {
        match option {
            CopyOption::Format(name) => {
                format.kind = match name.value.to_ascii_lowercase().as_str() {
                    "text" => CopyKind::Text,
                    "csv" => CopyKind::Csv,
                    "binary" => CopyKind::Binary,
                    other => {
                        return Err(Error::invalid_parameter(format!(
                            "COPY format \"{other}\" not recognized"
                        )));
                    }
                }
            }
            CopyOption::Delimiter(c) => delimiter = Some(*c),
            CopyOption::Null(s) => null = Some(s.clone()),
            CopyOption::Header(h) => format.header = *h,
            CopyOption::Quote(c) => format.quote = *c,
            CopyOption::Escape(c) => escape = Some(*c),
            CopyOption::ForceQuote(columns) => {
                format.force_quote = Some(columns.iter().map(|c| c.value.clone()).collect())
            }
            CopyOption::Encoding(e)
                if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
            other => {
                return Err(Error::unsupported(format!(
                    "COPY option {other} is not supported"
                )));
            }
        }
    }
    for option in legacy {
        match option {
            CopyLegacyOption::Binary => format.kind = CopyKind::Binary,
            CopyLegacyOption::Csv(csv) => {
                format.kind = CopyKind::Csv;
                for csv_option in csv {
                    match csv_option {
                        CopyLegacyCsvOption::Header => format.header = true,
                        CopyLegacyCsvOption::Quote(c) => format.quote = *c,
                        CopyLegacyCsvOption::Escape(c) => escape = Some(*c),
                        CopyLegacyCsvOption::ForceQuote(columns) => {
                            format.force_quote =
                                Some(columns.iter().map(|c| c.value.clone()).collect())
                        }
                        CopyLegacyCsvOption::ForceNotNull(_) => {}
                    }
                }
            }
            CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
            CopyLegacyOption::Null(s) => null = Some(s.clone()),
            CopyLegacyOption::Header => format.header = true,
            other => {
                return Err(Error::unsupported(format!(
                    "COPY option {other} is not supported"
                )));
            }
        }
    }
    if format.kind == CopyKind::Csv {
        format.delimiter = ',';
        format.null = String::new();
    }
    if let Some(d) = delimiter {
        format.delimiter = d;
    }
    if let Some(n) = null {
        format.null = n;
    }
    format.escape = escape.unwrap_or(format.quote);
    Ok(format)
}

/// `FORCE_QUOTE *` parses as a column named `*`; treat it as all columns.
pub fn forces_all(columns: &[String]) -> bool {
    columns.iter().any(|c| c == "*")
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn route(sql: &str) -> Result<(Query, CopyFormat)> {
        route_copy(
            Parser::parse_sql(&PostgreSqlDialect {}, sql)
                .unwrap()
                .remove(0),
        )
    }

    #[test]
    fn formats() {
        let (_, f) = route("COPY (select 1) TO STDOUT with csv header").unwrap();
        assert_eq!(
            (f.kind, f.header, f.delimiter, f.null.as_str()),
            (CopyKind::Csv, true, ',', "")
        );
        let (_, f) = route("COPY t TO STDOUT").unwrap();
        assert_eq!(
            (f.kind, f.delimiter, f.null.as_str()),
            (CopyKind::Text, '\t', "\\N")
        );
        let (q, f) = route("COPY t (a, b) TO STDOUT (FORMAT binary)").unwrap();
        assert_eq!(f.kind, CopyKind::Binary);
        assert_eq!(q.to_string(), "SELECT a, b FROM t");
        assert!(route("COPY t FROM STDIN").is_err());
        assert!(route("COPY t TO '/tmp/x'").is_err());
    }
}
