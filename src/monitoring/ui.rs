//! The monitoring UI's files, built into the binary: one page (`ui/index.html`), its
//! script and its style sheet. The page reads `/api/…` and draws everything in the browser;
//! it loads nothing from anywhere else.

use super::http::Response;

const INDEX: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/style.css");

/// The UI file at `path`, if there is one.
pub fn asset(path: &str) -> Option<Response> {
    let (content_type, body) = match path {
        "/" | "/ui" | "/ui/" => ("text/html; charset=utf-8", INDEX),
        "/ui/app.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/ui/style.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    Some(Response::new(200, content_type, body).with_header(
        "Content-Security-Policy",
        "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:",
    ))
}
