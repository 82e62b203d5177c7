//! RecordBatch v2: zero-copy header view, CRC-32C check, in-place stamping, builder.
