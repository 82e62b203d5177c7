//! Python configuration dicts to Kafka property pairs: values may be str, int, float or bool.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

use crate::errors;

pub fn pairs(config: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let Some(config) = config else { return Ok(out) };
    for (k, v) in config.iter() {
        let key: String = k.extract().map_err(|_| errors::arg_err(format!("configuration keys must be str, not {}", k.get_type().name().map(|n| n.to_string()).unwrap_or_default())))?;
        let value = if v.is_instance_of::<PyBool>() {
            if v.extract::<bool>()? { "true".to_string() } else { "false".to_string() }
        } else if v.is_instance_of::<PyString>() || v.is_instance_of::<PyInt>() || v.is_instance_of::<PyFloat>() {
            v.str()?.to_string()
        } else {
            let ty = v.get_type().name().map(|n| n.to_string()).unwrap_or_default();
            let shown = v.repr().map(|r| r.to_string()).unwrap_or_default();
            return Err(errors::config_err(streamlet::config::ConfigError::new(&key, &shown, format!("expected str, int, float or bool, not {ty}"))));
        };
        out.push((key, value));
    }
    Ok(out)
}
