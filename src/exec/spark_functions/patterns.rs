//! Spark's datetime patterns (`yyyy-MM-dd HH:mm:ss`, Java `DateTimeFormatter` letters)
//! translated to chrono's strftime items, for formatting and for parsing.

use crate::error::{Error, ErrorKind, Result};

/// Spark's default pattern of `from_unixtime` and `unix_timestamp`.
pub const DEFAULT_TIMESTAMP_PATTERN: &str = "yyyy-MM-dd HH:mm:ss";

/// The chrono format for a Spark pattern: letters repeat to choose a width (`M` 1, `MM` 01,
/// `MMM` Jan, `MMMM` January), text between single quotes is literal (`''` is a quote).
pub fn chrono_format(pattern: &str) -> Result<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut quoted = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
            } else {
                quoted = !quoted;
                i += 1;
            }
            continue;
        }
        if quoted || !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&d| d == c).count();
        out.push_str(field(c, run).ok_or_else(|| {
            invalid(
                pattern,
                &format!("unsupported letter {}", c.to_string().repeat(run)),
            )
        })?);
        i += run;
    }
    if quoted {
        return Err(invalid(pattern, "unterminated quoted text"));
    }
    Ok(out)
}

/// The chrono format that reads text written in `pattern`: chrono's own when it holds a
/// `%`, Spark's translated otherwise. A fraction after a dot reads one to nine digits, as
/// Spark reads `ss.SSS`.
pub fn parsing_format(pattern: &str) -> Result<String> {
    let mut format = match pattern.contains('%') {
        true => pattern.to_string(),
        false => chrono_format(pattern)?,
    };
    for width in ["1", "2", "3", "6", "9"] {
        format = format.replace(&format!(".%{width}f"), "%.f");
    }
    Ok(format)
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

fn field(letter: char, run: usize) -> Option<&'static str> {
    Some(match (letter, run) {
        ('y' | 'u', 2) => "%y",
        ('y' | 'u', _) => "%Y",
        ('M' | 'L', 1) => "%-m",
        ('M' | 'L', 2) => "%m",
        ('M' | 'L', 3) => "%b",
        ('M' | 'L', _) => "%B",
        ('d', 1) => "%-d",
        ('d', _) => "%d",
        ('D', _) => "%j",
        ('H', 1) => "%-H",
        ('H', _) => "%H",
        ('h', 1) => "%-I",
        ('h', _) => "%I",
        ('k', _) => "%k",
        ('m', 1) => "%-M",
        ('m', _) => "%M",
        ('s', 1) => "%-S",
        ('s', _) => "%S",
        ('S', 1) => "%1f",
        ('S', 2) => "%2f",
        ('S', 3) => "%3f",
        ('S', 4..=6) => "%6f",
        ('S', _) => "%9f",
        ('a', _) => "%p",
        ('E', 1..=3) => "%a",
        ('E', _) => "%A",
        ('z', _) => "%Z",
        ('Z', _) => "%z",
        ('X' | 'x', 1 | 2) => "%z",
        ('X' | 'x', _) => "%:z",
        ('V', 2) => "%Z",
        _ => return None,
    })
}

fn invalid(pattern: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidParameterValue,
        format!("invalid datetime pattern \"{pattern}\": {why}"),
    )
    .with_hint("use Spark's pattern letters, such as yyyy-MM-dd HH:mm:ss")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_patterns_become_chrono_formats() {
        assert_eq!(
            chrono_format("yyyy-MM-dd HH:mm:ss").unwrap(),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(chrono_format("d MMM yy, EEEE").unwrap(), "%-d %b %y, %A");
        assert_eq!(
            chrono_format("yyyyMMdd'T'HHmmss.SSS").unwrap(),
            "%Y%m%dT%H%M%S.%3f"
        );
        assert_eq!(
            chrono_format("h:mm a 'o''clock' 100%").unwrap(),
            "%-I:%M %p o'clock 100%%"
        );
        assert!(chrono_format("yyyy-QQ").is_err());
        assert!(chrono_format("'open").is_err());
    }

    #[test]
    fn parsing_reads_any_fraction_after_a_dot() {
        assert_eq!(
            parsing_format("yyyy-MM-dd HH:mm:ss.SSS").unwrap(),
            "%Y-%m-%d %H:%M:%S%.f"
        );
        assert_eq!(parsing_format("%d/%m/%Y").unwrap(), "%d/%m/%Y");
        assert_eq!(parsing_format("HHmmssSSS").unwrap(), "%H%M%S%3f");
    }
}
