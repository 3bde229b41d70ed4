//! Splits a simple-query string into its statements at top-level semicolons, skipping
//! semicolons inside quotes, dollar quotes and comments. Each piece keeps its character
//! offset so errors can point into the text the client sent.

/// One statement's text within a query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementText<'a> {
    pub text: &'a str,
    /// Characters before `text` in the whole query string.
    pub char_offset: usize,
}

/// Statements of `query`, without empty ones (`;;` and trailing whitespace).
pub fn split_statements<'a>(query: &'a str) -> Vec<StatementText<'a>> {
    let mut statements = Vec::new();
    let bytes = query.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let push = |from: usize, to: usize, statements: &mut Vec<StatementText<'a>>| {
        let piece = &query[from..to];
        let trimmed = piece.trim_start();
        let leading = piece.len() - trimmed.len();
        let trimmed = trimmed.trim_end();
        if !is_blank(trimmed) {
            statements.push(StatementText {
                text: trimmed,
                char_offset: query[..from + leading].chars().count(),
            });
        }
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = skip_quoted(bytes, i, b'\'', escape_string_prefix(bytes, i)),
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            b'$' => i = skip_dollar_quoted(query, i),
            b';' => {
                push(start, i, &mut statements);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    push(start, query.len(), &mut statements);
    statements
}

/// True when the text holds only whitespace and comments.
fn is_blank(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_whitespace() => i += 1,
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = bytes[i..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(bytes.len(), |p| i + p + 1);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => i = skip_block_comment(bytes, i),
            _ => return false,
        }
    }
    true
}

/// `E'...'` strings treat backslash as an escape.
fn escape_string_prefix(bytes: &[u8], quote: usize) -> bool {
    quote > 0
        && matches!(bytes[quote - 1], b'e' | b'E')
        && (quote == 1 || !(bytes[quote - 2].is_ascii_alphanumeric() || bytes[quote - 2] == b'_'))
}

/// Index just past the closing quote (doubled quotes stay inside).
fn skip_quoted(bytes: &[u8], open: usize, quote: u8, backslash_escapes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        if backslash_escapes && bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Index just past a (nested) block comment.
fn skip_block_comment(bytes: &[u8], open: usize) -> usize {
    let mut depth = 0;
    let mut i = open;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Index past `$tag$ ... $tag$`, or just past the `$` when it does not open a dollar quote
/// (`$1` parameters).
fn skip_dollar_quoted(query: &str, open: usize) -> usize {
    let bytes = query.as_bytes();
    let tag_end = bytes[open + 1..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .map(|p| open + 1 + p);
    let Some(tag_end) = tag_end else {
        return bytes.len();
    };
    let is_parameter = bytes.get(open + 1).is_some_and(|b| b.is_ascii_digit());
    if bytes[tag_end] != b'$' || is_parameter {
        return open + 1;
    }
    let tag = &query[open..=tag_end];
    match query[tag_end + 1..].find(tag) {
        Some(p) => tag_end + 1 + p + tag.len(),
        None => bytes.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(query: &str) -> Vec<&str> {
        split_statements(query)
            .into_iter()
            .map(|s| s.text)
            .collect()
    }

    #[test]
    fn splits_at_top_level_semicolons() {
        assert_eq!(
            texts("SET a = 1;SET b = 2;show c"),
            vec!["SET a = 1", "SET b = 2", "show c"]
        );
        assert_eq!(texts("select 1;"), vec!["select 1"]);
        assert!(texts(" ; ;; ").is_empty());
        assert!(texts("-- just a comment\n").is_empty());
    }

    #[test]
    fn keeps_semicolons_in_quotes_and_comments() {
        assert_eq!(
            texts("select 'a;b'; select \"x;y\""),
            vec!["select 'a;b'", "select \"x;y\""]
        );
        assert_eq!(texts("select 'it''s;'"), vec!["select 'it''s;'"]);
        assert_eq!(texts("select E'\\';'"), vec!["select E'\\';'"]);
        assert_eq!(
            texts("select 1 -- c;\n; select 2"),
            vec!["select 1 -- c;", "select 2"]
        );
        assert_eq!(
            texts("select /* a; /* b; */ c; */ 1; select 2"),
            vec!["select /* a; /* b; */ c; */ 1", "select 2"]
        );
        assert_eq!(
            texts("select $$a;b$$; select $t$;$t$"),
            vec!["select $$a;b$$", "select $t$;$t$"]
        );
        assert_eq!(
            texts("select $1; select $2"),
            vec!["select $1", "select $2"]
        );
    }

    #[test]
    fn offsets_count_characters() {
        let parts = split_statements("select 'é'; select 2");
        assert_eq!(parts[1].char_offset, 12);
        assert_eq!(parts[0].char_offset, 0);
    }
}
