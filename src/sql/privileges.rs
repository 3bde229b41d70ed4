//! Privilege checks on statements, against the session's [`Privileges`]: catalog statements
//! before they touch anything but the catalog's names (queries are checked table by table as
//! their names resolve, in `exec::resolve`), and GRANT / REVOKE, which only admins run.

use datafusion::sql::sqlparser::ast::{
    Action, GrantObjects, Grantee, GranteeName, Privileges as SqlPrivileges, Statement,
};
use lakeport_catalog::Grant;

use crate::auth::{Privileges, Role};
use crate::error::{Error, ErrorKind, Result};
use crate::exec::catalog_bridge::GLOBAL_TEMP;
use crate::session::Notice;
use crate::sql::ddl::ast::{CatalogStatement, ObjectName, ViewKind};
use crate::sql::ddl::run::{Found, catalog, create_target, find, split_name};
use crate::sql::utility::ident_text;
use crate::sql::{Connection, Output};

/// Checks that the session may run `statement`.
pub async fn check_catalog(connection: &Connection, statement: &CatalogStatement) -> Result<()> {
    let privileges = connection.session.privileges.clone();
    if privileges.is_admin() {
        return Ok(());
    }
    use CatalogStatement as S;
    let change = match statement {
        S::CreateDatabase { .. } => Some("create schema"),
        S::DropDatabase { .. } => Some("drop schema"),
        S::CreateTable(_) => Some("create table"),
        S::Insert(_) => Some("insert into table"),
        S::CreateView(create) if create.kind == ViewKind::Persistent => Some("create view"),
        S::DropTable { .. } => Some("drop table"),
        S::AlterTable { .. } | S::RepairTable { .. } | S::AnalyzeTable { .. } => {
            Some("alter table")
        }
        _ => None,
    };
    let temporary_view =
        matches!(statement, S::DropTable { name, .. } if is_temporary(connection, name));
    if let Some(action) = change
        && privileges.role() == Role::Read
        && !temporary_view
    {
        return privileges.check_change("", action);
    }
    let action = change.unwrap_or_default();
    match statement {
        S::CreateDatabase { name, .. } | S::DropDatabase { name, .. } => {
            privileges.check_change(&name.to_lowercase(), action)
        }
        S::CreateTable(create) => check_create(connection, &privileges, &create.name, action).await,
        S::CreateView(create) if create.kind == ViewKind::Persistent => {
            check_create(connection, &privileges, &create.name, action).await
        }
        S::Insert(insert) => check_existing(connection, &privileges, &insert.name, change).await,
        S::DropTable { name, .. }
        | S::AlterTable { name, .. }
        | S::RepairTable { name, .. }
        | S::AnalyzeTable { name, .. } => {
            check_existing(connection, &privileges, name, change).await
        }
        S::RefreshTable(name)
        | S::CacheTable { name, query: None }
        | S::UncacheTable { name, .. }
        | S::ShowPartitions { name, .. }
        | S::ShowColumns(name)
        | S::ShowCreateTable(name)
        | S::ShowProperties { name, .. }
        | S::DescribeTable { name, .. }
        | S::DescribeColumn { name, .. } => {
            check_existing(connection, &privileges, name, None).await
        }
        S::DescribeDatabase { name, .. } => check_schema_visible(&privileges, name),
        S::ShowTables {
            database: Some(name),
            ..
        } => check_schema_visible(&privileges, name),
        _ => Ok(()),
    }
}

fn is_temporary(connection: &Connection, name: &ObjectName) -> bool {
    match split_name(connection, name) {
        Ok((None, object)) => connection.session.temp_views.contains_key(&object),
        _ => false,
    }
}

fn check_schema_visible(privileges: &Privileges, schema: &str) -> Result<()> {
    let schema = schema.to_lowercase();
    match privileges.sees_schema(&schema) {
        true => Ok(()),
        false => Err(Error::new(
            ErrorKind::PermissionDenied,
            format!("permission denied for schema {schema}"),
        )),
    }
}

/// Creating `name`: changing the schema it goes to.
async fn check_create(
    connection: &Connection,
    privileges: &Privileges,
    name: &ObjectName,
    action: &str,
) -> Result<()> {
    let (schema, _) = create_target(connection, name).await?;
    privileges.check_change(&schema, action)
}

/// Reading (`change` None) or changing an existing object; a name that finds nothing is left
/// to the statement to report.
async fn check_existing(
    connection: &Connection,
    privileges: &Privileges,
    name: &ObjectName,
    change: Option<&str>,
) -> Result<()> {
    let (schema, object) = match split_name(connection, name)? {
        (Some(schema), object) => (schema.to_lowercase(), object),
        (None, _) => match find(connection, name).await? {
            Some(Found::Temp(_)) | None => return Ok(()),
            Some(Found::GlobalTemp(view)) => (GLOBAL_TEMP.to_string(), view),
            Some(Found::Static(schema, table)) => (schema, table),
            Some(Found::Catalog(table)) => (table.database, table.name),
        },
    };
    match change {
        Some(action) => privileges.check_change(&schema, action),
        None => privileges.check_read(&schema, &object),
    }
}

