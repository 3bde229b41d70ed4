//! Errors classified by kind.
//!
//! Every failure inside lakeport is an [`Error`] with an [`ErrorKind`]; `wire::errors` maps the
//! kind to a SQLSTATE, once. Messages follow PostgreSQL's style: lowercase, no final period,
//! objects named and quoted; details and hints go in their own fields.
//!
//! DataFusion's errors are classified in [`Error::from_datafusion`], the one place that reads
//! them; errors that lakeport raises inside DataFusion callbacks travel as
//! `DataFusionError::External` and come back out unchanged.

use std::fmt;

use datafusion::arrow::error::ArrowError;
use datafusion::common::{DataFusionError, SchemaError};

/// What went wrong, in the terms a client can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The statement does not parse.
    Syntax,
    UndefinedTable,
    UndefinedColumn,
    UndefinedFunction,
    UndefinedObject,
    UndefinedSchema,
    UndefinedDatabase,
    /// A cursor, portal or prepared statement that does not exist.
    UndefinedCursor,
    UndefinedPreparedStatement,
    DuplicateObject,
    /// The object exists but is of another kind (`DROP VIEW` on a table).
    WrongObjectType,
    DuplicateTable,
    DuplicateSchema,
    /// DROP of a schema that still holds objects, without CASCADE.
    DependentObjectsStillExist,
    /// Another connection changed the object first.
    SerializationFailure,
    DuplicateCursor,
    DuplicatePreparedStatement,
    AmbiguousColumn,
    DatatypeMismatch,
    /// A value's text cannot be read as its type.
    InvalidTextRepresentation,
    /// A binary parameter's bytes do not form a value of its type.
    InvalidBinaryRepresentation,
    DivisionByZero,
    /// A regular expression that does not compile.
    InvalidRegularExpression,
    /// An array index outside the array (Spark's `element_at`).
    ArraySubscriptError,
    /// A date or time text that does not match its format.
    InvalidDatetimeFormat,
    /// A date or time field outside its range (month 13, second 61).
    DatetimeFieldOverflow,
    /// A subquery used as a value returned more than one row.
    CardinalityViolation,
    NumericOutOfRange,
    /// A NULL where none may be (a map key).
    NullValueNotAllowed,
    /// A value that must be unique is not (a map key made twice).
    UniqueViolation,
    InvalidParameterValue,
    /// A statement the server cannot run (yet).
    FeatureNotSupported,
    /// Memory, disk or connection limits.
    ResourcesExhausted,
    TooManyConnections,
    /// A configured cap on what one statement may do (result rows).
    ProgramLimitExceeded,
    /// The client or an administrator asked to stop the statement.
    QueryCanceled,
    StatementTimeout,
    /// The transaction failed earlier; only ROLLBACK is allowed.
    InFailedTransaction,
    NoActiveTransaction,
    InvalidSavepoint,
    ProtocolViolation,
    InvalidCursorState,
    /// The SQL is valid but its meaning is not (e.g. a wrong argument count).
    InvalidStatement,
    /// Wrong data or an unexpected shape in a file.
    DataException,
    PermissionDenied,
    /// The client did not prove who it is (wrong user or password: both read the same).
    InvalidPassword,
    /// The connection may not authenticate this way (no TLS, trust from afar, no such role).
    InvalidAuthorization,
    /// The session sat idle past a timeout and is closed.
    IdleInTransactionTimeout,
    IdleSessionTimeout,
    /// The server is shutting down.
    AdminShutdown,
    /// Object storage or local file I/O failed.
    Storage,
    /// A bug in lakeport or a dependency.
    Internal,
}

