//! One client connection from accept to close.
//!
//! pgwire's `process_socket` runs a fixed loop; lakeport runs its own around pgwire's
//! `negotiate_tls` and `process_message` so that it can: check framing before decoding
//! ([`framing`](super::framing)), give startup and authentication one deadline, close
//! sessions idle past `idle_session_timeout` or `idle_in_transaction_session_timeout`, close
//! idle sessions when shutdown starts, and answer undecodable input with a FATAL error
//! instead of a silent disconnect — also when pgwire's decoder panics on it (its Bind
//! decoder does on a parameter length past the message's end, found by the fuzz target).

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use pgwire::api::{ClientInfo, PgWireConnectionState, PgWireServerHandlers};
use pgwire::error::PgWireError;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::tokio::server::{
    PgWireMessageServerCodec, negotiate_tls, process_error, process_message,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::{Framed, FramedParts};

use crate::error::{Error, ErrorKind};
use crate::session::TransactionStatus;
use crate::wire::errors::error_info;
use crate::wire::framing::{FrameCheck, Guarded, violation_of};
use crate::wire::{ConnectionState, Handlers};

/// Startup, TLS negotiation and authentication together must finish within this.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one client connection until it ends.
pub async fn serve_connection(socket: TcpStream, handlers: Arc<Handlers>) -> std::io::Result<()> {
    let startup_deadline = Instant::now() + STARTUP_TIMEOUT;
    let registry = handlers.inner.registry.clone();
    let acceptor = handlers.inner.tls.as_ref().map(|tls| tls.acceptor.clone());
    let negotiated = tokio::select! {
        _ = tokio::time::sleep_until(startup_deadline) => return Ok(()),
        _ = registry.draining().cancelled() => return Ok(()),
        negotiated = negotiate_tls(socket, acceptor) => negotiated?,
    };
    let Some(socket) = negotiated else {
        return Ok(());
    };
    let mut socket = guarded(socket, handlers.inner.max_message_size);

    let handler = handlers.inner.clone();
    let copy = handlers.copy_handler();
    loop {
        let wait = wait_limit(&socket, startup_deadline).await;
        let closes_on_shutdown = matches!(
            socket.state(),
            PgWireConnectionState::AwaitingStartup
                | PgWireConnectionState::AuthenticationInProgress
                | PgWireConnectionState::ReadyForQuery
                | PgWireConnectionState::AwaitingSync
        );
        let termination = termination(&socket);
        let message = tokio::select! {
            message = std::panic::AssertUnwindSafe(socket.next()).catch_unwind() => match message {
                Ok(message) => message,
                Err(_) => {
                    tracing::warn!("pgwire's decoder panicked on a malformed message");
                    let error = Error::new(ErrorKind::ProtocolViolation, "invalid message format");
                    send_fatal(&mut socket, &error).await;
                    break;
                }
            },
            _ = sleep_until(wait.as_ref().map(|(deadline, _)| *deadline)) => {
                if let Some((_, Some(error))) = wait {
                    tracing::info!(error = %error.message, "closing idle session");
                    send_fatal(&mut socket, &error).await;
                }
                break;
            }
            _ = registry.draining().cancelled(), if closes_on_shutdown => {
                send_fatal(&mut socket, &Error::admin_shutdown()).await;
                break;
            }
            _ = termination, if closes_on_shutdown => {
                send_fatal(&mut socket, &Error::admin_shutdown()).await;
                break;
            }
        };
        let message = match message {
            None => break,
            Some(Ok(message)) => message,
            Some(Err(error)) => {
                send_fatal(&mut socket, &undecodable(&error)).await;
                break;
            }
        };
        if matches!(message, PgWireFrontendMessage::Terminate(_)) {
            break;
        }
        let is_cancel_request = matches!(message, PgWireFrontendMessage::CancelRequest(_));
        let is_extended_query = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let statement = statement_text(&message);
        let processed = std::panic::AssertUnwindSafe(process_message(
            message,
            &mut socket,
            handler.clone(),
            handler.clone(),
            handler.clone(),
            copy.clone(),
            handler.clone(),
        ))
        .catch_unwind()
        .await
        .unwrap_or_else(|payload| {
            let error = Error::from_panic(payload.as_ref());
            tracing::error!(error = %error.message, statement = statement.as_deref().unwrap_or(""), "statement panicked");
            Err(PgWireError::UserError(Box::new(error_info(&error, "ERROR"))))
        });
        if let Err(error) = processed {
            let is_fatal = error.is_fatal();
            process_error(&mut socket, error, is_extended_query).await?;
            if is_fatal {
                break;
            }
        }
        if is_cancel_request {
            break;
        }
    }
    Ok(())
}

type Socket<S> = Framed<Guarded<S>, PgWireMessageServerCodec<String>>;

/// Puts the framing check between the socket and pgwire's decoder, starting with the bytes
/// pgwire already read while negotiating TLS.
fn guarded<S>(
    socket: Framed<S, PgWireMessageServerCodec<String>>,
    max_message_size: usize,
) -> Socket<S>
where
    S: AsyncRead + AsyncWrite,
{
    let parts = socket.into_parts();
    let mut read_buf = parts.read_buf;
    let io = Guarded::new(parts.io, FrameCheck::new(max_message_size), &mut read_buf);
    let mut guarded = FramedParts::new(io, parts.codec);
    guarded.read_buf = read_buf;
    guarded.write_buf = parts.write_buf;
    Framed::from_parts(guarded)
}

/// How long to wait for the next message, and the error to close with when it does not come
/// (`None`: close silently, as PostgreSQL does when startup times out).
async fn wait_limit<S: 'static>(
    socket: &Socket<S>,
    startup_deadline: Instant,
) -> Option<(Instant, Option<Error>)> {
    match socket.state() {
        PgWireConnectionState::AwaitingStartup
        | PgWireConnectionState::AuthenticationInProgress => Some((startup_deadline, None)),
        PgWireConnectionState::ReadyForQuery => {
            let state = socket.session_extensions().get::<ConnectionState>()?;
            let connection = state.connection.lock().await;
            let in_transaction = connection.transaction_status() != TransactionStatus::Idle;
            let timeout_ms = connection.session.variables.idle_timeout_ms(in_transaction);
            if timeout_ms == 0 {
                return None;
            }
            let error = match in_transaction {
                true => Error::new(
                    ErrorKind::IdleInTransactionTimeout,
                    "terminating connection due to idle-in-transaction timeout",
                ),
                false => Error::new(
                    ErrorKind::IdleSessionTimeout,
                    "terminating connection due to idle-session timeout",
                ),
            };
            Some((
                Instant::now() + Duration::from_millis(timeout_ms),
                Some(error),
            ))
        }
        _ => None,
    }
}

