//! Read-only access to index files for tools (`streamlet dump-log`): the entries as stored, without opening
//! the files for writing or sanitizing them the way a log does on load.

use std::io;
use std::path::Path;

use super::{offset_index, time_index};

/// The base offset a segment file is named by (`00000000000000000042.index` -> 42).
pub fn segment_base_offset(path: &Path) -> io::Result<i64> {
    let stem = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.split('.').next()).unwrap_or("");
    stem.parse::<i64>().map_err(|_| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a segment file name (20-digit base offset)", path.display()))
    })
}

/// Entries up to the first all-zero one: the active segment's preallocated tail. (A real `.index` entry never
/// has position 0, and a `.timeindex` entry of timestamp 0 at the base offset is not worth telling apart.)
fn entries(path: &Path, size: usize) -> io::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path)?;
    let mut out = Vec::new();
    for e in bytes.chunks_exact(size) {
        if e.iter().all(|b| *b == 0) {
            break;
        }
        out.push(e.to_vec());
    }
    Ok(out)
}

/// `.index` entries: (offset, position).
pub fn read_offset_index(path: &Path) -> io::Result<Vec<(i64, u64)>> {
    let base = segment_base_offset(path)?;
    Ok(entries(path, offset_index::ENTRY_SIZE)?.iter().map(|e| offset_index::decode_entry(e, base)).collect())
}

/// `.timeindex` entries: (timestamp, offset).
pub fn read_time_index(path: &Path) -> io::Result<Vec<(i64, i64)>> {
    let base = segment_base_offset(path)?;
    Ok(entries(path, time_index::ENTRY_SIZE)?.iter().map(|e| time_index::decode_entry(e, base)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::offset_index::OffsetIndex;
    use crate::storage::time_index::TimeIndex;

    #[test]
    fn reads_what_the_log_wrote_and_stops_at_preallocation() {
        let dir = tempfile::tempdir().unwrap();
        let idx_path = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::open(&idx_path, 100).unwrap();
        idx.preallocate(800).unwrap();
        assert!(idx.append(104, 512) && idx.append(109, 1024));
        idx.flush().unwrap();
        assert_eq!(read_offset_index(&idx_path).unwrap(), vec![(104, 512), (109, 1024)]);

        let ti_path = dir.path().join("00000000000000000100.timeindex");
        let mut ti = TimeIndex::open(&ti_path, 100).unwrap();
        ti.preallocate(1200).unwrap();
        assert!(ti.maybe_append(1_700_000_000_000, 104));
        ti.flush().unwrap();
        assert_eq!(read_time_index(&ti_path).unwrap(), vec![(1_700_000_000_000, 104)]);

        assert_eq!(segment_base_offset(&idx_path).unwrap(), 100);
        assert!(read_offset_index(&dir.path().join("notes.index")).is_err());
    }
}
