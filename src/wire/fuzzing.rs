//! The path a client's bytes take, without sockets: the framing check, pgwire's decoder
//! (a startup packet, then messages), and the SQL of Query and Parse messages through
//! statement splitting and both parsers (PostgreSQL and Spark/Hive DDL). The fuzz target in
//! `fuzz/` feeds it arbitrary bytes; it must never panic, overflow its stack or hang. A test
//! replays seeds and mutations of them on stable Rust with every test run.

use bytes::BytesMut;
use pgwire::messages::{DecodeContext, PgWireFrontendMessage};

use crate::sql::parse::parse_statement;
use crate::sql::split::split_statements;
use crate::wire::framing::FrameCheck;

/// The largest message the fuzzed path accepts (the server's default is larger; what matters
/// here is the handling of lengths around the limit, not the limit).
const MAX_MESSAGE: usize = 1 << 20;

/// Runs `data` through framing, decoding and parsing; returns how many messages decoded.
pub fn frontend_bytes(data: &[u8]) -> usize {
    let accepted = match FrameCheck::new(MAX_MESSAGE).scan(data) {
        Ok(()) => data,
        Err((at, _)) => &data[..at],
    };
    let mut buffer = BytesMut::from(accepted);
    let mut context = DecodeContext::default();
    let mut decoded = 0;
    // The server catches a panic of pgwire's decoder and closes the connection (see
    // `connection`); so does this path.
    let decode = |buffer: &mut BytesMut, context: &DecodeContext| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            PgWireFrontendMessage::decode(buffer, context)
        }))
        .unwrap_or(Ok(None))
    };
    while let Ok(Some(message)) = decode(&mut buffer, &context) {
        decoded += 1;
        match message {
            PgWireFrontendMessage::Startup(_) => {
                context.awaiting_frontend_ssl = false;
                context.awaiting_frontend_startup = false;
            }
            PgWireFrontendMessage::SslNegotiation(_) => context.awaiting_frontend_ssl = false,
            PgWireFrontendMessage::Query(query) => parse_sql(&query.query),
            PgWireFrontendMessage::Parse(parse) => parse_sql(&parse.query),
            _ => {}
        }
    }
    decoded
}

fn parse_sql(text: &str) {
    for piece in split_statements(text) {
        if crate::sql::ddl::parse::parse(&piece).is_none() {
            let _ = parse_statement(&piece);
        }
    }
}

/// Well-formed sessions: the fuzz corpus's seeds (`fuzz/corpus/frontend/seed-*`), which the
/// replay test mutates too — a simple query, the extended protocol, an SSLRequest first.
pub fn seeds() -> Vec<Vec<u8>> {
    [
        &include_bytes!("../../fuzz/corpus/frontend/seed-simple")[..],
        &include_bytes!("../../fuzz/corpus/frontend/seed-extended")[..],
        &include_bytes!("../../fuzz/corpus/frontend/seed-ssl")[..],
    ]
    .iter()
    .map(|seed| seed.to_vec())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs the fuzz target found that made pgwire's decoder panic: the framing check
    /// refuses them before it runs.
    #[test]
    fn found_crashes_are_refused_by_the_framing_check() {
        for (crash, kind) in [
            (
                &include_bytes!("../../fuzz/corpus/frontend/seed-pgwire-bind-panic")[..],
                'B',
            ),
            (
                &include_bytes!("../../fuzz/corpus/frontend/seed-pgwire-parse-panic")[..],
                'P',
            ),
        ] {
            let refused = FrameCheck::new(MAX_MESSAGE).scan(crash);
            assert!(
                matches!(refused, Err((_, crate::wire::framing::Violation::Malformed { kind: k })) if k == kind),
                "{kind}: {refused:?}"
            );
        }
        // An SSLRequest claiming 264 bytes: pgwire read 8 and decoded the rest as messages
        // the framing check had taken for the request's body.
        // A startup packet with messages after its parameter list's terminator: pgwire
        // stopped there and decoded the rest as messages.
        let trailing = include_bytes!("../../fuzz/corpus/frontend/seed-startup-trailing-bytes");
        assert_eq!(
            FrameCheck::new(MAX_MESSAGE)
                .scan(trailing)
                .map_err(|(_, v)| v),
            Err(crate::wire::framing::Violation::Unterminated { kind: '\0' })
        );
        // A Query whose string ends before its body does: pgwire read to the first zero
        // byte and decoded the rest (a truncated Parse) as the next message.
        let query = include_bytes!("../../fuzz/corpus/frontend/seed-query-trailing-bytes");
        assert_eq!(
            FrameCheck::new(MAX_MESSAGE).scan(query).map_err(|(_, v)| v),
            Err(crate::wire::framing::Violation::Unterminated { kind: 'Q' })
        );
        // A CancelRequest claiming 81 bytes: pgwire read 16 and decoded the rest.
        let cancel = include_bytes!("../../fuzz/corpus/frontend/seed-long-cancel-request");
        assert_eq!(
            FrameCheck::new(MAX_MESSAGE)
                .scan(cancel)
                .map_err(|(_, v)| v),
            Err(crate::wire::framing::Violation::StartupLength(81))
        );
        let long_ssl = include_bytes!("../../fuzz/corpus/frontend/seed-long-ssl-request");
        assert_eq!(
            FrameCheck::new(MAX_MESSAGE)
                .scan(long_ssl)
                .map_err(|(_, v)| v),
            Err(crate::wire::framing::Violation::StartupLength(264))
        );
    }

    #[test]
    fn seeds_decode_whole() {
        let counts: Vec<usize> = seeds().iter().map(|seed| frontend_bytes(seed)).collect();
        assert_eq!(
            counts,
            vec![4, 7, 3],
            "a not-SSL marker, startup, the messages"
        );
    }

    /// A small stable-Rust fuzz run: flips, inserts, deletions and length smashes on the
    /// seeds, deterministic so that a failure reproduces.
    #[test]
    fn mutated_seeds_never_panic() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let seeds = seeds();
        for round in 0..20_000 {
            let mut input = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() as usize) % input.len().max(1);
                match next() % 4 {
                    0 if !input.is_empty() => input[at] ^= 1 << (next() % 8),
                    1 => input.insert(at.min(input.len()), next() as u8),
                    2 if !input.is_empty() => {
                        input.remove(at);
                    }
                    _ if at + 4 <= input.len() => {
                        input[at..at + 4].copy_from_slice(&(next() as u32).to_be_bytes())
                    }
                    _ => {}
                }
            }
            frontend_bytes(&input);
        }
    }
}
