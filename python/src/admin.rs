//! The native half of `streamlet.Admin`: plain tuples out, turned into dataclasses by `streamlet/admin.py`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use streamlet::client::admin::{Admin as CoreAdmin, NewTopic, OffsetSpec};
use streamlet::client::ClientError;

use crate::{config, errors};

#[pyclass(module = "streamlet._native", frozen, subclass)]
pub struct Admin {
    inner: Mutex<Option<CoreAdmin>>,
}

type TopicOutcome = (String, Option<Py<PyAny>>);

fn outcomes(py: Python<'_>, results: Vec<(String, Result<(), ClientError>)>) -> PyResult<Vec<TopicOutcome>> {
    results
        .into_iter()
        .map(|(name, r)| Ok((name, r.err().map(|e| errors::from_client(&e).to_object(py)).transpose()?)))
        .collect()
}

impl Admin {
    fn with<T: Send>(&self, py: Python<'_>, f: impl FnOnce(&CoreAdmin) -> Result<T, ClientError> + Send) -> PyResult<T> {
        let guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(admin) = guard.as_ref() else { return Err(errors::client_err(ClientError::Closed)) };
        py.detach(|| f(admin)).map_err(errors::client_err)
    }
}

#[pymethods]
impl Admin {
    #[new]
    fn new(py: Python<'_>, config: &Bound<'_, PyDict>) -> PyResult<Self> {
        let props: BTreeMap<String, String> = config::pairs(Some(config))?.into_iter().collect();
        let inner = py.detach(|| CoreAdmin::new(&props)).map_err(errors::client_err)?;
        Ok(Admin { inner: Mutex::new(Some(inner)) })
    }

    /// topics: (name, partitions, replication_factor, {config: value}) tuples.
    #[pyo3(signature = (topics, validate_only=false))]
    fn create_topics(&self, py: Python<'_>, topics: Vec<(String, i32, i16, BTreeMap<String, String>)>, validate_only: bool) -> PyResult<Vec<TopicOutcome>> {
        let topics: Vec<NewTopic> = topics
            .into_iter()
            .map(|(name, partitions, rf, configs)| {
                let mut t = NewTopic::new(name, partitions, rf);
                t.configs = configs;
                t
            })
            .collect();
        let r = self.with(py, |a| a.create_topics(&topics, validate_only))?;
        outcomes(py, r)
    }

    fn delete_topics(&self, py: Python<'_>, topics: Vec<String>) -> PyResult<Vec<TopicOutcome>> {
        let r = self.with(py, |a| a.delete_topics(&topics.iter().map(|s| s.as_str()).collect::<Vec<_>>()))?;
        outcomes(py, r)
    }

    /// topics: (name, new total partition count).
    fn create_partitions(&self, py: Python<'_>, topics: Vec<(String, i32)>) -> PyResult<Vec<TopicOutcome>> {
        let r = self.with(py, |a| a.create_partitions(&topics.iter().map(|(t, n)| (t.as_str(), *n)).collect::<Vec<_>>()))?;
        outcomes(py, r)
    }

    #[pyo3(signature = (include_internal=false))]
    fn list_topics(&self, py: Python<'_>, include_internal: bool) -> PyResult<Vec<String>> {
        self.with(py, |a| a.list_topics(include_internal))
    }

    /// [(name, id, internal, [(partition, leader, replicas, isr)])]
    #[allow(clippy::type_complexity)]
    fn describe_topics(&self, py: Python<'_>, topics: Vec<String>) -> PyResult<Vec<(String, String, bool, Vec<(i32, i32, Vec<i32>, Vec<i32>)>)>> {
        let d = self.with(py, |a| a.describe_topics(&topics.iter().map(|s| s.as_str()).collect::<Vec<_>>()))?;
        Ok(d.into_iter()
            .map(|t| (t.name, t.id.to_string(), t.internal, t.partitions.into_iter().map(|p| (p.partition, p.leader, p.replicas, p.isr)).collect()))
            .collect())
    }

