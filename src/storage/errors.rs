//! Object-store failures as PostgreSQL errors: SQLSTATE 58030 naming the location, with
//! credentials scrubbed from whatever text the store client produced.

use std::sync::OnceLock;

use crate::error::{Error, ErrorKind};

/// Configured secret values, scrubbed from every storage message. Set once at startup.
static SECRETS: OnceLock<Vec<String>> = OnceLock::new();

/// Remembers the configured secrets so that [`scrub`] removes them from later messages.
pub fn remember_secrets(secrets: Vec<String>) {
    let _ = SECRETS.set(secrets.into_iter().filter(|s| !s.is_empty()).collect());
}

fn configured() -> &'static [String] {
    SECRETS.get().map(Vec::as_slice).unwrap_or_default()
}

/// A storage failure while doing `action` ("read", "list", "write", ...) at `location`.
pub fn storage_error(action: &str, location: &str, error: &object_store::Error) -> Error {
    let location = scrub_configured(location);
    let cause = scrub_configured(&error.to_string());
    let base = match error {
        object_store::Error::NotFound { .. } => {
            return Error::new(
                ErrorKind::Storage,
                format!("location \"{location}\" does not exist"),
            );
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => Error::new(
            ErrorKind::Storage,
            format!("cannot {action} \"{location}\": access denied"),
        )
        .with_hint("check the credentials and permissions of the store in [storage]"),
        _ => Error::new(
            ErrorKind::Storage,
            format!("cannot {action} \"{location}\""),
        ),
    };
    base.with_detail(cause)
}

/// `text` with every secret replaced and the query strings of URLs (which may carry
/// signatures or SAS tokens) removed.
pub fn scrub(text: &str, secrets: &[impl AsRef<str>]) -> String {
    strip_url_queries(&replace_secrets(text, secrets))
}

/// Scrubs with the secrets remembered at startup.
pub fn scrub_configured(text: &str) -> String {
    scrub(text, configured())
}

/// `text` with the secrets remembered at startup replaced; nothing else changes. Every
/// message sent to a client passes through here.
pub fn redact_secrets(text: &str) -> String {
    replace_secrets(text, configured())
}

fn replace_secrets(text: &str, secrets: &[impl AsRef<str>]) -> String {
    let mut text = text.to_string();
    for secret in secrets.iter().map(AsRef::as_ref) {
        if !secret.is_empty() && text.contains(secret) {
            text = text.replace(secret, "<redacted>");
        }
    }
    text
}

fn strip_url_queries(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, url) = rest.split_at(start);
        out.push_str(before);
        let end = url
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | '>' | ','))
            .unwrap_or(url.len());
        let (url, after) = url.split_at(end);
        match url.split_once('?') {
            Some((path, _)) => {
                out.push_str(path);
                out.push_str("?<redacted>");
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_url_queries_are_scrubbed() {
        let text = "error sending request for url (https://acct.blob.core.windows.net/c/x?sig=abc&se=1): key hunter2 rejected";
        let scrubbed = scrub(text, &["hunter2"]);
        assert_eq!(
            scrubbed,
            "error sending request for url (https://acct.blob.core.windows.net/c/x?<redacted>): key <redacted> rejected"
        );
        assert_eq!(
            scrub("s3://warehouse/t/ is fine", &[""]),
            "s3://warehouse/t/ is fine"
        );
    }

    #[test]
    fn not_found_and_other_failures_name_the_location() {
        let missing = object_store::Error::NotFound {
            path: "t/x".into(),
            source: "gone".into(),
        };
        let e = storage_error("list", "s3://warehouse/t/", &missing);
        assert_eq!(e.kind, ErrorKind::Storage);
        assert!(e.message.contains("s3://warehouse/t/"), "{}", e.message);
        let down = object_store::Error::Generic {
            store: "S3",
            source: "connection refused".into(),
        };
        let e = storage_error("read", "s3://warehouse/t/", &down);
        assert_eq!(e.message, "cannot read \"s3://warehouse/t/\"");
        assert!(e.detail.unwrap().contains("connection refused"));
    }
}
