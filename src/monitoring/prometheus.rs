//! The `/metrics` page: the server's counters in Prometheus' text exposition format
//! (version 0.0.4), every family with its HELP and TYPE lines.

use std::fmt::Write;

use crate::registry::Registry;
use crate::registry::metrics::DURATION_BUCKETS;
use crate::sql::Service;

/// Content-Type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything `/metrics` shows, as of now.
pub fn render(service: &Service, registry: &Registry) -> String {
    let mut page = Page::default();
    let statements = registry.metrics().snapshot();
    let engine = &service.engine;

    page.single(
        "lakeport_connections",
        "gauge",
        "Client connections open now.",
        registry.count() as f64,
    );
    page.single(
        "lakeport_connections_total",
        "counter",
        "Client connections admitted since the server started.",
        statements.connections_total as f64,
    );

    page.family(
        "lakeport_statements_total",
        "counter",
        "Statements ended, by outcome: finished, failed, or canceled (by a client, a timeout or an administrator).",
    );
    page.labeled(
        "lakeport_statements_total",
        "outcome",
        &[
            ("finished", statements.finished),
            ("failed", statements.failed),
            ("canceled", statements.canceled),
        ],
    );
    page.family(
        "lakeport_statement_duration_seconds",
        "histogram",
        "How long statements ran, from receipt to their last row.",
    );
    for (bound, count) in DURATION_BUCKETS.iter().zip(&statements.duration_buckets) {
        page.sample(
            "lakeport_statement_duration_seconds_bucket",
            &format!("le=\"{bound}\""),
            *count as f64,
        );
    }
    page.sample(
        "lakeport_statement_duration_seconds_bucket",
        "le=\"+Inf\"",
        statements.statements() as f64,
    );
    page.sample(
        "lakeport_statement_duration_seconds_sum",
        "",
        statements.duration_seconds,
    );
    page.sample(
        "lakeport_statement_duration_seconds_count",
        "",
        statements.statements() as f64,
    );
    page.single(
        "lakeport_running_queries",
        "gauge",
        "Queries executing now (results not yet fully sent).",
        engine.running_queries() as f64,
    );
    page.single(
        "lakeport_rows_sent_total",
        "counter",
        "Rows sent to clients (or affected by commands) by ended statements.",
        statements.rows_sent as f64,
    );
    page.single(
        "lakeport_rows_read_total",
        "counter",
        "Rows the scans of ended statements produced.",
        statements.rows_read as f64,
    );
    page.single(
        "lakeport_spills_total",
        "counter",
        "Spill files the operators of ended statements wrote to disk.",
        statements.spills as f64,
    );
    page.single(
        "lakeport_spilled_bytes_total",
        "counter",
        "Bytes the operators of ended statements spilled to disk.",
        statements.spilled_bytes as f64,
    );

    page.single(
        "lakeport_memory_reserved_bytes",
        "gauge",
        "Memory running queries hold in the engine's pool (engine.memory_limit).",
        engine.memory_reserved() as f64,
    );

    let storage = engine.storage_requests();
    page.family(
        "lakeport_storage_requests_total",
        "counter",
        "Object-store requests, by kind.",
    );
    page.labeled(
        "lakeport_storage_requests_total",
        "kind",
        &[
            ("list", storage.lists),
            ("footer_read", storage.footer_reads),
            ("read", storage.reads),
            ("head", storage.heads),
            ("write", storage.writes),
            ("delete", storage.deletes),
            ("copy", storage.copies),
        ],
    );
    page.single(
        "lakeport_storage_errors_total",
        "counter",
        "Object-store reads and writes that failed (a missing object is not counted).",
        storage.errors as f64,
    );
    page.single(
        "lakeport_storage_read_bytes_total",
        "counter",
        "Bytes read from object stores.",
        storage.bytes_read as f64,
    );

    let listings = engine.catalog().listings();
    let (hits, misses) = listings.lookups();
    page.family(
        "lakeport_listing_cache_lookups_total",
        "counter",
        "Lookups of tables' file listings, by result: hit (from the cache) or miss (listed).",
    );
    page.labeled(
        "lakeport_listing_cache_lookups_total",
        "result",
        &[("hit", hits), ("miss", misses)],
    );
    let (entries, bytes) = listings.usage();
    page.single(
        "lakeport_listing_cache_bytes",
        "gauge",
        "Estimated memory of the cached file listings.",
        bytes as f64,
    );
    page.single(
        "lakeport_listing_cache_entries",
        "gauge",
        "Directories whose listing is cached.",
        entries as f64,
    );
    page.text
}

#[derive(Default)]
struct Page {
    text: String,
}

impl Page {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    /// A family of one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, "", value);
    }

    /// One sample per label value of a counter family.
    fn labeled(&mut self, name: &str, label: &str, counts: &[(&str, u64)]) {
        for (value, count) in counts {
            self.sample(name, &format!("{label}=\"{value}\""), *count as f64);
        }
    }

    fn sample(&mut self, name: &str, labels: &str, value: f64) {
        let _ = match labels.is_empty() {
            true => writeln!(self.text, "{name} {value}"),
            false => writeln!(self.text, "{name}{{{labels}}} {value}"),
        };
    }
}