/// GRANT or REVOKE of SELECT on schemas or tables to configured users.
pub async fn grant_or_revoke(connection: &mut Connection, statement: Statement) -> Result<Output> {
    let (granting, privileges, objects, grantees) = match statement {
        Statement::Grant(grant) => (true, grant.privileges, grant.objects, grant.grantees),
        Statement::Revoke(revoke) => (false, revoke.privileges, revoke.objects, revoke.grantees),
        _ => return Err(Error::internal("not a GRANT or REVOKE")),
    };
    let verb = if granting { "GRANT" } else { "REVOKE" };
    connection
        .session
        .privileges
        .check_admin(&format!("{} privileges", verb.to_lowercase()))?;
    let usage_only = selects_only(&privileges)?;
    let targets = targets(connection, objects.as_ref()).await?;
    let users: Vec<String> = grantees
        .iter()
        .map(|grantee| grantee_name(connection, grantee))
        .collect::<Result<_>>()?;
    if usage_only {
        connection.session.notice(Notice::plain(format!("{verb} USAGE changes nothing in lakeport: SELECT on a schema or table is what lets a user read")));
        return Ok(Output::Command(verb.to_string()));
    }
    let catalog = catalog(connection);
    for user in &users {
        for (database, table) in &targets {
            let grant = Grant {
                grantee: user.clone(),
                database: database.clone(),
                table: table.clone(),
            };
            match granting {
                true => catalog.metastore().grant(&grant).await?,
                false => catalog.metastore().revoke(&grant).await?,
            };
        }
    }
    catalog.invalidate_grants();
    tracing::info!(by = %connection.session.user, ?users, ?targets, verb, "privileges changed");
    Ok(Output::Command(verb.to_string()))
}

/// Whether the privileges are USAGE alone; anything but SELECT and USAGE is refused.
fn selects_only(privileges: &SqlPrivileges) -> Result<bool> {
    let actions = match privileges {
        SqlPrivileges::All { .. } => {
            return Err(Error::unsupported("lakeport grants SELECT only").with_hint(
                "GRANT SELECT ON SCHEMA name TO user, or GRANT SELECT ON name TO user",
            ));
        }
        SqlPrivileges::Actions(actions) => actions,
    };
    let mut usage_only = true;
    for action in actions {
        match action {
            Action::Select { columns: None } => usage_only = false,
            Action::Usage => {}
            other => {
                return Err(Error::unsupported(format!(
                    "lakeport grants SELECT only, not {other}"
                ))
                .with_hint("roles in [[auth.users]] decide who may change tables"));
            }
        }
    }
    Ok(usage_only)
}

/// The schemas (table `None`) and tables a GRANT names, as they exist in the catalog.
async fn targets(
    connection: &Connection,
    objects: Option<&GrantObjects>,
) -> Result<Vec<(String, Option<String>)>> {
    let name_of = |name: &datafusion::sql::sqlparser::ast::ObjectName| -> ObjectName {
        ObjectName(
            name.0
                .iter()
                .filter_map(|part| part.as_ident())
                .map(ident_text)
                .collect(),
        )
    };
    let mut targets = Vec::new();
    match objects {
        Some(GrantObjects::Schemas(schemas))
        | Some(GrantObjects::AllTablesInSchema { schemas }) => {
            for schema in schemas {
                let name = name_of(schema).to_string().to_lowercase();
                if !catalog(connection).is_database(&name).await? {
                    return Err(crate::sql::ddl::run::undefined_schema(&name));
                }
                targets.push((name, None));
            }
        }
        Some(GrantObjects::Tables(tables)) => {
            for table in tables {
                let name = name_of(table);
                match find(connection, &name).await? {
                    Some(Found::Catalog(table)) => targets.push((table.database, Some(table.name))),
                    Some(_) => {
                        return Err(Error::unsupported(format!(
                            "\"{name}\" is not a catalog table or view: grant SELECT on its schema"
                        )));
                    }
                    None => return Err(crate::sql::ddl::run::undefined_table(&name)),
                }
            }
        }
        _ => {
            return Err(Error::unsupported(
                "GRANT and REVOKE take SCHEMA names, ALL TABLES IN SCHEMA names, or table names",
            ));
        }
    }
    Ok(targets)
}

fn grantee_name(connection: &Connection, grantee: &Grantee) -> Result<String> {
    let name = match &grantee.name {
        Some(GranteeName::ObjectName(name)) if name.0.len() == 1 => {
            name.0[0].as_ident().map(ident_text).unwrap_or_default()
        }
        _ => return Err(Error::unsupported("grant to a user name")),
    };
    match connection.service.config.auth.user(&name) {
        Some(_) => Ok(name),
        None => Err(Error::new(
            ErrorKind::UndefinedObject,
            format!("role \"{name}\" does not exist"),
        )
        .with_hint("users are listed in [[auth.users]] in the configuration")),
    }
}