    /// {name: (value, is_default)}
    fn describe_configs(&self, py: Python<'_>, topic: String) -> PyResult<BTreeMap<String, (String, bool)>> {
        self.with(py, |a| a.describe_configs(&topic))
    }

    /// [(group, protocol_type, state)]
    fn list_groups(&self, py: Python<'_>) -> PyResult<Vec<(String, String, String)>> {
        self.with(py, |a| a.list_groups())
    }

    /// [(group, state, protocol_type, protocol, [(member_id, instance_id, client_id, host, [(topic, partition)] | None)])]
    #[allow(clippy::type_complexity)]
    fn describe_groups(
        &self,
        py: Python<'_>,
        groups: Vec<String>,
    ) -> PyResult<Vec<(String, String, String, String, Vec<(String, Option<String>, String, String, Option<Vec<(String, i32)>>)>)>> {
        let d = self.with(py, |a| a.describe_groups(&groups.iter().map(|s| s.as_str()).collect::<Vec<_>>()))?;
        Ok(d.into_iter()
            .map(|g| {
                let members = g.members.into_iter().map(|m| (m.member_id, m.group_instance_id, m.client_id, m.host, m.assignment)).collect();
                (g.group_id, g.state, g.protocol_type, g.protocol, members)
            })
            .collect())
    }

    fn delete_groups(&self, py: Python<'_>, groups: Vec<String>) -> PyResult<Vec<TopicOutcome>> {
        let r = self.with(py, |a| a.delete_groups(&groups.iter().map(|s| s.as_str()).collect::<Vec<_>>()))?;
        outcomes(py, r)
    }

    /// {(topic, partition): committed offset}
    fn list_group_offsets(&self, py: Python<'_>, group: String) -> PyResult<BTreeMap<(String, i32), i64>> {
        self.with(py, |a| a.list_group_offsets(&group))
    }

    /// specs: (topic, partition, spec) with spec "earliest", "latest", "max_timestamp" or a timestamp in ms.
    /// Returns [(topic, partition, offset, timestamp, error | None)] in the order asked.
    #[allow(clippy::type_complexity)]
    fn list_offsets(&self, py: Python<'_>, specs: Vec<(String, i32, Bound<'_, PyAny>)>) -> PyResult<Vec<(String, i32, i64, i64, Option<Py<PyAny>>)>> {
        let mut wanted = Vec::new();
        for (t, p, spec) in &specs {
            let s = if let Ok(ts) = spec.extract::<i64>() {
                if ts < 0 {
                    return Err(errors::arg_err(format!("offset spec timestamp must not be negative, got {ts}")));
                }
                OffsetSpec::Timestamp(ts)
            } else {
                match spec.extract::<String>().unwrap_or_default().as_str() {
                    "earliest" => OffsetSpec::Earliest,
                    "latest" => OffsetSpec::Latest,
                    "max_timestamp" => OffsetSpec::MaxTimestamp,
                    _ => return Err(errors::arg_err(format!("offset spec must be 'earliest', 'latest', 'max_timestamp' or a timestamp in ms, not {}", spec.repr()?))),
                }
            };
            wanted.push((t.clone(), *p, s));
        }
        let r = self.with(py, |a| a.list_offsets(&wanted.iter().map(|(t, p, s)| (t.as_str(), *p, *s)).collect::<Vec<_>>()))?;
        r.into_iter()
            .map(|((t, p), res)| match res {
                Ok(l) => Ok((t, p, l.offset, l.timestamp, None)),
                Err(e) => Ok((t, p, -1, -1, Some(errors::from_client(&e).to_object(py)?))),
            })
            .collect()
    }

    /// (cluster_id, controller, [(node_id, "host:port")])
    fn describe_cluster(&self, py: Python<'_>) -> PyResult<(String, i32, Vec<(i32, String)>)> {
        let d = self.with(py, |a| a.describe_cluster())?;
        Ok((d.cluster_id, d.controller, d.brokers))
    }

    fn close(&self, py: Python<'_>) {
        let taken = self.inner.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut a) = taken {
            py.detach(move || a.close());
        }
    }
}
