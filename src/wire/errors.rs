//! The one place error kinds become SQLSTATE codes, and lakeport errors become
//! ErrorResponse / NoticeResponse messages.

use pgwire::error::{ErrorInfo, PgWireError};
use pgwire::messages::response::{ErrorResponse, NoticeResponse};

use crate::error::{Error, ErrorKind};
use crate::session::Notice;
use crate::storage::errors::redact_secrets;

/// The SQLSTATE for an error kind.
pub fn sqlstate(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => "42601",
        ErrorKind::UndefinedTable => "42P01",
        ErrorKind::UndefinedColumn => "42703",
        ErrorKind::UndefinedFunction => "42883",
        ErrorKind::UndefinedObject => "42704",
        ErrorKind::UndefinedSchema => "3F000",
        ErrorKind::UndefinedDatabase => "3D000",
        ErrorKind::UndefinedCursor => "34000",
        ErrorKind::UndefinedPreparedStatement => "26000",
        ErrorKind::DuplicateObject => "42710",
        ErrorKind::DuplicateTable => "42P07",
        ErrorKind::WrongObjectType => "42809",
        ErrorKind::DuplicateSchema => "42P06",
        ErrorKind::DependentObjectsStillExist => "2BP01",
        ErrorKind::SerializationFailure => "40001",
        ErrorKind::DuplicateCursor => "42P03",
        ErrorKind::DuplicatePreparedStatement => "42P05",
        ErrorKind::AmbiguousColumn => "42702",
        ErrorKind::DatatypeMismatch => "42804",
        ErrorKind::InvalidTextRepresentation => "22P02",
        ErrorKind::InvalidBinaryRepresentation => "22P03",
        ErrorKind::DivisionByZero => "22012",
        ErrorKind::InvalidRegularExpression => "2201B",
        ErrorKind::ArraySubscriptError => "2202E",
        ErrorKind::InvalidDatetimeFormat => "22007",
        ErrorKind::DatetimeFieldOverflow => "22008",
        ErrorKind::CardinalityViolation => "21000",
        ErrorKind::NumericOutOfRange => "22003",
        ErrorKind::NullValueNotAllowed => "22004",
        ErrorKind::UniqueViolation => "23505",
        ErrorKind::InvalidParameterValue => "22023",
        ErrorKind::FeatureNotSupported => "0A000",
        ErrorKind::ResourcesExhausted => "53200",
        ErrorKind::TooManyConnections => "53300",
        ErrorKind::ProgramLimitExceeded => "54000",
        ErrorKind::QueryCanceled | ErrorKind::StatementTimeout => "57014",
        ErrorKind::InFailedTransaction => "25P02",
        ErrorKind::NoActiveTransaction => "25P01",
        ErrorKind::InvalidSavepoint => "3B001",
        ErrorKind::ProtocolViolation => "08P01",
        ErrorKind::InvalidCursorState => "24000",
        ErrorKind::InvalidStatement => "42P18",
        ErrorKind::DataException => "22000",
        ErrorKind::PermissionDenied => "42501",
        ErrorKind::InvalidPassword => "28P01",
        ErrorKind::InvalidAuthorization => "28000",
        ErrorKind::IdleInTransactionTimeout => "25P03",
        ErrorKind::IdleSessionTimeout => "57P05",
        ErrorKind::AdminShutdown => "57P01",
        ErrorKind::Storage => "58030",
        ErrorKind::Internal => "XX000",
    }
}

/// The ErrorResponse fields for `error` at severity `severity` ("ERROR" or "FATAL").
/// Configured storage secrets never leave the server, whatever produced the text.
pub fn error_info(error: &Error, severity: &str) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        severity.to_string(),
        sqlstate(error.kind).to_string(),
        redact_secrets(&error.message),
    );
    info.detail = error.detail.as_deref().map(redact_secrets);
    info.hint = error.hint.as_deref().map(redact_secrets);
    info.position = error.position.map(|p| p.to_string());
    info.severity_nonlocalized = Some(severity.to_string());
    info
}

pub fn error_response(error: &Error) -> ErrorResponse {
    error_info(error, "ERROR").into()
}

/// A statement error as pgwire's error type, for handlers that return it.
pub fn to_pgwire(error: &Error) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error, "ERROR")))
}

/// A connection-ending error.
pub fn fatal(error: &Error) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(error, "FATAL")))
}

pub fn notice_response(notice: &Notice) -> NoticeResponse {
    let mut info = ErrorInfo::new(
        notice.severity.to_string(),
        notice.code.to_string(),
        redact_secrets(&notice.message),
    );
    info.severity_nonlocalized = Some(notice.severity.to_string());
    info.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_only_for_internal() {
        assert_eq!(sqlstate(ErrorKind::Internal), "XX000");
        assert_eq!(sqlstate(ErrorKind::QueryCanceled), "57014");
        assert_eq!(sqlstate(ErrorKind::Syntax), "42601");
    }
}
