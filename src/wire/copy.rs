//! COPY TO STDOUT: CopyOutResponse, the rows as CopyData in text, CSV or binary form, then
//! CopyDone. One CopyData per batch: the protocol lets data messages split rows freely.

use std::fmt::Debug;

use bytes::{BufMut, BytesMut};
use datafusion::arrow::array::Array;
use datafusion::arrow::record_batch::RecordBatch;
use futures::Sink;
use pgwire::error::PgWireError;
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyOutResponse};

use crate::error::{Error, Result};
use crate::exec::RowCursor;
use crate::registry::StatementGuard;
use crate::sql::copy::{CopyFormat, CopyKind, forces_all};
use crate::wire::encode::{EncodeOptions, column_writers, plain_columns};
use crate::wire::rows::{Failure, feed};

const BINARY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Streams the cursor as COPY data; returns the rows sent.
pub async fn send_copy<C>(
    client: &mut C,
    cursor: &mut RowCursor,
    format: &CopyFormat,
    options: &EncodeOptions,
    guard: &StatementGuard,
) -> Result<u64, Failure>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<C::Error>,
{
    let schema = cursor.schema();
    let columns = schema.fields().len();
    let binary = format.kind == CopyKind::Binary;
    let code = i16::from(binary);
    let response = CopyOutResponse::new(code as i8, columns as i16, vec![code; columns]);
    feed(client, PgWireBackendMessage::CopyOutResponse(response)).await?;
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let forced: Vec<bool> = names
        .iter()
        .map(|n| match &format.force_quote {
            None => true,
            Some(list) => forces_all(list) || list.iter().any(|c| c.eq_ignore_ascii_case(n)),
        })
        .collect();
    let mut out = BytesMut::new();
    if binary {
        out.put_slice(BINARY_SIGNATURE);
        out.put_i32(0);
        out.put_i32(0);
    } else if format.header {
        let header: Vec<Option<&[u8]>> = names.iter().map(|n| Some(n.as_bytes())).collect();
        TextLine::new(format, &vec![false; columns]).write(&mut out, &header);
    }
    let mut rows = 0u64;
    while let Some(batch) = guard.run(cursor.next_batch(usize::MAX)).await? {
        encode_copy_batch(&batch, format, &forced, options, &mut out)?;
        rows += batch.num_rows() as u64;
        feed(
            client,
            PgWireBackendMessage::CopyData(CopyData::new(out.split().freeze())),
        )
        .await?;
    }
    if binary {
        out.put_i16(-1);
    }
    if !out.is_empty() {
        feed(
            client,
            PgWireBackendMessage::CopyData(CopyData::new(out.split().freeze())),
        )
        .await?;
    }
    feed(client, PgWireBackendMessage::CopyDone(CopyDone::new())).await?;
    Ok(rows)
}

