//! Parses one statement's text: PostgreSQL syntax through sqlparser, plus the few statements
//! sqlparser does not read the way PostgreSQL clients send them (`FETCH`/`MOVE` in all their
//! forms). Syntax errors carry PostgreSQL's wording and the character position.

use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, ErrorKind, Result};
use crate::exec::dialect::LakeportDialect;
use crate::sql::split::StatementText;

/// Deeply nested expressions beyond this are refused instead of exhausting the stack.
const RECURSION_LIMIT: usize = 200;

/// A parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Sql(Box<Statement>),
    /// `FETCH` or `MOVE` on a cursor or portal.
    Fetch(FetchCommand),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchCommand {
    /// MOVE skips the rows instead of returning them.
    pub is_move: bool,
    /// Rows to fetch; `None` means ALL.
    pub count: Option<u64>,
    pub cursor: String,
}

/// Parses exactly one statement.
pub fn parse_statement(piece: &StatementText<'_>) -> Result<Parsed> {
    let dialect = LakeportDialect::default();
    let first_word = piece
        .text
        .split(|c: char| c.is_whitespace() || c == ';')
        .next()
        .unwrap_or("");
    if first_word.eq_ignore_ascii_case("fetch") || first_word.eq_ignore_ascii_case("move") {
        return parse_fetch(piece).map(Parsed::Fetch);
    }
    let mut statements = crate::exec::dialect::parser(&dialect, piece.text)
        .and_then(|p| p.with_recursion_limit(RECURSION_LIMIT).parse_statements())
        .map_err(|e| syntax_error(e, piece))?;
    match statements.len() {
        1 => Ok(Parsed::Sql(Box::new(statements.remove(0)))),
        0 => Err(Error::syntax("syntax error at end of input")
            .with_position(piece.char_offset + piece.text.chars().count() + 1)),
        _ => Err(Error::syntax(
            "cannot insert multiple commands into a prepared statement",
        )),
    }
}

/// Turns sqlparser's "Expected: X, found: Y at Line: L, Column: C" into PostgreSQL's
/// `syntax error at or near "Y"` with a character position.
fn syntax_error(error: ParserError, piece: &StatementText<'_>) -> Error {
    let raw = match &error {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.clone(),
        ParserError::RecursionLimitExceeded => {
            return Error::new(
                ErrorKind::ResourcesExhausted,
                "statement is too deeply nested",
            )
            .with_hint("simplify the expression");
        }
    };
    let (body, location) = split_location(&raw);
    let position =
        location.map(|(line, column)| piece.char_offset + char_index(piece.text, line, column) + 1);
    let found = body.rsplit_once("found: ").map(|(_, f)| f.trim());
    let message = match found {
        Some("EOF") => "syntax error at end of input".to_string(),
        Some(token) => format!("syntax error at or near \"{token}\""),
        None if matches!(error, ParserError::TokenizerError(_)) => lowercase_first(body),
        None => format!("syntax error: {}", lowercase_first(body)),
    };
    let position = match found {
        Some("EOF") => Some(piece.char_offset + piece.text.chars().count() + 1),
        _ => position,
    };
    let mut error = Error::syntax(message).with_detail(body.to_string());
    if let Some(position) = position {
        error = error.with_position(position);
    }
    error
}

fn split_location(raw: &str) -> (&str, Option<(usize, usize)>) {
    let Some((body, location)) = raw.rsplit_once(" at Line: ") else {
        return (raw, None);
    };
    let parsed = location
        .split_once(", Column: ")
        .and_then(|(line, column)| Some((line.trim().parse().ok()?, column.trim().parse().ok()?)));
    (body, parsed)
}

