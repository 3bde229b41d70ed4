//! One connection to a Hive Metastore's Thrift service (binary protocol on a plain,
//! unframed socket, as Hive 2.3 serves it): a call writes the method's argument struct and
//! reads its result struct, whose field 0 is the answer and whose other fields are the
//! method's declared exceptions.
//!
//! Blocking, with read and write timeouts; callers run it on tokio's blocking pool.

use std::io::{BufReader, BufWriter};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::thrift::{self, CALL, EXCEPTION, REPLY, Value};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("metastore connection: {0}")]
    Io(#[from] std::io::Error),
    /// A declared exception: the result struct's field `field` (a method's first exception
    /// is field 1), with its message.
    #[error("{message}")]
    Declared { field: i16, message: String },
    /// The server could not run the call (unknown method, bad arguments, internal error).
    #[error("metastore could not run {method}: {message}")]
    Application { method: String, message: String },
    #[error("metastore protocol: {0}")]
    Protocol(String),
}

/// A connection to the metastore.
pub struct Connection {
    reader: BufReader<TcpStream>,
    writer: BufWriter<TcpStream>,
    sequence: i32,
}

impl Connection {
    /// Connects to `address` (`host:port`), waiting at most `timeout` for the connection
    /// and for each read and write after it.
    pub fn connect(address: &str, timeout: Duration) -> Result<Self, CallError> {
        let mut last = None;
        for resolved in address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&resolved, timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(timeout))?;
                    stream.set_write_timeout(Some(timeout))?;
                    stream.set_nodelay(true)?;
                    return Ok(Self {
                        reader: BufReader::new(stream.try_clone()?),
                        writer: BufWriter::new(stream),
                        sequence: 0,
                    });
                }
                Err(error) => last = Some(error),
            }
        }
        Err(last
            .unwrap_or_else(|| std::io::Error::other(format!("{address} resolves to nothing")))
            .into())
    }

    /// Calls `method` with argument fields `args`; the answer (field 0 of the result), or
    /// `Value::Struct(vec![])` for a method that returns nothing.
    pub fn call(&mut self, method: &str, args: Vec<(i16, Value)>) -> Result<Value, CallError> {
        self.sequence = self.sequence.wrapping_add(1);
        thrift::write_message(
            &mut self.writer,
            method,
            CALL,
            self.sequence,
            &Value::Struct(args),
        )?;
        let (head, body) = thrift::read_message(&mut self.reader)?;
        if head.sequence != self.sequence || head.name != method {
            return Err(CallError::Protocol(format!(
                "reply {} #{} to call {method} #{}",
                head.name, head.sequence, self.sequence
            )));
        }
        match head.kind {
            REPLY => answer(body),
            EXCEPTION => Err(CallError::Application {
                method: method.to_string(),
                message: body
                    .field(1)
                    .and_then(Value::as_str)
                    .unwrap_or("no message")
                    .to_string(),
            }),
            other => Err(CallError::Protocol(format!(
                "message type {other} in a reply"
            ))),
        }
    }
}

/// The answer in a result struct, or its declared exception.
fn answer(body: Value) -> Result<Value, CallError> {
    let Value::Struct(mut fields) = body else {
        return Err(CallError::Protocol("a result that is not a struct".into()));
    };
    if let Some(position) = fields.iter().position(|(id, _)| *id == 0) {
        return Ok(fields.swap_remove(position).1);
    }
    match fields.into_iter().next() {
        Some((field, exception)) => Err(CallError::Declared {
            field,
            message: exception
                .field(1)
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_string(),
        }),
        None => Ok(Value::Struct(Vec::new())),
    }
}
