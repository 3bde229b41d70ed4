//! The SQL dialect lakeport parses: PostgreSQL's, plus the pieces of Spark SQL's lexical
//! syntax that PostgreSQL leaves free:
//! - backquoted identifiers (`` `order date` ``), case-insensitive as in Spark: [`tokenize`]
//!   folds them to lowercase (the case the catalog stores), except a file path after
//!   `parquet.`, `csv.` or `json.`;
//! - `IDENTIFIER('name')`, and typed number literals (`1S`, `1Y`, `1.5D`, `1.5F`, `2.50BD`);
//! - the integer division operator `a DIV b`;
//! - `FROM VALUES (…), (…) AS t(…)` without parentheses around `VALUES`;
//! - lambdas (`x -> x * 2`, `(acc, x) -> acc + x`) and `exists(array, x -> …)` as a call
//!   where PostgreSQL's `EXISTS (subquery)` cannot be meant;
//! - a `LATERAL VIEW` without column names followed by `ORDER BY`, `LIMIT`, …;
//! - `EXPLAIN EXTENDED | COST | FORMATTED | CODEGEN`, and `TABLE t` (PostgreSQL's too).
//!
//! Everything else is sqlparser's PostgreSQL dialect, and the parser takes this dialect for
//! PostgreSQL wherever it checks (`dialect()`), so PostgreSQL-only syntax keeps working.
//! Spark's clauses that sqlparser reads for every dialect (`LEFT SEMI JOIN`, `LATERAL VIEW`,
//! `PIVOT`, `<=>`, …) are planned by `spark_syntax`.

use std::any::TypeId;

use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Ident, ObjectName, Value};
use datafusion::sql::sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};
use lakeport_catalog::StorageFormat;

use crate::exec::pg_syntax::function_call;
use crate::exec::spark_syntax::struct_field_name;

/// A parser over `sql` in lakeport's dialect, backquoted names folded.
pub fn parser<'a>(dialect: &'a LakeportDialect, sql: &str) -> Result<Parser<'a>, ParserError> {
    Ok(Parser::new(dialect).with_tokens_with_locations(tokenize(dialect, sql)?))
}

/// Parses `sql` (one or more statements) in lakeport's dialect.
pub fn parse_sql(
    sql: &str,
) -> Result<Vec<datafusion::sql::sqlparser::ast::Statement>, ParserError> {
    parser(&LakeportDialect::default(), sql)?.parse_statements()
}

/// Tokens of `sql`, with backquoted names in lowercase except file paths.
pub fn tokenize(dialect: &LakeportDialect, sql: &str) -> Result<Vec<TokenWithSpan>, ParserError> {
    let mut tokens = Tokenizer::new(dialect, sql)
        .tokenize_with_location()
        .map_err(|e| ParserError::TokenizerError(e.to_string()))?;
    let mut previous: [Option<usize>; 2] = [None, None];
    for i in 0..tokens.len() {
        let is_path = matches!(previous, [Some(format), Some(dot)]
            if matches!(&tokens[dot].token, Token::Period)
                && matches!(&tokens[format].token, Token::Word(w)
                    if w.quote_style.is_none()
                        && StorageFormat::from_name(&w.value).is_some()));
        if let Token::Word(word) = &mut tokens[i].token
            && word.quote_style == Some('`')
            && !is_path
        {
            word.value = word.value.to_lowercase();
        }
        if !matches!(tokens[i].token, Token::Whitespace(_)) {
            previous = [previous[1], Some(i)];
        }
    }
    let tokens = table_queries(spark_explain_modes(tokens));
    let tokens = named_by_identifier_clauses(typed_number_literals(tokens))?;
    Ok(end_unnamed_lateral_views(parenthesize_from_values(tokens)))
}

