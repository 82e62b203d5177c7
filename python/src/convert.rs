//! Keys, values and headers between Python (bytes, bytearray, memoryview, str, None) and `Bytes`.

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString, PyTuple};

use crate::errors;

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

/// `what` names the argument in the error ("value", "key", "header 'h'").
pub fn to_bytes(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Option<Bytes>> {
    let Some(obj) = obj else { return Ok(None) };
    if obj.is_none() {
        return Ok(None);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Some(Bytes::copy_from_slice(b.as_bytes())));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Some(Bytes::copy_from_slice(s.to_cow()?.as_bytes())));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Some(Bytes::from(b.to_vec())));
    }
    if obj.is_instance_of::<PyMemoryView>() {
        let b = obj.call_method0("tobytes")?;
        return Ok(Some(Bytes::copy_from_slice(b.cast::<PyBytes>()?.as_bytes())));
    }
    Err(errors::arg_err(format!("{what} must be bytes, str or None, not {}", type_name(obj))))
}

pub fn bytes_obj(py: Python<'_>, b: &Option<Bytes>) -> Py<PyAny> {
    match b {
        Some(b) => PyBytes::new(py, b).into_any().unbind(),
        None => py.None(),
    }
}

/// Headers as a list of (name, value) pairs or a dict {name: value}; values are bytes, str or None.
pub fn headers(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<(String, Option<Bytes>)>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let mut push = |k: Bound<'_, PyAny>, v: Bound<'_, PyAny>| -> PyResult<()> {
        let name: String = k.extract().map_err(|_| errors::arg_err(format!("header names must be str, not {}", type_name(&k))))?;
        let value = to_bytes(Some(&v), &format!("header '{name}'"))?;
        out.push((name, value));
        Ok(())
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        for (k, v) in d.iter() {
            push(k, v)?;
        }
        return Ok(out);
    }
    let iter = obj.try_iter().map_err(|_| errors::arg_err(format!("headers must be a list of (name, value) pairs or a dict, not {}", type_name(obj))))?;
    for item in iter {
        let item = item?;
        let pair = item.cast::<PyTuple>().ok().filter(|t| t.len() == 2);
        let Some(pair) = pair else {
            return Err(errors::arg_err(format!("each header must be a (name, value) tuple, not {}", item.repr()?)));
        };
        push(pair.get_item(0)?, pair.get_item(1)?)?;
    }
    Ok(out)
}

pub fn headers_obj(py: Python<'_>, headers: &[(String, Option<Bytes>)]) -> PyResult<Py<PyAny>> {
    let items: Vec<Bound<'_, PyTuple>> = headers
        .iter()
        .map(|(k, v)| PyTuple::new(py, [PyString::new(py, k).into_any().unbind(), bytes_obj(py, v)]))
        .collect::<PyResult<_>>()?;
    Ok(PyList::new(py, items)?.into_any().unbind())
}
