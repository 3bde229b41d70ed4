//! A check on message framing as bytes arrive, before pgwire's decoder sees them.
//!
//! pgwire accepts any length prefix up to 1 GiB, and its decoders read a body's fields
//! without checking that they end where the length says: a short read leaves the rest of the
//! body to be decoded as further messages, and a count or length past the end panics (the
//! fuzz target in `fuzz/` found both). [`FrameCheck`] follows the byte stream message by
//! message and stops it at the first byte that breaks the protocol: a startup packet shorter
//! than 8 bytes or longer than 10,000 whose parameter list does not end at its last byte,
//! an SSLRequest or GSSENCRequest that is not 8 bytes, a CancelRequest that is not 16, a message length under 4 or over
//! `server.max_message_size`, a Query or CopyFail that is not exactly one terminated string,
//! a Sync, Flush, Terminate or CopyDone with a body, a Parse, Bind, Execute, Describe or
//! Close whose fields do not read exactly to its end. [`Guarded`] applies it to a socket:
//! bytes before the offending one are delivered, then the read fails with the
//! [`Violation`], so the message is never decoded.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// PostgreSQL's limit on startup packets.
const MAX_STARTUP_LENGTH: usize = 10_000;
const SSL_REQUEST: u32 = 80877103;
const GSSENC_REQUEST: u32 = 80877104;
const CANCEL_REQUEST: u32 = 80877102;

/// How a client broke the framing rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    StartupLength(usize),
    Length {
        kind: char,
        length: usize,
    },
    TooLong {
        kind: char,
        length: usize,
        limit: usize,
    },
    Unterminated {
        kind: char,
    },
    UnexpectedBody {
        kind: char,
    },
    /// Counts or lengths inside the body that run past its end, or bytes left over.
    Malformed {
        kind: char,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Violation::StartupLength(length) => {
                write!(f, "invalid length of startup packet: {length}")
            }
            Violation::Length { kind, length } => {
                write!(
                    f,
                    "invalid message length {length} for message type \"{kind}\""
                )
            }
            Violation::TooLong {
                kind,
                length,
                limit,
            } => write!(
                f,
                "message type \"{kind}\" of {length} bytes is longer than server.max_message_size ({limit} bytes)"
            ),
            Violation::Unterminated { kind } => {
                write!(
                    f,
                    "invalid message format: message type \"{kind}\" does not end its string"
                )
            }
            Violation::UnexpectedBody { kind } => {
                write!(
                    f,
                    "invalid message format: message type \"{kind}\" takes no body"
                )
            }
            Violation::Malformed { kind } => write!(
                f,
                "invalid message format: the counts and lengths in message type \"{kind}\" do not match its length"
            ),
        }
    }
}

impl std::error::Error for Violation {}

/// Where the stream is: inside a header (bytes gathered so far) or a body (bytes left).
#[derive(Debug)]
enum Position {
    StartupHeader {
        header: Vec<u8>,
    },
    Header {
        header: Vec<u8>,
    },
    Body {
        kind: Option<char>,
        left: usize,
        terminated: bool,
        next_untyped: bool,
    },
}

/// Follows message boundaries in a stream of frontend bytes.
#[derive(Debug)]
pub struct FrameCheck {
    position: Position,
    max_message_size: usize,
    last_body_byte: Option<u8>,
    /// Where a startup packet's body is in its list of name/value strings; pgwire stops at
    /// the list's terminator, so nothing may follow it.
    parameters: Parameters,
    /// Zero bytes in the body of a message that is one string (Query, CopyFail): exactly
    /// one, its terminator, or pgwire would decode what follows it as further messages.
    zeros: usize,
    /// The body so far of a message whose layout is checked whole before pgwire decodes it
    /// ([`CHECKED_KINDS`]: pgwire's decoders panic on counts and lengths that run past the
    /// message).
    body: Vec<u8>,
}

impl FrameCheck {
    /// A check for a connection whose next message is a startup packet.
    pub fn new(max_message_size: usize) -> Self {
        Self {
            position: Position::StartupHeader { header: Vec::new() },
            max_message_size,
            last_body_byte: None,
            parameters: Parameters::default(),
            zeros: 0,
            body: Vec::new(),
        }
    }

