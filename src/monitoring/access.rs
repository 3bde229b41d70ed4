//! Who may use the monitoring UI and its API: they show every session's statements and can
//! cancel them, so they are for admins, as `pg_stat_activity` shows other users' statements
//! only to admins.
//!
//! While the server has no users and authenticates by trust (the embedded default), whoever
//! may connect may use the UI, when they name the server by an IP address or `localhost`
//! (so that a web page on a DNS name rebound to 127.0.0.1 cannot). Otherwise the browser sends HTTP Basic credentials, checked
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
        if self.open && !names_this_machine(request.header("host")) {
            return Err(Response::text(
                403,
                "without users the monitoring UI answers only requests for an IP address or \
                 localhost (a web page naming another host could reach it through DNS \
                 rebinding); open it as http://127.0.0.1:PORT/, or configure [[auth.users]]\n",
            ));
        }
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

/// Whether a `Host` header names this machine by an IP address or as `localhost`, not by
/// a DNS name an attacker's page could point at it. No header (not a browser): yes.
fn names_this_machine(host: Option<&str>) -> bool {
    let Some(host) = host.map(str::trim) else {
        return true;
    };
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed
            .split_once(']')
            .is_some_and(|(address, _)| address.parse::<std::net::Ipv6Addr>().is_ok());
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.to_ascii_lowercase();
    name.parse::<std::net::IpAddr>().is_ok() || name == "localhost" || name.ends_with(".localhost")
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
    fn only_addresses_and_localhost_name_this_machine() {
        for host in [
            "127.0.0.1:9430",
            "127.0.0.1",
            "[::1]:9430",
            "localhost:9430",
            "LOCALHOST",
            "ui.localhost:80",
            "10.1.2.3:9430",
        ] {
            assert!(names_this_machine(Some(host)), "{host}");
        }
        for host in [
            "attacker.example:9430",
            "attacker.example",
            "[evil]:1",
            "127.0.0.1.nip.io",
        ] {
            assert!(!names_this_machine(Some(host)), "{host}");
        }
        assert!(names_this_machine(None));
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
