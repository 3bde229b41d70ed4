//! Bad input on raw sockets: every case must end in an error response or a clean
//! disconnect within seconds — never a crash, a hang, or a server that stops serving the
//! other clients (checked after every case).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestServer, simple_rows};

/// How a case ended, seen from the client.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// An ErrorResponse with this SQLSTATE (the connection may stay open).
    Error(String),
    /// The server closed the connection without an error message.
    Closed,
    /// ReadyForQuery with no error before it.
    Ready,
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut packet = vec![tag];
    packet.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    packet.extend_from_slice(body);
    packet
}

fn startup(version: i32) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for part in ["user", "raw", "database", "lakeport"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend_from_slice(&body);
    packet
}

fn cstring(text: &[u8]) -> Vec<u8> {
    let mut bytes = text.to_vec();
    bytes.push(0);
    bytes
}

/// Parse of `sql` as statement `name` with parameter types `types`, a Bind of it whose body
/// after the portal and statement names is `bind_rest`, and Sync.
fn parse_bind_sync(name: &[u8], sql: &[u8], types: &[u32], bind_rest: &[u8]) -> Vec<u8> {
    let mut parse = cstring(name);
    parse.extend_from_slice(&cstring(sql));
    parse.extend_from_slice(&(types.len() as i16).to_be_bytes());
    for oid in types {
        parse.extend_from_slice(&oid.to_be_bytes());
    }
    let mut bind = cstring(b"");
    bind.extend_from_slice(&cstring(name));
    bind.extend_from_slice(bind_rest);
    let mut bytes = message(b'P', &parse);
    bytes.extend_from_slice(&message(b'B', &bind));
    bytes.extend_from_slice(&message(b'S', b""));
    bytes
}

