//! Result checksums every TPC-H runner computes the same way, so that lakeport, DataFusion
//! in-process, DuckDB and PostgreSQL can be compared by one value per query
//! (`bench/pyrunners.py` implements the same rules for the Python clients).
//!
//! Each value becomes a canonical string: NULL is `NULL`; every number (integer, float or
//! decimal, whatever type an engine chose) is its nearest `f64` printed with two decimals
//! (`-0.00` as `0.00`); dates are ISO `YYYY-MM-DD`; text is itself. A row hashes as FNV-1a
//! 64 over its values, each followed by byte 0x1f; the checksum is the row count and the
//! wrapping sum of the row hashes, so it does not depend on the order of rows that an ORDER
//! BY leaves tied.

use std::fmt::Write;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Checksum {
    pub rows: u64,
    sum: u64,
}

impl Checksum {
    pub fn add_row<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for value in values {
            for byte in value.bytes().chain([0x1f]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        self.rows += 1;
        self.sum = self.sum.wrapping_add(hash);
    }

    /// `rows:hex`, as the runners print it.
    pub fn to_text(self) -> String {
        format!("{}:{:016x}", self.rows, self.sum)
    }
}

/// The canonical form of a number.
pub fn number(value: f64) -> String {
    let mut text = String::with_capacity(24);
    let _ = write!(text, "{value:.2}");
    if text == "-0.00" {
        text.remove(0);
    }
    text
}

/// The canonical form of a PostgreSQL numeric given as text.
pub fn decimal_text(text: &str) -> String {
    match text.parse::<f64>() {
        Ok(value) => number(value),
        Err(_) => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_of_any_type_agree() {
        assert_eq!(number(5.0), "5.00");
        assert_eq!(decimal_text("17954.550000"), "17954.55");
        assert_eq!(number(-0.001), "0.00");
        assert_eq!(number(0.125), "0.12");
    }

    #[test]
    fn row_order_does_not_matter_but_values_do() {
        let (mut a, mut b, mut c) = (
            Checksum::default(),
            Checksum::default(),
            Checksum::default(),
        );
        a.add_row(["1", "x"]);
        a.add_row(["2", "y"]);
        b.add_row(["2", "y"]);
        b.add_row(["1", "x"]);
        c.add_row(["1", "x"]);
        c.add_row(["2", "z"]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_text().split(':').next(), Some("2"));
    }

    #[test]
    fn agrees_with_the_python_runners() {
        // engines.checksum([("lineitem", Decimal("17954.55"), None)]) in bench/engines.py.
        let mut checksum = Checksum::default();
        checksum.add_row(["lineitem", &decimal_text("17954.55"), "NULL"]);
        assert_eq!(checksum.to_text(), "1:976ba4b31a7ee7fe");
    }
}
