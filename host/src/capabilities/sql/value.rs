//! What both engines share about results: gathering rows under a grant's
//! caps on rows and bytes.

use crate::bindings::mcp::plugin::sql::{QueryResult, SqlValue};

/// Bytes a value counts for against `max-result-kib`.
fn size_of(value: &SqlValue) -> u64 {
    let payload = match value {
        SqlValue::Null | SqlValue::Boolean(_) => 1,
        SqlValue::Integer(_) | SqlValue::Real(_) => 8,
        SqlValue::Text(s) | SqlValue::Json(s) => s.len(),
        SqlValue::Blob(b) => b.len(),
    };
    payload as u64 + 1
}

/// Rows as they are read, kept until a cap is reached.
pub(crate) struct RowsBuilder {
    result: QueryResult,
    bytes: u64,
    max_rows: u64,
    max_bytes: u64,
}

impl RowsBuilder {
    pub(crate) fn new(columns: Vec<String>, max_rows: u64, max_bytes: u64) -> Self {
        let bytes = columns.iter().map(|c| c.len() as u64 + 1).sum();
        Self {
            result: QueryResult {
                columns,
                rows: Vec::new(),
                truncated: false,
            },
            bytes,
            max_rows,
            max_bytes,
        }
    }

    /// Keep `row` if it fits; false once a cap is reached (the row is left
    /// out and the result marked truncated), when reading should stop.
    pub(crate) fn push(&mut self, row: Vec<SqlValue>) -> bool {
        let size: u64 = row.iter().map(size_of).sum();
        if self.result.rows.len() as u64 >= self.max_rows
            || self.bytes.saturating_add(size) > self.max_bytes
        {
            self.result.truncated = true;
            return false;
        }
        self.bytes += size;
        self.result.rows.push(row);
        true
    }

    pub(crate) fn finish(self) -> QueryResult {
        self.result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_stop_at_either_cap() {
        let mut by_rows = RowsBuilder::new(vec!["a".into()], 2, 1 << 20);
        assert!(by_rows.push(vec![SqlValue::Integer(1)]));
        assert!(by_rows.push(vec![SqlValue::Integer(2)]));
        assert!(!by_rows.push(vec![SqlValue::Integer(3)]));
        let result = by_rows.finish();
        assert_eq!((result.rows.len(), result.truncated), (2, true));

        let mut by_bytes = RowsBuilder::new(vec!["a".into()], 100, 64);
        assert!(by_bytes.push(vec![SqlValue::Text("x".repeat(40))]));
        assert!(!by_bytes.push(vec![SqlValue::Text("y".repeat(40))]));
        let result = by_bytes.finish();
        assert_eq!((result.rows.len(), result.truncated), (1, true));

        let mut all = RowsBuilder::new(vec!["a".into()], 100, 1 << 20);
        assert!(all.push(vec![SqlValue::Null]));
        assert!(!all.finish().truncated);
    }
}
