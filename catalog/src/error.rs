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

/// What kind of object an error is about, when it is about one: a missing database and a
/// missing table are both [`CatalogErrorKind::NotFound`] but have different SQLSTATEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogObject {
    Database,
    /// A table or a view.
    Table,
    Partition,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CatalogError {
    pub kind: CatalogErrorKind,
    pub object: Option<CatalogObject>,
    pub message: String,
}

impl CatalogError {
    pub fn new(kind: CatalogErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            object: None,
            message: message.into(),
        }
    }

    pub fn about(mut self, object: CatalogObject) -> Self {
        self.object = Some(object);
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(CatalogErrorKind::Invalid, message)
    }

    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(CatalogErrorKind::Backend, message)
    }

    pub fn database_not_found(name: &str) -> Self {
        Self::new(
            CatalogErrorKind::NotFound,
            format!("database \"{name}\" does not exist"),
        )
        .about(CatalogObject::Database)
    }

    pub fn table_not_found(database: &str, name: &str) -> Self {
        Self::new(
            CatalogErrorKind::NotFound,
            format!("table or view \"{database}.{name}\" does not exist"),
        )
        .about(CatalogObject::Table)
    }

    pub fn database_exists(name: &str) -> Self {
        Self::new(
            CatalogErrorKind::AlreadyExists,
            format!("database \"{name}\" already exists"),
        )
        .about(CatalogObject::Database)
    }

    pub fn table_exists(database: &str, name: &str) -> Self {
        Self::new(
            CatalogErrorKind::AlreadyExists,
            format!("table or view \"{database}.{name}\" already exists"),
        )
        .about(CatalogObject::Table)
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == CatalogErrorKind::NotFound
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CatalogResult<T> = std::result::Result<T, CatalogError>;
