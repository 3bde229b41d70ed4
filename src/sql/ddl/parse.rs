//! The parser for catalog statements, in Spark SQL / HiveQL syntax, on sqlparser's
//! tokenizer: `CREATE DATABASE|SCHEMA|TABLE|VIEW`, `DROP`, `ALTER TABLE`, `USE`, `SHOW`,
//! `DESCRIBE`, `MSCK REPAIR TABLE`, `REFRESH TABLE`, `ANALYZE TABLE`, `CACHE TABLE`,
//! `TRUNCATE TABLE`.
//!
//! [`parse`] looks at a statement's leading keywords and returns `None` for anything else
//! (queries, `SET`, `SHOW search_path`, ...), which the PostgreSQL parser then reads.
//! Both quoting styles work for names: `"Name"` as in PostgreSQL and `` `name` `` as in
//! Spark. The queries inside (`AS SELECT ...`) are kept as text and planned as
//! PostgreSQL queries.

use std::collections::BTreeMap;

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};
use lakeport_catalog::{HiveType, StorageFormat};

use crate::error::{Error, Result};
use crate::sql::ddl::ast::*;
use crate::sql::split::StatementText;

/// Hive's field delimiter for `STORED AS TEXTFILE` without `ROW FORMAT`: Ctrl-A.
const HIVE_TEXT_DELIMITER: &str = "\u{1}";

/// Parses `piece` when it is a catalog statement.
pub fn parse(piece: &StatementText<'_>) -> Option<Result<CatalogStatement>> {
    let mut parser = match DdlParser::new(piece) {
        Ok(parser) => parser,
        Err(_) => return None,
    };
    if !parser.is_catalog_statement() {
        return None;
    }
    Some(parser.statement().and_then(|statement| {
        parser.require_end()?;
        Ok(statement)
    }))
}

struct DdlParser<'a> {
    piece: &'a StatementText<'a>,
    tokens: Vec<TokenWithSpan>,
    at: usize,
    /// Byte offset of each line's start, to turn token locations into text offsets.
    line_starts: Vec<usize>,
}

