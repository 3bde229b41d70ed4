//! Transaction blocks as clients see them.
//!
//! Reads are not transactional in lakeport: a transaction block only tracks what PostgreSQL
//! clients rely on — the status byte in ReadyForQuery, the command tags, savepoint names, and
//! the "aborted" state in which every statement but ROLLBACK fails with SQLSTATE 25P02.

use crate::error::{Error, ErrorKind, Result};

/// The status a client sees in ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    /// 'I': not in a transaction block.
    Idle,
    /// 'T': in a transaction block.
    InBlock,
    /// 'E': in a failed transaction block.
    Failed,
}

/// What a transaction statement says back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionOutcome {
    pub tag: &'static str,
    /// A WARNING to send as a notice, as PostgreSQL does for BEGIN inside a block.
    pub warning: Option<super::Notice>,
}

impl TransactionOutcome {
    fn tag(tag: &'static str) -> Self {
        Self { tag, warning: None }
    }

    fn warn(tag: &'static str, code: &'static str, warning: &str) -> Self {
        Self {
            tag,
            warning: Some(super::Notice::warning(code, warning)),
        }
    }
}

#[derive(Debug, Default)]
pub struct Transaction {
    status: Option<BlockState>,
}

#[derive(Debug)]
struct BlockState {
    failed: bool,
    /// Open savepoints, innermost last; a failure records how many were open.
    savepoints: Vec<String>,
}

impl Transaction {
    pub fn status(&self) -> TransactionStatus {
        match &self.status {
            None => TransactionStatus::Idle,
            Some(b) if b.failed => TransactionStatus::Failed,
            Some(_) => TransactionStatus::InBlock,
        }
    }

    /// BEGIN or START TRANSACTION, answered with `tag`.
    pub fn begin(&mut self, tag: &'static str) -> TransactionOutcome {
        if self.status.is_some() {
            return TransactionOutcome::warn(
                tag,
                "25001",
                "there is already a transaction in progress",
            );
        }
        self.status = Some(BlockState {
            failed: false,
            savepoints: Vec::new(),
        });
        TransactionOutcome::tag(tag)
    }

    /// COMMIT; a failed block is rolled back, and the tag says so.
    pub fn commit(&mut self) -> TransactionOutcome {
        match self.status.take() {
            None => {
                TransactionOutcome::warn("COMMIT", "25P01", "there is no transaction in progress")
            }
            Some(b) if b.failed => TransactionOutcome::tag("ROLLBACK"),
            Some(_) => TransactionOutcome::tag("COMMIT"),
        }
    }

    pub fn rollback(&mut self) -> TransactionOutcome {
        match self.status.take() {
            None => {
                TransactionOutcome::warn("ROLLBACK", "25P01", "there is no transaction in progress")
            }
            Some(_) => TransactionOutcome::tag("ROLLBACK"),
        }
    }

    pub fn savepoint(&mut self, name: &str) -> Result<TransactionOutcome> {
        let block = self.open_block("SAVEPOINT")?;
        block.savepoints.push(name.to_string());
        Ok(TransactionOutcome::tag("SAVEPOINT"))
    }

    pub fn release(&mut self, name: &str) -> Result<TransactionOutcome> {
        let block = self.open_block("RELEASE SAVEPOINT")?;
        let at = find_savepoint(block, name)?;
        block.savepoints.truncate(at);
        Ok(TransactionOutcome::tag("RELEASE"))
    }

    /// ROLLBACK TO SAVEPOINT: allowed in a failed block, and it clears the failure.
    pub fn rollback_to(&mut self, name: &str) -> Result<TransactionOutcome> {
        let block = self.status.as_mut().ok_or_else(|| {
            Error::new(
                ErrorKind::NoActiveTransaction,
                "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
            )
        })?;
        let at = find_savepoint(block, name)?;
        block.savepoints.truncate(at + 1);
        block.failed = false;
        Ok(TransactionOutcome::tag("ROLLBACK"))
    }

    /// Marks the block failed after a statement error; outside a block nothing changes.
    pub fn fail(&mut self) {
        if let Some(block) = &mut self.status {
            block.failed = true;
        }
    }

    /// The error for any statement other than ROLLBACK in a failed block.
    pub fn check_not_failed(&self) -> Result<()> {
        if self.status() == TransactionStatus::Failed {
            return Err(Error::new(
                ErrorKind::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            ));
        }
        Ok(())
    }

    fn open_block(&mut self, what: &str) -> Result<&mut BlockState> {
        match &mut self.status {
            None => Err(Error::new(
                ErrorKind::NoActiveTransaction,
                format!("{what} can only be used in transaction blocks"),
            )),
            Some(block) if block.failed => Err(Error::new(
                ErrorKind::InFailedTransaction,
                "current transaction is aborted, commands ignored until end of transaction block",
            )),
            Some(block) => Ok(block),
        }
    }
}

fn find_savepoint(block: &BlockState, name: &str) -> Result<usize> {
    block
        .savepoints
        .iter()
        .rposition(|s| s == name)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidSavepoint,
                format!("savepoint \"{name}\" does not exist"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_lifecycle() {
        let mut t = Transaction::default();
        assert_eq!(t.status(), TransactionStatus::Idle);
        assert_eq!(t.begin("BEGIN").tag, "BEGIN");
        assert_eq!(t.status(), TransactionStatus::InBlock);
        assert!(t.begin("BEGIN").warning.is_some());
        assert_eq!(t.commit().tag, "COMMIT");
        assert_eq!(t.status(), TransactionStatus::Idle);
        assert!(t.commit().warning.is_some());
    }

    #[test]
    fn failure_until_rollback() {
        let mut t = Transaction::default();
        t.fail();
        assert_eq!(t.status(), TransactionStatus::Idle);
        t.begin("BEGIN");
        t.fail();
        assert_eq!(t.status(), TransactionStatus::Failed);
        assert_eq!(
            t.check_not_failed().unwrap_err().kind,
            ErrorKind::InFailedTransaction
        );
        assert_eq!(t.commit().tag, "ROLLBACK");
        assert_eq!(t.status(), TransactionStatus::Idle);
    }

    #[test]
    fn savepoints() {
        let mut t = Transaction::default();
        assert_eq!(
            t.savepoint("a").unwrap_err().kind,
            ErrorKind::NoActiveTransaction
        );
        t.begin("BEGIN");
        t.savepoint("a").unwrap();
        t.savepoint("b").unwrap();
        t.fail();
        assert!(t.savepoint("c").is_err());
        assert_eq!(t.rollback_to("a").unwrap().tag, "ROLLBACK");
        assert_eq!(t.status(), TransactionStatus::InBlock);
        assert_eq!(
            t.release("b").unwrap_err().kind,
            ErrorKind::InvalidSavepoint
        );
        assert_eq!(t.release("a").unwrap().tag, "RELEASE");
        assert!(t.release("a").is_err());
    }
}