/// An error with its kind and PostgreSQL-style message fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// 1-based character position in the statement text, for syntax errors.
    pub position: Option<usize>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            detail: None,
            hint: None,
            position: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_position(mut self, position: usize) -> Self {
        self.position = Some(position);
        self
    }

    pub fn syntax(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Syntax, message)
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FeatureNotSupported, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub fn canceled() -> Self {
        Self::new(
            ErrorKind::QueryCanceled,
            "canceling statement due to user request",
        )
    }

    pub fn statement_timeout() -> Self {
        Self::new(
            ErrorKind::StatementTimeout,
            "canceling statement due to statement timeout",
        )
    }

    /// A panic caught at a statement's boundary: a bug, reported as XX000.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Self::new(ErrorKind::Internal, format!("internal error: {what}"))
            .with_hint("this is a bug in lakeport; the server log has the statement")
    }

    pub fn admin_shutdown() -> Self {
        Self::new(
            ErrorKind::AdminShutdown,
            "terminating connection due to administrator command",
        )
    }

    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameterValue, message)
    }

    /// Wraps this error so it can cross a DataFusion callback and come back intact.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }

    /// Classifies an error raised by DataFusion or Arrow.
    pub fn from_datafusion(error: DataFusionError) -> Self {
        match error {
            DataFusionError::External(inner) => match inner.downcast::<Error>() {
                Ok(own) => *own,
                Err(other) => match other.downcast::<ArrowError>() {
                    Ok(arrow) => Self::from_arrow(*arrow),
                    Err(other) => match other.downcast::<std::io::Error>() {
                        Ok(io) => {
                            Self::new(ErrorKind::Storage, format!("could not read data: {io}"))
                        }
                        Err(other) => Self::new(ErrorKind::Internal, other.to_string()),
                    },
                },
            },
            DataFusionError::Context(context, inner) => {
                let mut error = Self::from_datafusion(*inner);
                if error.kind == ErrorKind::Internal {
                    error.message = format!("{context}: {}", error.message);
                }
                error
            }
            DataFusionError::Diagnostic(_, inner) => Self::from_datafusion(*inner),
            DataFusionError::Shared(shared) => match std::sync::Arc::try_unwrap(shared) {
                Ok(inner) => Self::from_datafusion(inner),
                Err(shared) => classify_message(&shared.to_string()),
            },
            DataFusionError::ArrowError(arrow, _) => Self::from_arrow(*arrow),
            DataFusionError::ParquetError(e) => Self::new(
                ErrorKind::DataException,
                format!("could not read Parquet data: {e}"),
            ),
            DataFusionError::ObjectStore(e) => Self::new(
                ErrorKind::Storage,
                format!(
                    "could not read data: {}",
                    crate::storage::errors::scrub_configured(&e.to_string())
                ),
            ),
            DataFusionError::IoError(e) => {
                Self::new(ErrorKind::Storage, format!("could not read data: {e}"))
            }
            DataFusionError::SQL(e, _) => Self::syntax(e.to_string()),
            DataFusionError::SchemaError(e, _) => Self::from_schema_error(*e),
            DataFusionError::NotImplemented(message) => {
                Self::unsupported(lowercase_first(strip_prefixes(&message)))
            }
            DataFusionError::ResourcesExhausted(message) => Self::new(
                ErrorKind::ResourcesExhausted,
                format!("out of memory: {}", lowercase_first(&message)),
            )
            .with_hint("raise engine.memory_limit or make the query need less memory"),
            DataFusionError::ExecutionJoin(e) => Self::internal(e.to_string()),
            DataFusionError::Plan(message) => classify_message(&message),
            DataFusionError::Execution(message) => classify_message(&message),
            DataFusionError::Configuration(message) => {
                Self::invalid_parameter(lowercase_first(&message))
            }
            DataFusionError::Substrait(message) => Self::internal(message),
            DataFusionError::Internal(message) => Self::internal(message),
            DataFusionError::Collection(errors) => match errors.into_iter().next() {
                Some(first) => Self::from_datafusion(first),
                None => Self::internal("empty error collection"),
            },
            other => classify_message(&other.to_string()),
        }
    }

    fn from_arrow(error: ArrowError) -> Self {
        match error {
            ArrowError::DivideByZero => Self::new(ErrorKind::DivisionByZero, "division by zero"),
            ArrowError::CastError(message) | ArrowError::ParseError(message) => Self::new(
                ErrorKind::InvalidTextRepresentation,
                lowercase_first(&message),
            ),
            ArrowError::ArithmeticOverflow(message) => {
                Self::new(ErrorKind::NumericOutOfRange, lowercase_first(&message))
            }
            ArrowError::ComputeError(message) if message.contains("Overflow") => {
                Self::new(ErrorKind::NumericOutOfRange, lowercase_first(&message))
            }
            ArrowError::MemoryError(message) => Self::new(ErrorKind::ResourcesExhausted, message),
            ArrowError::CsvError(message) => Self::new(
                ErrorKind::DataException,
                format!("malformed CSV data: {}", lowercase_first(&message)),
            ),
            ArrowError::ParquetError(message) => Self::new(
                ErrorKind::DataException,
                format!("malformed Parquet data: {}", lowercase_first(&message)),
            ),
            ArrowError::IoError(message, _) => Self::new(ErrorKind::Storage, message),
            ArrowError::ExternalError(inner) => match inner.downcast::<DataFusionError>() {
                Ok(df) => Self::from_datafusion(*df),
                Err(inner) => match inner.downcast::<Error>() {
                    Ok(own) => *own,
                    Err(inner) => Self::internal(inner.to_string()),
                },
            },
            ArrowError::InvalidArgumentError(message) => classify_message(&message),
            other => classify_message(&other.to_string()),
        }
    }

    fn from_schema_error(error: SchemaError) -> Self {
        match error {
            SchemaError::FieldNotFound { field, .. } => Self::new(
                ErrorKind::UndefinedColumn,
                format!("column \"{}\" does not exist", field.flat_name()),
            ),
            SchemaError::AmbiguousReference { field } => Self::new(
                ErrorKind::AmbiguousColumn,
                format!("column reference \"{}\" is ambiguous", field.name()),
            ),
            SchemaError::DuplicateQualifiedField { .. }
            | SchemaError::DuplicateUnqualifiedField { .. } => Self::new(
                ErrorKind::AmbiguousColumn,
                lowercase_first(&error.to_string()),
            ),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<DataFusionError> for Error {
    fn from(error: DataFusionError) -> Self {
        Self::from_datafusion(error)
    }
}

impl From<Error> for DataFusionError {
    fn from(error: Error) -> Self {
        error.into_datafusion()
    }
}

impl From<lakeport_catalog::CatalogError> for Error {
    fn from(error: lakeport_catalog::CatalogError) -> Self {
        use lakeport_catalog::{CatalogErrorKind as Kind, CatalogObject as Object};
        let kind = match (error.kind, error.object) {
            (Kind::NotFound, Some(Object::Database)) => ErrorKind::UndefinedSchema,
            (Kind::NotFound, Some(Object::Table)) => ErrorKind::UndefinedTable,
            (Kind::NotFound, _) => ErrorKind::UndefinedObject,
            (Kind::AlreadyExists, Some(Object::Database)) => ErrorKind::DuplicateSchema,
            (Kind::AlreadyExists, Some(Object::Table)) => ErrorKind::DuplicateTable,
            (Kind::AlreadyExists, _) => ErrorKind::DuplicateObject,
            (Kind::Invalid, _) => ErrorKind::InvalidParameterValue,
            (Kind::Unsupported, _) => ErrorKind::FeatureNotSupported,
            (Kind::Conflict, Some(Object::Database)) => ErrorKind::DependentObjectsStillExist,
            (Kind::Conflict, _) => ErrorKind::SerializationFailure,
            (Kind::Backend, _) => ErrorKind::Storage,
        };
        Self::new(kind, error.message)
    }
}

impl From<ArrowError> for Error {
    fn from(error: ArrowError) -> Self {
        Self::from_arrow(error)
    }
}

/// Classifies the text of a plan or execution error, for the cases DataFusion only reports as
/// strings. Unrecognised messages are internal errors: they mark a gap to close here.
fn classify_message(message: &str) -> Error {
    let message = strip_prefixes(message);
    let lower = message.to_ascii_lowercase();
    let kind = if lower.contains("divide by zero") || lower.contains("division by zero") {
        return Error::new(ErrorKind::DivisionByZero, "division by zero");
    } else if lower.starts_with("csv error") || lower.starts_with("parquet error") {
        ErrorKind::DataException
    } else if lower.contains("non-boolean predicate") {
        return Error::new(
            ErrorKind::DatatypeMismatch,
            "argument of WHERE must be type boolean",
        );
    } else if lower.starts_with("invalid function")
        || lower.contains("no function matches")
        || lower.contains("unknown function")
        || lower.contains("function does not exist")
    {
        ErrorKind::UndefinedFunction
    } else if lower.contains("cannot infer common")
        || lower.contains("no coercion")
        || lower.contains("does not support")
            && (lower.contains("type") || lower.contains("operation"))
        || lower.contains("cannot coerce")
        || lower.contains("failed to coerce")
        || lower.contains("invalid argument type")
        || lower.contains("unsupported data type")
        || lower.contains("type mismatch")
        || lower.contains("expected type")
        || lower.contains("but got")
        || lower.contains("signature")
        || lower.contains("coercion")
    {
        ErrorKind::DatatypeMismatch
    } else if lower.contains("cannot cast")
        || lower.contains("cannot parse")
        || lower.contains("error parsing")
    {
        ErrorKind::InvalidTextRepresentation
    } else if lower.contains("overflow") {
        ErrorKind::NumericOutOfRange
    } else if lower.contains("table") && lower.contains("not found")
        || lower.contains("no table named")
    {
        ErrorKind::UndefinedTable
    } else if lower.contains("no field named")
        || lower.contains("column") && lower.contains("not found")
    {
        ErrorKind::UndefinedColumn
    } else if lower.contains("unsupported")
        || lower.contains("not supported")
        || lower.contains("not implemented")
    {
        ErrorKind::FeatureNotSupported
    } else if lower.contains("memory") && (lower.contains("exhausted") || lower.contains("limit")) {
        ErrorKind::ResourcesExhausted
    } else if lower.contains("arguments") || lower.contains("argument") {
        ErrorKind::DatatypeMismatch
    } else {
        ErrorKind::Internal
    };
    Error::new(kind, lowercase_first(message))
}

/// Removes DataFusion's "Error during planning: " style prefixes, repeatedly.
fn strip_prefixes(message: &str) -> &str {
    const PREFIXES: &[&str] = &[
        "Error during planning: ",
        "Execution error: ",
        "This feature is not implemented: ",
        "Arrow error: ",
        "Invalid argument error: ",
        "Cast error: ",
        "Parser error: ",
        "Compute error: ",
        "External error: ",
        "Optimizer rule 'type_coercion' failed\ncaused by\n",
        "type_coercion\ncaused by\n",
    ];
    let mut message = message.trim();
    loop {
        let before = message;
        for prefix in PREFIXES {
            if let Some(rest) = message.strip_prefix(prefix) {
                message = rest.trim_start();
            }
        }
        if before == message {
            return message;
        }
    }
}

fn lowercase_first(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) if !chars.clone().next().is_some_and(|c| c.is_uppercase()) => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::common::Column;

    #[test]
    fn own_errors_survive_datafusion() {
        let original = Error::new(ErrorKind::UndefinedTable, "relation \"x\" does not exist");
        let back = Error::from_datafusion(original.clone().into_datafusion());
        assert_eq!(back, original);
        let wrapped = DataFusionError::Context(
            "planning".into(),
            Box::new(original.clone().into_datafusion()),
        );
        assert_eq!(Error::from_datafusion(wrapped), original);
    }

    #[test]
    fn arrow_errors_are_classified() {
        let e = Error::from_datafusion(DataFusionError::ArrowError(
            Box::new(ArrowError::DivideByZero),
            None,
        ));
        assert_eq!(e.kind, ErrorKind::DivisionByZero);
        let e = Error::from(ArrowError::CastError(
            "Cannot cast string 'abc' to value of Int32 type".into(),
        ));
        assert_eq!(e.kind, ErrorKind::InvalidTextRepresentation);
        assert_eq!(e.message, "cannot cast string 'abc' to value of Int32 type");
    }

    #[test]
    fn schema_errors_name_the_column() {
        let e = Error::from_datafusion(DataFusionError::SchemaError(
            Box::new(SchemaError::FieldNotFound {
                field: Box::new(Column::from_name("nope")),
                valid_fields: vec![],
            }),
            Box::new(None),
        ));
        assert_eq!(e.kind, ErrorKind::UndefinedColumn);
        assert_eq!(e.message, "column \"nope\" does not exist");
    }

    #[test]
    fn plan_messages_are_classified() {
        let e = Error::from_datafusion(DataFusionError::Plan("Invalid function 'nope'.".into()));
        assert_eq!(e.kind, ErrorKind::UndefinedFunction);
        let e = Error::from_datafusion(DataFusionError::Plan(
            "Cannot infer common argument type for comparison operation Int64 = Utf8".into(),
        ));
        assert_eq!(e.kind, ErrorKind::DatatypeMismatch);
    }
}