/// Reads messages until an ErrorResponse, ReadyForQuery, or the end of the connection;
/// panics after ten seconds (a hang).
async fn outcome(socket: &mut TcpStream) -> Outcome {
    let read = async {
        loop {
            let Ok(tag) = socket.read_u8().await else {
                return Outcome::Closed;
            };
            let Ok(length) = socket.read_i32().await else {
                return Outcome::Closed;
            };
            let mut body = vec![0u8; (length as usize).saturating_sub(4)];
            if socket.read_exact(&mut body).await.is_err() {
                return Outcome::Closed;
            }
            match tag {
                b'E' => {
                    let code = body
                        .split(|b| *b == 0)
                        .find_map(|field| field.strip_prefix(b"C"))
                        .map(|c| String::from_utf8_lossy(c).to_string())
                        .unwrap_or_default();
                    return Outcome::Error(code);
                }
                b'Z' => return Outcome::Ready,
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the server answers or hangs up within ten seconds")
}

/// A connection past startup.
async fn started(port: u16) -> TcpStream {
    let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    socket.write_all(&startup(196608)).await.unwrap();
    assert_eq!(outcome(&mut socket).await, Outcome::Ready);
    socket
}

async fn still_serving(server: &TestServer, case: &str) {
    let client = server.connect().await;
    let rows = tokio::time::timeout(Duration::from_secs(10), simple_rows(&client, "SELECT 1"))
        .await
        .unwrap_or_else(|_| panic!("after {case}: SELECT 1 hung"));
    assert_eq!(rows, vec![vec![Some("1".to_string())]], "after {case}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bytes_before_and_during_startup_end_cleanly() {
    let server = TestServer::start().await;
    let huge_length = {
        let mut bytes = i32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(&196608i32.to_be_bytes());
        bytes
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("protocol version 2.0", startup(0x0002_0000)),
        ("protocol version 9.9", startup(0x0009_0009)),
        ("a startup length of 2", vec![0, 0, 0, 2, 0, 3, 0, 0]),
        ("a startup length of 2^31-1", huge_length),
    ];
    for (case, bytes) in cases {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        let _ = socket.write_all(&bytes).await;
        let _ = socket.shutdown().await;
        let ended = outcome(&mut socket).await;
        assert!(
            matches!(ended, Outcome::Error(_) | Outcome::Closed),
            "{case}: {ended:?}"
        );
        still_serving(&server, case).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_messages_after_startup_end_cleanly() {
    let server = TestServer::start().await;
    let deep = format!("SELECT {}1{}", "(".repeat(50_000), ")".repeat(50_000));
    let long_literal = format!("SELECT length('{}')", "x".repeat(8 << 20));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a Query of length 2^31-1", {
            let mut bytes = vec![b'Q'];
            bytes.extend_from_slice(&i32::MAX.to_be_bytes());
            bytes
        }),
        ("a negative message length", {
            let mut bytes = vec![b'Q'];
            bytes.extend_from_slice(&(-5i32).to_be_bytes());
            bytes
        }),
        ("an unknown message type", message(b'z', b"hello\0")),
        (
            "invalid UTF-8 in a query",
            message(b'Q', &cstring(&[b'S', 0xff, 0xfe, b'1'])),
        ),
        (
            "deeply nested parentheses",
            message(b'Q', &cstring(deep.as_bytes())),
        ),
        ("Bind to a statement never parsed", {
            let mut body = cstring(b"");
            body.extend_from_slice(&cstring(b"nosuch"));
            body.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            let mut bytes = message(b'B', &body);
            bytes.extend_from_slice(&message(b'S', b""));
            bytes
        }),
        ("Execute of a portal never bound", {
            let mut body = cstring(b"nosuch");
            body.extend_from_slice(&0i32.to_be_bytes());
            let mut bytes = message(b'E', &body);
            bytes.extend_from_slice(&message(b'S', b""));
            bytes
        }),
        ("a Bind with more parameters than the statement", {
            let mut rest = vec![0, 0];
            rest.extend_from_slice(&i16::MAX.to_be_bytes());
            for _ in 0..i16::MAX {
                rest.extend_from_slice(&1i32.to_be_bytes());
                rest.push(b'7');
            }
            rest.extend_from_slice(&[0, 0]);
            parse_bind_sync(b"s1", b"SELECT $1::int", &[], &rest)
        }),
        ("a binary int4 parameter of 2 bytes", {
            let mut rest = Vec::new();
            for field in [1i16, 1, 1] {
                rest.extend_from_slice(&field.to_be_bytes());
            }
            rest.extend_from_slice(&2i32.to_be_bytes());
            rest.extend_from_slice(&[0, 7, 0, 0]);
            parse_bind_sync(b"s2", b"SELECT $1", &[23], &rest)
        }),
        ("a parameter length beyond the message", {
            let mut rest = vec![0, 0];
            rest.extend_from_slice(&1i16.to_be_bytes());
            rest.extend_from_slice(&1_000_000i32.to_be_bytes());
            rest.extend_from_slice(b"short");
            parse_bind_sync(b"s3", b"SELECT $1::text", &[], &rest)
        }),
    ];
    for (case, bytes) in cases {
        let mut socket = started(server.port).await;
        let _ = socket.write_all(&bytes).await;
        let ended = outcome(&mut socket).await;
        assert!(
            matches!(ended, Outcome::Error(_) | Outcome::Closed),
            "{case}: {ended:?}"
        );
        still_serving(&server, case).await;
    }

    // Valid but enormous: an 8 MiB literal is answered, and the connection goes on.
    let mut socket = started(server.port).await;
    socket
        .write_all(&message(b'Q', &cstring(long_literal.as_bytes())))
        .await
        .unwrap();
    assert_eq!(
        outcome(&mut socket).await,
        Outcome::Ready,
        "an 8 MiB string literal"
    );
    socket
        .write_all(&message(b'Q', &cstring(b"SELECT 1")))
        .await
        .unwrap();
    assert_eq!(outcome(&mut socket).await, Outcome::Ready);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_violations_are_refused_with_08p01_before_decoding() {
    let server =
        TestServer::start_with(|config| config.server.max_message_size = "1MiB".into()).await;
    let unterminated_startup = {
        let mut packet = startup(196608);
        packet.pop();
        let length = (packet.len() as i32).to_be_bytes();
        packet[..4].copy_from_slice(&length);
        packet
    };
    for (case, bytes) in [
        (
            "a startup packet without its final terminator",
            unterminated_startup,
        ),
        ("a startup length of 2^31-1", {
            let mut bytes = i32::MAX.to_be_bytes().to_vec();
            bytes.extend_from_slice(&196608i32.to_be_bytes());
            bytes
        }),
    ] {
        let mut socket = TcpStream::connect(("127.0.0.1", server.port))
            .await
            .unwrap();
        socket.write_all(&bytes).await.unwrap();
        assert_eq!(
            outcome(&mut socket).await,
            Outcome::Error("08P01".into()),
            "{case}"
        );
        still_serving(&server, case).await;
    }
    let two_mib_header = {
        let mut bytes = vec![b'Q'];
        bytes.extend_from_slice(&(2i32 << 20).to_be_bytes());
        bytes
    };
    for (case, bytes) in [
        ("a Query without its terminator", message(b'Q', b"SELECT 1")),
        ("a message length of 3", vec![b'Q', 0, 0, 0, 3]),
        ("a Sync with a body", message(b'S', b"x")),
        (
            "a Query longer than max_message_size (header only)",
            two_mib_header,
        ),
    ] {
        let mut socket = started(server.port).await;
        socket.write_all(&bytes).await.unwrap();
        assert_eq!(
            outcome(&mut socket).await,
            Outcome::Error("08P01".into()),
            "{case}"
        );
        still_serving(&server, case).await;
    }
    // pgwire's Bind decoder panics on this (the fuzz target found it); the server answers.
    let mut socket = started(server.port).await;
    let mut rest = vec![0, 0];
    rest.extend_from_slice(&1i16.to_be_bytes());
    rest.extend_from_slice(&1_000_000i32.to_be_bytes());
    rest.extend_from_slice(b"short");
    socket
        .write_all(&parse_bind_sync(b"s3", b"SELECT $1::text", &[], &rest))
        .await
        .unwrap();
    assert_eq!(
        outcome(&mut socket).await,
        Outcome::Error("08P01".into()),
        "a parameter length past the message"
    );
    still_serving(&server, "a parameter length past the message").await;

    let mut socket = started(server.port).await;
    let mut pipelined = message(b'Q', b"SELECT 1\0");
    pipelined.extend_from_slice(&message(b'Q', b"SELECT 2"));
    socket.write_all(&pipelined).await.unwrap();
    assert_eq!(
        outcome(&mut socket).await,
        Outcome::Ready,
        "the message before the broken one runs"
    );
    assert_eq!(outcome(&mut socket).await, Outcome::Error("08P01".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_is_an_internal_error_and_the_connection_goes_on() {
    let server = TestServer::start().await;
    let client = server.connect().await;
    for (case, sql) in [
        (
            "planning",
            "SELECT lakeport_debug_panic('boom at planning')",
        ),
        (
            "execution",
            "SELECT lakeport_debug_panic(CAST(n AS text)) FROM public.numbers",
        ),
    ] {
        let error = client.simple_query(sql).await.unwrap_err();
        let db = error
            .as_db_error()
            .unwrap_or_else(|| panic!("{case}: {error}"));
        assert_eq!(db.code().code(), "XX000", "{case}: {db:?}");
        assert!(
            db.message().starts_with("internal error: "),
            "{case}: {}",
            db.message()
        );
        assert_eq!(
            simple_rows(&client, "SELECT 1").await,
            vec![vec![Some("1".to_string())]],
            "after a panic at {case} the connection serves on"
        );
        let prepared = client.prepare(sql).await;
        if let Ok(statement) = prepared {
            let error = client.query(&statement, &[]).await.unwrap_err();
            assert_eq!(
                error.as_db_error().map(|db| db.code().code()),
                Some("XX000"),
                "{case}, extended"
            );
        }
        still_serving(&server, case).await;
    }
}
