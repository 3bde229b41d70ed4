//! Who may connect, how they prove it, and what they may do once in.
//!
//! [`config`] holds the `[auth]` section; [`verifier`] the SCRAM-SHA-256 and MD5 password
//! verifiers (PostgreSQL's formats); [`Authenticator`] decides, for one connection attempt,
//! which exchange to run (see `wire::startup`, which runs it). Nothing here speaks the wire
//! protocol.
//!
//! A user who does not exist is asked for a password exactly like one who does (with a
//! verifier nothing matches and a salt stable per name), and both failures read the same.

pub mod config;
pub mod privileges;
pub mod terminal;
pub mod verifier;

use std::net::SocketAddr;

pub use config::{AuthConfig, AuthMethod, Role, UserConfig};
pub use privileges::Privileges;
pub use verifier::{ScramVerifier, Verifier};

use crate::error::{Error, ErrorKind};

/// Who a connection authenticated as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub role: Role,
    /// Schemas from the user's allow list; `None`: every schema.
    pub schemas: Option<Vec<String>>,
    /// Session settings the user starts with.
    pub settings: std::collections::BTreeMap<String, String>,
}

/// The exchange a connection attempt must complete.
#[derive(Debug)]
pub enum Challenge {
    /// Let in without a password.
    None(Identity),
    Scram(ScramVerifier),
    Md5 {
        hex: String,
    },
    Cleartext(Option<Verifier>),
}

/// Applies `[auth]` and the TLS requirement to connection attempts.
pub struct Authenticator {
    config: AuthConfig,
    require_tls_remote: bool,
    /// Keys the fake salts of unknown users; random per process.
    secret: [u8; 32],
}

impl Authenticator {
    pub fn new(config: AuthConfig, require_tls_remote: bool) -> Self {
        Self {
            config,
            require_tls_remote,
            secret: rand::random(),
        }
    }

    pub fn method(&self) -> AuthMethod {
        self.config.method()
    }

    pub fn failure_delay(&self) -> std::time::Duration {
        self.config.failure_delay()
    }

    /// What `user`, connecting from `client` (over TLS when `secure`), must do to get in.
    pub fn challenge(
        &self,
        user: &str,
        client: SocketAddr,
        secure: bool,
    ) -> Result<Challenge, Error> {
        let loopback = client.ip().is_loopback();
        if self.require_tls_remote && !loopback && !secure {
            return Err(Error::new(
                ErrorKind::InvalidAuthorization,
                format!("connections from {} must use TLS", client.ip()),
            )
            .with_hint("connect with sslmode=require"));
        }
        let entry = self.config.user(user);
        match self.config.method() {
            AuthMethod::Trust => {
                if !loopback && !self.config.allow_remote_trust {
                    return Err(Error::new(
                        ErrorKind::InvalidAuthorization,
                        format!("trust authentication is not allowed from {}", client.ip()),
                    ));
                }
                match entry {
                    Some(entry) => Ok(Challenge::None(identity(entry))),
                    None if self.config.users.is_empty() => Ok(Challenge::None(Identity {
                        user: user.to_string(),
                        role: Role::Admin,
                        schemas: None,
                        settings: Default::default(),
                    })),
                    None => Err(Error::new(
                        ErrorKind::InvalidAuthorization,
                        format!("role \"{user}\" does not exist"),
                    )),
                }
            }
            AuthMethod::Password => {
                if !secure {
                    return Err(Error::new(
                        ErrorKind::InvalidAuthorization,
                        "password authentication in clear text needs a TLS connection",
                    )
                    .with_hint("connect with sslmode=require"));
                }
                Ok(Challenge::Cleartext(
                    entry.and_then(|e| Verifier::parse(&e.password).ok()),
                ))
            }
            AuthMethod::ScramSha256 | AuthMethod::Md5 => {
                match entry.map(|e| Verifier::parse(&e.password)) {
                    Some(Ok(Verifier::Scram(scram))) => Ok(Challenge::Scram(scram)),
                    Some(Ok(Verifier::Md5 { hex })) if self.config.method() == AuthMethod::Md5 => {
                        Ok(Challenge::Md5 { hex })
                    }
                    _ => Ok(Challenge::Scram(ScramVerifier::unmatchable(
                        user,
                        &self.secret,
                    ))),
                }
            }
        }
    }

    /// The identity of `user` after a successful password exchange.
    pub fn identity(&self, user: &str) -> Option<Identity> {
        self.config.user(user).map(identity)
    }

    /// Checks credentials given in clear text outside the wire protocol (the monitoring
    /// UI's HTTP Basic authentication) by the same rules as a connection from `client`:
    /// under trust the user only has to exist, otherwise the password must match the
    /// user's verifier. Only loopback counts as a secure channel (the listener is plain
    /// HTTP).
    pub fn check_password(
        &self,
        user: &str,
        password: &str,
        client: SocketAddr,
    ) -> Result<Identity, Error> {
        let secure = client.ip().is_loopback();
        let verifier = match self.challenge(user, client, secure)? {
            Challenge::None(identity) => return Ok(identity),
            Challenge::Scram(scram) => Some(Verifier::Scram(scram)),
            Challenge::Md5 { hex } => Some(Verifier::Md5 { hex }),
            Challenge::Cleartext(verifier) => verifier,
        };
        match verifier {
            Some(verifier) if verifier.matches_cleartext(user, password) => {
                self.identity(user).ok_or_else(|| password_failed(user))
            }
            _ => Err(password_failed(user)),
        }
    }
}

