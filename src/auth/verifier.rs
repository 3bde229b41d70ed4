//! Password verifiers: what the configuration stores instead of passwords, in PostgreSQL's
//! formats, so a verifier from `pg_authid.rolpassword` works here and the reverse.
//!
//! - SCRAM-SHA-256 (RFC 7677): `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`,
//!   base64 fields. The server never learns the password: it checks a client's proof
//!   against StoredKey and signs with ServerKey.
//! - MD5: `md5` followed by the hex MD5 of password + user name; the client answers a
//!   four-byte salt with `md5` + hex MD5(that hex + salt).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};

/// Iterations of new SCRAM verifiers: PostgreSQL's default.
pub const SCRAM_ITERATIONS: u32 = 4096;
const SCRAM_PREFIX: &str = "SCRAM-SHA-256$";
const SALT_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// A parsed verifier.
#[derive(Clone, PartialEq, Eq)]
pub enum Verifier {
    Scram(ScramVerifier),
    Md5 { hex: String },
}

#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verifier::Scram(_) => f.write_str("Verifier::Scram(..)"),
            Verifier::Md5 { .. } => f.write_str("Verifier::Md5(..)"),
        }
    }
}

impl std::fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScramVerifier {{ iterations: {}, .. }}", self.iterations)
    }
}

impl Verifier {
    /// Parses a stored verifier; the error says what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(hex) = text.strip_prefix("md5") {
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Verifier::Md5 {
                    hex: hex.to_ascii_lowercase(),
                });
            }
            return Err("an md5 verifier is \"md5\" and 32 hex digits".into());
        }
        let Some(rest) = text.strip_prefix(SCRAM_PREFIX) else {
            return Err("expected \"SCRAM-SHA-256$…\" or \"md5…\"".into());
        };
        let malformed = || "malformed SCRAM-SHA-256 verifier".to_string();
        let (parameters, keys) = rest.split_once('$').ok_or_else(malformed)?;
        let (iterations, salt) = parameters.split_once(':').ok_or_else(malformed)?;
        let (stored_key, server_key) = keys.split_once(':').ok_or_else(malformed)?;
        let decode = |field: &str| STANDARD.decode(field).map_err(|_| malformed());
        let verifier = ScramVerifier {
            iterations: iterations.parse().map_err(|_| malformed())?,
            salt: decode(salt)?,
            stored_key: decode(stored_key)?,
            server_key: decode(server_key)?,
        };
        if verifier.iterations == 0
            || verifier.salt.is_empty()
            || verifier.stored_key.len() != KEY_LEN
            || verifier.server_key.len() != KEY_LEN
        {
            return Err(malformed());
        }
        Ok(Verifier::Scram(verifier))
    }

    /// Checks a password received in clear text (over TLS).
    pub fn matches_cleartext(&self, user: &str, password: &str) -> bool {
        match self {
            Verifier::Scram(scram) => {
                let derived = ScramVerifier::derive(password, &scram.salt, scram.iterations);
                constant_time_eq(&derived.stored_key, &scram.stored_key)
            }
            Verifier::Md5 { hex } => {
                constant_time_eq(md5_hex(password, user).as_bytes(), hex.as_bytes())
            }
        }
    }
}

impl ScramVerifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn generate(password: &str) -> Self {
        let salt: [u8; SALT_LEN] = rand::random();
        Self::derive(password, &salt, SCRAM_ITERATIONS)
    }

    fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        let prepared = stringprep::saslprep(password).unwrap_or(password.into());
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(iterations).unwrap_or(std::num::NonZeroU32::MIN),
            salt,
            prepared.as_bytes(),
            &mut salted,
        );
        let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
        let client_key = hmac::sign(&key, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: digest::digest(&digest::SHA256, client_key.as_ref())
                .as_ref()
                .to_vec(),
            server_key: hmac::sign(&key, b"Server Key").as_ref().to_vec(),
        }
    }

    /// The verifier as stored in configuration.
    pub fn encode(&self) -> String {
        format!(
            "{SCRAM_PREFIX}{}:{}${}:{}",
            self.iterations,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.stored_key),
            STANDARD.encode(&self.server_key)
        )
    }

    /// A verifier no password matches, with a salt that is stable per user name, so that an
    /// exchange for a user who does not exist looks like one for a user who does.
    pub fn unmatchable(user: &str, server_secret: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, server_secret);
        let salt = hmac::sign(&key, user.as_bytes());
        let random: [u8; KEY_LEN] = rand::random();
        Self {
            iterations: SCRAM_ITERATIONS,
            salt: salt.as_ref()[..SALT_LEN].to_vec(),
            stored_key: random.to_vec(),
            server_key: random.to_vec(),
        }
    }
}

