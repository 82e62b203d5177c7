//! The metadata log on disk: every change is appended and fsynced before it is applied, so a restarted broker
//! has every topic it acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::codec;
use super::image::{MetadataImage, MetadataRecord};

pub const METADATA_FILE: &str = "cluster-metadata.log";
/// Producer ids are reserved in blocks so that the log is written once per block, not once per producer.
const PRODUCER_ID_BLOCK: i64 = 1000;

pub struct MetadataStore {
    path: PathBuf,
    file: File,
    image: MetadataImage,
    records: usize,
    next_producer_id: i64,
}

impl MetadataStore {
    /// Opens (or creates) the metadata log in `dir`, replaying it. A torn tail is truncated; the log is rewritten
    /// compactly when it holds many more records than the image needs.
    pub fn open(dir: &Path, new_cluster_id: impl FnOnce() -> String) -> io::Result<Self> {
        let path = dir.join(METADATA_FILE);
        let mut data = Vec::new();
        if path.exists() {
            File::open(&path)?.read_to_end(&mut data)?;
        }
        let (records, valid) = codec::decode_all(&data);
        if valid < data.len() {
            tracing::warn!(path = %path.display(), valid, len = data.len(), "truncating torn metadata log tail");
        }
        let mut image = MetadataImage::default();
        for r in &records {
            image.apply(r);
        }
        let file = OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
        file.set_len(valid as u64)?;
        let mut store = MetadataStore {
            path,
            file,
            next_producer_id: image.producer_id_end,
            image,
            records: records.len(),
        };
        if store.image.cluster_id.is_empty() {
            store.append(MetadataRecord::ClusterCreated { cluster_id: new_cluster_id() })?;
        }
        if store.records > 2 * store.image.snapshot().len() + 64 {
            store.compact()?;
        }
        Ok(store)
    }

    pub fn image(&self) -> &MetadataImage {
        &self.image
    }

    /// Makes `record` durable, then applies it.
    pub fn append(&mut self, record: MetadataRecord) -> io::Result<()> {
        let bytes = codec::encode(&record);
        use std::io::Seek;
        self.file.seek(io::SeekFrom::End(0))?;
        if let Err(e) = self.file.write_all(&bytes).and_then(|_| self.file.sync_data()) {
            // Leave no torn record behind a failed write (a full disk): cut back to the last good length.
            let good = self.file.metadata()?.len().saturating_sub(bytes.len() as u64);
            let _ = self.file.set_len(good);
            return Err(e);
        }
        self.image.apply(&record);
        self.records += 1;
        Ok(())
    }

    /// Hands out a producer id that was never handed out before, even across restarts.
    pub fn next_producer_id(&mut self) -> io::Result<i64> {
        if self.next_producer_id >= self.image.producer_id_end {
            self.append(MetadataRecord::ProducerIdBlock { end: self.next_producer_id + PRODUCER_ID_BLOCK })?;
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        Ok(id)
    }

    fn compact(&mut self) -> io::Result<()> {
        let tmp = self.path.with_extension("log.tmp");
        let snapshot = self.image.snapshot();
        {
            let mut f = File::create(&tmp)?;
            for r in &snapshot {
                f.write_all(&codec::encode(r))?;
            }
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        if let Some(parent) = self.path.parent() {
            File::open(parent)?.sync_all()?;
        }
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.records = snapshot.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::TopicMeta;

    #[test]
    fn survives_restart_and_never_reuses_producer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let first_pid;
        {
            let mut s = MetadataStore::open(dir.path(), || "cid".into()).unwrap();
            s.append(MetadataRecord::TopicCreated(TopicMeta {
                name: "a".into(),
                id: uuid::Uuid::new_v4(),
                partitions: 2,
                configs: Default::default(),
            }))
            .unwrap();
            first_pid = s.next_producer_id().unwrap();
            assert_eq!(s.next_producer_id().unwrap(), first_pid + 1);
        }
        let mut s = MetadataStore::open(dir.path(), || unreachable!()).unwrap();
        assert_eq!(s.image().cluster_id, "cid");
        assert_eq!(s.image().topics["a"].partitions, 2);
        assert!(s.next_producer_id().unwrap() > first_pid + 1);
    }

    #[test]
    fn compacts_a_long_log() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = MetadataStore::open(dir.path(), || "cid".into()).unwrap();
            for i in 0..200 {
                let name = format!("t{i}");
                s.append(MetadataRecord::TopicCreated(TopicMeta {
                    name: name.clone(),
                    id: uuid::Uuid::new_v4(),
                    partitions: 1,
                    configs: Default::default(),
                }))
                .unwrap();
                s.append(MetadataRecord::TopicDeleted { name }).unwrap();
            }
        }
        let before = std::fs::metadata(dir.path().join(METADATA_FILE)).unwrap().len();
        let s = MetadataStore::open(dir.path(), || unreachable!()).unwrap();
        assert!(s.image().topics.is_empty());
        let after = std::fs::metadata(dir.path().join(METADATA_FILE)).unwrap().len();
        assert!(after < before / 10, "{after} !< {before}/10");
    }
}
