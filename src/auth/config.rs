//! The `[auth]` section and the `[[auth.users]]` entries.

use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// How clients prove who they are; absent: `scram-sha-256` once users are listed,
    /// `trust` while there are none (see [`AuthConfig::method`]).
    pub method: Option<AuthMethod>,
    /// Allow `trust` on a non-loopback listen address. Off: the server refuses to start.
    pub allow_remote_trust: bool,
    /// How long a failed authentication waits before its error is sent.
    pub failure_delay: String,
    pub users: Vec<UserConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            method: None,
            allow_remote_trust: false,
            failure_delay: "1s".into(),
            users: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthMethod {
    /// No password: any configured user (or, with no users configured, anyone) from loopback.
    #[serde(rename = "trust")]
    Trust,
    /// SCRAM-SHA-256 (with channel binding over TLS when the client offers it).
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    /// MD5 challenge for users with an md5 verifier; SCRAM for the others.
    #[serde(rename = "md5")]
    Md5,
    /// The password in clear text, accepted only over TLS.
    #[serde(rename = "password")]
    Password,
}

impl AuthMethod {
    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::Trust => "trust",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Md5 => "md5",
            AuthMethod::Password => "password",
        }
    }
}

/// One user who may connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// A verifier printed by `lakeport passwd` (`SCRAM-SHA-256$…` or `md5…`), never the
    /// password itself; empty only under `trust`.
    #[serde(default)]
    pub password: String,
    #[serde(default)]
    pub role: Role,
    /// Schemas this user may read (and, with role `write`, change); absent: every schema.
    /// GRANT adds schemas and tables to it.
    #[serde(default)]
    pub schemas: Option<Vec<String>>,
    /// Session settings this user starts with, over `[session]` (as PostgreSQL's
    /// `ALTER ROLE … SET`): `settings = { statement_timeout = "30s" }`.
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
}

/// What a user may do, from least to most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Queries and session commands only.
    #[default]
    Read,
    /// Also INSERT and DDL in the schemas it may use.
    Write,
    /// Everything, in every schema, including GRANT and REVOKE.
    Admin,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Write => "write",
            Role::Admin => "admin",
        }
    }
}

impl AuthConfig {
    /// The method in force: as configured, or SCRAM-SHA-256 when users are listed (listing
    /// users must never leave them without passwords), or trust when none are.
    pub fn method(&self) -> AuthMethod {
        match (self.method, self.users.is_empty()) {
            (Some(method), _) => method,
            (None, false) => AuthMethod::ScramSha256,
            (None, true) => AuthMethod::Trust,
        }
    }

    /// Checks what parses but cannot work: unknown verifier formats, duplicate users, a
    /// password method without users.
    pub fn check(&self) -> Result<(), ConfigError> {
        crate::config::parse_duration("auth.failure_delay", &self.failure_delay)?;
        let mut names = std::collections::HashSet::new();
        for user in &self.users {
            if user.name.is_empty() {
                return Err(ConfigError("auth.users: a user without a name".into()));
            }
            if !names.insert(user.name.as_str()) {
                return Err(ConfigError(format!(
                    "auth.users: user \"{}\" is listed twice",
                    user.name
                )));
            }
            if user.password.is_empty() {
                if self.method() != AuthMethod::Trust {
                    return Err(ConfigError(format!(
                        "auth.users \"{}\": a password verifier is needed with auth.method = \"{}\" (make one with `lakeport passwd`)",
                        user.name,
                        self.method().name()
                    )));
                }
                continue;
            }
            super::Verifier::parse(&user.password).map_err(|reason| {
                ConfigError(format!(
                    "auth.users \"{}\": password is not a verifier ({reason}); store the output of `lakeport passwd`, never the password itself",
                    user.name
                ))
            })?;
        }
        if self.method() != AuthMethod::Trust && self.users.is_empty() {
            return Err(ConfigError(format!(
                "auth.method = \"{}\" needs at least one [[auth.users]] entry",
                self.method().name()
            )));
        }
        Ok(())
    }

    pub fn failure_delay(&self) -> std::time::Duration {
        crate::config::parse_duration("auth.failure_delay", &self.failure_delay)
            .unwrap_or(std::time::Duration::from_secs(1))
    }

    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|user| user.name == name)
    }
}
