//! Hive column types: parsed from and printed as the type strings Hive's metastore stores
//! (`int`, `decimal(10,2)`, `array<string>`, `map<string,int>`, `struct<a:int,b:string>`).
//!
//! Parsing accepts what Hive and Spark accept (any case, spaces, `integer`, `dec`,
//! `numeric`, `double precision`, back-quoted struct field names); printing gives Hive's
//! canonical spelling, so a type read back from the metastore prints as Hive would.

use std::fmt;

use crate::error::{CatalogError, CatalogResult};

/// Hive's default decimal, `decimal` with no precision: `decimal(10,0)`.
pub const DEFAULT_DECIMAL: HiveType = HiveType::Decimal {
    precision: 10,
    scale: 0,
};

/// Stored and exchanged as its type string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HiveType {
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    /// 1 ≤ precision ≤ 38, 0 ≤ scale ≤ precision.
    Decimal {
        precision: u8,
        scale: u8,
    },
    String,
    Varchar(u32),
    Char(u32),
    Binary,
    Date,
    Timestamp,
    Array(Box<HiveType>),
    Map(Box<HiveType>, Box<HiveType>),
    Struct(Vec<StructField>),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StructField {
    pub name: String,
    pub data_type: HiveType,
    pub comment: Option<String>,
}

impl HiveType {
    /// Parses a Hive type string.
    pub fn parse(text: &str) -> CatalogResult<Self> {
        let mut parser = Parser { text, at: 0 };
        let parsed = parser.data_type()?;
        parser.skip_spaces();
        if parser.at < text.len() {
            return Err(parser.error("unexpected text after the type"));
        }
        Ok(parsed)
    }

    /// Whether values of the type are single values (not arrays, maps or structs).
    pub fn is_primitive(&self) -> bool {
        !matches!(self, Self::Array(_) | Self::Map(..) | Self::Struct(_))
    }
}

impl std::str::FromStr for HiveType {
    type Err = CatalogError;

    fn from_str(text: &str) -> CatalogResult<Self> {
        Self::parse(text)
    }
}

impl TryFrom<String> for HiveType {
    type Error = CatalogError;

    fn try_from(text: String) -> CatalogResult<Self> {
        Self::parse(&text)
    }
}

impl From<HiveType> for String {
    fn from(data_type: HiveType) -> Self {
        data_type.to_string()
    }
}

impl fmt::Display for HiveType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Boolean => f.write_str("boolean"),
            Self::TinyInt => f.write_str("tinyint"),
            Self::SmallInt => f.write_str("smallint"),
            Self::Int => f.write_str("int"),
            Self::BigInt => f.write_str("bigint"),
            Self::Float => f.write_str("float"),
            Self::Double => f.write_str("double"),
            Self::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            Self::String => f.write_str("string"),
            Self::Varchar(length) => write!(f, "varchar({length})"),
            Self::Char(length) => write!(f, "char({length})"),
            Self::Binary => f.write_str("binary"),
            Self::Date => f.write_str("date"),
            Self::Timestamp => f.write_str("timestamp"),
            Self::Array(element) => write!(f, "array<{element}>"),
            Self::Map(key, value) => write!(f, "map<{key},{value}>"),
            Self::Struct(fields) => {
                f.write_str("struct<")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    if is_plain_name(&field.name) {
                        write!(f, "{}:{}", field.name, field.data_type)?;
                    } else {
                        write!(f, "`{}`:{}", field.name.replace('`', "``"), field.data_type)?;
                    }
                    if let Some(comment) = &field.comment {
                        write!(f, " COMMENT '{}'", comment.replace('\'', "\\'"))?;
                    }
                }
                f.write_str(">")
            }
        }
    }
}

fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl Parser<'_> {
    fn error(&self, what: &str) -> CatalogError {
        CatalogError::invalid(format!(
            "invalid Hive type \"{}\": {what} at position {}",
            self.text,
            self.at + 1
        ))
    }

    fn skip_spaces(&mut self) {
        let rest = &self.text[self.at..];
        self.at += rest.len() - rest.trim_start().len();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_spaces();
        self.text[self.at..].chars().next()
    }

    fn consume(&mut self, wanted: char) -> CatalogResult<()> {
        if self.peek() == Some(wanted) {
            self.at += wanted.len_utf8();
            Ok(())
        } else {
            Err(self.error(&format!("expected \"{wanted}\"")))
        }
    }

    /// The next identifier as written, after any spaces; `None` (consuming nothing but the
    /// spaces) when there is none.
    fn identifier(&mut self) -> Option<&str> {
        self.skip_spaces();
        let rest = &self.text[self.at..];
        let length = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if length == 0 {
            return None;
        }
        self.at += length;
        Some(&rest[..length])
    }

    /// The next identifier in lower case: a type name or keyword.
    fn word(&mut self) -> Option<String> {
        self.identifier().map(str::to_ascii_lowercase)
    }

    fn number(&mut self) -> CatalogResult<u32> {
        self.skip_spaces();
        let rest = &self.text[self.at..];
        let length = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let value = rest[..length]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.at += length;
        Ok(value)
    }

    /// `(n)` after varchar and char.
    fn length(&mut self, name: &str, max: u32) -> CatalogResult<u32> {
        self.consume('(')?;
        let length = self.number()?;
        self.consume(')')?;
        if !(1..=max).contains(&length) {
            return Err(self.error(&format!("{name} length must be between 1 and {max}")));
        }
        Ok(length)
    }

    fn data_type(&mut self) -> CatalogResult<HiveType> {
        let start = self.at;
        let Some(name) = self.word() else {
            return Err(self.error("expected a type name"));
        };
        Ok(match name.as_str() {
            "boolean" => HiveType::Boolean,
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" => HiveType::Float,
            "double" => {
                let before = self.at;
                if self.word().as_deref() != Some("precision") {
                    self.at = before;
                }
                HiveType::Double
            }
            "decimal" | "dec" | "numeric" => self.decimal()?,
            "string" => HiveType::String,
            "varchar" => HiveType::Varchar(self.length("varchar", 65_535)?),
            "char" => HiveType::Char(self.length("char", 255)?),
            "binary" => HiveType::Binary,
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "array" => {
                self.consume('<')?;
                let element = self.data_type()?;
                self.consume('>')?;
                HiveType::Array(Box::new(element))
            }
            "map" => {
                self.consume('<')?;
                let key = self.data_type()?;
                if !key.is_primitive() {
                    return Err(self.error("map keys must be of a primitive type"));
                }
                self.consume(',')?;
                let value = self.data_type()?;
                self.consume('>')?;
                HiveType::Map(Box::new(key), Box::new(value))
            }
            "struct" => self.struct_fields()?,
            _ => {
                self.at = start;
                self.skip_spaces();
                return Err(self.error(&format!("unknown type \"{name}\"")));
            }
        })
    }

    fn decimal(&mut self) -> CatalogResult<HiveType> {
        if self.peek() != Some('(') {
            return Ok(DEFAULT_DECIMAL);
        }
        self.consume('(')?;
        let precision = self.number()?;
        let scale = if self.peek() == Some(',') {
            self.consume(',')?;
            self.number()?
        } else {
            0
        };
        self.consume(')')?;
        if !(1..=38).contains(&precision) {
            return Err(self.error("decimal precision must be between 1 and 38"));
        }
        if scale > precision {
            return Err(self.error("decimal scale must not exceed its precision"));
        }
        Ok(HiveType::Decimal {
            precision: precision as u8,
            scale: scale as u8,
        })
    }

    fn struct_fields(&mut self) -> CatalogResult<HiveType> {
        self.consume('<')?;
        let mut fields = Vec::new();
        if self.peek() == Some('>') {
            self.consume('>')?;
            return Ok(HiveType::Struct(fields));
        }
        loop {
            let name = self.field_name()?;
            if fields
                .iter()
                .any(|f: &StructField| f.name.eq_ignore_ascii_case(&name))
            {
                return Err(self.error(&format!("duplicate struct field \"{name}\"")));
            }
            self.consume(':')?;
            let data_type = self.data_type()?;
            let comment = self.comment()?;
            fields.push(StructField {
                name,
                data_type,
                comment,
            });
            match self.peek() {
                Some(',') => self.consume(',')?,
                _ => break,
            }
        }
        self.consume('>')?;
        Ok(HiveType::Struct(fields))
    }

    fn field_name(&mut self) -> CatalogResult<String> {
        if self.peek() == Some('`') {
            self.at += 1;
            let mut name = String::new();
            let mut chars = self.text[self.at..].char_indices();
            while let Some((offset, c)) = chars.next() {
                if c == '`' {
                    if self.text[self.at + offset + 1..].starts_with('`') {
                        name.push('`');
                        chars.next();
                        continue;
                    }
                    self.at += offset + 1;
                    return Ok(name);
                }
                name.push(c);
            }
            return Err(self.error("unterminated back-quoted field name"));
        }
        match self.identifier() {
            Some(name) => Ok(name.to_string()),
            None => Err(self.error("expected a struct field name")),
        }
    }

    /// An optional `COMMENT 'text'` after a struct field's type.
    fn comment(&mut self) -> CatalogResult<Option<String>> {
        let before = self.at;
        if self.word().as_deref() != Some("comment") {
            self.at = before;
            return Ok(None);
        }
        self.consume('\'')?;
        let mut comment = String::new();
        let mut chars = self.text[self.at..].char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        comment.push(escaped);
                    }
                }
                '\'' => {
                    self.at += offset + 1;
                    return Ok(Some(comment));
                }
                _ => comment.push(c),
            }
        }
        Err(self.error("unterminated comment"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str, canonical: &str) {
        let parsed = HiveType::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(parsed.to_string(), canonical, "{text}");
        assert_eq!(HiveType::parse(canonical).unwrap(), parsed, "{canonical}");
    }

    #[test]
    fn primitives_parse_in_any_spelling() {
        round_trip("INT", "int");
        round_trip("integer", "int");
        round_trip(" BigInt ", "bigint");
        round_trip("double precision", "double");
        round_trip("decimal", "decimal(10,0)");
        round_trip("DECIMAL( 10 , 2 )", "decimal(10,2)");
        round_trip("numeric(5)", "decimal(5,0)");
        round_trip("varchar(20)", "varchar(20)");
        round_trip("char(1)", "char(1)");
        for name in [
            "boolean",
            "tinyint",
            "smallint",
            "float",
            "string",
            "binary",
            "date",
            "timestamp",
        ] {
            round_trip(name, name);
        }
    }

    #[test]
    fn nested_types_round_trip() {
        round_trip("array<string>", "array<string>");
        round_trip("map<string, int>", "map<string,int>");
        round_trip("struct<a:int, b:string>", "struct<a:int,b:string>");
        round_trip(
            "ARRAY<STRUCT<id:BIGINT,tags:MAP<STRING,ARRAY<DECIMAL(12,4)>>>>",
            "array<struct<id:bigint,tags:map<string,array<decimal(12,4)>>>>",
        );
        round_trip(
            "struct<`a b`:int,`x``y`:string>",
            "struct<`a b`:int,`x``y`:string>",
        );
        round_trip(
            "struct<a:int COMMENT 'the \\'a\\''>",
            "struct<a:int COMMENT 'the \\'a\\''>",
        );
        round_trip("struct<>", "struct<>");
    }

    #[test]
    fn bad_types_are_invalid_and_say_where() {
        for (text, fragment) in [
            ("", "expected a type name at position 1"),
            ("inte", "unknown type \"inte\" at position 1"),
            ("decimal(39,2)", "precision must be between 1 and 38"),
            ("decimal(5,6)", "scale must not exceed"),
            ("varchar(0)", "varchar length"),
            ("array<int", "expected \">\""),
            (
                "map<array<int>,int>",
                "map keys must be of a primitive type",
            ),
            ("struct<a:int,a:string>", "duplicate struct field"),
            ("int int", "unexpected text after the type at position 5"),
        ] {
            let error = HiveType::parse(text).unwrap_err();
            assert_eq!(error.kind, crate::error::CatalogErrorKind::Invalid);
            assert!(
                error.message.contains(fragment),
                "{text}: {}",
                error.message
            );
        }
    }
}
