//! A minimal PostgreSQL frontend over a raw socket, for checks that need exact control of
//! the messages sent (pipelining, Flush, row limits, SSLRequest, hanging up mid-result) and
//! exact sight of what comes back.

use std::collections::HashMap;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One backend message: its type byte and body.
#[derive(Debug, Clone)]
pub struct Message {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Message {
    /// The body as NUL-terminated strings (CommandComplete, ParameterStatus, ...).
    pub fn strings(&self) -> Vec<String> {
        self.body
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    }

    /// An ErrorResponse's fields by code ('C' SQLSTATE, 'M' message, 'P' position, ...).
    pub fn error_fields(&self) -> HashMap<char, String> {
        self.body
            .split(|b| *b == 0)
            .filter(|f| !f.is_empty())
            .map(|f| (f[0] as char, String::from_utf8_lossy(&f[1..]).into_owned()))
            .collect()
    }
}

pub struct RawClient {
    socket: TcpStream,
    pub parameters: HashMap<String, String>,
    pub backend_key: Option<(i32, i32)>,
}

impl RawClient {
    /// Connects and completes startup, optionally asking for TLS first.
    pub async fn connect(port: u16, ssl_request: bool) -> Self {
        let mut socket = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        if ssl_request {
            socket
                .write_all(&[0, 0, 0, 8, 4, 210, 22, 47])
                .await
                .expect("send SSLRequest");
            let mut answer = [0u8; 1];
            socket
                .read_exact(&mut answer)
                .await
                .expect("SSLRequest answer");
            assert_eq!(answer[0], b'N', "SSLRequest must be refused with N");
        }
        let mut body = Vec::new();
        body.extend_from_slice(&196608i32.to_be_bytes());
        for (key, value) in [
            ("user", "raw"),
            ("database", "lakeport"),
            ("application_name", "rawwire"),
        ] {
            body.extend_from_slice(key.as_bytes());
            body.push(0);
            body.extend_from_slice(value.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        packet.extend_from_slice(&body);
        socket.write_all(&packet).await.expect("send startup");
        let mut client = Self {
            socket,
            parameters: HashMap::new(),
            backend_key: None,
        };
        for message in client.until_ready().await {
            match message.tag {
                b'S' => {
                    let pair = message.strings();
                    client
                        .parameters
                        .insert(pair[0].clone(), pair.get(1).cloned().unwrap_or_default());
                }
                b'K' => {
                    let pid = i32::from_be_bytes(message.body[0..4].try_into().expect("pid"));
                    let secret = i32::from_be_bytes(message.body[4..8].try_into().expect("secret"));
                    client.backend_key = Some((pid, secret));
                }
                b'E' => panic!("startup failed: {:?}", message.error_fields()),
                _ => {}
            }
        }
        client
    }

    pub async fn send(&mut self, tag: u8, body: &[u8]) {
        let mut packet = vec![tag];
        packet.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
        packet.extend_from_slice(body);
        self.socket.write_all(&packet).await.expect("send message");
    }

    pub async fn read(&mut self) -> Message {
        let tag = self.socket.read_u8().await.expect("message type");
        let length = self.socket.read_i32().await.expect("message length") as usize;
        let mut body = vec![0u8; length - 4];
        self.socket
            .read_exact(&mut body)
            .await
            .expect("message body");
        Message { tag, body }
    }

    /// Reads messages up to and including ReadyForQuery.
    pub async fn until_ready(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        loop {
            let message = self.read().await;
            let done = message.tag == b'Z';
            messages.push(message);
            if done {
                return messages;
            }
        }
    }

    pub async fn query(&mut self, sql: &str) {
        self.send(b'Q', &cstring(sql)).await;
    }

    /// A simple Query, and everything the server answers up to ReadyForQuery.
    pub async fn run(&mut self, sql: &str) -> Vec<Message> {
        self.query(sql).await;
        self.until_ready().await
    }

    pub async fn parse(&mut self, name: &str, sql: &str, types: &[u32]) {
        let mut body = cstring(name);
        body.extend(cstring(sql));
        body.extend_from_slice(&(types.len() as i16).to_be_bytes());
        for oid in types {
            body.extend_from_slice(&oid.to_be_bytes());
        }
        self.send(b'P', &body).await;
    }

    /// Bind with text parameters and one result format code for every column.
    pub async fn bind(
        &mut self,
        portal: &str,
        statement: &str,
        params: &[Option<&str>],
        result_format: i16,
    ) {
        let mut body = cstring(portal);
        body.extend(cstring(statement));
        body.extend_from_slice(&0i16.to_be_bytes());
        body.extend_from_slice(&(params.len() as i16).to_be_bytes());
        for param in params {
            match param {
                Some(value) => {
                    body.extend_from_slice(&(value.len() as i32).to_be_bytes());
                    body.extend_from_slice(value.as_bytes());
                }
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        body.extend_from_slice(&1i16.to_be_bytes());
        body.extend_from_slice(&result_format.to_be_bytes());
        self.send(b'B', &body).await;
    }

    pub async fn describe(&mut self, kind: u8, name: &str) {
        let mut body = vec![kind];
        body.extend(cstring(name));
        self.send(b'D', &body).await;
    }

    pub async fn execute(&mut self, portal: &str, max_rows: i32) {
        let mut body = cstring(portal);
        body.extend_from_slice(&max_rows.to_be_bytes());
        self.send(b'E', &body).await;
    }

    pub async fn sync(&mut self) {
        self.send(b'S', &[]).await;
    }

    pub async fn flush(&mut self) {
        self.send(b'H', &[]).await;
    }

    /// Hangs up without Terminate, as a crashed or killed client does.
    pub fn hang_up(self) {
        drop(self.socket);
    }
}

fn cstring(text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

/// The command tags of the CommandComplete messages among `messages`.
pub fn completions(messages: &[Message]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m.tag == b'C')
        .map(|m| m.strings()[0].clone())
        .collect()
}

/// The type bytes of `messages`, as a string ("1", "2", "T", "D", "C", "Z", ...).
pub fn tags(messages: &[Message]) -> String {
    messages.iter().map(|m| m.tag as char).collect()
}