impl<'a> DdlParser<'a> {
    fn new(piece: &'a StatementText<'a>) -> Result<Self> {
        let tokens = Tokenizer::new(&GenericDialect {}, piece.text)
            .tokenize_with_location()
            .map_err(|e| Error::syntax(e.message))?
            .into_iter()
            .filter(|t| {
                !matches!(
                    t.token,
                    Token::Whitespace(_) | Token::SemiColon | Token::EOF
                )
            })
            .collect();
        let line_starts = std::iter::once(0)
            .chain(piece.text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Ok(Self {
            piece,
            tokens,
            at: 0,
            line_starts,
        })
    }

    fn word_at(&self, index: usize) -> Option<String> {
        match self.tokens.get(index).map(|t| &t.token) {
            Some(Token::Word(word)) if word.quote_style.is_none() => {
                Some(word.value.to_ascii_uppercase())
            }
            _ => None,
        }
    }

    fn is_catalog_statement(&self) -> bool {
        let first = self.word_at(0).unwrap_or_default();
        let second = self.word_at(1).unwrap_or_default();
        let words: Vec<String> = (0..6).filter_map(|i| self.word_at(i)).collect();
        match first.as_str() {
            "CREATE" => words
                .iter()
                .skip(1)
                .take(5)
                .any(|w| matches!(w.as_str(), "DATABASE" | "SCHEMA" | "TABLE" | "VIEW")),
            "DROP" => matches!(second.as_str(), "DATABASE" | "SCHEMA" | "TABLE" | "VIEW"),
            "ALTER" => second == "TABLE",
            "USE" | "MSCK" | "REFRESH" | "DESCRIBE" | "DESC" | "INSERT" | "CACHE" | "UNCACHE" => {
                true
            }
            "CLEAR" => second == "CACHE",
            "ANALYZE" => second == "TABLE",
            "TRUNCATE" => true,
            "SHOW" => {
                matches!(
                    second.as_str(),
                    "DATABASES"
                        | "SCHEMAS"
                        | "TABLES"
                        | "VIEWS"
                        | "PARTITIONS"
                        | "COLUMNS"
                        | "CREATE"
                        | "TBLPROPERTIES"
                        | "FUNCTIONS"
                ) || matches!(second.as_str(), "USER" | "SYSTEM" | "ALL")
                    && self.word_at(2).as_deref() == Some("FUNCTIONS")
            }
            _ => false,
        }
    }

    // ---- token helpers ----

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|t| &t.token)
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        self.word_at(self.at).as_deref() == Some(keyword)
    }

    fn keyword(&mut self, keyword: &str) -> bool {
        if self.peek_keyword(keyword) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// Consumes all of `keywords` in order, or none of them.
    fn keywords(&mut self, keywords: &[&str]) -> bool {
        let matches = keywords
            .iter()
            .enumerate()
            .all(|(i, k)| self.word_at(self.at + i).as_deref() == Some(*k));
        if matches {
            self.at += keywords.len();
        }
        matches
    }

    fn require_keyword(&mut self, keyword: &str) -> Result<()> {
        if self.keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn consume(&mut self, token: &Token) -> bool {
        if self.peek() == Some(token) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn require(&mut self, token: &Token) -> Result<()> {
        if self.consume(token) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn require_end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.unexpected()),
        }
    }

    /// 1-based character position of the current token in the whole query string.
    fn position(&self) -> usize {
        let offset = match self.tokens.get(self.at) {
            Some(token) => self.offset(token.span.start),
            None => self.piece.text.len(),
        };
        self.piece.char_offset + self.piece.text[..offset].chars().count() + 1
    }

    fn unexpected(&self) -> Error {
        let message = match self.tokens.get(self.at) {
            Some(token) => format!("syntax error at or near \"{}\"", token.token),
            None => "syntax error at end of input".to_string(),
        };
        Error::syntax(message).with_position(self.position())
    }

    /// Byte offset of a token location in the statement text.
    fn offset(&self, location: Location) -> usize {
        let line = (location.line as usize).saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let column = (location.column as usize).saturating_sub(1);
        self.piece.text[start..]
            .char_indices()
            .nth(column)
            .map(|(i, _)| start + i)
            .unwrap_or(self.piece.text.len())
    }

    /// `ANALYZE TABLE name COMPUTE STATISTICS [NOSCAN | FOR COLUMNS a, … | FOR ALL
    /// COLUMNS]`; per-partition statistics are refused rather than left uncomputed.
    fn analyze_table(&mut self) -> Result<CatalogStatement> {
        let name = self.object_name()?;
        if self.peek_keyword("PARTITION") {
            return Err(
                Error::unsupported("ANALYZE TABLE … PARTITION is not supported")
                    .with_hint("analyze the whole table"),
            );
        }
        self.require_keyword("COMPUTE")?;
        self.require_keyword("STATISTICS")?;
        let measure = if self.keyword("NOSCAN") {
            Analysis::Bytes
        } else if self.keywords(&["FOR", "ALL", "COLUMNS"]) {
            Analysis::Columns(None)
        } else if self.keywords(&["FOR", "COLUMNS"]) {
            let mut columns = vec![self.identifier()?];
            while self.consume(&Token::Comma) {
                columns.push(self.identifier()?);
            }
            Analysis::Columns(Some(columns))
        } else {
            Analysis::Rows
        };
        Ok(CatalogStatement::AnalyzeTable { name, measure })
    }

    /// `CACHE [LAZY] TABLE name [OPTIONS ('storageLevel' 'MEMORY_ONLY')] [[AS] query]`: LAZY
    /// caches at once (the rows are the same); memory is the one storage level.
    fn cache_table(&mut self) -> Result<CatalogStatement> {
        let _lazy = self.keyword("LAZY");
        self.require_keyword("TABLE")?;
        let name = self.object_name()?;
        if self.keyword("OPTIONS") {
            for (key, value) in self.properties()? {
                let memory = value.to_ascii_uppercase().starts_with("MEMORY");
                if !key.eq_ignore_ascii_case("storageLevel") || !memory {
                    return Err(Error::unsupported(format!(
                        "CACHE TABLE option {key} = '{value}' is not supported"
                    ))
                    .with_hint("lakeport caches in memory: storageLevel 'MEMORY_ONLY'"));
                }
            }
        }
        let _ = self.keyword("AS");
        let query = match self.peek() {
            None => None,
            Some(_) => Some(self.rest_text()?),
        };
        Ok(CatalogStatement::CacheTable { name, query })
    }

    /// The text from the current token to the end of the statement.
    fn rest_text(&mut self) -> Result<String> {
        let Some(token) = self.tokens.get(self.at) else {
            return Err(self.unexpected());
        };
        let start = self.offset(token.span.start);
        self.at = self.tokens.len();
        Ok(self.piece.text[start..]
            .trim_end_matches(|c: char| c.is_whitespace() || c == ';')
            .to_string())
    }

    fn identifier(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(word)) => {
                let name = match word.quote_style {
                    Some(_) => word.value.clone(),
                    None => word.value.to_ascii_lowercase(),
                };
                self.at += 1;
                Ok(name)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn object_name(&mut self) -> Result<ObjectName> {
        let mut parts = vec![self.identifier()?];
        while self.consume(&Token::Period) {
            parts.push(self.identifier()?);
        }
        if parts.len() > 3 {
            return Err(Error::syntax(format!(
                "improper qualified name (too many dotted names): {}",
                parts.join(".")
            )));
        }
        Ok(ObjectName(parts))
    }

    fn string(&mut self) -> Result<String> {
        match self.peek() {
            Some(
                Token::SingleQuotedString(s)
                | Token::DoubleQuotedString(s)
                | Token::EscapedStringLiteral(s),
            ) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn optional_if_not_exists(&mut self) -> bool {
        self.keywords(&["IF", "NOT", "EXISTS"])
    }

    fn optional_if_exists(&mut self) -> bool {
        self.keywords(&["IF", "EXISTS"])
    }

    /// A property key: a string, or dotted words (`skip.header.line.count`).
    fn property_key(&mut self) -> Result<String> {
        if let Some(Token::SingleQuotedString(_) | Token::DoubleQuotedString(_)) = self.peek() {
            return self.string();
        }
        let mut parts = vec![self.raw_word()?];
        while self.consume(&Token::Period) {
            parts.push(self.raw_word()?);
        }
        Ok(parts.join("."))
    }

    fn raw_word(&mut self) -> Result<String> {
        match self.peek() {
            Some(Token::Word(word)) => {
                let value = word.value.clone();
                self.at += 1;
                Ok(value)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn property_value(&mut self) -> Result<String> {
        match self.peek().cloned() {
            Some(Token::SingleQuotedString(s) | Token::DoubleQuotedString(s)) => {
                self.at += 1;
                Ok(s)
            }
            Some(Token::Number(n, _)) => {
                self.at += 1;
                Ok(n)
            }
            Some(Token::Word(word)) => {
                self.at += 1;
                Ok(word.value)
            }
            _ => Err(self.unexpected()),
        }
    }

    /// `(key [=] value, ...)`
    fn properties(&mut self) -> Result<BTreeMap<String, String>> {
        self.require(&Token::LParen)?;
        let mut properties = BTreeMap::new();
        if self.consume(&Token::RParen) {
            return Ok(properties);
        }
        loop {
            let key = self.property_key()?;
            self.consume(&Token::Eq);
            let value = self.property_value()?;
            properties.insert(key, value);
            if self.consume(&Token::RParen) {
                return Ok(properties);
            }
            self.require(&Token::Comma)?;
        }
    }

    /// `(key, ...)` of property keys.
    fn property_keys(&mut self) -> Result<Vec<String>> {
        self.require(&Token::LParen)?;
        let mut keys = vec![self.property_key()?];
        while self.consume(&Token::Comma) {
            keys.push(self.property_key()?);
        }
        self.require(&Token::RParen)?;
        Ok(keys)
    }

    /// `(key = value, key2 = 'text', key3 = NULL, dynamic_key)`
    fn partition_spec(&mut self) -> Result<PartitionSpec> {
        self.require(&Token::LParen)?;
        let mut spec = Vec::new();
        loop {
            let key = self.identifier()?;
            let value = if self.consume(&Token::Eq) {
                Some(match self.peek().cloned() {
                    Some(Token::Word(word))
                        if word.quote_style.is_none()
                            && word.value.eq_ignore_ascii_case("null") =>
                    {
                        self.at += 1;
                        PartitionValue::Null
                    }
                    Some(Token::Minus) => {
                        self.at += 1;
                        PartitionValue::Text(format!("-{}", self.property_value()?))
                    }
                    _ => PartitionValue::Text(self.property_value()?),
                })
            } else {
                None
            };
            spec.push((key, value));
            if self.consume(&Token::RParen) {
                return Ok(spec);
            }
            self.require(&Token::Comma)?;
        }
    }

    /// A column type up to the next `,`, `)` or `COMMENT` / `NOT` outside brackets, read as
    /// a Hive type (PostgreSQL's spellings of the same types work too).
    fn data_type(&mut self) -> Result<HiveType> {
        let first = self.at;
        let mut depth = 0i32;
        while let Some(token) = self.peek() {
            match token {
                Token::LParen | Token::Lt => depth += 1,
                Token::Gt => depth -= 1,
                Token::ShiftRight => depth -= 2,
                Token::RParen if depth == 0 => break,
                Token::RParen => depth -= 1,
                Token::Comma if depth == 0 => break,
                Token::Word(_)
                    if depth == 0
                        && self.at > first
                        && (self.peek_keyword("COMMENT") || self.peek_keyword("NOT")) =>
                {
                    break;
                }
                _ => {}
            }
            self.at += 1;
        }
        if self.at == first {
            return Err(self.unexpected());
        }
        let start = self.offset(self.tokens[first].span.start);
        let end = self.offset(self.tokens[self.at - 1].span.end);
        let text = &self.piece.text[start..end];
        hive_type(text).map_err(|e| {
            let position = self.piece.char_offset + self.piece.text[..start].chars().count() + 1;
            e.with_position(position)
        })
    }

    fn optional_comment(&mut self) -> Result<Option<String>> {
        if self.keyword("COMMENT") {
            Ok(Some(self.string()?))
        } else {
            Ok(None)
        }
    }

    /// `(name type [NOT NULL] [COMMENT 'text'], ...)`
    fn column_definitions(&mut self) -> Result<Vec<ColumnDefinition>> {
        self.require(&Token::LParen)?;
        let mut columns = Vec::new();
        loop {
            let name = self.identifier()?;
            let data_type = self.data_type()?;
            if self.keywords(&["NOT", "NULL"]) {
                return Err(Error::unsupported("NOT NULL columns are not supported")
                    .with_hint("Hive tables have nullable columns only"));
            }
            let comment = self.optional_comment()?;
            columns.push(ColumnDefinition {
                name,
                data_type,
                comment,
            });
            if self.consume(&Token::RParen) {
                return Ok(columns);
            }
            self.require(&Token::Comma)?;
        }
    }

    fn format(&mut self) -> Result<StorageFormat> {
        let name = self.raw_word()?;
        match name.to_ascii_lowercase().as_str() {
            "parquet" => Ok(StorageFormat::Parquet),
            "csv" | "textfile" => Ok(StorageFormat::Csv),
            "json" | "jsonfile" => Ok(StorageFormat::Json),
            "orc" | "avro" | "sequencefile" | "rcfile" | "delta" | "iceberg" | "hive" | "text" => {
                Err(
                    Error::unsupported(format!("tables stored as {name} are not supported"))
                        .with_hint("lakeport reads and writes parquet, csv and json"),
                )
            }
            _ => Err(
                Error::invalid_parameter(format!("unknown table format \"{name}\""))
                    .with_hint("use parquet, csv or json"),
            ),
        }
    }

    // ---- statements ----

    fn statement(&mut self) -> Result<CatalogStatement> {
        if self.keyword("CREATE") {
            return self.create();
        }
        if self.keyword("DROP") {
            return self.drop();
        }
        if self.keywords(&["ALTER", "TABLE"]) {
            let name = self.object_name()?;
            if self.keywords(&["RECOVER", "PARTITIONS"]) {
                let mode = RepairMode::Add;
                return Ok(CatalogStatement::RepairTable { name, mode });
            }
            let change = self.alter_table()?;
            return Ok(CatalogStatement::AlterTable { name, change });
        }
        if self.keyword("INSERT") {
            return self.insert();
        }
        if self.keyword("USE") {
            let _ = self.keyword("DATABASE") || self.keyword("SCHEMA") || self.keyword("NAMESPACE");
            return Ok(CatalogStatement::Use(self.identifier()?));
        }
        if self.keywords(&["MSCK", "REPAIR", "TABLE"]) {
            let name = self.object_name()?;
            let modes = [
                ("ADD", RepairMode::Add),
                ("DROP", RepairMode::Drop),
                ("SYNC", RepairMode::Sync),
            ];
            let mode = modes
                .into_iter()
                .find(|(word, _)| self.keyword(word))
                .map(|(_, mode)| mode);
            if mode.is_some() {
                self.require_keyword("PARTITIONS")?;
            }
            let mode = mode.unwrap_or(RepairMode::Add);
            return Ok(CatalogStatement::RepairTable { name, mode });
        }
        if self.keywords(&["REFRESH", "TABLE"]) {
            return Ok(CatalogStatement::RefreshTable(self.object_name()?));
        }
        if self.keyword("CACHE") {
            return self.cache_table();
        }
        if self.keywords(&["ANALYZE", "TABLE"]) {
            return self.analyze_table();
        }
        if self.keyword("TRUNCATE") {
            let _ = self.keyword("TABLE");
            let name = self.object_name()?;
            let partition = match self.keyword("PARTITION") {
                true => Some(self.partition_spec()?),
                false => None,
            };
            return Ok(CatalogStatement::TruncateTable { name, partition });
        }
        if self.keywords(&["UNCACHE", "TABLE"]) {
            let if_exists = self.keywords(&["IF", "EXISTS"]);
            let name = self.object_name()?;
            return Ok(CatalogStatement::UncacheTable { name, if_exists });
        }
        if self.keywords(&["CLEAR", "CACHE"]) {
            return Ok(CatalogStatement::ClearCache);
        }
        if self.keyword("DESCRIBE") || self.keyword("DESC") {
            return self.describe();
        }
        if self.keyword("SHOW") {
            return self.show();
        }
        Err(self.unexpected())
    }

    fn create(&mut self) -> Result<CatalogStatement> {
        let or_replace = self.keywords(&["OR", "REPLACE"]);
        if !or_replace && (self.keyword("DATABASE") || self.keyword("SCHEMA")) {
            return self.create_database();
        }
        let global = self.keyword("GLOBAL");
        let temporary = self.keyword("TEMPORARY") || self.keyword("TEMP");
        if self.keyword("VIEW") {
            let kind = match (global, temporary) {
                (false, false) => ViewKind::Persistent,
                (false, true) => ViewKind::Temporary,
                (true, true) => ViewKind::GlobalTemporary,
                (true, false) => return Err(self.unexpected()),
            };
            return self.create_view(kind, or_replace);
        }
        if global || temporary {
            return Err(Error::unsupported("temporary tables are not supported")
                .with_hint("create a TEMPORARY VIEW instead"));
        }
        let external = self.keyword("EXTERNAL");
        self.require_keyword("TABLE")?;
        self.create_table(or_replace, external)
    }

    fn insert(&mut self) -> Result<CatalogStatement> {
        let overwrite = if self.keyword("OVERWRITE") {
            true
        } else {
            self.require_keyword("INTO")?;
            false
        };
        self.keyword("TABLE");
        let name = self.object_name()?;
        let partition = if self.keyword("PARTITION") {
            Some(self.partition_spec()?)
        } else {
            None
        };
        let mut columns = Vec::new();
        let starts_query = |parser: &Self, at: usize| {
            matches!(
                parser.word_at(at).as_deref(),
                Some("SELECT" | "WITH" | "VALUES" | "TABLE")
            ) || matches!(parser.tokens.get(at).map(|t| &t.token), Some(Token::LParen))
        };
        if self.peek() == Some(&Token::LParen) && !starts_query(self, self.at + 1) {
            self.at += 1;
            loop {
                columns.push(self.identifier()?);
                if self.consume(&Token::RParen) {
                    break;
                }
                self.require(&Token::Comma)?;
            }
        }
        let by_name = columns.is_empty() && self.keywords(&["BY", "NAME"]);
        if self.keywords(&["DEFAULT", "VALUES"]) {
            return Err(Error::unsupported(
                "INSERT ... DEFAULT VALUES is not supported",
            ));
        }
        if !starts_query(self, self.at) {
            return Err(self.unexpected());
        }
        let query = self.rest_text()?;
        Ok(CatalogStatement::Insert(Box::new(Insert {
            name,
            overwrite,
            partition,
            columns,
            by_name,
            query,
        })))
    }

    fn create_database(&mut self) -> Result<CatalogStatement> {
        let if_not_exists = self.optional_if_not_exists();
        let name = self.identifier()?;
        let (mut comment, mut location, mut properties) = (None, None, BTreeMap::new());
        loop {
            if self.keyword("COMMENT") {
                comment = Some(self.string()?);
            } else if self.keyword("LOCATION") {
                location = Some(self.string()?);
            } else if self.keywords(&["WITH", "DBPROPERTIES"])
                || self.keywords(&["WITH", "PROPERTIES"])
            {
                properties = self.properties()?;
            } else {
                break;
            }
        }
        Ok(CatalogStatement::CreateDatabase {
            name,
            if_not_exists,
            comment,
            location,
            properties,
        })
    }

    fn create_table(&mut self, or_replace: bool, external: bool) -> Result<CatalogStatement> {
        let if_not_exists = self.optional_if_not_exists();
        let name = self.object_name()?;
        let columns = match self.peek() {
            Some(Token::LParen) => Some(self.column_definitions()?),
            _ => None,
        };
        let like = match columns.is_none() && self.keyword("LIKE") {
            true => Some(self.object_name()?),
            false => None,
        };
        let mut create = CreateTable {
            name,
            or_replace,
            external,
            if_not_exists,
            columns,
            like,
            format: None,
            options: BTreeMap::new(),
            partitioned_by: Vec::new(),
            location: None,
            comment: None,
            properties: BTreeMap::new(),
            query: None,
        };
        let mut hive_text = false;
        loop {
            if self.keyword("USING") {
                create.format = Some(self.format()?);
            } else if self.keywords(&["STORED", "AS"]) {
                hive_text = self.peek_keyword("TEXTFILE");
                create.format = Some(self.format()?);
            } else if self.keyword("OPTIONS") {
                create.options.extend(self.properties()?);
            } else if self.keywords(&["ROW", "FORMAT"]) {
                self.row_format(&mut create.options)?;
            } else if self.keywords(&["PARTITIONED", "BY"]) {
                create.partitioned_by = self.partition_keys()?;
            } else if self.keyword("LOCATION") {
                create.location = Some(self.string()?);
            } else if self.keyword("COMMENT") {
                create.comment = Some(self.string()?);
            } else if self.keyword("TBLPROPERTIES") {
                create.properties.extend(self.properties()?);
            } else if self.keywords(&["CLUSTERED", "BY"]) || self.keywords(&["SORTED", "BY"]) {
                return Err(Error::unsupported("bucketed tables are not supported"));
            } else {
                break;
            }
        }
        if hive_text && !create.options.contains_key("field.delim") {
            create
                .options
                .insert("field.delim".into(), HIVE_TEXT_DELIMITER.into());
        }
        if self.keyword("AS") {
            if create.like.is_some() {
                return Err(Error::syntax(
                    "CREATE TABLE … LIKE cannot also have AS query",
                ));
            }
            create.query = Some(self.rest_text()?);
        }
        Ok(CatalogStatement::CreateTable(Box::new(create)))
    }

    /// `ROW FORMAT DELIMITED [FIELDS TERMINATED BY c [ESCAPED BY e]] [LINES TERMINATED BY
    /// n] [NULL DEFINED AS s]` or `ROW FORMAT SERDE 'class' [WITH SERDEPROPERTIES (...)]`,
    /// recorded as the serde properties Hive would store.
    fn row_format(&mut self, options: &mut BTreeMap<String, String>) -> Result<()> {
        if self.keyword("SERDE") {
            let class = self.string()?;
            let lower = class.to_ascii_lowercase();
            if !(lower.contains("lazysimpleserde") || lower.contains("opencsvserde")) {
                return Err(
                    Error::unsupported(format!("serde \"{class}\" is not supported"))
                        .with_hint("lakeport reads delimited text and parquet"),
                );
            }
            if self.keywords(&["WITH", "SERDEPROPERTIES"]) {
                for (key, value) in self.properties()? {
                    let key = match key.as_str() {
                        "separatorChar" => "field.delim".to_string(),
                        "quoteChar" => "quote".to_string(),
                        "escapeChar" => "escape.delim".to_string(),
                        _ => key,
                    };
                    options.insert(key, value);
                }
            }
            return Ok(());
        }
        self.require_keyword("DELIMITED")?;
        loop {
            if self.keywords(&["FIELDS", "TERMINATED", "BY"]) {
                options.insert("field.delim".into(), self.string()?);
                if self.keywords(&["ESCAPED", "BY"]) {
                    options.insert("escape.delim".into(), self.string()?);
                }
            } else if self.keywords(&["LINES", "TERMINATED", "BY"]) {
                options.insert("line.delim".into(), self.string()?);
            } else if self.keywords(&["NULL", "DEFINED", "AS"]) {
                options.insert("serialization.null.format".into(), self.string()?);
            } else if self.keywords(&["COLLECTION", "ITEMS", "TERMINATED", "BY"])
                || self.keywords(&["MAP", "KEYS", "TERMINATED", "BY"])
            {
                self.string()?;
            } else {
                return Ok(());
            }
        }
    }

    /// `(name [type] [COMMENT 'c'], ...)`
    fn partition_keys(&mut self) -> Result<Vec<PartitionKeyDefinition>> {
        self.require(&Token::LParen)?;
        let mut keys = Vec::new();
        loop {
            let name = self.identifier()?;
            let data_type = match self.peek() {
                Some(Token::Comma | Token::RParen) => None,
                _ if self.peek_keyword("COMMENT") => None,
                _ => Some(self.data_type()?),
            };
            let comment = self.optional_comment()?;
            keys.push(PartitionKeyDefinition {
                name,
                data_type,
                comment,
            });
            if self.consume(&Token::RParen) {
                return Ok(keys);
            }
            self.require(&Token::Comma)?;
        }
    }

    fn create_view(&mut self, kind: ViewKind, or_replace: bool) -> Result<CatalogStatement> {
        let if_not_exists = self.optional_if_not_exists();
        let name = self.object_name()?;
        let mut columns = Vec::new();
        if self.consume(&Token::LParen) {
            loop {
                let column = self.identifier()?;
                let comment = self.optional_comment()?;
                columns.push((column, comment));
                if self.consume(&Token::RParen) {
                    break;
                }
                self.require(&Token::Comma)?;
            }
        }
        let (mut comment, mut properties) = (None, BTreeMap::new());
        let mut files: Option<(StorageFormat, BTreeMap<String, String>)> = None;
        loop {
            if self.keyword("COMMENT") {
                comment = Some(self.string()?);
            } else if self.keyword("TBLPROPERTIES") {
                properties = self.properties()?;
            } else if self.keyword("USING") {
                files = Some((self.format()?, BTreeMap::new()));
            } else if self.keyword("OPTIONS") {
                let options = self.properties()?;
                match &mut files {
                    Some((_, existing)) => existing.extend(options),
                    None => return Err(Error::syntax("OPTIONS needs USING format first")),
                }
            } else {
                break;
            }
        }
        let body = match files {
            Some((format, options)) => ViewBody::Files { format, options },
            None => {
                self.require_keyword("AS")?;
                ViewBody::Query(self.rest_text()?)
            }
        };
        Ok(CatalogStatement::CreateView(Box::new(CreateView {
            name,
            kind,
            or_replace,
            if_not_exists,
            columns,
            comment,
            properties,
            body,
        })))
    }

    fn drop(&mut self) -> Result<CatalogStatement> {
        if self.keyword("DATABASE") || self.keyword("SCHEMA") {
            let if_exists = self.optional_if_exists();
            let name = self.identifier()?;
            let cascade = self.keyword("CASCADE");
            if !cascade {
                self.keyword("RESTRICT");
            }
            return Ok(CatalogStatement::DropDatabase {
                name,
                if_exists,
                cascade,
            });
        }
        let view = if self.keyword("VIEW") {
            true
        } else {
            self.require_keyword("TABLE")?;
            false
        };
        let if_exists = self.optional_if_exists();
        let name = self.object_name()?;
        if !view {
            self.keyword("PURGE");
        }
        Ok(CatalogStatement::DropTable {
            name,
            if_exists,
            view,
        })
    }

    fn alter_table(&mut self) -> Result<AlterTable> {
        if self.keyword("ADD") {
            if self.keyword("COLUMNS") {
                return Ok(AlterTable::AddColumns(self.column_definitions()?));
            }
            let if_not_exists = self.optional_if_not_exists();
            let mut partitions = Vec::new();
            while self.keyword("PARTITION") {
                let spec = self.partition_spec()?;
                let location = if self.keyword("LOCATION") {
                    Some(self.string()?)
                } else {
                    None
                };
                partitions.push((spec, location));
            }
            if partitions.is_empty() {
                return Err(self.unexpected());
            }
            return Ok(AlterTable::AddPartitions {
                if_not_exists,
                partitions,
            });
        }
        if self.keyword("DROP") {
            let if_exists = self.optional_if_exists();
            let mut partitions = Vec::new();
            loop {
                self.require_keyword("PARTITION")?;
                partitions.push(self.partition_spec()?);
                if !self.consume(&Token::Comma) {
                    break;
                }
            }
            self.keyword("PURGE");
            return Ok(AlterTable::DropPartitions {
                if_exists,
                partitions,
            });
        }
        if self.keywords(&["RENAME", "TO"]) {
            return Ok(AlterTable::RenameTo(self.object_name()?));
        }
        if self.keywords(&["SET", "TBLPROPERTIES"]) {
            return Ok(AlterTable::SetProperties(self.properties()?));
        }
        if self.keywords(&["UNSET", "TBLPROPERTIES"]) {
            let if_exists = self.optional_if_exists();
            return Ok(AlterTable::UnsetProperties {
                if_exists,
                keys: self.property_keys()?,
            });
        }
        if self.keywords(&["SET", "LOCATION"]) {
            return Ok(AlterTable::SetLocation(self.string()?));
        }
        Err(self.unexpected())
    }

    fn describe(&mut self) -> Result<CatalogStatement> {
        if self.keyword("DATABASE") || self.keyword("SCHEMA") || self.keyword("NAMESPACE") {
            let extended = self.keyword("EXTENDED");
            return Ok(CatalogStatement::DescribeDatabase {
                name: self.identifier()?,
                extended,
            });
        }
        if let Some(statement) = self.describe_function()? {
            return Ok(statement);
        }
        self.keyword("TABLE");
        let extended = self.keyword("EXTENDED") || self.keyword("FORMATTED");
        let name = self.object_name()?;
        if let Some(Token::Word(_)) = self.peek() {
            return Ok(CatalogStatement::DescribeColumn {
                name,
                column: self.identifier()?,
                extended,
            });
        }
        Ok(CatalogStatement::DescribeTable { name, extended })
    }

    /// `FUNCTION [EXTENDED] name` after DESCRIBE (the name may be quoted as text); None when
    /// DESCRIBE names a table called `function`.
    fn describe_function(&mut self) -> Result<Option<CatalogStatement>> {
        let name_follows = matches!(
            self.tokens.get(self.at + 1).map(|t| &t.token),
            Some(Token::Word(_) | Token::SingleQuotedString(_))
        );
        if !(self.peek_keyword("FUNCTION") && name_follows) {
            return Ok(None);
        }
        self.keyword("FUNCTION");
        let extended = self.keyword("EXTENDED");
        let name = match self.peek() {
            Some(Token::SingleQuotedString(_)) => self.string()?,
            _ => self.object_name()?.0.join("."),
        };
        Ok(Some(CatalogStatement::DescribeFunction { name, extended }))
    }

    /// The rest of `SHOW … FUNCTIONS [IN db] [[LIKE] 'pattern']`.
    fn show_functions(&mut self, user_only: bool) -> Result<CatalogStatement> {
        if self.keyword("IN") || self.keyword("FROM") {
            self.identifier()?;
        }
        self.keyword("LIKE");
        let pattern = match self.peek() {
            Some(Token::SingleQuotedString(_)) => Some(self.string()?),
            _ => None,
        };
        Ok(CatalogStatement::ShowFunctions { pattern, user_only })
    }

    fn show(&mut self) -> Result<CatalogStatement> {
        if self.keyword("DATABASES") || self.keyword("SCHEMAS") {
            self.keyword("LIKE");
            let pattern = match self.peek() {
                Some(Token::SingleQuotedString(_)) => Some(self.string()?),
                _ => None,
            };
            return Ok(CatalogStatement::ShowDatabases { pattern });
        }
        let user_only = self.keyword("USER");
        if user_only || self.keyword("SYSTEM") || self.keyword("ALL") {
            self.require_keyword("FUNCTIONS")?;
            return self.show_functions(user_only);
        }
        if self.keyword("FUNCTIONS") {
            return self.show_functions(false);
        }
        let views_only = self.keyword("VIEWS");
        if views_only || self.keyword("TABLES") {
            let database = if self.keyword("IN") || self.keyword("FROM") {
                Some(self.identifier()?)
            } else {
                None
            };
            self.keyword("LIKE");
            let pattern = match self.peek() {
                Some(Token::SingleQuotedString(_)) => Some(self.string()?),
                _ => None,
            };
            return Ok(CatalogStatement::ShowTables {
                database,
                pattern,
                views_only,
            });
        }
        if self.keyword("PARTITIONS") {
            let name = self.object_name()?;
            let spec = if self.keyword("PARTITION") {
                Some(self.partition_spec()?)
            } else {
                None
            };
            return Ok(CatalogStatement::ShowPartitions { name, spec });
        }
        if self.keyword("COLUMNS") {
            if !(self.keyword("IN") || self.keyword("FROM")) {
                return Err(self.unexpected());
            }
            let mut name = self.object_name()?;
            if self.keyword("IN") || self.keyword("FROM") {
                let database = self.identifier()?;
                name = ObjectName(vec![database, name.name().to_string()]);
            }
            return Ok(CatalogStatement::ShowColumns(name));
        }
        if self.keywords(&["CREATE", "TABLE"]) {
            let name = self.object_name()?;
            self.keywords(&["AS", "SERDE"]);
            return Ok(CatalogStatement::ShowCreateTable(name));
        }
        if self.keyword("TBLPROPERTIES") {
            let name = self.object_name()?;
            let key = if self.consume(&Token::LParen) {
                let key = self.property_key()?;
                self.require(&Token::RParen)?;
                Some(key)
            } else {
                None
            };
            return Ok(CatalogStatement::ShowProperties { name, key });
        }
        Err(self.unexpected())
    }
}

/// A type as Hive spells it, or as PostgreSQL does (`text`, `int4`, `float8`, `bytea`,
/// `timestamptz`, `numeric`, `varchar` without a length ...).
pub fn hive_type(text: &str) -> Result<HiveType> {
    let normalized = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = normalized.to_ascii_lowercase();
    let alias = match lower.as_str() {
        "text" | "varchar" | "character varying" | "bpchar" | "name" | "uuid" | "json" => {
            Some("string")
        }
        "int2" => Some("smallint"),
        "int4" | "integer" => Some("int"),
        "int8" => Some("bigint"),
        "float4" | "real" => Some("float"),
        "float8" | "double precision" => Some("double"),
        "bool" => Some("boolean"),
        "bytea" => Some("binary"),
        "timestamptz"
        | "timestamp with time zone"
        | "timestamp without time zone"
        | "timestamp_ntz"
        | "timestamp_ltz" => Some("timestamp"),
        _ => None,
    };
    let parsed = match alias {
        Some(alias) => HiveType::parse(alias),
        None => HiveType::parse(&normalized),
    };
    parsed.map_err(|e| {
        Error::new(
            crate::error::ErrorKind::UndefinedObject,
            format!("type \"{normalized}\" does not exist"),
        )
        .with_detail(e.message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> CatalogStatement {
        let piece = StatementText {
            text,
            char_offset: 0,
        };
        match parse(&piece) {
            Some(Ok(statement)) => statement,
            Some(Err(e)) => panic!("{text}: {e:?}"),
            None => panic!("{text}: not a catalog statement"),
        }
    }

    fn error(text: &str) -> Error {
        let piece = StatementText {
            text,
            char_offset: 0,
        };
        match parse(&piece) {
            Some(Err(e)) => e,
            other => panic!("{text}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn other_statements_are_left_to_postgres() {
        for text in [
            "SELECT 1",
            "SHOW search_path",
            "SHOW ALL",
            "SET search_path = x",
            "CREATE FUNCTION f() RETURNS int",
            "DROP FUNCTION f",
        ] {
            let piece = StatementText {
                text,
                char_offset: 0,
            };
            assert!(parse(&piece).is_none(), "{text}");
        }
    }

    #[test]
    fn spark_create_table_with_every_clause() {
        let CatalogStatement::CreateTable(create) = parsed(
            "CREATE TABLE IF NOT EXISTS `sales`.Orders (id BIGINT COMMENT 'key', tags array<string>, \
             m map<string,array<int>>, price decimal(10, 2)) USING csv OPTIONS (header 'true', sep '|') \
             PARTITIONED BY (dt) LOCATION '/data/orders' COMMENT 'all orders' \
             TBLPROPERTIES ('owner.team' = 'data', retention=30)",
        ) else {
            panic!("not a create table");
        };
        assert_eq!(
            create.name,
            ObjectName(vec!["sales".into(), "orders".into()])
        );
        assert!(create.if_not_exists && !create.external);
        let columns = create.columns.unwrap();
        assert_eq!(columns.len(), 4);
        assert_eq!(columns[0].comment.as_deref(), Some("key"));
        assert_eq!(columns[2].data_type.to_string(), "map<string,array<int>>");
        assert_eq!(columns[3].data_type.to_string(), "decimal(10,2)");
        assert_eq!(create.format, Some(StorageFormat::Csv));
        assert_eq!(create.options.get("sep").map(String::as_str), Some("|"));
        assert_eq!(create.partitioned_by[0].name, "dt");
        assert_eq!(create.partitioned_by[0].data_type, None);
        assert_eq!(create.location.as_deref(), Some("/data/orders"));
        assert_eq!(
            create.properties.get("retention").map(String::as_str),
            Some("30")
        );
    }

    #[test]
    fn hive_create_table_and_ctas() {
        let CatalogStatement::CreateTable(create) = parsed(
            "create external table logs (line string) partitioned by (year int, month string) \
             row format delimited fields terminated by '\\t' null defined as '' stored as textfile \
             location 's3://bucket/logs/'",
        ) else {
            panic!();
        };
        assert!(create.external);
        assert_eq!(create.partitioned_by[0].data_type, Some(HiveType::Int));
        assert_eq!(
            create.options.get("field.delim").map(String::as_str),
            Some("\\t")
        );
        let CatalogStatement::CreateTable(ctas) =
            parsed("CREATE TABLE t USING parquet AS SELECT a, \"B\" FROM x WHERE y > 1;")
        else {
            panic!();
        };
        assert_eq!(
            ctas.query.as_deref(),
            Some("SELECT a, \"B\" FROM x WHERE y > 1")
        );
    }

    #[test]
    fn views_keep_their_query_text() {
        let CatalogStatement::CreateView(view) =
            parsed("CREATE OR REPLACE GLOBAL TEMP VIEW v (a COMMENT 'x', b) AS\n  SELECT 1, 'é'  ")
        else {
            panic!();
        };
        assert_eq!(view.kind, ViewKind::GlobalTemporary);
        assert!(view.or_replace);
        assert_eq!(view.columns.len(), 2);
        assert_eq!(view.body, ViewBody::Query("SELECT 1, 'é'".into()));
        let CatalogStatement::CreateView(files) =
            parsed("CREATE TEMPORARY VIEW f USING parquet OPTIONS (path '/x/y')")
        else {
            panic!();
        };
        assert!(matches!(files.body, ViewBody::Files { .. }));
    }

    #[test]
    fn partitions_and_show_statements() {
        let CatalogStatement::AlterTable { change, .. } = parsed(
            "ALTER TABLE t ADD IF NOT EXISTS PARTITION (year=2024, region='eu') LOCATION '/x' \
             PARTITION (year=2025, region=NULL)",
        ) else {
            panic!();
        };
        let AlterTable::AddPartitions {
            if_not_exists,
            partitions,
        } = change
        else {
            panic!();
        };
        assert!(if_not_exists);
        assert_eq!(
            partitions[1].0,
            vec![
                ("year".into(), Some(PartitionValue::Text("2025".into()))),
                ("region".into(), Some(PartitionValue::Null))
            ]
        );
        assert!(matches!(
            parsed("SHOW TABLES IN sales LIKE 'ord*'"),
            CatalogStatement::ShowTables {
                database: Some(_),
                pattern: Some(_),
                views_only: false
            }
        ));
        assert!(matches!(
            parsed("desc formatted t"),
            CatalogStatement::DescribeTable { extended: true, .. }
        ));
        assert_eq!(
            parsed("describe extended db.t Qty"),
            CatalogStatement::DescribeColumn {
                name: ObjectName(vec!["db".into(), "t".into()]),
                column: "qty".into(),
                extended: true
            }
        );
        assert_eq!(
            parsed("DESCRIBE FUNCTION EXTENDED Upper"),
            CatalogStatement::DescribeFunction {
                name: "upper".into(),
                extended: true
            }
        );
        assert!(matches!(
            parsed("DESCRIBE function"),
            CatalogStatement::DescribeTable { .. }
        ));
        for (sql, expected) in [
            ("MSCK REPAIR TABLE db.t", RepairMode::Add),
            ("MSCK REPAIR TABLE t ADD PARTITIONS", RepairMode::Add),
            ("msck repair table t drop partitions", RepairMode::Drop),
            ("MSCK REPAIR TABLE t SYNC PARTITIONS", RepairMode::Sync),
            ("ALTER TABLE t RECOVER PARTITIONS", RepairMode::Add),
        ] {
            assert!(
                matches!(parsed(sql), CatalogStatement::RepairTable { mode, .. } if mode == expected),
                "{sql}"
            );
        }
        assert_eq!(
            error("MSCK REPAIR TABLE t SYNC").kind,
            crate::error::ErrorKind::Syntax
        );
    }

    #[test]
    fn errors_have_positions_and_kinds() {
        let e = error("CREATE TABLE t (a int) USING orc");
        assert_eq!(e.kind, crate::error::ErrorKind::FeatureNotSupported);
        let e = error("CREATE TABLE t (a int) USING banana");
        assert_eq!(e.kind, crate::error::ErrorKind::InvalidParameterValue);
        let e = error("CREATE TABLE t (a intt)");
        assert_eq!(e.kind, crate::error::ErrorKind::UndefinedObject);
        assert_eq!(e.position, Some(19));
        let e = error("CREATE DATABASE db FOO");
        assert_eq!(e.message, "syntax error at or near \"FOO\"");
        assert_eq!(e.position, Some(20));
    }

    #[test]
    fn inserts_in_both_dialects() {
        let CatalogStatement::Insert(insert) =
            parsed("INSERT OVERWRITE TABLE db.t PARTITION (year=2024, month) SELECT * FROM s")
        else {
            panic!();
        };
        assert!(insert.overwrite);
        assert_eq!(insert.partition.as_ref().map(Vec::len), Some(2));
        assert_eq!(insert.query, "SELECT * FROM s");
        let CatalogStatement::Insert(insert) = parsed("insert into t (a, \"B\") values (1, 'x')")
        else {
            panic!();
        };
        assert_eq!(insert.columns, vec!["a".to_string(), "B".to_string()]);
        assert_eq!(insert.query, "values (1, 'x')");
        assert!(!insert.by_name);
        let CatalogStatement::Insert(insert) =
            parsed("INSERT INTO t PARTITION (d) BY NAME SELECT 1 AS a")
        else {
            panic!();
        };
        assert!(insert.by_name && insert.columns.is_empty());
        assert_eq!(insert.query, "SELECT 1 AS a");
        let CatalogStatement::Insert(insert) = parsed("INSERT INTO t (SELECT 1)") else {
            panic!();
        };
        assert!(insert.columns.is_empty());
        assert_eq!(insert.query, "(SELECT 1)");
    }

    #[test]
    fn postgres_type_spellings() {
        assert_eq!(hive_type("text").unwrap(), HiveType::String);
        assert_eq!(hive_type("double  precision").unwrap(), HiveType::Double);
        assert_eq!(hive_type("INT8").unwrap(), HiveType::BigInt);
        assert_eq!(
            hive_type("numeric(12,3)").unwrap().to_string(),
            "decimal(12,3)"
        );
    }
}
