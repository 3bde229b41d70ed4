//! Format options of catalog tables: what `OPTIONS (...)`, `ROW FORMAT` and Hive serde
//! properties may say, checked when a table is declared and read when it is scanned.
//!
//! Keys are case-insensitive, as in Spark. Spark's names and Hive's serde names both work
//! (`delimiter` / `sep` / `field.delim`, `nullValue` / `serialization.null.format`);
//! `skip.header.line.count = 1` means a header line — lakeport honours it where Spark
//! ignores it, and a count above one is refused.

use std::collections::BTreeMap;

use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use lakeport_catalog::{Storage, StorageFormat};

use crate::error::{Error, Result};

/// Keys a catalog entry may carry for any format.
const COMMON: &[&str] = &["path", "serialization.format"];
const CSV: &[&str] = &[
    "header",
    "delimiter",
    "sep",
    "field.delim",
    "quote",
    "escape",
    "escape.delim",
    "nullvalue",
    "serialization.null.format",
    "compression",
    "codec",
    "skip.header.line.count",
    "inferschema",
    "encoding",
    "charset",
    "line.delim",
];
const PARQUET: &[&str] = &["compression", "parquet.compression", "mergeschema"];
const JSON: &[&str] = &["compression", "codec", "multiline", "encoding", "charset"];

/// Refuses options the format does not know, and values that cannot work.
pub fn validate(storage: &Storage) -> Result<()> {
    let known: &[&str] = match storage.format {
        StorageFormat::Csv => CSV,
        StorageFormat::Parquet => PARQUET,
        StorageFormat::Json => JSON,
    };
    for key in storage.options.keys() {
        let lower = key.to_ascii_lowercase();
        if !known.contains(&lower.as_str()) && !COMMON.contains(&lower.as_str()) {
            return Err(Error::invalid_parameter(format!(
                "unrecognized {} option \"{key}\"",
                storage.format.name()
            ))
            .with_hint(format!(
                "{} tables accept: {}",
                storage.format.name(),
                known.join(", ")
            )));
        }
    }
    match storage.format {
        StorageFormat::Csv => CsvOptions::from_storage(storage).map(|_| ()),
        StorageFormat::Json => JsonOptions::from_storage(storage).map(|_| ()),
        StorageFormat::Parquet => Ok(()),
    }
}

/// Hive also reads some format settings from table properties (`TBLPROPERTIES
/// ('skip.header.line.count' = '1')`): the storage with those added where its own options
/// do not say otherwise.
pub fn with_table_properties(storage: &Storage, properties: &BTreeMap<String, String>) -> Storage {
    let mut storage = storage.clone();
    for key in ["skip.header.line.count", "serialization.null.format"] {
        let present = storage.options.keys().any(|k| k.eq_ignore_ascii_case(key));
        if !present && let Some(value) = properties.get(key) {
            storage.options.insert(key.to_string(), value.clone());
        }
    }
    storage
}

/// How a delimited-text table's files read.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    pub header: bool,
    pub delimiter: u8,
    pub quote: u8,
    pub escape: Option<u8>,
    /// The text that stands for NULL; by default an empty field is NULL.
    pub null_value: Option<String>,
    pub compression: FileCompressionType,
}

/// The first option of `names` the storage has (case-insensitively), as `(key, value)`.
pub fn option<'a>(storage: &'a Storage, names: &[&str]) -> Option<(&'a str, &'a str)> {
    storage
        .options
        .iter()
        .find(|(key, _)| names.iter().any(|n| key.eq_ignore_ascii_case(n)))
        .map(|(key, value)| (key.as_str(), value.as_str()))
}

impl CsvOptions {
    pub fn from_storage(storage: &Storage) -> Result<Self> {
        let get = |names: &[&str]| option(storage, names);
        let header = match get(&["header"]) {
            Some((key, value)) => boolean(key, value)?,
            None => false,
        };
        let skip_lines = match get(&["skip.header.line.count"]) {
            Some((key, value)) => value.trim().parse::<u32>().map_err(|_| {
                Error::invalid_parameter(format!(
                    "option \"{key}\" must be a non-negative integer, not \"{value}\""
                ))
            })?,
            None => 0,
        };
        if skip_lines > 1 {
            return Err(Error::unsupported(format!(
                "skip.header.line.count = {skip_lines} is not supported"
            ))
            .with_hint("lakeport skips at most one header line"));
        }
        let delimiter = match get(&["delimiter", "sep", "field.delim"]) {
            Some((key, value)) => single_byte(key, value)?,
            None => b',',
        };
        let quote = match get(&["quote"]) {
            Some((key, value)) => single_byte(key, value)?,
            None => b'"',
        };
        let escape = match get(&["escape", "escape.delim"]) {
            Some((key, value)) => Some(single_byte(key, value)?),
            None => None,
        };
        let compression = compression(get(&["compression", "codec"]))?;
        utf8(storage)?;
        if let Some((key, value)) = get(&["line.delim"])
            && value != "\n"
        {
            return Err(Error::unsupported(format!(
                "option \"{key}\" must be a newline"
            )));
        }
        Ok(Self {
            header: header || skip_lines == 1,
            delimiter,
            quote,
            escape,
            null_value: get(&["nullValue", "serialization.null.format"])
                .map(|(_, value)| value.to_string()),
            compression,
        })
    }
}

