//! Kafka's offset checkpoint files (`recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`, ...):
//! a version line "0", an entry count line, then "topic partition offset" lines. Always replaced atomically.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

const VERSION: &str = "0";

/// Replaces `path` with `data` so that a crash leaves either the old or the new content: write a temp file
/// beside it, fsync, rename over, fsync the directory (which makes the rename itself durable).
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

pub fn write_offset_checkpoint(path: &Path, entries: &HashMap<(String, i32), i64>) -> io::Result<()> {
    let mut sorted: Vec<_> = entries.iter().collect();
    sorted.sort();
    let mut out = format!("{VERSION}\n{}\n", sorted.len());
    for ((topic, partition), offset) in sorted {
        out.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    write_atomic(path, out.as_bytes())
}

/// Reads a checkpoint; a missing file is an empty map, a malformed one an `InvalidData` error.
pub fn read_offset_checkpoint(path: &Path) -> io::Result<HashMap<(String, i32), i64>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {what}", path.display()));
    let mut lines = text.lines();
    if lines.next() != Some(VERSION) {
        return Err(bad("unsupported checkpoint version"));
    }
    let count: usize = lines.next().and_then(|l| l.trim().parse().ok()).ok_or_else(|| bad("bad entry count"))?;
    let mut out = HashMap::with_capacity(count);
    for line in lines.by_ref().take(count) {
        let mut parts = line.split(' ');
        let (Some(t), Some(p), Some(o), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad("malformed entry"));
        };
        let p = p.parse().map_err(|_| bad("bad partition"))?;
        let o = o.parse().map_err(|_| bad("bad offset"))?;
        out.insert((t.to_string(), p), o);
    }
    if out.len() != count {
        return Err(bad("entry count mismatch"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_and_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("recovery-point-offset-checkpoint");
        assert!(read_offset_checkpoint(&path).unwrap().is_empty());
        let mut m = HashMap::new();
        m.insert(("orders".to_string(), 1), 42);
        m.insert(("orders".to_string(), 0), 7);
        write_offset_checkpoint(&path, &m).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "0\n2\norders 0 7\norders 1 42\n");
        assert_eq!(read_offset_checkpoint(&path).unwrap(), m);
        assert!(!dir.path().join("recovery-point-offset-checkpoint.tmp").exists());
        fs::write(&path, "0\n3\norders 0 7\n").unwrap();
        assert!(read_offset_checkpoint(&path).is_err());
    }
}