fn identity(entry: &UserConfig) -> Identity {
    Identity {
        user: entry.name.clone(),
        role: entry.role,
        schemas: entry.schemas.clone(),
        settings: entry.settings.clone(),
    }
}

/// The error every failed password exchange ends with, whatever went wrong.
pub fn password_failed(user: &str) -> Error {
    Error::new(
        ErrorKind::InvalidPassword,
        format!("password authentication failed for user \"{user}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(method: AuthMethod) -> AuthConfig {
        AuthConfig {
            method: Some(method),
            users: vec![UserConfig {
                name: "ann".into(),
                password: ScramVerifier::generate("pw").encode(),
                role: Role::Write,
                schemas: None,
                settings: Default::default(),
            }],
            ..AuthConfig::default()
        }
    }

    fn at(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 40000)
    }

    #[test]
    fn trust_is_for_loopback_unless_allowed() {
        let trusting = Authenticator::new(config(AuthMethod::Trust), false);
        assert!(matches!(
            trusting.challenge("ann", at("127.0.0.1"), false),
            Ok(Challenge::None(Identity {
                role: Role::Write,
                ..
            }))
        ));
        let remote = trusting.challenge("ann", at("10.1.2.3"), true).unwrap_err();
        assert_eq!(remote.kind, ErrorKind::InvalidAuthorization);
        let mut allowed = config(AuthMethod::Trust);
        allowed.allow_remote_trust = true;
        assert_eq!(
            AuthConfig {
                method: None,
                ..config(AuthMethod::Trust)
            }
            .method(),
            AuthMethod::ScramSha256,
            "listing users turns passwords on"
        );
        assert!(
            Authenticator::new(allowed, false)
                .challenge("ann", at("10.1.2.3"), false)
                .is_ok()
        );
        let anyone = Authenticator::new(AuthConfig::default(), false);
        assert!(matches!(
            anyone.challenge("whoever", at("::1"), false),
            Ok(Challenge::None(Identity {
                role: Role::Admin,
                ..
            }))
        ));
    }

    #[test]
    fn tls_requirements_apply_to_remote_clients_and_clear_text() {
        let scram = Authenticator::new(config(AuthMethod::ScramSha256), true);
        assert!(matches!(
            scram.challenge("ann", at("127.0.0.1"), false),
            Ok(Challenge::Scram(_))
        ));
        let plain_remote = scram
            .challenge("ann", at("192.168.0.9"), false)
            .unwrap_err();
        assert!(
            plain_remote.message.contains("must use TLS"),
            "{plain_remote:?}"
        );
        assert!(matches!(
            scram.challenge("ann", at("192.168.0.9"), true),
            Ok(Challenge::Scram(_))
        ));
        let cleartext = Authenticator::new(config(AuthMethod::Password), false);
        assert!(cleartext.challenge("ann", at("127.0.0.1"), false).is_err());
        assert!(matches!(
            cleartext.challenge("ann", at("127.0.0.1"), true),
            Ok(Challenge::Cleartext(Some(_)))
        ));
    }

    #[test]
    fn unknown_users_get_a_stable_salt_and_no_match() {
        let scram = Authenticator::new(config(AuthMethod::ScramSha256), false);
        let salt = |user: &str| match scram.challenge(user, at("127.0.0.1"), false) {
            Ok(Challenge::Scram(verifier)) => verifier.salt,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            salt("ghost"),
            salt("ghost"),
            "the same salt each time, as for real users"
        );
        assert_ne!(salt("ghost"), salt("phantom"));
        assert!(scram.identity("ghost").is_none());
    }

    #[test]
    fn clear_text_credentials_follow_the_connection_rules() {
        let scram = Authenticator::new(config(AuthMethod::ScramSha256), false);
        let ann = scram.check_password("ann", "pw", at("127.0.0.1")).unwrap();
        assert_eq!((ann.user.as_str(), ann.role), ("ann", Role::Write));
        assert!(
            scram
                .check_password("ann", "nope", at("127.0.0.1"))
                .is_err()
        );
        assert!(
            scram
                .check_password("ghost", "pw", at("127.0.0.1"))
                .is_err()
        );
        let trust = Authenticator::new(config(AuthMethod::Trust), false);
        assert!(trust.check_password("ann", "", at("127.0.0.1")).is_ok());
        assert!(trust.check_password("ann", "", at("192.168.0.9")).is_err());
        let cleartext = Authenticator::new(config(AuthMethod::Password), false);
        assert!(
            cleartext
                .check_password("ann", "pw", at("127.0.0.1"))
                .is_ok()
        );
        assert!(
            cleartext
                .check_password("ann", "pw", at("192.168.0.9"))
                .is_err()
        );
    }
}
