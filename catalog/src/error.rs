//! Catalog errors, classified by kind so that the server maps each kind to its SQLSTATE
//! (not found → 42P01 / 3F000, already exists → 42P07 / 42P06, ...) without parsing text.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogErrorKind {
    /// The database, table, view or partition does not exist.
    NotFound,
    /// An object of that name exists already.
    AlreadyExists,
    /// The request is malformed: a bad type string, a partition spec that does not match
    /// the keys, an empty name.
    Invalid,
    /// Valid, but not something this backend or lakeport does.
    Unsupported,
    /// The object changed underneath the request (a concurrent DDL, a non-empty database
    /// dropped without CASCADE).
    Conflict,
    /// The store failed: I/O, corruption, an unreachable metastore.
    Backend,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    pub kind: CatalogErrorKind,
    pub message: String,
}

impl CatalogError {
    pub fn new(kind: CatalogErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(CatalogErrorKind::Invalid, message)
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CatalogResult<T> = std::result::Result<T, CatalogError>;
