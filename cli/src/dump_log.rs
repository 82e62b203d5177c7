//! `streamlet dump-log`: the batches of `.log` segments and the entries of `.index` / `.timeindex` files, in
//! the shape of Kafka's DumpLogSegments. Reading goes through core's record decoder and index readers.

use std::fs::File;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::Args;
use streamlet::record::{batch_crc, batches, records, BatchHeader, Compression, TimestampType, NO_PRODUCER_ID};
use streamlet::storage::{read_offset_index, read_time_index, segment_base_offset};

use crate::common::{finish, out, out_or_exit, Failure, ToolResult};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  streamlet dump-log streamlet-data/orders-0/00000000000000000000.log
  streamlet dump-log --print-data-log streamlet-data/orders-0/00000000000000000000.log
  streamlet dump-log streamlet-data/orders-0/*.index streamlet-data/orders-0/*.timeindex

Exit status: 0 done, 1 a file could not be read or holds a corrupt batch (reported, the rest still printed),
2 bad usage.")]
pub struct DumpLogArgs {
    /// Segment files: .log, .index or .timeindex.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print every record of each batch (offset, timestamp, sizes, headers, key and payload).
    #[arg(long)]
    print_data_log: bool,
}

pub fn run(args: DumpLogArgs) -> i32 {
    finish(run_inner(&args))
}

fn run_inner(args: &DumpLogArgs) -> ToolResult {
    let mut failed = Vec::new();
    for path in &args.files {
        out_or_exit(out(format!("Dumping {}", path.display())))?;
        let r = match path.extension().and_then(|e| e.to_str()) {
            Some("log") => dump_log(path, args.print_data_log),
            Some("index") => dump_index(path),
            Some("timeindex") => dump_time_index(path),
            _ => Err(Failure::usage(format!("{}: not a .log, .index or .timeindex file", path.display()))),
        };
        if let Err(f) = r {
            if f.code == crate::common::EXIT_USAGE {
                return Err(f);
            }
            eprintln!("error: {}", f.message);
            failed.push(path.display().to_string());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure { code: crate::common::EXIT_FAILED, message: format!("problems in: {}", failed.join(", ")) })
    }
}

fn read_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::failed(format!("{}: {e}", path.display()))
}

/// The file's bytes, memory-mapped (segments can be a gigabyte) and shared with the decoder without copying.
fn map(path: &Path) -> Result<Bytes, Failure> {
    let file = File::open(path).map_err(|e| read_failure(path, e))?;
    if file.metadata().map_err(|e| read_failure(path, e))?.len() == 0 {
        return Ok(Bytes::new());
    }
    // SAFETY: read-only map of a file this tool does not modify; a broker appending meanwhile only adds bytes
    // past the mapped length.
    let mmap = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| read_failure(path, e))?;
    Ok(Bytes::from_owner(mmap))
}

fn codec_name(h: &BatchHeader) -> String {
    match h.compression() {
        Ok(Compression::None) => "none".into(),
        Ok(Compression::Gzip) => "gzip".into(),
        Ok(Compression::Snappy) => "snappy".into(),
        Ok(Compression::Lz4) => "lz4".into(),
        Ok(Compression::Zstd) => "zstd".into(),
        Err(_) => format!("unknown({})", h.attributes & 0x07),
    }
}

fn ts_kind(h: &BatchHeader) -> &'static str {
    match h.timestamp_type() {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
    }
}

fn dump_log(path: &Path, print_data: bool) -> ToolResult {
    let base = segment_base_offset(path).map_err(|e| Failure::failed(e.to_string()))?;
    let data = map(path)?;
    out_or_exit(out(format!("Log starting offset: {base}")))?;
    let mut position = 0usize;
    let mut problems = Vec::new();
    for item in batches(data.clone()) {
        let (h, bytes) = match item {
            Ok(b) => b,
            Err(e) => {
                problems.push(format!("corrupt batch at position {position}: {e}"));
                break;
            }
        };
        let valid = batch_crc(&bytes) == h.crc;
        if !valid {
            problems.push(format!("batch at position {position} (base offset {}) fails its CRC check", h.base_offset));
        }
        let (last_seq, delete_horizon) = (
            if h.has_producer_id() { h.last_sequence() } else { -1 },
            if h.has_delete_horizon() { format!("OptionalLong[{}]", h.base_timestamp) } else { "OptionalLong.empty".into() },
        );
        out_or_exit(out(format!(
            "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {last_seq} producerId: {} producerEpoch: {} \
             partitionLeaderEpoch: {} isTransactional: {} isControl: {} deleteHorizonMs: {delete_horizon} position: {position} \
             {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {valid}",
            h.base_offset,
            h.last_offset(),
            h.records_count,
            h.base_sequence,
            h.producer_id,
            h.producer_epoch,
            h.partition_leader_epoch,
            h.is_transactional(),
            h.is_control(),
            ts_kind(&h),
            h.max_timestamp,
            bytes.len(),
            h.magic,
            codec_name(&h),
            h.crc,
        )))?;
        if print_data && valid {
            if let Err(e) = print_records(&h, bytes.clone()) {
                problems.push(format!("records of the batch at position {position}: {e}"));
            }
        }
        position += bytes.len();
    }
    if position < data.len() && problems.is_empty() {
        problems.push(format!("{} bytes after position {position} are not a whole batch (torn write?)", data.len() - position));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!("{}: {}", path.display(), problems.join("; "))))
    }
}

fn text(b: &Option<Bytes>) -> String {
    b.as_ref().map_or("null".into(), |b| String::from_utf8_lossy(b).into_owned())
}

fn print_records(h: &BatchHeader, batch: Bytes) -> Result<(), String> {
    for r in records(batch).map_err(|e| e.to_string())? {
        let r = r.map_err(|e| e.to_string())?;
        let seq = if h.producer_id != NO_PRODUCER_ID && h.base_sequence >= 0 { h.base_sequence + (r.offset - h.base_offset) as i32 } else { -1 };
        let size = |b: &Option<Bytes>| b.as_ref().map_or(-1, |b| b.len() as i64);
        let head = format!(
            "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {seq} headerKeys: [{}]",
            r.offset,
            ts_kind(h),
            r.timestamp,
            size(&r.key),
            size(&r.value),
            r.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(",")
        );
        let body = if h.is_control() { control_marker(&r.key, &r.value) } else { format!("key: {} payload: {}", text(&r.key), text(&r.value)) };
        out_or_exit(out(format!("{head} {body}"))).map_err(|f| f.message)?;
    }
    Ok(())
}

/// A transaction marker: key (version i16, type i16: 0 abort, 1 commit), value (version i16, coordinator
/// epoch i32).
fn control_marker(key: &Option<Bytes>, value: &Option<Bytes>) -> String {
    let kind = match key.as_deref() {
        Some([_, _, 0, 0, ..]) => "ABORT".to_string(),
        Some([_, _, 0, 1, ..]) => "COMMIT".to_string(),
        other => format!("unknown control record {other:?}"),
    };
    let epoch = match value.as_deref() {
        Some(v) if v.len() >= 6 => i32::from_be_bytes([v[2], v[3], v[4], v[5]]).to_string(),
        _ => "?".into(),
    };
    format!("endTxnMarker: {kind} coordinatorEpoch: {epoch}")
}

fn dump_index(path: &Path) -> ToolResult {
    for (offset, position) in read_offset_index(path).map_err(|e| read_failure(path, e))? {
        out_or_exit(out(format!("offset: {offset} position: {position}")))?;
    }
    Ok(())
}

fn dump_time_index(path: &Path) -> ToolResult {
    for (timestamp, offset) in read_time_index(path).map_err(|e| read_failure(path, e))? {
        out_or_exit(out(format!("timestamp: {timestamp} offset: {offset}")))?;
    }
    Ok(())
}