/// `TABLE t` (PostgreSQL's and Spark's) as `SELECT * FROM t`, where a query may begin: at the
/// start of a statement, after `(` or after a set operation.
fn table_queries(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let code = code_positions(&tokens);
    let keyword = |token: &Token| match token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let mut starts = Vec::new();
    for (at, &i) in code.iter().enumerate() {
        let begins_query = match at.checked_sub(1).map(|p| &tokens[code[p]].token) {
            None | Some(Token::SemiColon | Token::LParen) => true,
            Some(previous) => matches!(
                keyword(previous),
                Some(
                    Keyword::UNION
                        | Keyword::INTERSECT
                        | Keyword::EXCEPT
                        | Keyword::MINUS
                        | Keyword::ALL
                        | Keyword::DISTINCT
                )
            ),
        };
        let names_table = matches!(
            code.get(at + 1).map(|&n| &tokens[n].token),
            Some(Token::Word(_))
        );
        if begins_query && names_table && keyword(&tokens[i].token) == Some(Keyword::TABLE) {
            starts.push(i);
        }
    }
    if starts.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len() + 4 * starts.len());
    for (i, token) in tokens.drain(..).enumerate() {
        if !starts.contains(&i) {
            out.push(token);
            continue;
        }
        for word in ["SELECT", "*", "FROM"] {
            let token = match word {
                "*" => Token::Mul,
                word => Token::make_keyword(word),
            };
            out.push(TokenWithSpan::wrap(token));
            out.push(TokenWithSpan::wrap(Token::Whitespace(Whitespace::Space)));
        }
    }
    out
}

/// Spark's `EXPLAIN EXTENDED | COST | FORMATTED | CODEGEN q`: the first two as `EXPLAIN
/// VERBOSE q` (every plan, with the statistics), the others as `EXPLAIN q`.
fn spark_explain_modes(mut tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let code = code_positions(&tokens);
    for pair in code.windows(2) {
        let [explain, mode] = [pair[0], pair[1]];
        let is_explain = matches!(&tokens[explain].token, Token::Word(w)
            if w.quote_style.is_none() && w.keyword == Keyword::EXPLAIN);
        let Token::Word(word) = &tokens[mode].token else {
            continue;
        };
        if !is_explain || word.quote_style.is_some() {
            continue;
        }
        tokens[mode].token = match word.value.to_ascii_uppercase().as_str() {
            "EXTENDED" | "COST" => Token::make_keyword("VERBOSE"),
            "FORMATTED" | "CODEGEN" => Token::Whitespace(Whitespace::Space),
            _ => continue,
        };
    }
    tokens
}

/// Spark's typed number literals — `1S` (smallint), `1Y` (tinyint), `1.5D`
/// (double), `1.5F` (real), `2.50BD` (a decimal of the literal's digits) — as casts. A suffix
/// written apart from the number (`1 l`) stays an alias. (`1L` the tokenizer reads itself,
/// as a long number: a bigint, like every integer literal here.)
fn typed_number_literals(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let typed = |number: &Token, suffix: Option<&Token>| -> Option<Vec<Token>> {
        let (Token::Number(digits, _), Some(Token::Word(word))) = (number, suffix) else {
            return None;
        };
        if word.quote_style.is_some() {
            return None;
        }
        let type_name: Vec<Token> = match word.value.to_ascii_uppercase().as_str() {
            "L" => vec![Token::make_keyword("BIGINT")],
            "S" => vec![Token::make_keyword("SMALLINT")],
            "Y" => vec![Token::make_keyword("TINYINT")],
            "D" => vec![Token::make_keyword("DOUBLE")],
            "F" => vec![Token::make_keyword("REAL")],
            "BD" => {
                let (precision, scale) = decimal_digits(digits)?;
                vec![
                    Token::make_keyword("DECIMAL"),
                    Token::LParen,
                    Token::Number(precision.to_string(), false),
                    Token::Comma,
                    Token::Number(scale.to_string(), false),
                    Token::RParen,
                ]
            }
            _ => return None,
        };
        let mut cast = vec![
            Token::make_keyword("CAST"),
            Token::LParen,
            number.clone(),
            Token::Whitespace(Whitespace::Space),
            Token::make_keyword("AS"),
            Token::Whitespace(Whitespace::Space),
        ];
        cast.extend(type_name);
        cast.push(Token::RParen);
        Some(cast)
    };
    let mut out = Vec::with_capacity(tokens.len());
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match typed(&token.token, tokens.peek().map(|t| &t.token)) {
            Some(cast) => {
                tokens.next();
                out.extend(cast.into_iter().map(TokenWithSpan::wrap));
            }
            None => out.push(token),
        }
    }
    out
}