/// Resolves when `pg_terminate_backend` ends this connection (never before startup ends).
fn termination<S: 'static>(socket: &Socket<S>) -> impl std::future::Future<Output = ()> + use<S> {
    let token = socket
        .session_extensions()
        .get::<ConnectionState>()
        .map(|state| state.registration.control.terminated().clone());
    async move {
        match token {
            Some(token) => token.cancelled_owned().await,
            None => std::future::pending().await,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The SQL a message carries, for the log when handling it panics.
fn statement_text(message: &PgWireFrontendMessage) -> Option<String> {
    match message {
        PgWireFrontendMessage::Query(query) => Some(query.query.clone()),
        PgWireFrontendMessage::Parse(parse) => Some(parse.query.clone()),
        _ => None,
    }
}

/// The error for input that cannot be decoded.
fn undecodable(error: &PgWireError) -> Error {
    let message = match error {
        PgWireError::IoError(io) => match violation_of(io) {
            Some(violation) => violation.to_string(),
            None => format!("could not receive data from client: {io}"),
        },
        other => format!("invalid frontend message: {other}"),
    };
    Error::new(ErrorKind::ProtocolViolation, message)
}

async fn send_fatal<S>(socket: &mut Socket<S>, error: &Error)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let info = error_info(error, "FATAL");
    let _ = socket
        .send(PgWireBackendMessage::ErrorResponse(info.into()))
        .await;
}
