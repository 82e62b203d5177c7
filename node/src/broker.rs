//! The embedded broker: started and shut down on the thread pool (start-up touches the disk, shutdown joins
//! the broker's runtime).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use streamlet::broker::Broker;

use crate::task::{self, Blocking};
use crate::{error, init_logging};

#[napi]
pub struct NativeBroker {
    inner: Arc<Mutex<Option<Broker>>>,
    bootstrap: String,
}

#[napi]
impl NativeBroker {
    /// Resolves to a `NativeBroker` once the broker accepts connections.
    #[napi(catch_unwind, ts_return_type = "Promise<NativeBroker>")]
    pub fn start(data_dir: Option<String>, listen: Option<String>, config: Option<HashMap<String, String>>) -> AsyncTask<Blocking> {
        init_logging();
        task::blocking("Broker.start", move || {
            let mut b = Broker::builder();
            if let Some(d) = data_dir {
                b = b.data_dir(d);
            }
            b = b.listen(listen.unwrap_or_else(|| "127.0.0.1:0".into()));
            for (k, v) in config.unwrap_or_default() {
                b = b.config(k, v);
            }
            let broker = b.start().map_err(error::broker)?;
            let bootstrap = broker.bootstrap_servers();
            Ok(task::value(NativeBroker { inner: Arc::new(Mutex::new(Some(broker))), bootstrap }))
        })
    }

    #[napi(getter)]
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap.clone()
    }

    /// Stops the broker (and removes an ephemeral data dir). Later calls resolve at once.
    #[napi(catch_unwind, ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Blocking> {
        let inner = self.inner.clone();
        task::blocking("Broker.close", move || {
            let broker = inner.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(b) = broker {
                b.shutdown();
            }
            Ok(task::undefined())
        })
    }
}
