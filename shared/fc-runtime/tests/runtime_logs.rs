//! The runtime's JSON logs, in a test binary of their own: the subscriber is process-wide
//! here, so no other test's callsites can hide these lines from it.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reimage_fc_runtime::{
    CONTROL_PATH_HEADER, Context, Function, HandlerError, MarkerLog, headers, json_subscriber,
    log_filter, run,
};
use tracing_subscriber::util::SubscriberInitExt as _;

/// A `MakeWriter` that appends to a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn every_log_line_of_a_request_is_json_carrying_its_request_id() {
    let buffer = Buffer::default();
    json_subscriber(log_filter(None), buffer.clone())
        .try_init()
        .expect("the only subscriber of this test binary");

    let function = Function::event(|_ctx: Context, _event: Bytes| async {
        tracing::info!(step = "wait-image", "image still creating");
        Err::<(), _>(HandlerError::new("Timeout", "gave up"))
    })
    .markers(MarkerLog::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind port 0");
    let url = format!("http://{}", listener.local_addr().expect("local addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(listener, function, async {
        let _ = stopped.await;
    }));
    reqwest::Client::new()
        .post(format!("{url}/invoke"))
        .header(CONTROL_PATH_HEADER, "/invoke")
        .header(headers::REQUEST_ID, "req-logged")
        .send()
        .await
        .expect("answered");
    let _ = stop.send(());
    server.await.expect("runtime stopped");

    let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("UTF-8 logs");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every log line is JSON"))
        .collect();
    let handler_line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "image still creating")
        .expect("the handler's line was logged");
    assert_eq!(handler_line["span"]["request_id"], "req-logged");
    assert_eq!(handler_line["fields"]["step"], "wait-image");
    let failure_line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "invocation failed")
        .expect("the failure was logged");
    assert_eq!(failure_line["span"]["request_id"], "req-logged");
    assert_eq!(failure_line["level"], "ERROR");
}
