//! Who may use the monitoring UI and its API: they show every session's statements and can
//! cancel them, so they are for admins, as `pg_stat_activity` shows other users' statements
//! only to admins.
//!
//! While the server has no users and authenticates by trust (the embedded default), whoever
//! may connect may use the UI. Otherwise the browser sends HTTP Basic credentials, checked
//! by the same rules and verifiers as a connection (`Authenticator::check_password`), and
//! the user must have role admin. `/metrics`, `/healthz` and `/readyz` show no statements
//! and stay open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::auth::{AuthMethod, Authenticator, Role};
use crate::config::Config;

use super::http::{Request, Response};

pub struct Access {
    authenticator: Authenticator,
    /// Trust and no users: everyone who may connect is an admin.
    open: bool,
}

impl Access {
    pub fn new(config: &Config) -> Self {
        Self {
            authenticator: Authenticator::new(config.auth.clone(), config.tls.require_remote),
            open: config.auth.method() == AuthMethod::Trust && config.auth.users.is_empty(),
        }
    }

    /// The admin making `request`, or the response refusing it.
    pub async fn admit(&self, request: &Request) -> Result<String, Response> {
        let credentials = basic_credentials(request);
        if self.open {
            let (user, _) = credentials.unwrap_or_default();
            return self
                .authenticator
                .check_password(&user, "", request.peer)
                .map(|identity| identity.user)
                .map_err(|error| Response::text(403, format!("{}\n", error.message)));
        }
        let Some((user, password)) = credentials else {
            return Err(ask_for_credentials());
        };
        match self
            .authenticator
            .check_password(&user, &password, request.peer)
        {
            Ok(identity) if identity.role == Role::Admin => Ok(identity.user),
            Ok(identity) => Err(Response::text(
                403,
                format!(
                    "user \"{}\" has role {}: the monitoring UI shows every session's \
                     statements and is only for users with role admin\n",
                    identity.user,
                    identity.role.name()
                ),
            )),
            Err(_) => {
                tokio::time::sleep(self.authenticator.failure_delay()).await;
                Err(ask_for_credentials())
            }
        }
    }
}

fn ask_for_credentials() -> Response {
    Response::text(
        401,
        "the monitoring UI needs an admin's user name and password\n",
    )
    .with_header(
        "WWW-Authenticate",
        "Basic realm=\"lakeport\", charset=\"UTF-8\"",
    )
}

/// The user name and password of an `Authorization: Basic` header.
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let encoded = request.header("authorization")?.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(authorization: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: "/api/queries".into(),
            query: String::new(),
            headers: authorization
                .map(|value| vec![("authorization".to_string(), value.to_string())])
                .unwrap_or_default(),
            body: Vec::new(),
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }

    #[test]
    fn basic_credentials_are_decoded_and_anything_else_is_none() {
        let encoded = STANDARD.encode("ann:pa:ss");
        assert_eq!(
            basic_credentials(&request(Some(&format!("Basic {encoded}")))),
            Some(("ann".into(), "pa:ss".into())),
            "the password may hold colons"
        );
        assert_eq!(basic_credentials(&request(None)), None);
        assert_eq!(basic_credentials(&request(Some("Bearer abc"))), None);
        assert_eq!(basic_credentials(&request(Some("Basic %%%"))), None);
    }
}