/// The md5 verifier text for a user's password.
pub fn md5_verifier(user: &str, password: &str) -> String {
    format!("md5{}", md5_hex(password, user))
}

/// Checks a client's answer (`md5…`) to an MD5 challenge with `salt`.
pub fn md5_response_matches(stored_hex: &str, salt: &[u8; 4], response: &str) -> bool {
    let mut input = stored_hex.as_bytes().to_vec();
    input.extend_from_slice(salt);
    let expected = format!("md5{:x}", md5::compute(&input));
    constant_time_eq(expected.as_bytes(), response.as_bytes())
}

fn md5_hex(password: &str, user: &str) -> String {
    format!("{:x}", md5::compute(format!("{password}{user}")))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_scram_verifier_round_trips_and_checks_passwords() {
        let verifier = ScramVerifier::generate("s3cret pass");
        let text = verifier.encode();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"), "{text}");
        let parsed = Verifier::parse(&text).unwrap();
        assert_eq!(parsed, Verifier::Scram(verifier));
        assert!(parsed.matches_cleartext("anyone", "s3cret pass"));
        assert!(!parsed.matches_cleartext("anyone", "s3cret pas"));
        assert_ne!(
            ScramVerifier::generate("x").salt,
            ScramVerifier::generate("x").salt
        );
    }

    #[test]
    fn accepts_a_verifier_made_by_postgresql() {
        // SELECT rolpassword FROM pg_authid after CREATE ROLE r PASSWORD 'pencil' (PG 15.18),
        // and the md5 one after SET password_encryption = 'md5' for role m.
        let text = "SCRAM-SHA-256$4096:ppNVwYBA6axtJ30Ct8KJUQ==$E8b7TYT6TX2DiPw8UsomSphgkk9nETQX92fuMp1oz0s=:CiDdKTh5xU9IouKEiTZps15tlh+pWEcvmjncD0ehefM=";
        let parsed = Verifier::parse(text).unwrap();
        assert!(parsed.matches_cleartext("r", "pencil"));
        assert!(!parsed.matches_cleartext("r", "Pencil"));
        let md5 = Verifier::parse("md58bbf3f45673bf67d02e4214911f3417f").unwrap();
        assert!(md5.matches_cleartext("m", "pencil"));
        assert_eq!(
            md5_verifier("m", "pencil"),
            "md58bbf3f45673bf67d02e4214911f3417f"
        );
        let Verifier::Scram(scram) = &parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(scram.encode(), text);
    }

    #[test]
    fn md5_verifier_and_challenge() {
        let stored = md5_verifier("alice", "pw");
        let Verifier::Md5 { hex } = Verifier::parse(&stored).unwrap() else {
            panic!()
        };
        let salt = [1, 2, 3, 4];
        let mut inner = hex.as_bytes().to_vec();
        inner.extend_from_slice(&salt);
        let answer = format!("md5{:x}", md5::compute(&inner));
        assert!(md5_response_matches(&hex, &salt, &answer));
        assert!(!md5_response_matches(&hex, &[4, 3, 2, 1], &answer));
        assert!(
            Verifier::parse(&stored)
                .unwrap()
                .matches_cleartext("alice", "pw")
        );
        assert!(
            !Verifier::parse(&stored)
                .unwrap()
                .matches_cleartext("bob", "pw")
        );
    }

    #[test]
    fn refuses_plain_passwords_and_broken_verifiers() {
        for text in [
            "hunter2",
            "md5abc",
            "SCRAM-SHA-256$4096:c2FsdA==",
            "SCRAM-SHA-256$x:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
        ] {
            assert!(Verifier::parse(text).is_err(), "{text}");
        }
    }
}