    /// Scans the next bytes; on a violation, the index of the byte that broke the rules.
    pub fn scan(&mut self, bytes: &[u8]) -> Result<(), (usize, Violation)> {
        let mut at = 0;
        while at < bytes.len() {
            match &mut self.position {
                Position::StartupHeader { header } => {
                    header.push(bytes[at]);
                    at += 1;
                    if header.len() < 8 {
                        continue;
                    }
                    let length =
                        u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
                    let code = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
                    let negotiation = code == SSL_REQUEST || code == GSSENC_REQUEST;
                    // pgwire reads a negotiation request as 8 bytes and a cancel request as 16
                    // (the 4-byte keys it hands out), whatever their lengths say.
                    let valid = match code {
                        _ if negotiation => length == 8,
                        CANCEL_REQUEST => length == 16,
                        _ => (8..=MAX_STARTUP_LENGTH).contains(&length),
                    };
                    if !valid {
                        return Err((at - 1, Violation::StartupLength(length)));
                    }
                    let terminated = !negotiation && code != CANCEL_REQUEST;
                    self.start_body(None, length - 8, terminated, negotiation);
                }
                Position::Header { header } => {
                    header.push(bytes[at]);
                    at += 1;
                    if header.len() < 5 {
                        continue;
                    }
                    let kind = header[0] as char;
                    let length =
                        u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
                    if length < 4 {
                        return Err((at - 1, Violation::Length { kind, length }));
                    }
                    if length > self.max_message_size {
                        return Err((
                            at - 1,
                            Violation::TooLong {
                                kind,
                                length,
                                limit: self.max_message_size,
                            },
                        ));
                    }
                    if length > 4 && matches!(kind, 'S' | 'H' | 'X' | 'c') {
                        return Err((at - 1, Violation::UnexpectedBody { kind }));
                    }
                    let terminated = matches!(kind, 'Q' | 'f');
                    self.start_body(Some(kind), length - 4, terminated, false);
                }
                Position::Body {
                    kind,
                    left,
                    terminated,
                    next_untyped,
                } => {
                    let take = (*left).min(bytes.len() - at);
                    *left -= take;
                    at += take;
                    if take > 0 {
                        self.last_body_byte = Some(bytes[at - 1]);
                        match kind {
                            None => {
                                for byte in &bytes[at - take..at] {
                                    self.parameters.push(*byte);
                                }
                            }
                            Some(kind) if CHECKED_KINDS.contains(kind) => {
                                self.body.extend_from_slice(&bytes[at - take..at])
                            }
                            Some(_) => {
                                self.zeros +=
                                    bytes[at - take..at].iter().filter(|b| **b == 0).count()
                            }
                        }
                    }
                    if *left > 0 {
                        continue;
                    }
                    let (kind, terminated, next_untyped) = (*kind, *terminated, *next_untyped);
                    self.end_body(kind, terminated, next_untyped)
                        .map_err(|violation| (at.saturating_sub(1), violation))?;
                }
            }
        }
        if let Position::Body {
            kind,
            left: 0,
            terminated,
            next_untyped,
        } = self.position
        {
            self.end_body(kind, terminated, next_untyped)
                .map_err(|v| (bytes.len().saturating_sub(1), v))?;
        }
        Ok(())
    }

    /// Enters a body of `left` bytes; `terminated`: it must end with a zero byte.
    fn start_body(
        &mut self,
        kind: Option<char>,
        left: usize,
        terminated: bool,
        next_untyped: bool,
    ) {
        self.last_body_byte = None;
        self.parameters = Parameters::default();
        self.zeros = 0;
        self.body.clear();
        self.position = Position::Body {
            kind,
            left,
            terminated,
            next_untyped,
        };
    }

    fn end_body(
        &mut self,
        kind: Option<char>,
        terminated: bool,
        next_untyped: bool,
    ) -> Result<(), Violation> {
        let complete = match kind {
            None => self.parameters.is_complete(),
            Some(_) => self.zeros == 1,
        };
        if terminated && (self.last_body_byte != Some(0) || !complete) {
            return Err(Violation::Unterminated {
                kind: kind.unwrap_or('\0'),
            });
        }
        if let Some(kind) = kind.filter(|k| CHECKED_KINDS.contains(k))
            && !well_formed(kind, &self.body)
        {
            return Err(Violation::Malformed { kind });
        }
        self.position = match next_untyped {
            true => Position::StartupHeader { header: Vec::new() },
            false => Position::Header { header: Vec::new() },
        };
        Ok(())
    }
}

/// The name/value strings of a startup packet, byte by byte: complete when the empty name
/// that ends the list is the last byte.
#[derive(Debug, Default)]
struct Parameters {
    /// Inside a value (after a name's terminator).
    in_value: bool,
    /// Bytes of the current name or value so far.
    length: usize,
    /// The list's terminator has been read.
    ended: bool,
    /// Bytes followed the terminator.
    trailing: bool,
}

impl Parameters {
    fn push(&mut self, byte: u8) {
        if self.ended {
            self.trailing = true;
        } else if byte != 0 {
            self.length += 1;
        } else if !self.in_value && self.length == 0 {
            self.ended = true;
        } else {
            self.in_value = !self.in_value;
            self.length = 0;
        }
    }

    fn is_complete(&self) -> bool {
        self.ended && !self.trailing
    }
}