/// How a JSON table's files read and write.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonOptions {
    pub compression: FileCompressionType,
    /// Spark's `multiLine`: each file is one JSON array of objects, laid out over any
    /// number of lines, rather than JSON Lines (one object per line).
    pub multi_line: bool,
}

impl JsonOptions {
    pub fn from_storage(storage: &Storage) -> Result<Self> {
        let multi_line = match option(storage, &["multiLine"]) {
            Some((key, value)) => boolean(key, value)?,
            None => false,
        };
        utf8(storage)?;
        Ok(Self {
            compression: compression(option(storage, &["compression", "codec"]))?,
            multi_line,
        })
    }
}

/// The codec a `compression` option names; uncompressed without one.
fn compression(option: Option<(&str, &str)>) -> Result<FileCompressionType> {
    let Some((key, value)) = option else {
        return Ok(FileCompressionType::UNCOMPRESSED);
    };
    Ok(match value.to_ascii_lowercase().as_str() {
        "none" | "uncompressed" | "" => FileCompressionType::UNCOMPRESSED,
        "gzip" => FileCompressionType::GZIP,
        "bzip2" => FileCompressionType::BZIP2,
        "xz" => FileCompressionType::XZ,
        "zstd" => FileCompressionType::ZSTD,
        other => {
            return Err(Error::invalid_parameter(format!(
                "option \"{key}\" names an unknown codec \"{other}\""
            ))
            .with_hint("use none, gzip, bzip2, xz or zstd"));
        }
    })
}

/// Refuses an `encoding` other than UTF-8.
fn utf8(storage: &Storage) -> Result<()> {
    match option(storage, &["encoding", "charset"]) {
        Some((key, value)) if !["utf-8", "utf8"].contains(&value.to_ascii_lowercase().as_str()) => {
            Err(Error::unsupported(format!(
                "option \"{key}\" = \"{value}\" is not supported: files must be UTF-8"
            )))
        }
        _ => Ok(()),
    }
}

fn boolean(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid_parameter(format!(
            "option \"{key}\" must be true or false, not \"{value}\""
        ))),
    }
}

/// One ASCII character, also written `\t` or as an octal (`\001`) or unicode (`\u0001`)
/// escape, as Hive and Spark write control characters.
fn single_byte(key: &str, value: &str) -> Result<u8> {
    let decoded = match value {
        "\\t" => Some('\t'),
        _ if value.starts_with("\\u") && value.len() == 6 => u32::from_str_radix(&value[2..], 16)
            .ok()
            .and_then(char::from_u32),
        _ if value.starts_with('\\') && value.len() == 4 => u32::from_str_radix(&value[1..], 8)
            .ok()
            .and_then(char::from_u32),
        _ => {
            let mut chars = value.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        }
    };
    match decoded {
        Some(c) if c.is_ascii() => Ok(c as u8),
        _ => Err(Error::invalid_parameter(format!(
            "option \"{key}\" must be a single ASCII character, not \"{value}\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(options: &[(&str, &str)]) -> Storage {
        Storage {
            location: "file:///t/".into(),
            format: StorageFormat::Csv,
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn spark_and_hive_spellings_agree() {
        let spark = CsvOptions::from_storage(&csv(&[("sep", "|"), ("Header", "true")])).unwrap();
        let hive = CsvOptions::from_storage(&csv(&[
            ("field.delim", "|"),
            ("skip.header.line.count", "1"),
        ]))
        .unwrap();
        assert_eq!(spark, hive);
        assert_eq!(spark.delimiter, b'|');
        assert!(spark.header);
        let ctrl_a = CsvOptions::from_storage(&csv(&[("field.delim", "\\u0001")])).unwrap();
        assert_eq!(ctrl_a.delimiter, 1);
        assert_eq!(
            CsvOptions::from_storage(&csv(&[("delimiter", "\\t")]))
                .unwrap()
                .delimiter,
            b'\t'
        );
    }

    #[test]
    fn bad_options_are_refused_with_their_name() {
        let unknown = validate(&csv(&[("delimitr", ",")])).unwrap_err();
        assert_eq!(unknown.kind, crate::error::ErrorKind::InvalidParameterValue);
        assert!(unknown.message.contains("\"delimitr\""));
        let wide = validate(&csv(&[("sep", "||")])).unwrap_err();
        assert!(
            wide.message.contains("single ASCII character"),
            "{}",
            wide.message
        );
        let header = validate(&csv(&[("header", "yes")])).unwrap_err();
        assert!(header.message.contains("true or false"));
        let skip = validate(&csv(&[("skip.header.line.count", "2")])).unwrap_err();
        assert_eq!(skip.kind, crate::error::ErrorKind::FeatureNotSupported);
    }
}