/// The precision and scale of a decimal literal's digits (`2.50` → 3, 2); `None` for one
/// with an exponent.
fn decimal_digits(digits: &str) -> Option<(usize, usize)> {
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let whole = whole.trim_start_matches('0').len();
    let scale = fraction.len();
    Some(((whole + scale).max(1), scale))
}

/// Spark's `IDENTIFIER('db.t')`: a name given as a string literal, usable wherever a table,
/// column or function name is. It becomes the quoted name parts (folded to lowercase, as
/// Spark's names are case-insensitive), `` ` `` quoting a part holding a dot.
fn named_by_identifier_clauses(
    tokens: Vec<TokenWithSpan>,
) -> Result<Vec<TokenWithSpan>, ParserError> {
    let code = code_positions(&tokens);
    let token = |at: usize| code.get(at).map(|&i| &tokens[i].token);
    let mut clauses = Vec::new();
    for at in 0..code.len() {
        let is_clause = matches!(token(at), Some(Token::Word(w))
                if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("identifier"))
            && token(at + 1) == Some(&Token::LParen)
            && token(at + 3) == Some(&Token::RParen);
        if let (true, Some(Token::SingleQuotedString(name))) = (is_clause, token(at + 2)) {
            let parts = identifier_parts(name).ok_or_else(|| {
                ParserError::ParserError(format!("invalid name in IDENTIFIER('{name}')"))
            })?;
            clauses.push((code[at], code[at + 3], parts));
        }
    }
    if clauses.is_empty() {
        return Ok(tokens);
    }
    let mut out = Vec::with_capacity(tokens.len());
    let mut clauses = clauses.into_iter().peekable();
    let mut skip_to = None;
    for (i, token) in tokens.into_iter().enumerate() {
        if skip_to.is_some_and(|end| i <= end) {
            continue;
        }
        match clauses.next_if(|(start, ..)| *start == i) {
            Some((_, end, parts)) => {
                for (n, part) in parts.into_iter().enumerate() {
                    if n > 0 {
                        out.push(TokenWithSpan::wrap(Token::Period));
                    }
                    out.push(TokenWithSpan::wrap(Token::make_word(&part, Some('"'))));
                }
                skip_to = Some(end);
            }
            None => out.push(token),
        }
    }
    Ok(out)
}

