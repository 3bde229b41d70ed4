//! What one user may read and change: the role and schema allow list from `[[auth.users]]`,
//! widened by the SELECT grants stored in the catalog.
//!
//! - `admin`: everything, everywhere, and GRANT / REVOKE.
//! - `write`: reads and changes (INSERT, CREATE, ALTER, DROP) in its allowed schemas.
//! - `read`: reads in its allowed schemas; changes nothing in the catalog.
//!
//! A schema is allowed when the user has no allow list, when the list names it, or when a
//! grant gives the whole schema; a table is readable when its schema is allowed or a grant
//! names it. Grants give reading only. The system schemas (`pg_catalog`,
//! `information_schema`) are readable by everyone and show each user only what it may read.

use std::collections::BTreeSet;

use lakeport_catalog::Grant;

use crate::auth::{Identity, Role};
use crate::error::{Error, ErrorKind, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privileges {
    user: String,
    role: Role,
    /// Lower-case schema names from the allow list; `None`: every schema.
    allowed: Option<BTreeSet<String>>,
    granted_schemas: BTreeSet<String>,
    granted_tables: BTreeSet<(String, String)>,
}

impl Privileges {
    /// An admin's privileges, for `user`.
    pub fn admin(user: &str) -> Self {
        Self {
            user: user.to_string(),
            role: Role::Admin,
            allowed: None,
            granted_schemas: BTreeSet::new(),
            granted_tables: BTreeSet::new(),
        }
    }

    /// The privileges of `identity`, with the grants made to it among `grants`.
    pub fn new(identity: &Identity, grants: &[Grant]) -> Self {
        let mine = grants.iter().filter(|g| g.grantee == identity.user);
        let (schemas, tables): (Vec<&Grant>, Vec<&Grant>) = mine.partition(|g| g.table.is_none());
        Self {
            user: identity.user.clone(),
            role: identity.role,
            allowed: identity
                .schemas
                .as_ref()
                .map(|list| list.iter().map(|s| s.to_lowercase()).collect()),
            granted_schemas: schemas.iter().map(|g| g.database.clone()).collect(),
            granted_tables: tables
                .iter()
                .filter_map(|g| Some((g.database.clone(), g.table.clone()?)))
                .collect(),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether every table of `schema` may be read.
    pub fn reads_schema(&self, schema: &str) -> bool {
        self.is_admin() || self.allows(schema) || self.granted_schemas.contains(schema)
    }

    /// Whether `schema` shows up for this user at all: readable whole or in part.
    pub fn sees_schema(&self, schema: &str) -> bool {
        self.reads_schema(schema) || self.granted_tables.iter().any(|(s, _)| s == schema)
    }

    pub fn reads_table(&self, schema: &str, table: &str) -> bool {
        self.reads_schema(schema)
            || self
                .granted_tables
                .contains(&(schema.to_string(), table.to_string()))
    }

    /// Whether files may be read directly (Spark's ``parquet.`path` ``): only by users whose
    /// reading no schema allow list limits.
    pub fn reads_files(&self) -> bool {
        self.is_admin() || self.allowed.is_none()
    }

    fn allows(&self, schema: &str) -> bool {
        self.allowed
            .as_ref()
            .is_none_or(|list| list.contains(schema))
    }

    /// Reading `schema.table`; the error names the schema when none of it is visible.
    pub fn check_read(&self, schema: &str, table: &str) -> Result<()> {
        if self.reads_table(schema, table) {
            return Ok(());
        }
        Err(match self.sees_schema(schema) {
            true => denied(format!("permission denied for table {table}")),
            false => denied(format!("permission denied for schema {schema}")),
        })
    }

    /// Creating, changing or dropping objects in `schema` (or `schema` itself).
    pub fn check_change(&self, schema: &str, action: &str) -> Result<()> {
        if self.role < Role::Write {
            return Err(
                denied(format!("permission denied to {action}")).with_detail(format!(
                    "User \"{}\" has role read: it may run queries, not change the catalog.",
                    self.user
                )),
            );
        }
        if !self.is_admin() && !self.allows(schema) {
            return Err(
                denied(format!("permission denied for schema {schema}")).with_detail(format!(
                    "Schema \"{schema}\" is not among the schemas user \"{}\" may change.",
                    self.user
                )),
            );
        }
        Ok(())
    }

    /// Statements only admins may run.
    pub fn check_admin(&self, action: &str) -> Result<()> {
        match self.is_admin() {
            true => Ok(()),
            false => Err(denied(format!("permission denied to {action}"))
                .with_hint("only users with role admin may do this")),
        }
    }
}

fn denied(message: String) -> Error {
    Error::new(ErrorKind::PermissionDenied, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(role: Role, schemas: Option<&[&str]>) -> Identity {
        Identity {
            user: "ann".into(),
            role,
            schemas: schemas.map(|s| s.iter().map(|s| s.to_string()).collect()),
            settings: Default::default(),
        }
    }

    fn grant(grantee: &str, database: &str, table: Option<&str>) -> Grant {
        Grant {
            grantee: grantee.into(),
            database: database.into(),
            table: table.map(Into::into),
        }
    }

    #[test]
    fn allow_list_and_grants_decide_reading() {
        let grants = [
            grant("ann", "hr", Some("holidays")),
            grant("ann", "finance", None),
            grant("bob", "secret", None),
        ];
        let ann = Privileges::new(&identity(Role::Read, Some(&["Sales"])), &grants);
        assert!(ann.reads_table("sales", "orders"));
        assert!(ann.reads_table("finance", "ledger"));
        assert!(ann.reads_table("hr", "holidays"));
        assert!(!ann.reads_table("hr", "salaries"));
        assert!(ann.sees_schema("hr") && !ann.reads_schema("hr"));
        assert!(!ann.sees_schema("secret"));
        assert_eq!(
            ann.check_read("hr", "salaries").unwrap_err().message,
            "permission denied for table salaries"
        );
        assert_eq!(
            ann.check_read("secret", "x").unwrap_err().message,
            "permission denied for schema secret"
        );
        let everyone = Privileges::new(&identity(Role::Read, None), &[]);
        assert!(everyone.reads_table("secret", "x"));
    }

    #[test]
    fn roles_decide_changing() {
        let reader = Privileges::new(&identity(Role::Read, None), &[]);
        assert_eq!(
            reader
                .check_change("sales", "create table")
                .unwrap_err()
                .kind,
            ErrorKind::PermissionDenied
        );
        let writer = Privileges::new(
            &identity(Role::Write, Some(&["sales"])),
            &[grant("ann", "hr", None)],
        );
        assert!(writer.check_change("sales", "create table").is_ok());
        assert!(
            writer.check_change("hr", "create table").is_err(),
            "grants give reading only"
        );
        assert!(writer.check_admin("grant").is_err());
        let admin = Privileges::new(&identity(Role::Admin, Some(&["sales"])), &[]);
        assert!(admin.check_change("anything", "drop schema").is_ok());
        assert!(admin.reads_table("anything", "x"));
        assert!(admin.check_admin("grant").is_ok());
    }
}