fn encode_copy_batch(
    batch: &RecordBatch,
    format: &CopyFormat,
    forced: &[bool],
    options: &EncodeOptions,
    out: &mut BytesMut,
) -> Result<()> {
    let columns = plain_columns(batch)?;
    let binary = vec![format.kind == CopyKind::Binary; columns.len()];
    let writers = column_writers(&columns, &binary, options)?;
    let count = i16::try_from(columns.len())
        .map_err(|_| Error::unsupported("too many columns for COPY"))?;
    if format.kind == CopyKind::Binary {
        for row in 0..batch.num_rows() {
            out.put_i16(count);
            for (column, writer) in columns.iter().zip(&writers) {
                if column.is_null(row) {
                    out.put_i32(-1);
                    continue;
                }
                let at = out.len();
                out.put_i32(0);
                writer(row, out);
                let len = (out.len() - at - 4) as i32;
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
        return Ok(());
    }
    let mut line = TextLine::new(format, forced);
    for row in 0..batch.num_rows() {
        for (i, (column, writer)) in columns.iter().zip(&writers).enumerate() {
            let value = (!column.is_null(row)).then_some(|out: &mut BytesMut| writer(row, out));
            line.field(out, i, value);
        }
        out.put_u8(b'\n');
    }
    Ok(())
}

/// How one line of text or CSV COPY output is written. Values are written straight into the
/// output and rewritten only in the rare case that they need quoting or escaping.
struct TextLine<'a> {
    format: &'a CopyFormat,
    forced: &'a [bool],
    delimiter: [u8; 4],
    delimiter_len: usize,
    /// A value being rewritten.
    scratch: BytesMut,
}

impl<'a> TextLine<'a> {
    fn new(format: &'a CopyFormat, forced: &'a [bool]) -> Self {
        let mut delimiter = [0u8; 4];
        let delimiter_len = format.delimiter.encode_utf8(&mut delimiter).len();
        Self {
            format,
            forced,
            delimiter,
            delimiter_len,
            scratch: BytesMut::new(),
        }
    }

    /// Field `column` of the line: the delimiter before it, then NULL's text, or the value
    /// `write` puts out, quoted (CSV) or escaped (text) where it must be.
    fn field(
        &mut self,
        out: &mut BytesMut,
        column: usize,
        write: Option<impl FnOnce(&mut BytesMut)>,
    ) {
        let delimiter = &self.delimiter[..self.delimiter_len];
        if column > 0 {
            out.put_slice(delimiter);
        }
        let Some(write) = write else {
            out.put_slice(self.format.null.as_bytes());
            return;
        };
        let start = out.len();
        write(out);
        let value = &out[start..];
        let rewrite = match self.format.kind {
            CopyKind::Csv => {
                let force = self.forced.get(column).copied().unwrap_or(false);
                csv_needs_quotes(value, self.format, force)
            }
            _ => value.iter().any(|&b| text_escape(b, delimiter).is_some()),
        };
        if !rewrite {
            return;
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(value);
        out.truncate(start);
        match self.format.kind {
            CopyKind::Csv => write_csv_quoted(out, &self.scratch, self.format),
            _ => write_text_escaped(out, &self.scratch, delimiter),
        }
    }

    /// A whole line of already formatted fields (the CSV header).
    fn write(&mut self, out: &mut BytesMut, fields: &[Option<&[u8]>]) {
        for (i, field) in fields.iter().enumerate() {
            let value = field.map(|value| move |out: &mut BytesMut| out.put_slice(value));
            self.field(out, i, value);
        }
        out.put_u8(b'\n');
    }
}

/// The letter text COPY writes after a backslash in place of `byte`, if it must escape it.
fn text_escape(byte: u8, delimiter: &[u8]) -> Option<u8> {
    match byte {
        b'\\' => Some(b'\\'),
        b'\n' => Some(b'n'),
        b'\r' => Some(b'r'),
        b'\t' => Some(b't'),
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        0x0b => Some(b'v'),
        b if delimiter.len() == 1 && b == delimiter[0] => Some(b),
        _ => None,
    }
}

fn write_text_escaped(out: &mut BytesMut, value: &[u8], delimiter: &[u8]) {
    for &b in value {
        match text_escape(b, delimiter) {
            Some(letter) => {
                out.put_u8(b'\\');
                out.put_u8(letter);
            }
            None => out.put_u8(b),
        }
    }
}

fn csv_needs_quotes(value: &[u8], format: &CopyFormat, force: bool) -> bool {
    let quote = format.quote as u8;
    let delimiter = format.delimiter as u8;
    force
        || value.is_empty() && format.null.is_empty()
        || value == format.null.as_bytes()
        || value == b"\\."
        || value
            .iter()
            .any(|&b| b == delimiter || b == quote || b == b'\n' || b == b'\r')
}

fn write_csv_quoted(out: &mut BytesMut, value: &[u8], format: &CopyFormat) {
    let quote = format.quote as u8;
    let escape = format.escape as u8;
    out.put_u8(quote);
    for &b in value {
        if b == quote || b == escape {
            out.put_u8(escape);
        }
        out.put_u8(b);
    }
    out.put_u8(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv() -> CopyFormat {
        CopyFormat {
            kind: CopyKind::Csv,
            delimiter: ',',
            null: String::new(),
            header: true,
            quote: '"',
            escape: '"',
            force_quote: Some(Vec::new()),
        }
    }

    #[test]
    fn csv_rows_quote_like_postgres() {
        let mut out = BytesMut::new();
        let fields: Vec<Option<&[u8]>> = vec![
            Some(b"1"),
            Some(b"Caf\xc3\xa9, \"quoted\""),
            None,
            Some(b""),
        ];
        TextLine::new(&csv(), &[false; 4]).write(&mut out, &fields);
        assert_eq!(&out[..], "1,\"Café, \"\"quoted\"\"\",,\"\"\n".as_bytes());
    }

    #[test]
    fn text_rows_escape_like_postgres() {
        let mut format = csv();
        format.kind = CopyKind::Text;
        format.delimiter = '\t';
        format.null = "\\N".into();
        let mut out = BytesMut::new();
        let fields: Vec<Option<&[u8]>> = vec![Some(b"a\tb\\c\nd"), None];
        TextLine::new(&format, &[false; 2]).write(&mut out, &fields);
        assert_eq!(&out[..], b"a\\tb\\\\c\\nd\t\\N\n");
        out.clear();
        let fields: Vec<Option<&[u8]>> = vec![Some(b"plain"), Some(b"tab\there"), Some(b"x")];
        TextLine::new(&format, &[false; 3]).write(&mut out, &fields);
        assert_eq!(&out[..], b"plain\ttab\\there\tx\n");
    }
}