/// The parts of a dotted name (`` db.`my table` ``), each lowercase; `None` if it is not one.
fn identifier_parts(name: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = name.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.next_if_eq(&'`').is_some() {
            loop {
                match chars.next()? {
                    '`' if chars.next_if_eq(&'`').is_some() => part.push('`'),
                    '`' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| c.is_alphanumeric() || *c == '_') {
                part.push(c);
            }
            if part.is_empty() || part.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
        }
        parts.push(part.to_lowercase());
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

/// Spark's `FROM VALUES (1, 'a'), (2, 'b') AS t(id, name)`: PostgreSQL needs parentheses
/// around `VALUES …`, so they are added where a FROM (or JOIN) is followed by VALUES and
/// parenthesised rows.
fn parenthesize_from_values(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let keyword = |token: &TokenWithSpan| match &token.token {
        Token::Word(w) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let code = code_positions(&tokens);
    let mut opens = Vec::new();
    let mut closes = Vec::new();
    for window in code.windows(3) {
        let [from, values, first] = [window[0], window[1], window[2]];
        let introduces = matches!(keyword(&tokens[from]), Some(Keyword::FROM | Keyword::JOIN));
        if !introduces
            || keyword(&tokens[values]) != Some(Keyword::VALUES)
            || tokens[first].token != Token::LParen
        {
            continue;
        }
        if let Some(end) = end_of_rows(&tokens, &code, first) {
            opens.push(values);
            closes.push(end);
        }
    }
    if opens.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len() + 2 * opens.len());
    for (i, token) in tokens.into_iter().enumerate() {
        if opens.contains(&i) {
            out.push(TokenWithSpan::wrap(Token::LParen));
        }
        out.push(token);
        if closes.contains(&i) {
            out.push(TokenWithSpan::wrap(Token::RParen));
        }
    }
    out
}

/// Clauses that may follow a `LATERAL VIEW` and that sqlparser would read as a column name
/// of a lateral view given none (`LATERAL VIEW explode(m) v ORDER BY k`).
const AFTER_LATERAL_VIEW: &[Keyword] = &[
    Keyword::ORDER,
    Keyword::SORT,
    Keyword::DISTRIBUTE,
    Keyword::LIMIT,
    Keyword::OFFSET,
    Keyword::FETCH,
    Keyword::UNION,
    Keyword::INTERSECT,
    Keyword::EXCEPT,
    Keyword::MINUS,
    Keyword::WINDOW,
    Keyword::QUALIFY,
];

/// `LATERAL VIEW [OUTER] f(…) name` followed by one of [`AFTER_LATERAL_VIEW`]: a neutral
/// `WHERE TRUE` is put before the clause, where the parser stops reading column names.
fn end_unnamed_lateral_views(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let code = code_positions(&tokens);
    let keyword = |at: usize| match code.get(at).map(|&i| &tokens[i].token) {
        Some(Token::Word(w)) if w.quote_style.is_none() => Some(w.keyword),
        _ => None,
    };
    let mut clauses = Vec::new();
    for at in 0..code.len() {
        if keyword(at) != Some(Keyword::LATERAL) || keyword(at + 1) != Some(Keyword::VIEW) {
            continue;
        }
        let mut next = at + 2 + usize::from(keyword(at + 2) == Some(Keyword::OUTER));
        while matches!(
            code.get(next + 1).map(|&i| &tokens[i].token),
            Some(Token::Period)
        ) {
            next += 2;
        }
        let Some(close) = closing_paren(&tokens, &code, next + 1) else {
            continue;
        };
        let name = close + 1;
        let named = matches!(
            code.get(name).map(|&i| &tokens[i].token),
            Some(Token::Word(_))
        );
        if named
            && let Some(clause) = keyword(name + 1)
            && AFTER_LATERAL_VIEW.contains(&clause)
        {
            clauses.push(code[name + 1]);
        }
    }
    if clauses.is_empty() {
        return tokens;
    }
    let mut out = Vec::with_capacity(tokens.len() + 4 * clauses.len());
    for (i, token) in tokens.into_iter().enumerate() {
        if clauses.contains(&i) {
            for word in ["WHERE", "TRUE"] {
                out.push(TokenWithSpan::wrap(Token::make_keyword(word)));
                out.push(TokenWithSpan::wrap(Token::Whitespace(Whitespace::Space)));
            }
        }
        out.push(token);
    }
    out
}

/// The positions of the tokens that are not whitespace (or comments), which the token passes
/// look at.
fn code_positions(tokens: &[TokenWithSpan]) -> Vec<usize> {
    (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect()
}

/// The position in `code` of the `)` matching the `(` at position `open`, if one is there.
fn closing_paren(tokens: &[TokenWithSpan], code: &[usize], open: usize) -> Option<usize> {
    if code.get(open).map(|&i| &tokens[i].token) != Some(&Token::LParen) {
        return None;
    }
    let mut depth = 0usize;
    for (at, &i) in code.iter().enumerate().skip(open) {
        match tokens[i].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index of the `)` closing the last of the parenthesised rows starting at `first`.
fn end_of_rows(tokens: &[TokenWithSpan], code: &[usize], first: usize) -> Option<usize> {
    let token = |at: usize| code.get(at).map(|&i| &tokens[i].token);
    let mut open = code.iter().position(|&i| i == first)?;
    loop {
        let close = closing_paren(tokens, code, open)?;
        if token(close + 1) != Some(&Token::Comma) {
            return Some(code[close]);
        }
        open = close + 2;
        if token(open) != Some(&Token::LParen) {
            return None;
        }
    }
}

/// PostgreSQL with backquoted identifiers and `DIV`.
#[derive(Debug, Default, Clone, Copy)]
pub struct LakeportDialect {
    postgres: PostgreSqlDialect,
}

/// Methods PostgreSQL's dialect overrides, passed through unchanged.
macro_rules! as_postgres {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(fn $name(&self, $($arg: $ty),*) -> $ret { self.postgres.$name($($arg),*) })*
    };
}

/// Whether the parser is at `struct(` whose arguments name a field with `AS`.
fn is_struct_with_names(parser: &Parser) -> bool {
    let is_struct = matches!(&parser.peek_token().token,
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("struct"));
    if !is_struct || parser.peek_nth_token(1).token != Token::LParen {
        return false;
    }
    let mut depth = 0usize;
    for n in 2.. {
        match parser.peek_nth_token(n).token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket if depth == 0 => return false,
            Token::RParen | Token::RBracket => depth -= 1,
            Token::Word(w) if depth == 0 && w.keyword == Keyword::AS => return true,
            Token::EOF => return false,
            _ => {}
        }
    }
    false
}

/// `struct(a AS x, b, …)` as `named_struct('x', a, 'b', b, …)`, unnamed fields named as
/// Spark names them.
fn parse_named_struct(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.next_token();
    parser.expect_token(&Token::LParen)?;
    let fields = parser.parse_comma_separated(|p| {
        let value = p.parse_expr()?;
        let name = match p.parse_keyword(Keyword::AS) {
            true => Some(p.parse_identifier()?.value),
            false => None,
        };
        Ok((value, name))
    })?;
    parser.expect_token(&Token::RParen)?;
    let args = fields
        .into_iter()
        .enumerate()
        .flat_map(|(i, (value, name))| {
            let name = name.unwrap_or_else(|| struct_field_name(i, &value));
            [Expr::value(Value::SingleQuotedString(name)), value]
        })
        .collect();
    Ok(Expr::Function(function_call("named_struct", args)))
}

impl Dialect for LakeportDialect {
    fn dialect(&self) -> TypeId {
        TypeId::of::<PostgreSqlDialect>()
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '"' || ch == '`'
    }

    fn is_custom_operator_part(&self, ch: char) -> bool {
        ch != '`' && self.postgres.is_custom_operator_part(ch)
    }

    /// Spark's higher-order functions take lambdas. PostgreSQL's only `->` is the JSON
    /// operator, which lakeport does not support; `spark_syntax` turns a lambda outside a
    /// higher-order call back into that operator.
    fn supports_lambda_functions(&self) -> bool {
        true
    }

    /// Spark's generators name their columns together: `posexplode(a) AS (p, v)`.
    fn supports_select_item_multi_column_alias(&self) -> bool {
        true
    }

    /// Hive's `GROUP BY a, b WITH ROLLUP` / `WITH CUBE`, which Spark keeps (`spark_syntax`
    /// rewrites them; DataFusion would ignore them).
    fn supports_group_by_with_modifier(&self) -> bool {
        true
    }

    /// Spark's `ORDER BY ALL [DESC] [NULLS …]` (`all` is reserved in PostgreSQL, so no
    /// column can be meant).
    fn supports_order_by_all(&self) -> bool {
        true
    }

    /// `exists(…)` is Spark's higher-order call unless a subquery follows the parenthesis;
    /// `struct(a AS x, …)` names its fields.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if is_struct_with_names(parser) {
            return Some(parse_named_struct(parser));
        }
        let is_exists =
            matches!(&parser.peek_token().token, Token::Word(w) if w.keyword == Keyword::EXISTS);
        if !is_exists || parser.peek_nth_token(1).token != Token::LParen {
            return None;
        }
        let subquery = match &parser.peek_nth_token(2).token {
            Token::Word(w) => {
                matches!(w.keyword, Keyword::SELECT | Keyword::WITH | Keyword::VALUES)
            }
            Token::LParen => true,
            _ => false,
        };
        if subquery {
            return None;
        }
        let name = parser.next_token();
        let name = ObjectName::from(vec![Ident::new(name.token.to_string())]);
        Some(parser.parse_function(name))
    }

    fn parse_infix(
        &self,
        parser: &mut Parser,
        expr: &Expr,
        _precedence: u8,
    ) -> Option<Result<Expr, ParserError>> {
        if !parser.parse_keyword(Keyword::DIV) {
            return None;
        }
        let right = parser.parse_subexpr(self.prec_value(Precedence::MulDivModOp));
        Some(right.map(|right| Expr::BinaryOp {
            left: Box::new(expr.clone()),
            op: BinaryOperator::MyIntegerDivide,
            right: Box::new(right),
        }))
    }

    as_postgres! {
        identifier_quote_style(identifier: &str) -> Option<char>;
        is_identifier_start(ch: char) -> bool;
        is_identifier_part(ch: char) -> bool;
        supports_unicode_string_literal() -> bool;
        is_reserved_for_identifier(kw: Keyword) -> bool;
        get_next_precedence(parser: &Parser) -> Option<Result<u8, ParserError>>;
        supports_filter_during_aggregation() -> bool;
        supports_group_by_expr() -> bool;
        prec_value(prec: Precedence) -> u8;
        allow_extract_custom() -> bool;
        allow_extract_single_quotes() -> bool;
        supports_create_index_with_clause() -> bool;
        supports_explain_with_utility_options() -> bool;
        supports_listen_notify() -> bool;
        supports_factorial_operator() -> bool;
        supports_bitwise_shift_operators() -> bool;
        supports_comment_on() -> bool;
        supports_load_extension() -> bool;
        supports_named_fn_args_with_colon_operator() -> bool;
        supports_named_fn_args_with_expr_name() -> bool;
        supports_empty_projections() -> bool;
        supports_nested_comments() -> bool;
        supports_string_escape_constant() -> bool;
        supports_numeric_literal_underscores() -> bool;
        supports_array_typedef_with_brackets() -> bool;
        supports_geometric_types() -> bool;
        supports_set_names() -> bool;
        supports_alter_column_type_using() -> bool;
        supports_notnull_operator() -> bool;
        supports_interval_options() -> bool;
        supports_insert_table_alias() -> bool;
        supports_create_table_like_parenthesized() -> bool;
        supports_select_wildcard_with_alias() -> bool;
        supports_comma_separated_trim() -> bool;
        supports_xml_expressions() -> bool;
        supports_comment_optimizer_hint() -> bool;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::ast::Statement;

    fn parse(sql: &str) -> Statement {
        parse_sql(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .remove(0)
    }

    fn same_as_postgres(sql: &str) {
        let postgres = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .unwrap()
            .remove(0);
        assert_eq!(parse(sql), postgres, "{sql}");
    }

    #[test]
    fn postgres_syntax_parses_as_postgres_does() {
        same_as_postgres("select a::int, b ~ 'x', c @> d, e #>> '{a}' from t where f ilike 'x%'");
        same_as_postgres("select $1, E'\\n', $$dollar$$, 10 ! , x || y collate \"C\" from t");
        same_as_postgres("select 2 ^ 3 * 4, 7 % 2, 1 << 2");
    }

    #[test]
    fn backquotes_quote_identifiers() {
        let sql = parse("select `order date`, `A`.`b` from `Sales`.`orders`").to_string();
        assert_eq!(sql, "SELECT `order date`, `a`.`b` FROM `sales`.`orders`");
        let sql = parse("select * from parquet.`s3://B/Path` join CSV . `/Data/x.csv` on true");
        assert!(sql.to_string().contains("parquet.`s3://B/Path`"), "{sql}");
        assert!(sql.to_string().contains("CSV.`/Data/x.csv`"), "{sql}");
    }

    #[test]
    fn values_after_from_need_no_parentheses() {
        assert_eq!(
            parse("select * from values (1, 'a'), (2, 'b') as t(id, name)"),
            parse("select * from (values (1, 'a'), (2, 'b')) as t(id, name)")
        );
        let sql = parse("select * from (values (1)) v join values (2) as w(x) on true");
        assert_eq!(
            sql.to_string(),
            "SELECT * FROM (VALUES (1)) v JOIN (VALUES (2)) AS w (x) ON true"
        );
    }

    #[test]
    fn clauses_end_a_lateral_view_without_column_names() {
        assert_eq!(
            parse("select k from t lateral view outer explode(m) v order by k limit 1"),
            parse("select k from t lateral view outer explode(m) v where true order by k limit 1")
        );
        let named = "SELECT k FROM t LATERAL VIEW explode(m) v AS k, w ORDER BY k";
        assert_eq!(parse(named).to_string(), named);
        let sql = parse("select * from t lateral view explode(f(a, (b))) v union select 1");
        assert!(sql.to_string().contains("WHERE true UNION"), "{sql}");
    }

    #[test]
    fn suffixed_numbers_are_typed_literals() {
        assert_eq!(
            parse("select 1L, 2s, 3Y, 1.5D, 2.5f, 2.50BD, 0.5bd, 7 l").to_string(),
            "SELECT 1L, CAST(2 AS SMALLINT), CAST(3 AS TINYINT), \
             CAST(1.5 AS DOUBLE), CAST(2.5 AS REAL), CAST(2.50 AS DECIMAL(3,2)), \
             CAST(0.5 AS DECIMAL(1,1)), 7 AS l"
        );
        assert_eq!(
            parse("select a.L from t a").to_string(),
            "SELECT a.L FROM t a"
        );
    }

    #[test]
    fn table_queries_select_everything() {
        assert_eq!(parse("TABLE db.t"), parse("select * from db.t"));
        assert_eq!(
            parse("table a union all table b order by 1"),
            parse("select * from a union all select * from b order by 1")
        );
        assert_eq!(
            parse("select * from (table t) x"),
            parse("select * from (select * from t) x")
        );
        assert_eq!(
            parse("create table t (a int)").to_string(),
            "CREATE TABLE t (a INT)"
        );
    }

    #[test]
    fn spark_explain_modes_are_postgres_explains() {
        assert_eq!(
            parse("explain extended select 1"),
            parse("explain verbose select 1")
        );
        assert_eq!(
            parse("EXPLAIN COST select 1"),
            parse("explain verbose select 1")
        );
        assert_eq!(
            parse("explain formatted select 1"),
            parse("explain select 1")
        );
        assert_eq!(parse("explain codegen select 1"), parse("explain select 1"));
    }

    #[test]
    fn identifier_clauses_name_tables_columns_and_functions() {
        assert_eq!(
            parse("select IDENTIFIER('Amount') from identifier('Sales.`Order Lines`')").to_string(),
            r#"SELECT "amount" FROM "sales"."order lines""#
        );
        assert_eq!(
            parse("select identifier('count')(*) from t").to_string(),
            r#"SELECT "count"(*) FROM t"#
        );
        for bad in ["1a", "a.", "a b", "`open"] {
            let sql = format!("select identifier('{bad}')");
            assert!(parse_sql(&sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn div_is_integer_division_at_multiplication_precedence() {
        let sql = parse("select 7 div 2 + 1, 1 + 9 DIV 4 * 2").to_string();
        assert_eq!(sql, "SELECT 7 DIV 2 + 1, 1 + 9 DIV 4 * 2");
        let Statement::Query(query) = parse("select 1 + 9 div 4") else {
            panic!()
        };
        assert!(query.to_string().contains("1 + 9 DIV 4"));
        let debug = format!("{query:?}");
        let plus = debug.find("Plus").unwrap();
        let div = debug.find("MyIntegerDivide").unwrap();
        assert!(plus < div, "DIV binds tighter than +: {debug}");
    }
}