/// 0-based character index of 1-based (line, column).
fn char_index(text: &str, line: usize, column: usize) -> usize {
    let mut index = 0;
    for (n, line_text) in text.split('\n').enumerate() {
        if n + 1 == line {
            return index + column.saturating_sub(1).min(line_text.chars().count());
        }
        index += line_text.chars().count() + 1;
    }
    index
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `FETCH|MOVE [direction] [FROM|IN] name`, forward directions only.
fn parse_fetch(piece: &StatementText<'_>) -> Result<FetchCommand> {
    let dialect = PostgreSqlDialect {};
    let tokens: Vec<Token> = Tokenizer::new(&dialect, piece.text)
        .tokenize()
        .map_err(|e| Error::syntax(lowercase_first(&e.message)))?
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon))
        .collect();
    let word = |t: &Token| match t {
        Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
        _ => None,
    };
    let is_move = word(&tokens[0]).as_deref() == Some("MOVE");
    let mut rest = &tokens[1..];
    let mut count = Some(1);
    let backward = || {
        Error::unsupported("cursor can only scan forward")
            .with_hint("lakeport cursors are forward-only")
    };
    let number = |t: Option<&Token>| -> Option<i64> {
        match t {
            Some(Token::Number(n, _)) => n.parse().ok(),
            _ => None,
        }
    };
    let signed = |tokens: &[Token]| -> Option<(i64, usize)> {
        match tokens.first() {
            Some(Token::Minus) => number(tokens.get(1)).map(|n| (-n, 2)),
            Some(Token::Plus) => number(tokens.get(1)).map(|n| (n, 2)),
            t => number(t).map(|n| (n, 1)),
        }
    };
    let forward_count = |n: i64| {
        if n < 0 {
            Err(backward())
        } else {
            Ok(Some(n as u64))
        }
    };
    if let Some((n, used)) = signed(rest) {
        count = forward_count(n)?;
        rest = &rest[used..];
    } else if let Some(keyword) = rest.first().and_then(word) {
        match keyword.as_str() {
            "NEXT" => rest = &rest[1..],
            "ALL" => {
                count = None;
                rest = &rest[1..];
            }
            "FORWARD" => {
                rest = &rest[1..];
                if rest.first().and_then(word).as_deref() == Some("ALL") {
                    count = None;
                    rest = &rest[1..];
                } else if let Some((n, used)) = signed(rest) {
                    count = forward_count(n)?;
                    rest = &rest[used..];
                }
            }
            "RELATIVE" => {
                let (n, used) =
                    signed(&rest[1..]).ok_or_else(|| Error::syntax("syntax error in FETCH"))?;
                count = forward_count(n)?;
                rest = &rest[1 + used..];
            }
            "PRIOR" | "FIRST" | "LAST" | "ABSOLUTE" | "BACKWARD" => return Err(backward()),
            _ => {}
        }
    }
    if matches!(rest.first().and_then(word).as_deref(), Some("FROM" | "IN")) {
        rest = &rest[1..];
    }
    let cursor = match rest {
        [Token::Word(w)] if w.quote_style.is_some() => w.value.clone(),
        [Token::Word(w)] => w.value.to_ascii_lowercase(),
        [] => return Err(Error::syntax("syntax error at end of input")),
        [other, ..] => {
            return Err(Error::syntax(format!(
                "syntax error at or near \"{other}\""
            )));
        }
    };
    Ok(FetchCommand {
        is_move,
        count,
        cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(text: &str) -> StatementText<'_> {
        StatementText {
            text,
            char_offset: 0,
        }
    }

    #[test]
    fn syntax_errors_have_postgres_wording_and_position() {
        let e = parse_statement(&piece("selec 1")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Syntax);
        assert_eq!(e.message, "syntax error at or near \"selec\"");
        assert_eq!(e.position, Some(1));
        let e = parse_statement(&piece("select 1 frm t")).unwrap_err();
        assert_eq!(e.position, Some(14), "{e:?}");
        let e = parse_statement(&piece("select (")).unwrap_err();
        assert_eq!(e.message, "syntax error at end of input");
        assert_eq!(e.position, Some(9));
        let shifted = StatementText {
            text: "selec 1",
            char_offset: 10,
        };
        assert_eq!(parse_statement(&shifted).unwrap_err().position, Some(11));
    }

    #[test]
    fn fetch_and_move_forms() {
        let f = |t: &str| match parse_statement(&piece(t)).unwrap() {
            Parsed::Fetch(f) => f,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            f("FETCH FORWARD 128 FROM \"Named\""),
            FetchCommand {
                is_move: false,
                count: Some(128),
                cursor: "Named".into()
            }
        );
        assert_eq!(
            f("MOVE FORWARD 800 __asyncpg_portal_7__"),
            FetchCommand {
                is_move: true,
                count: Some(800),
                cursor: "__asyncpg_portal_7__".into()
            }
        );
        assert_eq!(
            f("fetch all in c"),
            FetchCommand {
                is_move: false,
                count: None,
                cursor: "c".into()
            }
        );
        assert_eq!(f("fetch c").count, Some(1));
        assert_eq!(f("fetch 5 c").count, Some(5));
        assert_eq!(f("fetch forward all from c").count, None);
        assert!(parse_statement(&piece("fetch backward 1 from c")).is_err());
        assert!(parse_statement(&piece("fetch -1 from c")).is_err());
    }
}
