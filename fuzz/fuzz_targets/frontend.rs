//! Arbitrary client bytes through lakeport's framing check, pgwire's decoder and the SQL
//! parsers (`lakeport::wire::fuzzing`). Run: `cargo +nightly fuzz run frontend` (see the
//! README's security section).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lakeport::wire::fuzzing::frontend_bytes(data);
});