/// Message types whose bodies are read field by field before pgwire decodes them.
const CHECKED_KINDS: [char; 5] = ['B', 'P', 'E', 'D', 'C'];

/// Reads the fields of a body, failing on any that runs past its end.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn cstring(&mut self) -> Option<()> {
        let end = self.0.iter().position(|b| *b == 0)?;
        self.0 = &self.0[end + 1..];
        Some(())
    }

    fn bytes(&mut self, count: usize) -> Option<&[u8]> {
        let (head, tail) = (self.0.get(..count)?, self.0.get(count..)?);
        self.0 = tail;
        Some(head)
    }

    fn int16(&mut self) -> Option<i16> {
        self.bytes(2).map(|b| i16::from_be_bytes([b[0], b[1]]))
    }

    fn int32(&mut self) -> Option<i32> {
        self.bytes(4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A count (never negative) of items `size` bytes each, and the items.
    fn counted(&mut self, size: usize) -> Option<()> {
        let count = usize::try_from(self.int16()?).ok()?;
        self.bytes(count.checked_mul(size)?).map(|_| ())
    }

    fn end(&self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

/// Whether a body of message type `kind` reads exactly to its end: Parse (name, query,
/// parameter type OIDs), Bind (names, format codes, values with length -1 for NULL, result
/// format codes), Execute (portal, row limit), Describe and Close ('S' or 'P', name).
fn well_formed(kind: char, body: &[u8]) -> bool {
    let mut fields = Fields(body);
    let read = match kind {
        'P' => (|| {
            fields.cstring()?;
            fields.cstring()?;
            fields.counted(4)?;
            fields.end()
        })(),
        'B' => (|| {
            fields.cstring()?;
            fields.cstring()?;
            fields.counted(2)?;
            let values = usize::try_from(fields.int16()?).ok()?;
            for _ in 0..values {
                match fields.int32()? {
                    -1 => {}
                    length => {
                        fields.bytes(usize::try_from(length).ok()?)?;
                    }
                }
            }
            fields.counted(2)?;
            fields.end()
        })(),
        'E' => (|| {
            fields.cstring()?;
            fields.int32()?;
            fields.end()
        })(),
        'D' | 'C' => (|| {
            matches!(fields.bytes(1)?, [b'S' | b'P']).then_some(())?;
            fields.cstring()?;
            fields.end()
        })(),
        _ => Some(()),
    };
    read.is_some()
}

/// A socket whose reads pass through a [`FrameCheck`].
pub struct Guarded<S> {
    inner: S,
    check: FrameCheck,
    failed: Option<Violation>,
}

impl<S> Guarded<S> {
    /// Guards `inner`; `buffered` holds bytes already read from it, which are checked first
    /// (and cut at a violation, which the next read then reports).
    pub fn new(inner: S, mut check: FrameCheck, buffered: &mut bytes::BytesMut) -> Self {
        let failed = match check.scan(buffered) {
            Ok(()) => None,
            Err((at, violation)) => {
                buffered.truncate(at);
                Some(violation)
            }
        };
        Self {
            inner,
            check,
            failed,
        }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

fn violation_error(violation: Violation) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, violation)
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(violation) = &this.failed {
            return Poll::Ready(Err(violation_error(violation.clone())));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        let Err((at, violation)) = this.check.scan(&buf.filled()[before..]) else {
            return Poll::Ready(Ok(()));
        };
        buf.set_filled(before + at);
        this.failed = Some(violation.clone());
        match at {
            0 => Poll::Ready(Err(violation_error(violation))),
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The framing violation behind an I/O error, if that is what it is.
pub fn violation_of(error: &io::Error) -> Option<&Violation> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Violation>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let body = b"\0\x03\0\0user\0kit\0\0";
        let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        packet.extend_from_slice(body);
        packet
    }

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    fn scan_in_pieces(bytes: &[u8], piece: usize) -> Result<(), (usize, Violation)> {
        let mut check = FrameCheck::new(1000);
        for (i, chunk) in bytes.chunks(piece).enumerate() {
            check.scan(chunk).map_err(|(at, v)| (i * piece + at, v))?;
        }
        Ok(())
    }

    #[test]
    fn a_well_formed_stream_passes_whatever_the_read_sizes() {
        let mut stream = startup();
        stream.extend(message(b'Q', b"SELECT 1\0"));
        stream.extend(message(b'P', b"\0SELECT $1\0\0\0"));
        stream.extend(message(b'S', b""));
        stream.extend(message(b'X', b""));
        for piece in [1, 2, 3, 7, stream.len()] {
            assert_eq!(scan_in_pieces(&stream, piece), Ok(()), "piece {piece}");
        }
    }

    #[test]
    fn ssl_request_is_followed_by_another_startup_packet() {
        let mut stream = vec![0, 0, 0, 8, 4, 210, 22, 47];
        stream.extend(startup());
        stream.extend(message(b'Q', b"SELECT 1\0"));
        assert_eq!(scan_in_pieces(&stream, 3), Ok(()));
        let long_ssl_request = [0, 0, 1, 8, 4, 210, 22, 47];
        assert_eq!(
            scan_in_pieces(&long_ssl_request, 8).unwrap_err().1,
            Violation::StartupLength(264),
            "an SSLRequest is 8 bytes"
        );
        let cancel = [0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(scan_in_pieces(&cancel, 3), Ok(()));
    }

    #[test]
    fn stops_at_the_first_broken_rule() {
        let mut stream = startup();
        let good = stream.len();
        stream.extend(message(b'Q', b"SELECT 1"));
        let (at, violation) = scan_in_pieces(&stream, 4).unwrap_err();
        assert_eq!(violation, Violation::Unterminated { kind: 'Q' });
        assert_eq!(at, stream.len() - 1);
        assert!(at >= good);

        let mut short = startup();
        short.extend([b'Q', 0, 0, 0, 3]);
        assert_eq!(
            scan_in_pieces(&short, 2).unwrap_err().1,
            Violation::Length {
                kind: 'Q',
                length: 3
            }
        );

        let mut long = startup();
        long.extend([b'Q', 0, 0, 0x10, 0]);
        assert_eq!(
            scan_in_pieces(&long, 100).unwrap_err(),
            (
                long.len() - 1,
                Violation::TooLong {
                    kind: 'Q',
                    length: 4096,
                    limit: 1000
                }
            )
        );

        let mut sync = startup();
        sync.extend(message(b'S', b"x"));
        assert_eq!(
            scan_in_pieces(&sync, 100).unwrap_err().1,
            Violation::UnexpectedBody { kind: 'S' }
        );

        let unterminated_startup = {
            let body = b"\0\x03\0\0user\0kit\0";
            let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
            packet.extend_from_slice(body);
            packet
        };
        assert_eq!(
            scan_in_pieces(&unterminated_startup, 5).unwrap_err().1,
            Violation::Unterminated { kind: '\0' }
        );
        assert_eq!(
            scan_in_pieces(&[0, 0x10, 0, 0, 0, 3, 0, 0], 8)
                .unwrap_err()
                .1,
            Violation::StartupLength(0x100000)
        );

        let mut bind = startup();
        bind.extend(message(b'B', b"p\0s\0\0\0\0\x01\0\0\0\x09ab\0\0"));
        assert_eq!(
            scan_in_pieces(&bind, 3).unwrap_err().1,
            Violation::Malformed { kind: 'B' },
            "a value length past the message"
        );
    }

    #[test]
    fn startup_parameters_end_with_their_terminator() {
        let complete = |body: &[u8]| {
            let mut parameters = Parameters::default();
            body.iter().for_each(|b| parameters.push(*b));
            parameters.is_complete()
        };
        assert!(complete(b"user\0kit\0\0"));
        assert!(complete(b"user\0\0\0"), "an empty value");
        assert!(complete(b"\0"), "no parameters");
        assert!(!complete(b"user\0kit\0"));
        assert!(!complete(b"user\0\0"));
        assert!(!complete(b"user\0kit\0\0P\0"), "bytes after the terminator");
    }

    #[test]
    fn extended_query_bodies_are_checked_whole() {
        let good: &[&[u8]] = &[
            b"\0\0\0\0\0\0\0\0",
            b"p\0s\0\0\x01\0\x01\0\x02\0\0\0\x017\xff\xff\xff\xff\0\x01\0\x01",
        ];
        for body in good {
            assert!(well_formed('B', body), "{body:?}");
        }
        let bad: &[&[u8]] = &[
            b"p\0s",
            b"p\0s\0\0\x05\0\x01",
            b"p\0s\0\0\0\0\x01\0\0\0\x09ab\0\0",
            b"p\0s\0\0\0\0\x01\xff\xff\xff\xfe\0\0",
            b"p\0s\0\0\0\0\0\0\0extra",
            b"p\0s\0\xff\xff",
        ];
        for body in bad {
            assert!(!well_formed('B', body), "{body:?}");
        }
        assert!(well_formed('P', b"s\0SELECT $1\0\0\x01\0\0\0\x17"));
        assert!(!well_formed('P', b"s\0SELECT $1\0\0\x03\0\0\0\x17"));
        assert!(!well_formed('P', b"s\0SELECT $1\0\xff\xff"));
        assert!(well_formed('E', b"p\0\0\0\0\x0a"));
        assert!(!well_formed('E', b"p\0\0\0"));
        assert!(well_formed('D', b"Sname\0") && well_formed('C', b"P\0"));
        assert!(!well_formed('D', b"Xname\0") && !well_formed('C', b"S\0extra"));
    }
}
